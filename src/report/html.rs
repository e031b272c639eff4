//! The page: one self-contained HTML file (inline CSS, JS and SVG; a CSP that
//! forbids any request), every value from the data escaped. The same renderer
//! draws the main page and a partner's page; a partner's page leaves out what
//! would show other partners (the partner chart and matrix, the data-quality
//! rows, the input tables) and passes every text through a [`Redactor`].

use super::data::{Analysis, Bucket, FindingRow, Manifest, RunPoint, SEVERITIES, Tally};
use super::escape::esc;
use super::snapshot::{DSO_DAYS, PartnerFigures, PartnerInfo, SnapshotData};
use super::svg::{self, Bar, Series};
use crate::udf::format_money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Installed first: records errors, rejected promises, console errors and
/// anything the CSP blocks, for the self-test.
const CAPTURE_JS: &str = "window.__revleakErrors=[];\
window.addEventListener('error',function(e){window.__revleakErrors.push('error: '+(e.message||e.type)+(e.filename?' at '+e.filename+':'+e.lineno:''));},true);\
window.addEventListener('unhandledrejection',function(e){window.__revleakErrors.push('unhandled rejection: '+e.reason);});\
document.addEventListener('securitypolicyviolation',function(e){window.__revleakErrors.push('blocked by CSP: '+e.blockedURI+' ('+e.violatedDirective+')');});\
(function(){var ce=console.error;console.error=function(){window.__revleakErrors.push('console.error: '+Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();";

/// No request of any kind: styles and scripts inline, images only as data: URLs.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// Partners listed in the scorecard; the rest are in the Parquet.
pub const SCORECARD_ROWS: usize = 1000;
/// Partners in the bar chart and the heat map.
pub const TOP_PARTNERS: usize = 20;

/// Every partner's id and name, indexed by their first word, to find them in
/// text quickly.
#[derive(Debug, Clone, Default)]
pub struct PartnerIndex {
    /// First word (or first character when it is not a letter or digit) →
    /// (text, whose), longest first.
    by_key: HashMap<String, Vec<(String, String)>>,
}

/// The first word of `text` at byte `at`: its letters and digits, or its
/// first character when that is neither.
fn key_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let Some(first) = rest.chars().next() else {
        return rest;
    };
    if !first.is_alphanumeric() {
        return &rest[..first.len_utf8()];
    }
    let end = rest
        .char_indices()
        .find(|(_, c)| !c.is_alphanumeric())
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    &rest[..end]
}

impl PartnerIndex {
    /// `entries`: (partner id, an id or name of that partner).
    pub fn new(entries: impl IntoIterator<Item = (String, String)>) -> PartnerIndex {
        let mut by_key: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (owner, needle) in entries {
            if needle.trim().is_empty() || needle.trim() != needle {
                continue;
            }
            by_key
                .entry(key_at(&needle, 0).to_string())
                .or_default()
                .push((needle, owner));
        }
        for list in by_key.values_mut() {
            list.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.cmp(b)));
            list.dedup();
        }
        PartnerIndex { by_key }
    }

    /// What redacts text for `partner`'s page.
    pub fn for_partner<'a>(&'a self, partner: &'a str) -> Redactor<'a> {
        Redactor {
            index: self,
            own: partner,
        }
    }
}

/// Replaces other partners' ids and names in text meant for one partner.
#[derive(Debug, Clone, Copy)]
pub struct Redactor<'a> {
    index: &'a PartnerIndex,
    own: &'a str,
}

impl Redactor<'_> {
    /// Every whole occurrence (not inside a longer word or number) of another
    /// partner's id or name becomes "another partner".
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let mut previous: Option<char> = None;
        while i < text.len() {
            let ch = text[i..].chars().next().expect("char boundary");
            if !previous.is_some_and(char::is_alphanumeric)
                && let Some(candidates) = self.index.by_key.get(key_at(text, i))
            {
                // The longest whole match, whoever it belongs to.
                let hit = candidates.iter().find(|(needle, _)| {
                    text[i..].starts_with(needle.as_str())
                        && !text[i + needle.len()..]
                            .chars()
                            .next()
                            .is_some_and(char::is_alphanumeric)
                });
                if let Some((needle, _)) = hit {
                    // The partner's own id or name (even when another
                    // partner has the same name) stays.
                    let own = candidates.iter().any(|(n, o)| o == self.own && n == needle);
                    out.push_str(if own { needle } else { "another partner" });
                    previous = needle.chars().next_back();
                    i += needle.len();
                    continue;
                }
            }
            out.push(ch);
            previous = Some(ch);
            i += ch.len_utf8();
        }
        out
    }
}

/// A check's description as the page shows it.
#[derive(Debug, Clone)]
pub struct CheckMeta {
    pub id: String,
    pub title: String,
    pub description: String,
    pub owner: String,
    pub default_severity: String,
    /// Parameters the check's SQL names, with the run's values.
    pub parameters: Vec<(String, String)>,
    /// Where the metadata came from when it is not the file the run read.
    pub note: Option<String>,
    pub skipped: Option<String>,
    pub millis: Option<u64>,
}

/// Whose page this is.
pub enum Scope<'a> {
    All,
    Partner {
        id: &'a str,
        info: Option<&'a PartnerInfo>,
        redactor: &'a Redactor<'a>,
    },
}

/// Everything one page shows.
pub struct Page<'a> {
    pub scope: Scope<'a>,
    pub as_of: NaiveDate,
    pub currency: String,
    pub manifest: &'a Manifest,
    pub manifest_found: bool,
    pub analysis: &'a Analysis,
    /// Every run up to as_of, for this scope.
    pub trend: Vec<RunPoint>,
    pub has_resolved: bool,
    pub recovered: Tally,
    pub snapshot: &'a SnapshotData,
    pub checks: &'a [CheckMeta],
    pub partner_names: &'a BTreeMap<String, String>,
    /// Relative path of the findings partition, for "more in the Parquet".
    pub findings_path: String,
    pub warnings: Vec<String>,
}

impl Page<'_> {
    fn is_partner(&self) -> bool {
        matches!(self.scope, Scope::Partner { .. })
    }

    /// Text from the data, redacted on a partner's page, then escaped.
    fn t(&self, text: &str) -> String {
        match &self.scope {
            Scope::All => esc(text),
            Scope::Partner { redactor, .. } => esc(&redactor.apply(text)),
        }
    }

    fn money(&self, amount: Decimal) -> String {
        format!("{} {}", format_money(amount), esc(&self.currency))
    }

    fn partner_label(&self, id: &str) -> String {
        match self.partner_names.get(id) {
            Some(name) if !name.is_empty() => format!("{id} · {name}"),
            _ => id.to_string(),
        }
    }
}

fn f64_of(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", group_int(n), if n == 1 { one } else { many })
}

/// 12345 → 12,345.
pub fn group_int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// A numeric cell: shown text, exact sort key.
fn num_cell(shown: &str, key: &str) -> String {
    format!(r#"<td class="num" data-v="{}">{}</td>"#, esc(key), shown)
}

fn money_cell(amount: Option<Decimal>) -> String {
    match amount {
        Some(a) => num_cell(&format_money(a), &a.to_string()),
        None => r#"<td class="num" data-v="">–</td>"#.to_string(),
    }
}

fn count_cell(n: u64) -> String {
    num_cell(&group_int(n), &n.to_string())
}

/// `<th>` of a sortable table: `num` sorts numbers by data-v.
fn th(label: &str, numeric: bool) -> String {
    if numeric {
        format!(r#"<th class="num" data-type="num">{}</th>"#, esc(label))
    } else {
        format!(r#"<th data-type="text">{}</th>"#, esc(label))
    }
}

fn filter_bar(table_id: &str, rows: usize, placeholder: &str) -> String {
    format!(
        r#"<div class="filterbar"><input type="search" data-filter="{id}" placeholder="{ph}" aria-label="{ph}"><span class="count" data-count-for="{id}">{rows}</span></div>"#,
        id = esc(table_id),
        ph = esc(placeholder),
        rows = plural(rows as u64, "row", "rows")
    )
}

pub fn render(page: &Page) -> String {
    let mut h = String::with_capacity(256 * 1024);
    let title = match &page.scope {
        Scope::All => format!("Revenue leakage as of {}", page.as_of),
        Scope::Partner { id, .. } => {
            format!(
                "Revenue leakage as of {} · {}",
                page.as_of,
                page.partner_label(id)
            )
        }
    };
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="revleak {version}">
<link rel="icon" href="data:,">
<title>{title}</title>
<script>{capture}</script>
<style>{css}</style>
</head>
<body>
"#,
        csp = CSP,
        version = esc(env!("CARGO_PKG_VERSION")),
        title = esc(&title),
        capture = CAPTURE_JS,
        css = CSS,
    );
    header(&mut h, page, &title);
    h.push_str("<main>\n");
    headline(&mut h, page);
    charts(&mut h, page);
    trend(&mut h, page);
    scorecard(&mut h, page);
    checks(&mut h, page);
    if !page.is_partner() {
        data_quality(&mut h, page);
    }
    run_details(&mut h, page);
    h.push_str("</main>\n");
    let _ = write!(
        h,
        "<footer>revleak {} · rendered from the published Parquet of this output folder · as of {}</footer>\n<script>{}</script>\n</body>\n</html>\n",
        esc(env!("CARGO_PKG_VERSION")),
        page.as_of,
        JS
    );
    h
}

fn header(h: &mut String, page: &Page, title: &str) {
    let _ = write!(
        h,
        r#"<header class="top"><h1>{}</h1><div class="sub">"#,
        esc(title)
    );
    match &page.scope {
        Scope::All => {
            let _ = write!(
                h,
                "Run {} · amounts in {} · {}",
                esc(&page.manifest.run_id),
                esc(&page.currency),
                if page.manifest_found {
                    format!("snapshot {}", esc(&page.manifest.snapshot))
                } else {
                    "no manifest found for this run".to_string()
                }
            );
        }
        Scope::Partner { info, .. } => {
            let _ = write!(
                h,
                "Prepared for this partner only: its own findings on its deals, invoices, commissions and renewals · amounts in {}",
                esc(&page.currency)
            );
            if let Some(info) = info {
                let _ = write!(
                    h,
                    " · tier {} · region {}",
                    esc(&info.tier),
                    esc(&info.region)
                );
            }
        }
    }
    h.push_str("</div><nav class=\"toc\">");
    let mut links = vec![
        ("headline", "Headline"),
        ("charts", "Leakage by check"),
        ("trend", "Trend"),
        ("scorecard", "Scorecard"),
        ("checks", "Checks and findings"),
    ];
    if !page.is_partner() {
        links[1].1 = "Leakage by check and partner";
        links.push(("data-quality", "Data quality"));
    }
    links.push(("run", "Run details"));
    for (id, label) in links {
        let _ = write!(h, r##"<a href="#{id}">{label}</a>"##);
    }
    h.push_str("</nav></header>\n");
}

fn headline(h: &mut String, page: &Page) {
    let a = page.analysis;
    h.push_str(r#"<section id="headline"><h2>Headline</h2><div class="cards">"#);
    let _ = write!(
        h,
        r#"<div class="card total"><div class="k">Total leakage found</div><div class="v" id="total-leakage" data-v="{}">{}</div><div class="d">{} · as of {}</div></div>"#,
        a.total.leakage,
        page.money(a.total.leakage),
        plural(a.total.findings, "finding", "findings"),
        page.as_of
    );
    for bucket in Bucket::all() {
        let tally = a.buckets.get(&bucket).copied().unwrap_or_default();
        if bucket == Bucket::Other && tally.findings == 0 {
            continue;
        }
        let class = match bucket {
            Bucket::Recoverable => "recoverable",
            Bucket::AtRisk => "at_risk",
            Bucket::Signal => "signal",
            Bucket::Other => "other",
        };
        let shown = if bucket == Bucket::Signal {
            plural(tally.findings, "signal", "signals")
        } else {
            page.money(tally.leakage)
        };
        let detail = if bucket == Bucket::Signal {
            "no leakage counted: cash late, partner owed, rows to fix".to_string()
        } else {
            plural(tally.findings, "finding", "findings")
        };
        let _ = write!(
            h,
            r#"<div class="card {class}"><div class="k">{}</div><div class="v" data-v="{}">{}</div><div class="d">{}</div></div>"#,
            bucket.label(),
            tally.leakage,
            shown,
            detail
        );
    }
    h.push_str("</div>");

    h.push_str(r#"<div class="pills" aria-label="Findings by severity">"#);
    for (severity, n) in &a.severities {
        let _ = write!(
            h,
            r#"<span class="pill sev-{}">{}: {}</span>"#,
            esc(severity),
            esc(severity),
            group_int(*n)
        );
    }
    h.push_str("</div>");

    // Lifecycle against earlier runs.
    let mut life = Vec::new();
    let new = a.statuses.get("new").copied().unwrap_or_default();
    let recurring = a.statuses.get("recurring").copied().unwrap_or_default();
    if page.manifest.previous_as_of.is_none() && recurring.findings == 0 {
        life.push(format!(
            "<b>First run in this output folder</b>: every finding is new ({})",
            page.money(new.leakage)
        ));
    } else {
        let since = page
            .manifest
            .previous_as_of
            .map(|d| format!(" since {d}"))
            .unwrap_or_default();
        life.push(format!(
            "<b>New{since}</b>: {} ({})",
            plural(new.findings, "finding", "findings"),
            page.money(new.leakage)
        ));
        life.push(format!(
            "<b>Recurring</b>: {} ({})",
            plural(recurring.findings, "finding", "findings"),
            page.money(recurring.leakage)
        ));
    }
    let current = page.trend.last().filter(|p| p.as_of == Some(page.as_of));
    if let Some(resolved) = current.and_then(|p| p.resolved) {
        life.push(format!(
            "<b>Resolved since the previous run</b>: {} ({})",
            plural(resolved.findings, "finding", "findings"),
            page.money(resolved.leakage)
        ));
    }
    if page.has_resolved {
        life.push(format!(
            "<b>Recovered to date</b>: {} (leakage of every finding resolved up to this run)",
            page.money(page.recovered.leakage)
        ));
    }
    if !life.is_empty() {
        let _ = write!(h, r#"<p class="lifecycle">{}</p>"#, life.join(" · "));
    }
    if a.dispositioned.findings > 0 {
        let _ = write!(
            h,
            r#"<p class="note">{} under a live disposition (accepted, false positive or explained), with {} of leakage, {} left out of these totals and listed, struck through, under {} check.</p>"#,
            plural(a.dispositioned.findings, "finding", "findings"),
            page.money(a.dispositioned.leakage),
            if a.dispositioned.findings == 1 {
                "is"
            } else {
                "are"
            },
            if a.dispositioned.findings == 1 {
                "its"
            } else {
                "their"
            }
        );
    }
    h.push_str(r#"<p class="note"><b>Recoverable now</b>: an invoice, a correction or a claw-back can claim it today (missing_invoice, under_billing, unbilled_partner_sale, unreported_usage, stale_pricing, unauthorized_discount, commission_overpayment, erp_posting_gap, unexplained_credit). <b>At risk</b>: billed, committed or due but not lost yet (payment_gap, missed_renewal, forecast_variance). <b>Signals</b>: leakage 0 by design (late_invoice, commission_underpayment, data_quality). Checks of your own count under <b>Other checks</b>.</p>"#);

    if !page.is_partner() {
        inputs_summary(h, page);
    }
    for w in &page.warnings {
        let _ = write!(h, r#"<p class="warn">{}</p>"#, page.t(w));
    }
    h.push_str("</section>\n");
}

fn inputs_summary(h: &mut String, page: &Page) {
    let inputs = &page.manifest.inputs;
    if inputs.is_empty() {
        h.push_str(r#"<p class="note">Inputs: the manifest lists none.</p>"#);
        return;
    }
    let missing = inputs.iter().filter(|i| i.missing).count();
    let read: u64 = inputs.iter().map(|i| i.rows_read).sum();
    let after: u64 = inputs.iter().map(|i| i.rows_after_as_of).sum();
    let flagged: u64 = inputs.iter().map(|i| i.rows_flagged).sum();
    let fresh = &page.snapshot.freshness;
    // Price lists, policies and plans change rarely: their newest
    // `valid_from` says nothing about how fresh the extract is.
    let stalest = fresh
        .iter()
        .filter(|(_, (_, column))| *column != "valid_from")
        .min_by_key(|(t, (d, _))| (*d, (*t).clone()));
    let _ = write!(
        h,
        r#"<details class="inputs"><summary>Inputs: {} from <code>{}</code> · {} rows read, {} dated after as_of (not part of this run), {} flagged by data quality{}{}</summary>"#,
        plural(inputs.len() as u64, "table", "tables"),
        esc(&page.manifest.snapshot),
        group_int(read),
        group_int(after),
        group_int(flagged),
        if missing > 0 {
            format!(" · <b class=\"warn\">{missing} missing</b>")
        } else {
            String::new()
        },
        match stalest {
            Some((table, (d, _))) => format!(
                " · stalest table {} (newest row {}, {} days before as_of)",
                esc(table),
                d,
                (page.as_of - *d).num_days()
            ),
            None => String::new(),
        }
    );
    h.push_str(
        r#"<div class="tablewrap"><table id="inputs-freshness" class="sortable"><thead><tr>"#,
    );
    for (label, numeric) in [
        ("Table", false),
        ("Rows read", true),
        ("Newest row on or before as_of", false),
        ("Dated by", false),
        ("Days before as_of", true),
        ("Rows after as_of", true),
        ("State", false),
    ] {
        h.push_str(&th(label, numeric));
    }
    h.push_str("</tr></thead><tbody>");
    for input in inputs {
        let newest = fresh.get(&input.table).map(|(d, _)| d);
        let lag = newest.map(|d| (page.as_of - *d).num_days());
        let _ = write!(
            h,
            "<tr><td>{}</td>{}<td>{}</td><td><code>{}</code></td>{}{}<td>{}</td></tr>",
            esc(&input.table),
            count_cell(input.rows_read),
            newest.map(|d| d.to_string()).unwrap_or_else(|| "–".into()),
            fresh.get(&input.table).map_or("", |(_, c)| c.as_str()),
            match lag {
                Some(l) => num_cell(&l.to_string(), &l.to_string()),
                None => num_cell("–", ""),
            },
            count_cell(input.rows_after_as_of),
            if input.missing { "missing" } else { "read" }
        );
    }
    h.push_str("</tbody></table></div>");
    h.push_str(r#"<p class="note">Freshness is the newest event date on or before as_of in each table after staging (reference tables have none; tables dated by <code>valid_from</code> change rarely and do not count as stale).</p></details>"#);
}

fn charts(h: &mut String, page: &Page) {
    let a = page.analysis;
    let title = if page.is_partner() {
        "Leakage by check"
    } else {
        "Leakage by check and partner"
    };
    let _ = write!(
        h,
        r#"<section id="charts"><h2>{title}</h2><div class="grid2">"#
    );
    let mut by_check: Vec<(&String, &Tally)> = a
        .by_check
        .iter()
        .map(|(id, (counted, _))| (id, counted))
        .filter(|(_, t)| t.findings > 0)
        .collect();
    by_check.sort_by(|x, y| y.1.leakage.cmp(&x.1.leakage).then(x.0.cmp(y.0)));
    let bars: Vec<Bar> = by_check
        .iter()
        .map(|(id, t)| Bar {
            label: id.to_string(),
            value: f64_of(t.leakage),
            value_label: format!("{} · {}", format_money(t.leakage), t.findings),
            tooltip: format!(
                "{id}: {} {} in {}",
                format_money(t.leakage),
                page.currency,
                plural(t.findings, "finding", "findings")
            ),
        })
        .collect();
    let _ = write!(
        h,
        "<div><h3>By check ({}, findings)</h3>{}</div>",
        esc(&page.currency),
        svg::bar_chart("Leakage by check", &bars).into_string()
    );

    if !page.is_partner() {
        let top = top_partners(a);
        let bars: Vec<Bar> = top
            .iter()
            .map(|(id, t)| Bar {
                label: page.partner_label(id),
                value: f64_of(t.leakage),
                value_label: format!("{} · {}", format_money(t.leakage), t.findings),
                tooltip: format!(
                    "{}: {} {} in {}",
                    page.partner_label(id),
                    format_money(t.leakage),
                    page.currency,
                    plural(t.findings, "finding", "findings")
                ),
            })
            .collect();
        let partners = a.by_partner.keys().filter(|p| p.is_some()).count();
        let _ = write!(
            h,
            "<div><h3>By partner (top {} of {}, {})</h3>{}</div>",
            top.len(),
            partners,
            esc(&page.currency),
            svg::bar_chart("Leakage by partner", &bars).into_string()
        );
    }
    h.push_str("</div>");
    if !page.is_partner() {
        heat_map(h, page);
    }
    h.push_str("</section>\n");
}

/// Partners with the most leakage (ties: most findings, then id).
fn top_partners(a: &Analysis) -> Vec<(String, Tally)> {
    let mut partners: Vec<(String, Tally)> = a
        .by_partner
        .iter()
        .filter_map(|(p, t)| p.clone().map(|p| (p, t.tally)))
        .collect();
    partners.sort_by(|x, y| {
        y.1.leakage
            .cmp(&x.1.leakage)
            .then(y.1.findings.cmp(&x.1.findings))
            .then(x.0.cmp(&y.0))
    });
    partners.truncate(TOP_PARTNERS);
    partners
}

fn heat_map(h: &mut String, page: &Page) {
    let a = page.analysis;
    let top = top_partners(a);
    let mut checks: Vec<&String> = a
        .matrix
        .keys()
        .filter(|(p, _)| top.iter().any(|(t, _)| t == p))
        .map(|(_, c)| c)
        .collect();
    checks.sort();
    checks.dedup();
    let _ = write!(
        h,
        r#"<h3>Partner × check ({}, top {} partners)</h3>"#,
        esc(&page.currency),
        top.len()
    );
    if top.is_empty() {
        h.push_str(r#"<p class="note">No finding names a partner.</p>"#);
        return;
    }
    let max = a
        .matrix
        .iter()
        .filter(|((p, _), _)| top.iter().any(|(t, _)| t == p))
        .map(|(_, t)| t.leakage)
        .max()
        .unwrap_or_default();
    h.push_str(r#"<div class="tablewrap"><table id="heatmap" class="heat sortable"><thead><tr>"#);
    h.push_str(&th("Partner", false));
    for c in &checks {
        let _ = write!(
            h,
            r#"<th class="num check" data-type="num" title="{}">{}</th>"#,
            esc(c),
            esc(c)
        );
    }
    h.push_str(&th("Total", true));
    h.push_str("</tr></thead><tbody>");
    for (partner, total) in &top {
        let _ = write!(h, "<tr><td>{}</td>", esc(&page.partner_label(partner)));
        for c in &checks {
            match a.matrix.get(&(partner.clone(), (*c).clone())) {
                Some(t) => {
                    let alpha = if max > Decimal::ZERO {
                        (f64_of(t.leakage) / f64_of(max)).clamp(0.0, 1.0) * 0.85
                    } else {
                        0.0
                    };
                    let alpha = if t.findings > 0 { alpha.max(0.05) } else { 0.0 };
                    let _ = write!(
                        h,
                        r#"<td class="num" data-v="{}" style="background:rgba(179,38,30,{alpha:.2});{}" title="{}">{}</td>"#,
                        t.leakage,
                        if alpha > 0.5 { "color:#fff" } else { "" },
                        esc(&format!(
                            "{} × {}: {}",
                            partner,
                            c,
                            plural(t.findings, "finding", "findings")
                        )),
                        format_money(t.leakage)
                    );
                }
                None => h.push_str(r#"<td class="num" data-v="0"></td>"#),
            }
        }
        let _ = write!(
            h,
            "{}</tr>",
            num_cell(
                &format!("<b>{}</b>", format_money(total.leakage)),
                &total.leakage.to_string()
            )
        );
    }
    h.push_str("</tbody></table></div>");
}

/// The runs of this as_of, oldest first, when it was run more than once (an
/// hourly schedule): the published partition is the latest run's.
fn runs_of_the_day(h: &mut String, page: &Page) {
    let m = page.manifest;
    if page.is_partner() || m.earlier_runs_of_the_day.is_empty() {
        return;
    }
    let _ = write!(
        h,
        r#"<h3>Runs of {}</h3><div class="tablewrap"><table id="runs-of-the-day"><thead><tr>"#,
        page.as_of
    );
    for (label, numeric) in [
        ("Run", false),
        ("Finished", false),
        ("Findings", true),
        ("Leakage", true),
        ("Alerts raised", true),
    ] {
        h.push_str(&th(label, numeric));
    }
    h.push_str("</tr></thead><tbody>");
    for run in m.runs_of_the_day() {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td>{}{}{}</tr>",
            esc(&run.run_id),
            esc(&run.finished),
            count_cell(run.findings as u64),
            money_cell(Some(run.total_leakage)),
            count_cell(run.alerts as u64)
        );
    }
    h.push_str(r#"</tbody></table></div><p class="note">Each finding alerts once, whichever run of the day first sees it; the page and the outputs are the latest run's.</p>"#);
}

fn trend(h: &mut String, page: &Page) {
    h.push_str(r#"<section id="trend"><h2>Trend across runs</h2>"#);
    let runs = &page.trend;
    if runs.len() < 2 {
        let _ = writeln!(
            h,
            r#"<p class="note">The trend appears once two or more runs exist in this output folder ({} so far).</p>"#,
            plural(runs.len() as u64, "run", "runs")
        );
        runs_of_the_day(h, page);
        h.push_str("</section>");
        return;
    }
    let labels: Vec<String> = runs.iter().map(|p| opt_date(p.as_of)).collect();
    let bucket =
        |p: &RunPoint, b: Bucket| f64_of(p.buckets.get(&b).copied().unwrap_or_default().leakage);
    let leakage = svg::line_chart(
        "Leakage per run",
        &labels,
        &[
            Series {
                name: format!("total leakage ({})", page.currency),
                class: "s1",
                values: runs.iter().map(|p| f64_of(p.total.leakage)).collect(),
            },
            Series {
                name: "recoverable now".into(),
                class: "s2",
                values: runs
                    .iter()
                    .map(|p| bucket(p, Bucket::Recoverable))
                    .collect(),
            },
            Series {
                name: "at risk".into(),
                class: "s3",
                values: runs.iter().map(|p| bucket(p, Bucket::AtRisk)).collect(),
            },
        ],
    )
    .into_string();
    let mut count_series = vec![Series {
        name: "findings".into(),
        class: "s1",
        values: runs.iter().map(|p| p.total.findings as f64).collect(),
    }];
    if page.has_resolved {
        count_series.push(Series {
            name: "resolved".into(),
            class: "s3",
            values: runs
                .iter()
                .map(|p| p.resolved.map(|r| r.findings as f64).unwrap_or(0.0))
                .collect(),
        });
    }
    let counts = svg::line_chart("Findings per run", &labels, &count_series).into_string();
    let _ = write!(
        h,
        "<div class=\"grid2\"><div><h3>Leakage per run</h3>{leakage}</div><div><h3>Findings per run</h3>{counts}</div></div>"
    );
    h.push_str(r#"<details><summary>The runs as a table</summary><div class="tablewrap"><table id="trend-table" class="sortable"><thead><tr>"#);
    let mut heads = vec![
        ("As of", false),
        ("Run", false),
        ("Findings", true),
        ("Leakage", true),
        ("Recoverable now", true),
        ("At risk", true),
    ];
    if page.has_resolved {
        heads.push(("Resolved", true));
        heads.push(("Resolved leakage", true));
    }
    for (label, numeric) in heads {
        h.push_str(&th(label, numeric));
    }
    h.push_str("</tr></thead><tbody>");
    for p in runs {
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td>{}{}{}{}",
            opt_date(p.as_of),
            esc(&p.run_id),
            count_cell(p.total.findings),
            money_cell(Some(p.total.leakage)),
            money_cell(Some(
                p.buckets
                    .get(&Bucket::Recoverable)
                    .copied()
                    .unwrap_or_default()
                    .leakage
            )),
            money_cell(Some(
                p.buckets
                    .get(&Bucket::AtRisk)
                    .copied()
                    .unwrap_or_default()
                    .leakage
            )),
        );
        if page.has_resolved {
            let r = p.resolved.unwrap_or_default();
            let _ = write!(
                h,
                "{}{}",
                count_cell(r.findings),
                money_cell(Some(r.leakage))
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div></details>");
    runs_of_the_day(h, page);
    h.push_str("</section>\n");
}

/// One scorecard row.
struct ScoreRow<'a> {
    id: String,
    info: Option<&'a PartnerInfo>,
    figures: Option<&'a PartnerFigures>,
    tally: Tally,
    severities: [u64; 5],
}

fn scorecard(h: &mut String, page: &Page) {
    let a = page.analysis;
    let snap = page.snapshot;
    h.push_str(r#"<section id="scorecard"><h2>Partner scorecard</h2>"#);
    let mut ids: Vec<String> = a.by_partner.keys().flatten().cloned().collect();
    match &page.scope {
        Scope::All => ids.extend(snap.partners.keys().cloned()),
        Scope::Partner { id, .. } => ids.push(id.to_string()),
    }
    ids.sort();
    ids.dedup();
    let mut rows: Vec<ScoreRow> = ids
        .into_iter()
        .map(|id| {
            let p = a.by_partner.get(&Some(id.clone()));
            ScoreRow {
                info: snap.partners.get(&id),
                figures: snap.figures.get(&id),
                tally: p.map(|p| p.tally).unwrap_or_default(),
                severities: p.map(|p| p.severities).unwrap_or_default(),
                id,
            }
        })
        .collect();
    rows.sort_by(|x, y| {
        y.tally
            .leakage
            .cmp(&x.tally.leakage)
            .then(y.tally.findings.cmp(&x.tally.findings))
            .then(x.id.cmp(&y.id))
    });
    let total_rows = rows.len();
    rows.truncate(SCORECARD_ROWS);

    let lookback = snap
        .lookback
        .map(|(from, to)| format!("{from} to {to}"))
        .unwrap_or_else(|| "the lookback".into());
    let _ = write!(
        h,
        r#"<p class="note">Billed: issued invoices billed to the partner dated on or before as_of, less their credit notes. Forecast attainment: billed ÷ committed forecast over {} (<code>forecast_lookback_months</code>). DSO: still owed on those invoices ÷ billed in the last {} days × {}. Leakage and findings exclude live dispositions.</p>"#,
        esc(&lookback),
        DSO_DAYS,
        DSO_DAYS
    );
    for note in &snap.notes {
        let _ = write!(h, r#"<p class="warn">{}</p>"#, esc(note));
    }
    let with_info = snap.partners_read;
    let with_figures = snap.figures_read;
    h.push_str(&filter_bar(
        "scorecard-table",
        rows.len(),
        "Filter partners…",
    ));
    h.push_str(r#"<div class="tablewrap"><table id="scorecard-table" class="sortable" data-selftest="1"><thead><tr>"#);
    h.push_str(&th("Partner", false));
    if with_info {
        h.push_str(&th("Name", false));
        h.push_str(&th("Tier", false));
        h.push_str(&th("Region", false));
    }
    if with_figures {
        h.push_str(&th("Forecast attainment %", true));
        h.push_str(&th("Billed", true));
    }
    h.push_str(r#"<th class="num" data-type="num" data-selftest="1">Leakage</th>"#);
    if with_figures {
        h.push_str(&th("Leakage % of billed", true));
    }
    h.push_str(&th("Findings", true));
    for s in SEVERITIES {
        h.push_str(&th(s, true));
    }
    if with_figures {
        h.push_str(&th("DSO (days)", true));
    }
    h.push_str("</tr></thead><tbody>");
    for r in &rows {
        let _ = write!(h, "<tr><td>{}</td>", esc(&r.id));
        if with_info {
            let (name, tier, region) = r
                .info
                .map(|i| (i.name.as_str(), i.tier.as_str(), i.region.as_str()))
                .unwrap_or(("(not in prm/partners)", "", ""));
            let _ = write!(
                h,
                r#"<td class="name">{}</td><td>{}</td><td>{}</td>"#,
                esc(name),
                esc(tier),
                esc(region)
            );
        }
        let billed = r.figures.map(|f| f.billed).unwrap_or_default();
        if with_figures {
            match r.figures.and_then(|f| f.attainment) {
                Some(p) => h.push_str(&num_cell(&format!("{p}%"), &p.to_string())),
                None => h.push_str(&num_cell("–", "")),
            }
            h.push_str(&money_cell(Some(billed)));
        }
        h.push_str(&money_cell(Some(r.tally.leakage)));
        if with_figures {
            if billed > Decimal::ZERO {
                let pct = (r.tally.leakage * Decimal::from(100) / billed).round_dp(1);
                h.push_str(&num_cell(&format!("{pct}%"), &pct.to_string()));
            } else {
                h.push_str(&num_cell("–", ""));
            }
        }
        h.push_str(&count_cell(r.tally.findings));
        for n in r.severities {
            h.push_str(&count_cell(n));
        }
        if with_figures {
            match r.figures.and_then(|f| f.dso) {
                Some(d) => h.push_str(&num_cell(&d.to_string(), &d.to_string())),
                None => h.push_str(&num_cell("–", "")),
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    if total_rows > rows.len() {
        let _ = write!(
            h,
            r#"<p class="note">Showing the {} partners with the most leakage of {}; every finding is in <code>{}</code>.</p>"#,
            group_int(rows.len() as u64),
            group_int(total_rows as u64),
            esc(&page.findings_path)
        );
    }
    h.push_str("</section>\n");
}

fn checks(h: &mut String, page: &Page) {
    let a = page.analysis;
    h.push_str(r#"<section id="checks"><h2>Checks and findings</h2>"#);
    if page.is_partner() {
        h.push_str(
            r#"<p class="note">Only the checks with findings about this partner are listed.</p>"#,
        );
    }
    for meta in page.checks {
        let (counted, all) = a.by_check.get(&meta.id).copied().unwrap_or_default();
        if page.is_partner() && all.findings == 0 {
            continue;
        }
        let anchor = format!("check-{}", meta.id);
        let _ = write!(
            h,
            r#"<div class="check" id="{}"><h3>{} <code>{}</code></h3>"#,
            esc(&anchor),
            esc(&meta.title),
            esc(&meta.id)
        );
        if !meta.description.is_empty() {
            let _ = write!(h, "<p>{}</p>", esc(&meta.description));
        }
        let _ = write!(
            h,
            r#"<dl class="kv"><dt>Findings</dt><dd>{} · leakage {}{}</dd><dt>Group</dt><dd>{}</dd><dt>Severity</dt><dd>{}</dd>"#,
            group_int(all.findings),
            page.money(counted.leakage),
            if all.findings > counted.findings {
                format!(
                    " ({} under a live disposition left out)",
                    group_int(all.findings - counted.findings)
                )
            } else {
                String::new()
            },
            Bucket::of(&meta.id).label(),
            esc(&meta.default_severity)
        );
        if !meta.owner.is_empty() {
            let _ = write!(h, "<dt>Owner</dt><dd>{}</dd>", esc(&meta.owner));
        }
        if !meta.parameters.is_empty() {
            let params: Vec<String> = meta
                .parameters
                .iter()
                .map(|(k, v)| format!("<code>{}</code> = {}", esc(k), esc(v)))
                .collect();
            let _ = write!(h, "<dt>Parameters</dt><dd>{}</dd>", params.join(", "));
        }
        if let Some(skipped) = &meta.skipped {
            let _ = write!(
                h,
                r#"<dt>Skipped</dt><dd class="warn">{}</dd>"#,
                esc(skipped)
            );
        }
        if let Some(note) = &meta.note {
            let _ = write!(h, r#"<dt>Note</dt><dd class="note">{}</dd>"#, esc(note));
        }
        h.push_str("</dl>");
        let rows = a.top.get(&meta.id).map(Vec::as_slice).unwrap_or(&[]);
        if !rows.is_empty() {
            findings_table(h, page, &format!("findings-{}", meta.id), rows);
            if all.findings as usize > rows.len() {
                let _ = write!(
                    h,
                    r#"<p class="note">Showing the top {} by leakage; {} more are in <code>{}</code>.</p>"#,
                    group_int(rows.len() as u64),
                    group_int(all.findings - rows.len() as u64),
                    esc(&page.findings_path)
                );
            }
        }
        h.push_str("</div>");
    }
    h.push_str("</section>\n");
}

fn findings_table(h: &mut String, page: &Page, id: &str, rows: &[FindingRow]) {
    let with_disposition = rows.iter().any(|r| r.disposition.is_some());
    h.push_str(&filter_bar(id, rows.len(), "Filter findings…"));
    let _ = write!(
        h,
        r#"<div class="tablewrap"><table id="{}" class="sortable findings"><thead><tr>"#,
        esc(id)
    );
    let mut heads = vec![
        ("Entity", false),
        ("Partner", false),
        ("Period", false),
        ("Expected", true),
        ("Actual", true),
        ("Leakage", true),
        ("Severity", false),
        ("Status", false),
        ("First seen", false),
        ("Detail", false),
    ];
    if with_disposition {
        heads.push(("Disposition", false));
    }
    for (label, numeric) in heads {
        h.push_str(&th(label, numeric));
    }
    h.push_str("</tr></thead><tbody>");
    for r in rows {
        let _ = write!(
            h,
            r#"<tr{}><td class="entity"><span class="muted">{}</span><br><code>{}</code></td><td>{}</td><td>{}</td>{}{}{}<td><span class="pill sev-{}">{}</span></td><td>{}</td><td>{}</td><td class="detail">{}</td>"#,
            if r.counted {
                ""
            } else {
                r#" class="dispositioned""#
            },
            page.t(&r.entity_type),
            page.t(&r.entity_id),
            page.t(r.partner_id.as_deref().unwrap_or("")),
            opt_date(r.period),
            money_cell(r.expected),
            money_cell(r.actual),
            money_cell(Some(r.leakage)),
            esc(&r.severity),
            esc(&r.severity),
            esc(&r.status),
            opt_date(r.first_seen),
            page.t(&r.detail)
        );
        if with_disposition {
            let mut d = Vec::new();
            if let Some(x) = &r.disposition {
                d.push(format!("<b>{}</b>", page.t(x)));
            }
            if let Some(x) = &r.disposition_note {
                d.push(page.t(x));
            }
            if let Some(x) = &r.disposition_owner {
                d.push(format!("by {}", page.t(x)));
            }
            if let Some(x) = r.disposition_until {
                d.push(format!("until {x}"));
            }
            let _ = write!(h, r#"<td class="disp">{}</td>"#, d.join(" · "));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
}

fn data_quality(h: &mut String, page: &Page) {
    let a = page.analysis;
    h.push_str(r#"<section id="data-quality"><h2>Data quality</h2>"#);
    let inputs = &page.manifest.inputs;
    if inputs.is_empty() {
        h.push_str(r#"<p class="note">The manifest lists no input tables.</p>"#);
    } else {
        h.push_str(r#"<p class="note">Per input table: rows read, rows dated after as_of (not part of this run), rows that passed every data-quality rule and rows flagged (one data_quality finding each, or per duplicated key). Read = after as_of + passed + flagged.</p>"#);
        h.push_str(&filter_bar("inputs-table", inputs.len(), "Filter tables…"));
        h.push_str(
            r#"<div class="tablewrap"><table id="inputs-table" class="sortable"><thead><tr>"#,
        );
        for (label, numeric) in [
            ("Table", false),
            ("Path", false),
            ("Files", true),
            ("Bytes", true),
            ("Rows read", true),
            ("After as_of", true),
            ("Passed", true),
            ("Flagged", true),
            ("State", false),
        ] {
            h.push_str(&th(label, numeric));
        }
        h.push_str("</tr></thead><tbody>");
        for i in inputs {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td>{}{}{}{}{}{}<td>{}</td></tr>",
                esc(&i.table),
                esc(i.path.as_deref().unwrap_or("")),
                count_cell(i.files as u64),
                count_cell(i.bytes),
                count_cell(i.rows_read),
                count_cell(i.rows_after_as_of),
                count_cell(i.rows_passed),
                count_cell(i.rows_flagged),
                if i.missing {
                    r#"<b class="warn">missing</b>"#
                } else {
                    "read"
                }
            );
        }
        h.push_str("</tbody></table></div>");
    }
    let (_, dq) = a.by_check.get("data_quality").copied().unwrap_or_default();
    let _ = write!(h, "<h3>Flagged rows ({})</h3>", group_int(dq.findings));
    if dq.findings == 0 {
        h.push_str(r#"<p class="note">No row was flagged.</p>"#);
    } else {
        h.push_str(r##"<p class="note">The same rows are listed under <a href="#check-data_quality">the data_quality check</a>; here they are, with what is wrong with each.</p>"##);
        let rows = a.top.get("data_quality").map(Vec::as_slice).unwrap_or(&[]);
        h.push_str(&filter_bar(
            "flagged-rows",
            rows.len(),
            "Filter flagged rows…",
        ));
        h.push_str(
            r#"<div class="tablewrap"><table id="flagged-rows" class="sortable"><thead><tr>"#,
        );
        for (label, numeric) in [
            ("Row", false),
            ("Problem", false),
            ("Status", false),
            ("First seen", false),
        ] {
            h.push_str(&th(label, numeric));
        }
        h.push_str("</tr></thead><tbody>");
        for r in rows {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td class=\"detail\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.entity_id),
                esc(&r.detail),
                esc(&r.status),
                opt_date(r.first_seen)
            );
        }
        h.push_str("</tbody></table></div>");
        if dq.findings as usize > rows.len() {
            let _ = write!(
                h,
                r#"<p class="note">Showing {}; {} more are in <code>{}</code> (check_id = data_quality).</p>"#,
                group_int(rows.len() as u64),
                group_int(dq.findings - rows.len() as u64),
                esc(&page.findings_path)
            );
        }
    }
    h.push_str("</section>\n");
}

fn run_details(h: &mut String, page: &Page) {
    let m = page.manifest;
    h.push_str(r#"<section id="run"><h2>Run details</h2><dl class="kv">"#);
    let mut kv = vec![
        ("Tool", format!("{} {}", esc(&m.tool), esc(&m.version))),
        ("Run id", format!("<code>{}</code>", esc(&m.run_id))),
        ("As of", page.as_of.to_string()),
        ("Reporting currency", esc(&page.currency)),
    ];
    if !page.is_partner() {
        kv.push(("Started", esc(&m.started)));
        kv.push(("Finished", esc(&m.finished)));
        kv.push(("Snapshot", format!("<code>{}</code>", esc(&m.snapshot))));
        kv.push((
            "Previous run",
            m.previous_as_of
                .map(|d| d.to_string())
                .unwrap_or_else(|| "none".into()),
        ));
        kv.push((
            "Findings",
            format!("<code>{}</code>", esc(&page.findings_path)),
        ));
    }
    for (k, v) in kv {
        let _ = write!(h, "<dt>{k}</dt><dd>{v}</dd>");
    }
    h.push_str("</dl>");
    if !page.manifest_found {
        h.push_str(r#"<p class="warn">No manifest.json was found for this run: parameters, inputs, query files and timings are unknown.</p>"#);
    }
    if !page.is_partner() && !m.warnings.is_empty() {
        h.push_str("<h3>Warnings</h3><ul>");
        for w in &m.warnings {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul>");
    }
    if !m.parameters.is_empty() {
        h.push_str(r#"<h3>Parameters</h3><div class="tablewrap"><table id="parameters" class="sortable"><thead><tr>"#);
        h.push_str(&th("Name", false));
        h.push_str(&th("Value", false));
        h.push_str("</tr></thead><tbody>");
        for (k, v) in &m.parameters {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(k),
                esc(v)
            );
        }
        h.push_str("</tbody></table></div>");
    }
    if !page.is_partner() {
        if !m.checks.is_empty() {
            h.push_str(r#"<h3>Timings</h3><div class="tablewrap"><table id="timings" class="sortable"><thead><tr>"#);
            for (label, numeric) in [
                ("Check", false),
                ("Rows", true),
                ("Leakage", true),
                ("Milliseconds", true),
                ("Skipped", false),
            ] {
                h.push_str(&th(label, numeric));
            }
            h.push_str("</tr></thead><tbody>");
            for c in &m.checks {
                let leakage = Some(c.leakage);
                let _ = write!(
                    h,
                    "<tr><td>{}</td>{}{}{}<td>{}</td></tr>",
                    esc(&c.check_id),
                    count_cell(c.rows as u64),
                    money_cell(leakage),
                    count_cell(c.millis as u64),
                    esc(c.skipped.as_deref().unwrap_or(""))
                );
            }
            let total: u64 = m.checks.iter().map(|c| c.millis as u64).sum();
            let _ = write!(
                h,
                r#"</tbody></table></div><p class="note">Checks took {} ms in all.</p>"#,
                group_int(total)
            );
        }
        if !m.queries.is_empty() {
            h.push_str(r#"<h3>Query files</h3><div class="tablewrap"><table id="query-files" class="sortable"><thead><tr>"#);
            h.push_str(&th("File", false));
            h.push_str(&th("SHA-256", false));
            h.push_str("</tr></thead><tbody>");
            for q in &m.queries {
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
                    esc(&q.path),
                    esc(&q.sha256)
                );
            }
            h.push_str("</tbody></table></div>");
        }
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn redacts_whole_ids_and_names_only() {
        let index = PartnerIndex::new(
            [
                ("P00002", "P00002"),
                ("P00002", "Apex IT Inc 1"),
                ("P00012", "P00012"),
                ("P00012", "Apex IT Inc 12"),
                ("P00003", "<b>x</b>"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string())),
        );
        let r = index.for_partner("P00012");
        assert_eq!(
            r.apply("paid to P00002 (Apex IT Inc 1), sold by P000021 (Apex IT Inc 12) <b>x</b>"),
            "paid to another partner (another partner), sold by P000021 (Apex IT Inc 12) another partner"
        );
        let r = index.for_partner("P00002");
        assert_eq!(
            r.apply("Apex IT Inc 12 and Apex IT Inc 1: P00012"),
            "another partner and Apex IT Inc 1: another partner"
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_int(0), "0");
        assert_eq!(group_int(1234567), "1,234,567");
    }
}
