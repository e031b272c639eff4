//! A partner's statement: the page a partner manager can send to the partner
//! as it is. It is about the partner's own business with the vendor — revenue
//! won and billed through it against its forecast, its invoices and
//! payments, the commissions it earned and was paid (and the adjustment the
//! vendor will make), its customers' renewals, and the items it can check on
//! its side — read from the run's `statements/` datasets
//! (`queries/statements/*.sql`), each row already the partner's own. Nothing
//! internal: no severity, threshold, owner, check id or vendor total, and no
//! other partner's data. Amounts are in the documents' currencies; where that
//! is not the reporting currency, the reporting-currency figure (at as_of's
//! rate) stands beside the totals.

use super::page::{
    CAPTURE_JS, CSP, CSS, JS, count_cell, f64_of, filter_bar, group_int, head_row, money_cell,
    num_cell, plural,
};
use super::svg::{self, Bar};
use crate::engine::udf::format_money;
use crate::error::{Error, Result};
use crate::outputs::actions::CommissionAdjustment;
use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::array_value_to_string;
use maud::{Markup, PreEscaped, html};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

/// The statement datasets the page reads, by file name (without `.parquet`).
pub const DATASETS: &[&str] = &["invoices", "commissions", "revenue", "renewals", "to_check"];

/// Invoices listed in full on a page: every open one, then the latest others.
pub const INVOICE_ROWS: usize = 200;

/// One column of a statement dataset as the page reads it, kept as the Arrow
/// array it came in (a cell is read where it lies, not copied into a string
/// of its own): exact decimals and integers as numbers, so an amount is not
/// written out as text and parsed back; every other type as text, as the
/// Parquet holds it (dates ISO).
#[derive(Debug)]
enum Cells {
    Text(StringArray),
    /// Decimals of at most 28 digits: each is a `rust_decimal` as it is.
    Decimal(Decimal128Array, u32),
    Int(Int64Array),
}

impl Cells {
    fn of(column: &ArrayRef) -> std::result::Result<Cells, ArrowError> {
        Ok(match column.data_type() {
            // rust_decimal holds 28 digits at most: a wider column is read as
            // text, as is one holding a value wider than its type says (its
            // text is cut to the type's digits)
            DataType::Decimal128(precision, scale)
                if *precision <= 28
                    && *scale >= 0
                    && column
                        .as_primitive::<Decimal128Type>()
                        .validate_decimal_precision(*precision)
                        .is_ok() =>
            {
                Cells::Decimal(
                    column.as_primitive::<Decimal128Type>().clone(),
                    *scale as u32,
                )
            }
            DataType::Int64 => Cells::Int(column.as_primitive::<Int64Type>().clone()),
            _ => Cells::Text(
                datafusion::arrow::compute::cast(column, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            ),
        })
    }

    fn is_valid(&self, row: usize) -> bool {
        match self {
            Cells::Text(a) => a.is_valid(row),
            Cells::Decimal(a, _) => a.is_valid(row),
            Cells::Int(a) => a.is_valid(row),
        }
    }
}

/// One statement dataset: its column names and, per record batch, its cells.
#[derive(Debug, Default)]
struct Dataset {
    columns: Vec<String>,
    batches: Vec<Vec<Cells>>,
}

/// A column of a dataset, found by name once for all the rows read
/// ([`Rows::col`]); a column the dataset lacks reads as empty.
#[derive(Debug, Clone, Copy)]
struct Col(Option<usize>);

/// One dataset's rows of one partner.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    dataset: &'a Dataset,
    /// (batch, row) of each of the partner's rows, in the dataset's order.
    rows: &'a [(u32, u32)],
}

impl<'a> Rows<'a> {
    fn col(&self, column: &str) -> Col {
        Col(self.dataset.columns.iter().position(|c| c == column))
    }

    fn iter(&self) -> impl Iterator<Item = Row<'a>> + use<'a> {
        let dataset = self.dataset;
        self.rows.iter().map(move |&(batch, row)| Row {
            cells: &dataset.batches[batch as usize],
            row: row as usize,
        })
    }

    fn cols<const N: usize>(&self, columns: [&str; N]) -> [Col; N] {
        columns.map(|c| self.col(c))
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// One row, read by [`Col`].
#[derive(Clone, Copy)]
struct Row<'a> {
    cells: &'a [Cells],
    row: usize,
}

impl<'a> Row<'a> {
    fn cells(&self, col: Col) -> Option<&'a Cells> {
        let cells = self.cells.get(col.0?)?;
        cells.is_valid(self.row).then_some(cells)
    }

    /// The cell as text: as the Parquet holds it (a decimal with its scale's
    /// digits); empty when null.
    fn text(&self, col: Col) -> Cow<'a, str> {
        match self.cells(col) {
            None => Cow::Borrowed(""),
            Some(Cells::Text(a)) => Cow::Borrowed(a.value(self.row)),
            Some(Cells::Decimal(a, scale)) => Cow::Owned(match decimal_at(a, *scale, self.row) {
                Some(d) => d.to_string(),
                // (not for a column kept as decimals, checked in `Cells::of`)
                None => array_value_to_string(a, self.row).unwrap_or_default(),
            }),
            Some(Cells::Int(a)) => Cow::Owned(a.value(self.row).to_string()),
        }
    }

    fn money(&self, col: Col) -> Option<Decimal> {
        match self.cells(col)? {
            Cells::Decimal(a, scale) => decimal_at(a, *scale, self.row),
            Cells::Int(a) => Some(Decimal::from(a.value(self.row))),
            Cells::Text(a) => Decimal::from_str(a.value(self.row)).ok(),
        }
    }

    fn amount(&self, col: Col) -> Decimal {
        self.money(col).unwrap_or_default()
    }

    fn int(&self, col: Col) -> i64 {
        match self.cells(col) {
            Some(Cells::Int(a)) => a.value(self.row),
            _ => self.text(col).parse().unwrap_or(0),
        }
    }
}

fn decimal_at(array: &Decimal128Array, scale: u32, row: usize) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(array.value(row), scale).ok()
}

/// Every partner's statement datasets.
#[derive(Debug, Default)]
pub struct Statements {
    datasets: BTreeMap<String, Dataset>,
    /// partner_id → dataset → the partner's (batch, row)s.
    by_partner: BTreeMap<String, BTreeMap<String, Vec<(u32, u32)>>>,
}

impl Statements {
    /// Reads `statements/as_of=.../<dataset>.parquet`, grouping rows by partner_id.
    pub fn load(dir: &Path) -> Result<Statements> {
        let mut statements = Statements::default();
        for dataset in DATASETS {
            let path = dir.join(format!("{dataset}.parquet"));
            if !path.exists() {
                continue;
            }
            let batches = crate::outputs::findings::read_parquet(&path)?;
            statements.add(dataset, &batches, &path)?;
        }
        Ok(statements)
    }

    /// The run's statement datasets as its queries returned them (what it
    /// publishes as `statements/`), named by dataset; `dir` names them in errors.
    pub fn of_batches<'b>(
        datasets: impl IntoIterator<Item = (&'b str, &'b [RecordBatch])>,
        dir: &Path,
    ) -> Result<Statements> {
        let mut statements = Statements::default();
        for (dataset, batches) in datasets {
            if DATASETS.contains(&dataset) {
                statements.add(dataset, batches, &dir.join(format!("{dataset}.parquet")))?;
            }
        }
        Ok(statements)
    }

    fn add(&mut self, dataset: &str, batches: &[RecordBatch], path: &Path) -> Result<()> {
        let fail = |message: String| Error::Output {
            path: path.to_path_buf(),
            message,
        };
        let mut loaded = Dataset::default();
        for batch in batches {
            let schema = batch.schema();
            let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            let Some(partner_col) = columns.iter().position(|c| c == "partner_id") else {
                return Err(fail("a statement dataset without partner_id".into()));
            };
            if loaded.columns.is_empty() {
                loaded.columns = columns;
            } else if loaded.columns != columns {
                return Err(fail("record batches with different columns".into()));
            }
            let cells: Vec<Cells> = batch
                .columns()
                .iter()
                .map(Cells::of)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| fail(e.to_string()))?;
            let partners =
                datafusion::arrow::compute::cast(batch.column(partner_col), &DataType::Utf8)
                    .map_err(|e| fail(e.to_string()))?;
            let partners = partners.as_string::<i32>();
            let at = loaded.batches.len() as u32;
            // the queries mostly return a partner's rows together: a run of
            // them is looked up once
            let mut run: Option<(&str, Vec<(u32, u32)>)> = None;
            for r in 0..batch.num_rows() {
                if !partners.is_valid(r) {
                    continue;
                }
                let partner = partners.value(r);
                match &mut run {
                    Some((current, rows)) if *current == partner => rows.push((at, r as u32)),
                    _ => {
                        if let Some((current, rows)) = run.take() {
                            self.extend(current, dataset, rows);
                        }
                        run = Some((partner, vec![(at, r as u32)]));
                    }
                }
            }
            if let Some((current, rows)) = run {
                self.extend(current, dataset, rows);
            }
            loaded.batches.push(cells);
        }
        self.datasets.insert(dataset.to_string(), loaded);
        Ok(())
    }

    /// Adds `rows` to `partner`'s rows of `dataset`.
    fn extend(&mut self, partner: &str, dataset: &str, rows: Vec<(u32, u32)>) {
        let datasets = match self.by_partner.get_mut(partner) {
            Some(datasets) => datasets,
            None => self.by_partner.entry(partner.to_string()).or_default(),
        };
        match datasets.get_mut(dataset) {
            Some(known) => known.extend(rows),
            None => {
                datasets.insert(dataset.to_string(), rows);
            }
        }
    }

    /// The partners with any row.
    pub fn partners(&self) -> impl Iterator<Item = &String> {
        self.by_partner.keys()
    }

    fn of<'a>(&'a self, partner: &str, dataset: &str) -> Rows<'a> {
        static NONE: Dataset = Dataset {
            columns: Vec::new(),
            batches: Vec::new(),
        };
        Rows {
            dataset: self.datasets.get(dataset).unwrap_or(&NONE),
            rows: self
                .by_partner
                .get(partner)
                .and_then(|d| d.get(dataset))
                .map_or(&[], Vec::as_slice),
        }
    }
}

/// Everything one statement shows.
pub struct Statement<'a> {
    pub partner_id: &'a str,
    pub partner_name: &'a str,
    pub as_of: NaiveDate,
    pub reporting_currency: &'a str,
    pub lookback_months: i64,
    pub statements: &'a Statements,
    /// The commission adjustments the vendor will make (recovery actions).
    pub adjustments: &'a [CommissionAdjustment],
}

/// Sums per currency, and the rate of each to the reporting currency.
#[derive(Default)]
struct Totals {
    by_currency: BTreeMap<String, Decimal>,
    rates: BTreeMap<String, Decimal>,
}

impl Totals {
    /// `row`'s amount in `column`, in its currency (`currency`), at its rate
    /// (`rate`, the dataset's `rate_to_reporting`).
    fn add(&mut self, row: &Row, column: Col, currency: Col, rate: Col) {
        let code = row.text(currency);
        let amount = row.amount(column);
        match self.by_currency.get_mut(code.as_ref()) {
            Some(sum) => *sum += amount,
            None => {
                self.by_currency.insert(code.to_string(), amount);
            }
        }
        if let Some(rate) = row.money(rate) {
            match self.rates.get_mut(code.as_ref()) {
                Some(known) => *known = rate,
                None => {
                    self.rates.insert(code.into_owned(), rate);
                }
            }
        }
    }

    /// `12,345.00 EUR (13,018.04 USD)`: each currency; the reporting-currency
    /// figure beside when any amount is in another currency.
    fn show(&self, reporting: &str) -> String {
        if self.by_currency.is_empty() {
            return format!("0.00 {reporting}");
        }
        let parts: Vec<String> = self
            .by_currency
            .iter()
            .map(|(c, a)| format!("{} {c}", format_money(*a)))
            .collect();
        let foreign = self.by_currency.keys().any(|c| c != reporting);
        let convertible = self
            .by_currency
            .keys()
            .all(|c| c == reporting || self.rates.contains_key(c));
        if foreign && convertible {
            let total: Decimal = self
                .by_currency
                .iter()
                .map(|(c, a)| {
                    let rate = if c == reporting {
                        Decimal::ONE
                    } else {
                        self.rates[c]
                    };
                    (a * rate).round_dp_with_strategy(
                        2,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    )
                })
                .sum();
            format!("{} ({} {reporting})", parts.join(", "), format_money(total))
        } else {
            parts.join(", ")
        }
    }
}

fn money_with(amount: Decimal, currency: &str) -> String {
    format!("{} {currency}", format_money(amount))
}

pub fn render(s: &Statement) -> String {
    let invoices = s.statements.of(s.partner_id, "invoices");
    let commissions = s.statements.of(s.partner_id, "commissions");
    let revenue = s.statements.of(s.partner_id, "revenue");
    let renewals = s.statements.of(s.partner_id, "renewals");
    let to_check = s.statements.of(s.partner_id, "to_check");
    let no_business =
        invoices.len() + commissions.len() + revenue.len() + renewals.len() + to_check.len() == 0
            && s.adjustments.is_empty();
    let title = format!("Statement for {} · as of {}", s.partner_name, s.as_of);
    let markup = html! {
        // Safe: a constant.
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href="data:,";
                title { (title) }
                // Safe: constants of this crate (no `</script` or `</style`: see html.rs's tests).
                script { (PreEscaped(CAPTURE_JS)) }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (s.partner_name) " · statement as of " (s.as_of) }
                    p class="meta" {
                        "Partner " (s.partner_id)
                        " · your business with us: the " (s.lookback_months)
                        " months before " (s.as_of.format("%B %Y")) " and that month so far"
                        " · amounts in each document's currency"
                    }
                    nav class="toc" {
                        a href="#summary" { "Summary" }
                        a href="#revenue" { "Revenue" }
                        a href="#invoices" { "Invoices and payments" }
                        a href="#commissions" { "Commissions" }
                        a href="#renewals" { "Renewals" }
                        a href="#to-check" { "To check on your side" }
                    }
                }
                main {
                    @if no_business {
                        section id="summary" {
                            h2 { "Summary" }
                            p class="empty" {
                                "We have no business recorded with you as of " (s.as_of)
                                ": no deals won, invoices, commissions, renewals or items to check."
                            }
                        }
                    } @else {
                        (summary(s, &invoices, &commissions, &revenue, &renewals))
                        (revenue_section(s, &revenue))
                        (invoices_section(s, &invoices))
                        (commissions_section(s, &commissions))
                        (renewals_section(s, &renewals))
                        (to_check_section(s, &to_check))
                    }
                }
                // Safe: report.js, compiled in.
                script { (PreEscaped(JS)) }
            }
        }
    };
    markup.into_string()
}

fn summary(
    s: &Statement,
    invoices: &Rows,
    commissions: &Rows,
    revenue: &Rows,
    renewals: &Rows,
) -> Markup {
    let mut billed = Totals::default();
    let mut billed_reporting = Decimal::ZERO;
    let [billed_col, billed_reporting_col, currency, rate] = revenue.cols([
        "billed",
        "billed_reporting",
        "currency",
        "rate_to_reporting",
    ]);
    for r in revenue.iter() {
        billed.add(&r, billed_col, currency, rate);
        billed_reporting += r.amount(billed_reporting_col);
    }
    let reporting = s.reporting_currency;
    // several currencies: also their sum in the reporting currency, each
    // invoice at its own date's rate
    let billed_shown = match billed.by_currency.keys().any(|c| c != reporting) {
        true => format!(
            "{} ({})",
            billed.show(reporting),
            money_with(billed_reporting, reporting)
        ),
        false => billed.show(reporting),
    };
    let mut outstanding = Totals::default();
    let mut open = 0;
    let [outstanding_col, currency, rate] =
        invoices.cols(["outstanding", "currency", "rate_to_reporting"]);
    for r in invoices
        .iter()
        .filter(|r| r.amount(outstanding_col) > Decimal::ZERO)
    {
        open += 1;
        outstanding.add(&r, outstanding_col, currency, rate);
    }
    let (mut earned, mut paid) = (Totals::default(), Totals::default());
    let [earned_col, paid_col, currency, rate] =
        commissions.cols(["earned", "paid", "currency", "rate_to_reporting"]);
    for r in commissions.iter() {
        earned.add(&r, earned_col, currency, rate);
        paid.add(&r, paid_col, currency, rate);
    }
    let state = renewals.col("state");
    let ending = renewals
        .iter()
        .filter(|r| r.text(state) == "ending within 90 days")
        .count();
    html! {
        section id="summary" {
            h2 { "Summary" }
            div class="cards" {
                div class="card" {
                    div class="k" { "Billed through you" }
                    div class="v" { (billed_shown) }
                    div class="d" { "in the months shown, net of credit notes" }
                }
                div class="card" {
                    div class="k" { "Open invoices" }
                    div class="v" { (outstanding.show(reporting)) }
                    div class="d" { (plural(open, "invoice", "invoices")) " with an amount outstanding" }
                }
                div class="card" {
                    div class="k" { "Commissions earned" }
                    div class="v" { (earned.show(reporting)) }
                    div class="d" { "paid: " (paid.show(reporting)) }
                }
                div class="card" {
                    div class="k" { "Renewals due" }
                    div class="v" { (group_int(ending as u64)) }
                    div class="d" { "subscriptions of your customers ending in the next 90 days" }
                }
            }
        }
    }
}

fn revenue_section(s: &Statement, revenue: &Rows) -> Markup {
    // per month: the partner's one currency when all its documents share one,
    // else the reporting currency
    let currency = revenue.col("currency");
    let currencies: BTreeSet<Cow<str>> = revenue.iter().map(|r| r.text(currency)).collect();
    let single = (currencies.len() == 1).then(|| currencies.iter().next().unwrap().as_ref());
    let suffix = if single.is_some() { "" } else { "_reporting" };
    let shown_currency = single.unwrap_or(s.reporting_currency);
    #[derive(Default)]
    struct Month {
        won: i64,
        won_value: Decimal,
        billed: Decimal,
        billed_reporting: Decimal,
        forecast: Option<Decimal>,
    }
    let mut months: BTreeMap<String, Month> = BTreeMap::new();
    let [month, won_deals, billed_reporting] =
        revenue.cols(["month", "won_deals", "billed_reporting"]);
    let [won_value, billed, forecast] = [
        format!("won_value{suffix}"),
        format!("billed{suffix}"),
        format!("forecast{suffix}"),
    ]
    .map(|c| revenue.col(&c));
    for r in revenue.iter() {
        let m = months.entry(r.text(month).into_owned()).or_default();
        m.won += r.int(won_deals);
        m.won_value += r.amount(won_value);
        m.billed += r.amount(billed);
        m.billed_reporting += r.amount(billed_reporting);
        if let Some(f) = r.money(forecast) {
            *m.forecast.get_or_insert(Decimal::ZERO) += f;
        }
    }
    // the partner's one currency is not the reporting one: billed in both
    let foreign = shown_currency != s.reporting_currency;
    let billed_reporting = format!("Billed ({})", s.reporting_currency);
    let mut columns = vec![
        ("Month", false),
        ("Deals won", true),
        ("Won value", true),
        ("Billed", true),
    ];
    if foreign {
        columns.push((billed_reporting.as_str(), true));
    }
    columns.extend([("Forecast", true), ("Billed / forecast", true)]);
    let bars: Vec<Bar> = months
        .iter()
        .map(|(month, m)| Bar {
            label: month[..7.min(month.len())].to_string(),
            value: f64_of(m.billed),
            value_label: money_with(m.billed, shown_currency),
            tooltip: format!("{month}: billed {}", money_with(m.billed, shown_currency)),
        })
        .collect();
    html! {
        section id="revenue" {
            h2 { "Revenue" }
            @if months.is_empty() {
                p class="empty" { "No deals won or invoices billed through you in these months." }
            } @else {
                p class="note" {
                    "Deals won through you and what was billed through you (issued invoices whose partner you are, net of credit notes), per month, against your committed forecast"
                    @if single.is_none() { ", in " (s.reporting_currency) " (each document at its own date's rate)" }
                    "."
                }
                (svg::bar_chart(&format!("Billed through you per month ({shown_currency})"), &bars))
                table class="sortable" id="revenue-table" {
                    (head_row(&columns))
                    tbody {
                        @for (month, m) in &months {
                            tr {
                                td { (month[..7.min(month.len())]) }
                                (count_cell(m.won as u64))
                                (money_cell(Some(m.won_value)))
                                (money_cell(Some(m.billed)))
                                @if foreign {
                                    (money_cell(Some(m.billed_reporting)))
                                }
                                (money_cell(m.forecast))
                                @match m.forecast.filter(|f| !f.is_zero()) {
                                    Some(f) => {
                                        @let pct = (m.billed * Decimal::from(100) / f).round_dp(0);
                                        (num_cell(format!("{pct} %"), pct.to_string()))
                                    }
                                    None => (num_cell("–", "")),
                                }
                            }
                        }
                    }
                }
                p class="note" { "Amounts in " (shown_currency) "." }
            }
        }
    }
}

fn invoices_section(s: &Statement, invoices: &Rows) -> Markup {
    let [
        invoice_id,
        relation,
        deal_id,
        customer_id,
        invoice_date,
        due_date,
        status,
        currency,
        total_amount,
        credited,
        paid,
        outstanding_col,
        days_past_due,
        rate,
    ] = invoices.cols([
        "invoice_id",
        "relation",
        "deal_id",
        "customer_id",
        "invoice_date",
        "due_date",
        "status",
        "currency",
        "total_amount",
        "credited",
        "paid",
        "outstanding",
        "days_past_due",
        "rate_to_reporting",
    ]);
    let is_open = |r: &Row| r.amount(outstanding_col) > Decimal::ZERO;
    let mut rows: Vec<Row> = invoices.iter().collect();
    // open invoices first (most overdue first), then the latest
    rows.sort_by(|a, b| {
        is_open(b)
            .cmp(&is_open(a))
            .then(b.int(days_past_due).cmp(&a.int(days_past_due)))
            .then(b.text(invoice_date).cmp(&a.text(invoice_date)))
            .then(a.text(invoice_id).cmp(&b.text(invoice_id)))
    });
    let open = rows.iter().filter(|r| is_open(r)).count();
    let shown = rows.len().min(INVOICE_ROWS.max(open));
    let mut outstanding = Totals::default();
    for r in rows.iter().filter(|r| is_open(r)) {
        outstanding.add(r, outstanding_col, currency, rate);
    }
    html! {
        section id="invoices" {
            h2 { "Invoices and payments" }
            @if rows.is_empty() {
                p class="empty" { "No invoices billed to you or for your deals." }
            } @else {
                p class="note" {
                    "Invoices billed to you, or billed for your deals. Outstanding: "
                    b { (outstanding.show(s.reporting_currency)) }
                    " on " (plural(open as u64, "open invoice", "open invoices")) "."
                    @if shown < rows.len() {
                        " Showing every open invoice and the latest others: "
                        (group_int(shown as u64)) " of " (group_int(rows.len() as u64)) "."
                    }
                }
                (filter_bar("invoices-table", shown, "Filter invoices"))
                table class="sortable" id="invoices-table" {
                    (head_row(&[("Invoice", false), ("Billed", false), ("Deal", false), ("Customer", false), ("Date", false), ("Due", false), ("Status", false), ("Currency", false), ("Total", true), ("Credited", true), ("Paid", true), ("Outstanding", true), ("Days past due", true)]))
                    tbody {
                        @for r in rows.iter().take(shown) {
                            tr {
                                td { (r.text(invoice_id)) }
                                td { (r.text(relation)) }
                                td { (r.text(deal_id)) }
                                td { (r.text(customer_id)) }
                                td { (r.text(invoice_date)) }
                                td { (r.text(due_date)) }
                                td { (r.text(status)) }
                                td { (r.text(currency)) }
                                (money_cell(r.money(total_amount)))
                                (money_cell(r.money(credited)))
                                (money_cell(r.money(paid)))
                                (money_cell(r.money(outstanding_col)))
                                (count_cell(r.int(days_past_due).max(0) as u64))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn commissions_section(s: &Statement, commissions: &Rows) -> Markup {
    let [
        deal_id,
        level,
        currency,
        collected,
        rate_pct,
        earned_col,
        paid_col,
        difference,
        rate,
    ] = commissions.cols([
        "deal_id",
        "level",
        "currency",
        "collected",
        "rate_pct",
        "earned",
        "paid",
        "difference",
        "rate_to_reporting",
    ]);
    let (mut earned, mut paid) = (Totals::default(), Totals::default());
    for r in commissions.iter() {
        earned.add(&r, earned_col, currency, rate);
        paid.add(&r, paid_col, currency, rate);
    }
    let mut net: BTreeMap<&str, Decimal> = BTreeMap::new();
    for a in s.adjustments {
        *net.entry(a.currency.as_str()).or_default() += a.amount;
    }
    let mut rows: Vec<Row> = commissions.iter().collect();
    rows.sort_by(|a, b| {
        a.text(deal_id)
            .cmp(&b.text(deal_id))
            .then(a.int(level).cmp(&b.int(level)))
    });
    html! {
        section id="commissions" {
            h2 { "Commissions" }
            @if rows.is_empty() && s.adjustments.is_empty() {
                p class="empty" { "No commissions earned or paid on your deals." }
            } @else {
                p class="note" {
                    "Per deal and level: what was collected on the deal's invoices, your plan rate, what you earned (collected × rate) and what you were paid. Level 2 is a distributor's commission on its resellers' deals. Earned: "
                    b { (earned.show(s.reporting_currency)) } "; paid: " b { (paid.show(s.reporting_currency)) } "."
                }
                @if !net.is_empty() {
                    p id="net-adjustment" {
                        "We will adjust your commissions by "
                        @for (i, (currency, amount)) in net.iter().enumerate() {
                            @if i > 0 { ", " }
                            b { (money_with(*amount, currency)) }
                        }
                        " (negative: to be recovered from you; positive: to be paid to you) on "
                        (plural(s.adjustments.iter().map(|a| a.deal_id.as_str()).collect::<BTreeSet<_>>().len() as u64, "deal", "deals"))
                        "."
                    }
                }
                (filter_bar("commissions-table", rows.len(), "Filter commissions"))
                table class="sortable" id="commissions-table" {
                    (head_row(&[("Deal", false), ("Level", true), ("Currency", false), ("Collected", true), ("Rate %", true), ("Earned", true), ("Paid", true), ("Difference", true)]))
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.text(deal_id)) }
                                (count_cell(r.int(level).max(0) as u64))
                                td { (r.text(currency)) }
                                (money_cell(r.money(collected)))
                                @let pct = r.text(rate_pct);
                                (num_cell(&pct, &pct))
                                (money_cell(r.money(earned_col)))
                                (money_cell(r.money(paid_col)))
                                (money_cell(r.money(difference)))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn renewals_section(s: &Statement, renewals: &Rows) -> Markup {
    let [
        subscription_id,
        customer_id,
        sku,
        quantity,
        end_date,
        annual_value,
        currency,
        auto_renew,
        state,
    ] = renewals.cols([
        "subscription_id",
        "customer_id",
        "sku",
        "quantity",
        "end_date",
        "annual_value",
        "currency",
        "auto_renew",
        "state",
    ]);
    let mut rows: Vec<Row> = renewals.iter().collect();
    rows.sort_by(|a, b| {
        a.text(end_date)
            .cmp(&b.text(end_date))
            .then(a.text(subscription_id).cmp(&b.text(subscription_id)))
    });
    html! {
        section id="renewals" {
            h2 { "Renewals" }
            @if rows.is_empty() {
                p class="empty" { "None of your customers' subscriptions ends in the next 90 days, and none ended without a renewal." }
            } @else {
                p class="note" {
                    "Your customers' subscriptions ending in the next 90 days (to " (s.as_of + chrono::Duration::days(90)) "), and those whose term ended without a renewal."
                }
                table class="sortable" id="renewals-table" {
                    (head_row(&[("Subscription", false), ("Customer", false), ("SKU", false), ("Seats", true), ("Ends", false), ("Annual value", true), ("Currency", false), ("Auto-renew", false), ("State", false)]))
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.text(subscription_id)) }
                                td { (r.text(customer_id)) }
                                td { (r.text(sku)) }
                                (count_cell(r.int(quantity).max(0) as u64))
                                td { (r.text(end_date)) }
                                (money_cell(r.money(annual_value)))
                                td { (r.text(currency)) }
                                td { (if r.text(auto_renew) == "true" { "yes" } else { "no" }) }
                                td { (r.text(state)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn to_check_section(_s: &Statement, items: &Rows) -> Markup {
    let [
        item,
        your_reference,
        item_date,
        description,
        amount,
        currency,
    ] = items.cols([
        "item",
        "your_reference",
        "item_date",
        "description",
        "amount",
        "currency",
    ]);
    let mut rows: Vec<Row> = items.iter().collect();
    rows.sort_by(|a, b| {
        a.text(item)
            .cmp(&b.text(item))
            .then(a.text(your_reference).cmp(&b.text(your_reference)))
    });
    html! {
        section id="to-check" {
            h2 { "To check on your side" }
            @if rows.is_empty() {
                p class="empty" { "Nothing to check: every sale you reported is invoiced, and every deal won through you is billed." }
            } @else {
                p class="note" { "Please confirm these or tell us what we should correct, quoting your reference." }
                table class="sortable" id="to-check-table" {
                    (head_row(&[("Item", false), ("Your reference", false), ("Date", false), ("Details", false), ("Amount", true), ("Currency", false)]))
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.text(item)) }
                                td { (r.text(your_reference)) }
                                td { (r.text(item_date)) }
                                td { (r.text(description)) }
                                (money_cell(r.money(amount)))
                                td { (r.text(currency)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Decimal128Array, Int32Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    /// Each column kept typed reads as the text the Parquet's cast to text
    /// gives (what the page showed when every cell was read as text), and as
    /// the same amount and integer.
    #[test]
    fn typed_cells_read_as_their_text_would() {
        let amounts = [
            Some(0i128),
            Some(5),
            Some(-5),
            Some(-123_456),
            None,
            Some(99_999_999_999),
        ];
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("partner_id", Arc::new(StringArray::from(vec!["P1"; 6]))),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(amounts.to_vec())
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
            ),
            (
                "rate",
                Arc::new(
                    Decimal128Array::from(amounts.to_vec())
                        .with_precision_and_scale(18, 8)
                        .unwrap(),
                ),
            ),
            (
                "whole",
                Arc::new(
                    Decimal128Array::from(amounts.to_vec())
                        .with_precision_and_scale(10, 0)
                        .unwrap(),
                ),
            ),
            (
                // wider than rust_decimal: read as text
                "wide",
                Arc::new(
                    Decimal128Array::from(vec![
                        Some(10i128.pow(36)),
                        Some(-1),
                        None,
                        Some(0),
                        Some(7),
                        Some(1),
                    ])
                    .with_precision_and_scale(38, 30)
                    .unwrap(),
                ),
            ),
            (
                "count",
                Arc::new(Int64Array::from(vec![
                    Some(0),
                    Some(-3),
                    None,
                    Some(42),
                    Some(i64::MAX),
                    Some(1),
                ])),
            ),
            (
                "small",
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    None,
                    Some(-2),
                    Some(3),
                    Some(4),
                    Some(5),
                ])),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![
                    Some(0),
                    Some(20_000),
                    None,
                    Some(-1),
                    Some(1),
                    Some(2),
                ])),
            ),
        ];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema, columns.iter().map(|(_, a)| a.clone()).collect()).unwrap();
        let statements =
            Statements::of_batches([("invoices", std::slice::from_ref(&batch))], Path::new("x"))
                .unwrap();
        let rows = statements.of("P1", "invoices");
        assert_eq!(rows.len(), 6);
        for (name, array) in &columns {
            let col = rows.col(name);
            let text = datafusion::arrow::compute::cast(array, &DataType::Utf8).unwrap();
            let text = text.as_string::<i32>();
            for (i, row) in rows.iter().enumerate() {
                let expected = if text.is_valid(i) { text.value(i) } else { "" };
                assert_eq!(row.text(col), expected, "{name} row {i}");
                assert_eq!(
                    row.money(col),
                    Decimal::from_str(expected).ok(),
                    "{name} row {i}"
                );
                assert_eq!(
                    row.int(col),
                    expected.parse::<i64>().unwrap_or(0),
                    "{name} row {i}"
                );
            }
        }
        assert_eq!(
            rows.iter().next().unwrap().text(rows.col("no such column")),
            ""
        );
    }
}
