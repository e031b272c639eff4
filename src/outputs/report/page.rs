//! What the run's report page and the partner statements share: the inline
//! CSS and JS, the Content-Security-Policy that forbids every request, and the
//! small pieces of markup both are built of (number and money cells, sortable
//! table headers, filter bars), each escaped by maud where data is spliced.

use crate::engine::udf::{push_grouped, write_decimal, write_money};
use chrono::NaiveDate;
use maud::{Markup, Render, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

pub const CSS: &str = include_str!("report.css");
pub const JS: &str = include_str!("report.js");

/// Installed first: records errors, rejected promises, console errors and
/// anything the CSP blocks, for the self-test.
pub const CAPTURE_JS: &str = "window.__revleakErrors=[];\
window.addEventListener('error',function(e){window.__revleakErrors.push('error: '+(e.message||e.type)+(e.filename?' at '+e.filename+':'+e.lineno:''));},true);\
window.addEventListener('unhandledrejection',function(e){window.__revleakErrors.push('unhandled rejection: '+e.reason);});\
document.addEventListener('securitypolicyviolation',function(e){window.__revleakErrors.push('blocked by CSP: '+e.blockedURI+' ('+e.violatedDirective+')');});\
(function(){var ce=console.error;console.error=function(){window.__revleakErrors.push('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();";

/// No request of any kind: styles and scripts inline, images only as data: URLs.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

pub fn f64_of(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", group_int(n), if n == 1 { one } else { many })
}

/// 12345 → 12,345.
pub fn group_int(n: u64) -> String {
    let mut out = String::new();
    push_grouped(&mut out, n.to_string().as_bytes());
    out
}

pub fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// Pieces of markup with `separator` between them.
pub fn join(parts: &[Markup], separator: &str) -> Markup {
    html! {
        @for (i, part) in parts.iter().enumerate() {
            @if i > 0 { (separator) }
            (part)
        }
    }
}

/// A numeric cell: shown text (or markup), exact sort key.
pub fn num_cell(shown: impl Render, key: impl Render) -> Markup {
    html! { td class="num" data-v=(key) { (shown) } }
}

/// A money cell: [`num_cell`] of the amount as finance reads it, keyed by
/// its exact value. Written straight into the page (a statement has
/// thousands of them), the same bytes as `num_cell(format_money(a), a)`.
pub fn money_cell(amount: Option<Decimal>) -> impl Render {
    MoneyCell(amount)
}

struct MoneyCell(Option<Decimal>);

impl Render for MoneyCell {
    fn render_to(&self, out: &mut String) {
        // digits, signs, commas and points only: nothing to escape
        match self.0 {
            Some(amount) => {
                out.push_str(r#"<td class="num" data-v=""#);
                write_decimal(out, amount);
                out.push_str(r#"">"#);
                write_money(out, amount);
                out.push_str("</td>");
            }
            None => out.push_str(r#"<td class="num" data-v="">–</td>"#),
        }
    }
}

pub fn count_cell(n: u64) -> Markup {
    num_cell(group_int(n), n)
}

/// `<th>` of a sortable table: `num` sorts numbers by data-v.
pub fn th(label: &str, numeric: bool) -> Markup {
    html! {
        @if numeric {
            th class="num" data-type="num" { (label) }
        } @else {
            th data-type="text" { (label) }
        }
    }
}

/// The header row of a sortable table.
pub fn head_row(columns: &[(&str, bool)]) -> Markup {
    html! {
        thead { tr { @for (label, numeric) in columns { (th(label, *numeric)) } } }
    }
}

pub fn filter_bar(table_id: &str, rows: usize, placeholder: &str) -> Markup {
    html! {
        div class="filterbar" {
            input type="search" data-filter=(table_id) placeholder=(placeholder) aria-label=(placeholder);
            span class="count" data-count-for=(table_id) { (plural(rows as u64, "row", "rows")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::udf::format_money;

    #[test]
    fn a_money_cell_is_the_numeric_cell_of_its_amount() {
        let mut negative_zero = Decimal::new(0, 2);
        negative_zero.set_sign_negative(true);
        for amount in [
            Decimal::new(0, 2),
            negative_zero,
            Decimal::new(5, 2),
            Decimal::new(-123_456_789, 2),
            Decimal::new(1_234_565, 3),
            Decimal::new(42, 0),
        ] {
            assert_eq!(
                money_cell(Some(amount)).render().into_string(),
                num_cell(format_money(amount), amount.to_string()).into_string(),
                "{amount:?}"
            );
        }
        assert_eq!(
            money_cell(None).render().into_string(),
            num_cell("–", "").into_string()
        );
    }
}
