//! The page: one self-contained HTML file (inline CSS, JS and SVG; a CSP that
//! forbids any request). A partner is shown its own statement instead
//! (`statement.rs`), never this page.
//!
//! The markup is written with [maud]'s `html!`, one function per section
//! returning [`Markup`]. Why maud rather than hand-written `write!` calls with
//! an escaping function at each value (the report and the partner statements
//! built with it go outside the team, so escaping must not depend on discipline):
//!
//! - the markup is Rust code, checked at compile time (an unclosed element or
//!   a misspelt field does not build);
//! - every `(expr)` splice is HTML-escaped unless it is wrapped in
//!   [`PreEscaped`], so a value from the data cannot reach the page unescaped
//!   by a forgotten call;
//! - no template files to ship with the binary or to find at run time;
//! - the page was already one Rust function per section, and each maps one to
//!   one onto a maud function.
//!
//! `PreEscaped` is used only for constants of this crate (the doctype, the CSS
//! and the JS, which are not markup): each use says so. Markup from our own
//! maud functions (sections, charts, cells) is spliced as `Markup`, which maud
//! does not escape twice. Text from the data is
//! escaped by maud like everything else.

use super::data::{Analysis, Bucket, Manifest, PageFinding, RunPoint, Severity, Tally};
use super::page::{
    CAPTURE_JS, CSP, CSS, JS, count_cell, f64_of, filter_bar, group_int, head_row, join,
    money_cell, num_cell, opt_date, plural, th,
};
use super::partner_figures::{DSO_DAYS, PartnerFigures, PartnerInfo, PublishedFigures};
use super::svg::{self, Bar, Series};
use crate::engine::udf::format_money;
use chrono::NaiveDate;
use maud::{Markup, PreEscaped, html};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Partners listed in the scorecard; the rest are in the Parquet.
pub const SCORECARD_ROWS: usize = 1000;
/// Partners in the bar chart and the heat map.
pub const TOP_PARTNERS: usize = 20;

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

/// Everything one page shows.
pub struct Page<'a> {
    pub as_of: NaiveDate,
    pub currency: String,
    pub manifest: &'a Manifest,
    pub manifest_found: bool,
    pub analysis: &'a Analysis,
    /// Every run up to as_of.
    pub trend: Vec<RunPoint>,
    pub has_resolved: bool,
    pub recovered: Tally,
    pub figures: &'a PublishedFigures,
    pub checks: &'a [CheckMeta],
    pub partner_names: &'a BTreeMap<String, String>,
    /// Relative path of the findings partition, for "more in the Parquet".
    pub findings_path: String,
    /// The recovery actions published beside the findings (`actions/`).
    pub actions: &'a [crate::outputs::manifest::ActionSummary],
    /// Partner statements were written beside this page: the scorecard links them.
    pub statement_links: bool,
    pub warnings: Vec<String>,
}

impl Page<'_> {
    fn money(&self, amount: Decimal) -> String {
        format!("{} {}", format_money(amount), self.currency)
    }

    fn partner_label(&self, id: &str) -> String {
        match self.partner_names.get(id) {
            Some(name) if !name.is_empty() => format!("{id} · {name}"),
            _ => id.to_string(),
        }
    }
}

pub fn render(page: &Page) -> String {
    let title = format!("Revenue leakage as of {}", page.as_of);
    let version = env!("CARGO_PKG_VERSION");
    let markup = html! {
        // Safe: a constant (maud's DOCTYPE is upper case; the page keeps its bytes).
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            "\n"
            head {
                "\n"
                meta charset="utf-8";
                "\n"
                meta http-equiv="Content-Security-Policy" content=(CSP);
                "\n"
                meta name="viewport" content="width=device-width, initial-scale=1";
                "\n"
                meta name="generator" content={ "revleak " (version) };
                "\n"
                link rel="icon" href="data:,";
                "\n"
                title { (title) }
                "\n"
                // Safe: a constant of this crate, JavaScript that escaping would
                // break (it holds no `</script`: see the tests).
                script { (PreEscaped(CAPTURE_JS)) }
                "\n"
                // Safe: report.css, compiled in (no `</style`: see the tests).
                style { (PreEscaped(CSS)) }
                "\n"
            }
            "\n"
            body {
                "\n"
                (header(page, &title))
                main {
                    "\n"
                    (headline(page))
                    (charts(page))
                    (trend(page))
                    (scorecard(page))
                    (checks(page))
                    (data_quality(page))
                    (run_details(page))
                }
                "\n"
                footer {
                    "revleak " (version) " · rendered from the published Parquet of this output folder · as of " (page.as_of)
                }
                "\n"
                // Safe: report.js, compiled in (no `</script`: see the tests).
                script { (PreEscaped(JS)) }
                "\n"
            }
            "\n"
        }
        "\n"
    };
    markup.into_string()
}

fn header(page: &Page, title: &str) -> Markup {
    let links = [
        ("headline", "Headline"),
        ("charts", "Leakage by check and partner"),
        ("trend", "Trend"),
        ("scorecard", "Scorecard"),
        ("checks", "Checks and findings"),
        ("data-quality", "Data quality"),
        ("run", "Run details"),
    ];
    html! {
        header class="top" {
            h1 { (title) }
            div class="sub" {
                "Run " (page.manifest.run_id) " · amounts in " (page.currency) " · "
                @if page.manifest_found {
                    "snapshot " (page.manifest.snapshot)
                } @else {
                    "no manifest found for this run"
                }
            }
            nav class="toc" {
                @for (id, label) in &links {
                    a href={ "#" (id) } { (label) }
                }
            }
        }
        "\n"
    }
}

fn headline(page: &Page) -> Markup {
    let a = page.analysis;
    let cards: Vec<Markup> = Bucket::all()
        .into_iter()
        .filter_map(|bucket| {
            let tally = a.buckets.get(&bucket).copied().unwrap_or_default();
            if bucket == Bucket::Other && tally.findings == 0 {
                return None;
            }
            let class = match bucket {
                Bucket::Recoverable => "recoverable",
                Bucket::AtRisk => "at_risk",
                Bucket::Signal => "signal",
                Bucket::Other => "other",
            };
            let (shown, detail) = if bucket == Bucket::Signal {
                (
                    plural(tally.findings, "signal", "signals"),
                    "no leakage counted: cash late, partner owed, rows to fix".to_string(),
                )
            } else {
                (
                    page.money(tally.leakage),
                    plural(tally.findings, "finding", "findings"),
                )
            };
            let to_actions = bucket == Bucket::Recoverable && !page.actions.is_empty();
            Some(html! {
                div class={ "card " (class) } {
                    div class="k" {
                        @if to_actions {
                            a href="#actions" title="the corrections ready to import" { (bucket.label()) }
                        } @else {
                            (bucket.label())
                        }
                    }
                    div class="v" data-v=(tally.leakage) { (shown) }
                    div class="d" { (detail) }
                }
            })
        })
        .collect();

    // Lifecycle against earlier runs.
    let mut life: Vec<Markup> = Vec::new();
    let new = a.statuses.get("new").copied().unwrap_or_default();
    let recurring = a.statuses.get("recurring").copied().unwrap_or_default();
    if page.manifest.previous_as_of.is_none() && recurring.findings == 0 {
        life.push(html! {
            b { "First run in this output folder" }
            ": every finding is new (" (page.money(new.leakage)) ")"
        });
    } else {
        let since = page
            .manifest
            .previous_as_of
            .map(|d| format!(" since {d}"))
            .unwrap_or_default();
        life.push(html! {
            b { "New" (since) }
            ": " (plural(new.findings, "finding", "findings")) " (" (page.money(new.leakage)) ")"
        });
        life.push(html! {
            b { "Recurring" }
            ": " (plural(recurring.findings, "finding", "findings"))
            " (" (page.money(recurring.leakage)) ")"
        });
    }
    let current = page.trend.last().filter(|p| p.as_of == Some(page.as_of));
    if let Some(resolved) = current.and_then(|p| p.resolved) {
        life.push(html! {
            b { "Resolved since the previous run" }
            ": " (plural(resolved.findings, "finding", "findings"))
            " (" (page.money(resolved.leakage)) ")"
        });
    }
    if page.has_resolved {
        life.push(html! {
            b { "Recovered to date" }
            ": " (page.money(page.recovered.leakage))
            " (leakage of every finding resolved up to this run)"
        });
    }
    let one = a.dispositioned.findings == 1;

    html! {
        section id="headline" {
            h2 { "Headline" }
            div class="cards" {
                div class="card total" {
                    div class="k" { "Total leakage found" }
                    div class="v" id="total-leakage" data-v=(a.total.leakage) { (page.money(a.total.leakage)) }
                    div class="d" { (plural(a.total.findings, "finding", "findings")) " · as of " (page.as_of) }
                }
                @for card in &cards { (card) }
            }
            div class="pills" aria-label="Findings by severity" {
                @for (severity, n) in &a.severities {
                    span class={ "pill sev-" (severity) } { (severity) ": " (group_int(*n)) }
                }
            }
            @if !life.is_empty() {
                p class="lifecycle" { (join(&life, " · ")) }
            }
            @if a.dispositioned.findings > 0 {
                p class="note" {
                    (plural(a.dispositioned.findings, "finding", "findings"))
                    " under a live disposition (accepted, false positive or explained), with "
                    (page.money(a.dispositioned.leakage))
                    " of leakage, " (if one { "is" } else { "are" })
                    " left out of these totals and listed, struck through, under "
                    (if one { "its" } else { "their" }) " check."
                }
            }
            p class="note" {
                b { "Recoverable now" }
                ": an invoice, a correction or a claw-back can claim it today (missing_invoice, under_billing, unbilled_partner_sale, unreported_usage, stale_pricing, unauthorized_discount, commission_overpayment, erp_posting_gap, unexplained_credit). "
                b { "At risk" }
                ": billed, committed or due but not lost yet (payment_gap, missed_renewal, forecast_variance). "
                b { "Signals" }
                ": leakage 0 by design (late_invoice, commission_underpayment, data_quality). Checks of your own count under "
                b { "Other checks" }
                "."
            }
            @if !page.actions.is_empty() {
                (recovery_actions(page))
            }
            (inputs_summary(page))
            @for w in &page.warnings {
                p class="warn" { (w) }
            }
        }
        "\n"
    }
}

/// The corrections published beside the findings, per action file, with links
/// to the files (relative to this page: `../../actions/as_of=.../`).
fn recovery_actions(page: &Page) -> Markup {
    let dir = format!(
        "../../{}/as_of={}",
        crate::outputs::actions::OUTPUT,
        page.as_of
    );
    html! {
        div id="actions" class="actions" {
            h3 { "Recovering the leaks" }
            p class="note" {
                "Corrections ready to import or work through, each row naming the finding it settles "
                "(findings with a live false-positive or explained disposition get none; accepted ones keep theirs). "
                "revleak writes no source system: see docs/actions.md in revleak's repository."
            }
            table class="actions-table" {
                thead {
                    tr {
                        th { "Action" }
                        th { "Imports into" }
                        th class="num" { "Rows" }
                        th class="num" { "Findings" }
                        th class="num" { "Amount (" (page.currency) ")" }
                        th { "Files" }
                    }
                }
                tbody {
                    @for a in page.actions {
                        tr {
                            td { (a.title) }
                            td { (a.shape.as_deref().unwrap_or("work list")) }
                            td class="num" { (group_int(a.rows as u64)) }
                            td class="num" { (group_int(a.findings as u64)) }
                            td class="num" { (page.money(a.reporting_amount)) }
                            td {
                                a href={ (dir) "/" (a.id) ".csv" } { "CSV" }
                                " · "
                                a href={ (dir) "/" (a.id) ".parquet" } { "Parquet" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn inputs_summary(page: &Page) -> Markup {
    let inputs = &page.manifest.inputs;
    if inputs.is_empty() {
        return html! { p class="note" { "Inputs: the manifest lists none." } };
    }
    let missing = inputs.iter().filter(|i| i.missing).count();
    let read: u64 = inputs.iter().map(|i| i.rows_read).sum();
    let after: u64 = inputs.iter().map(|i| i.rows_after_as_of).sum();
    let flagged: u64 = inputs.iter().map(|i| i.rows_flagged).sum();
    let fresh = &page.figures.freshness;
    // Price lists, policies and plans change rarely: their newest
    // `valid_from` says nothing about how fresh the extract is.
    let stalest = fresh
        .iter()
        .filter(|(_, (_, column))| *column != "valid_from")
        .min_by_key(|(t, (d, _))| (*d, (*t).clone()));
    html! {
        details class="inputs" {
            summary {
                "Inputs: " (plural(inputs.len() as u64, "table", "tables"))
                " from " code { (page.manifest.snapshot) }
                " · " (group_int(read)) " rows read, " (group_int(after))
                " dated after as_of (not part of this run), " (group_int(flagged))
                " flagged by data quality"
                @if missing > 0 {
                    " · " b class="warn" { (missing) " missing" }
                }
                @if let Some((table, (d, _))) = stalest {
                    " · stalest table " (table) " (newest row " (d) ", "
                    ((page.as_of - *d).num_days()) " days before as_of)"
                }
            }
            div class="tablewrap" {
                table id="inputs-freshness" class="sortable" {
                    (head_row(&[
                        ("Table", false),
                        ("Rows read", true),
                        ("Newest row on or before as_of", false),
                        ("Dated by", false),
                        ("Days before as_of", true),
                        ("Rows after as_of", true),
                        ("State", false),
                    ]))
                    tbody {
                        @for input in inputs {
                            @let newest = fresh.get(&input.table).map(|(d, _)| d);
                            tr {
                                td { (input.table) }
                                (count_cell(input.rows_read))
                                td { (newest.map(|d| d.to_string()).unwrap_or_else(|| "–".into())) }
                                td { code { (fresh.get(&input.table).map_or("", |(_, c)| c.as_str())) } }
                                @match newest.map(|d| (page.as_of - *d).num_days()) {
                                    Some(lag) => (num_cell(lag, lag)),
                                    None => (num_cell("–", "")),
                                }
                                (count_cell(input.rows_after_as_of))
                                td { (if input.missing { "missing" } else { "read" }) }
                            }
                        }
                    }
                }
            }
            p class="note" {
                "Freshness is the newest event date on or before as_of in each table after staging (reference tables have none; tables dated by "
                code { "valid_from" }
                " change rarely and do not count as stale)."
            }
        }
    }
}

fn charts(page: &Page) -> Markup {
    let a = page.analysis;
    let title = "Leakage by check and partner";
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
    html! {
        section id="charts" {
            h2 { (title) }
            div class="grid2" {
                div {
                    h3 { "By check (" (page.currency) ", findings)" }
                    (svg::bar_chart("Leakage by check", &bars))
                }
                (partner_chart(page))
            }
            (heat_map(page))
        }
        "\n"
    }
}

/// The partners with the most leakage, as bars (the main page only).
fn partner_chart(page: &Page) -> Markup {
    let a = page.analysis;
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
    html! {
        div {
            h3 { "By partner (top " (top.len()) " of " (partners) ", " (page.currency) ")" }
            (svg::bar_chart("Leakage by partner", &bars))
        }
    }
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

fn heat_map(page: &Page) -> Markup {
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
    let max = a
        .matrix
        .iter()
        .filter(|((p, _), _)| top.iter().any(|(t, _)| t == p))
        .map(|(_, t)| t.leakage)
        .max()
        .unwrap_or_default();
    let cell = |partner: &String, check: &String| -> Markup {
        let Some(t) = a.matrix.get(&(partner.clone(), check.clone())) else {
            return html! { td class="num" data-v="0" {} };
        };
        let alpha = if max > Decimal::ZERO {
            (f64_of(t.leakage) / f64_of(max)).clamp(0.0, 1.0) * 0.85
        } else {
            0.0
        };
        let alpha = if t.findings > 0 { alpha.max(0.05) } else { 0.0 };
        let style = format!(
            "background:rgba(179,38,30,{alpha:.2});{}",
            if alpha > 0.5 { "color:#fff" } else { "" }
        );
        let tip = format!(
            "{partner} × {check}: {}",
            plural(t.findings, "finding", "findings")
        );
        html! {
            td class="num" data-v=(t.leakage) style=(style) title=(tip) { (format_money(t.leakage)) }
        }
    };
    html! {
        h3 { "Partner × check (" (page.currency) ", top " (top.len()) " partners)" }
        @if top.is_empty() {
            p class="note" { "No finding names a partner." }
        } @else {
            div class="tablewrap" {
                table id="heatmap" class="heat sortable" {
                    thead {
                        tr {
                            (th("Partner", false))
                            @for c in &checks {
                                th class="num check" data-type="num" title=(c) { (c) }
                            }
                            (th("Total", true))
                        }
                    }
                    tbody {
                        @for (partner, total) in &top {
                            tr {
                                td { (page.partner_label(partner)) }
                                @for c in &checks { (cell(partner, c)) }
                                (num_cell(html! { b { (format_money(total.leakage)) } }, total.leakage.to_string()))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The runs of this as_of, oldest first, when it was run more than once (an
/// hourly schedule): the published partition is the latest run's.
fn runs_of_the_day(page: &Page) -> Markup {
    let m = page.manifest;
    if m.earlier_runs_of_the_day.is_empty() {
        return html! {};
    }
    html! {
        h3 { "Runs of " (page.as_of) }
        div class="tablewrap" {
            table id="runs-of-the-day" {
                (head_row(&[
                    ("Run", false),
                    ("Finished", false),
                    ("Findings", true),
                    ("Leakage", true),
                    ("Alerts raised", true),
                ]))
                tbody {
                    @for run in m.runs_of_the_day() {
                        tr {
                            td { code { (run.run_id) } }
                            td { (run.finished) }
                            (count_cell(run.findings as u64))
                            (money_cell(Some(run.total_leakage)))
                            (count_cell(run.alerts as u64))
                        }
                    }
                }
            }
        }
        p class="note" {
            "Each finding alerts once, whichever run of the day first sees it; the page and the outputs are the latest run's."
        }
    }
}

fn trend(page: &Page) -> Markup {
    let runs = &page.trend;
    if runs.len() < 2 {
        return html! {
            section id="trend" {
                h2 { "Trend across runs" }
                p class="note" {
                    "The trend appears once two or more runs exist in this output folder ("
                    (plural(runs.len() as u64, "run", "runs")) " so far)."
                }
                "\n"
                (runs_of_the_day(page))
            }
        };
    }
    let labels: Vec<String> = runs.iter().map(|p| opt_date(p.as_of)).collect();
    let bucket = |p: &RunPoint, b: Bucket| p.buckets.get(&b).copied().unwrap_or_default();
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
                    .map(|p| f64_of(bucket(p, Bucket::Recoverable).leakage))
                    .collect(),
            },
            Series {
                name: "at risk".into(),
                class: "s3",
                values: runs
                    .iter()
                    .map(|p| f64_of(bucket(p, Bucket::AtRisk).leakage))
                    .collect(),
            },
        ],
    );
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
    let counts = svg::line_chart("Findings per run", &labels, &count_series);
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
    html! {
        section id="trend" {
            h2 { "Trend across runs" }
            div class="grid2" {
                div { h3 { "Leakage per run" } (leakage) }
                div { h3 { "Findings per run" } (counts) }
            }
            details {
                summary { "The runs as a table" }
                div class="tablewrap" {
                    table id="trend-table" class="sortable" {
                        (head_row(&heads))
                        tbody {
                            @for p in runs {
                                tr {
                                    td { (opt_date(p.as_of)) }
                                    td { code { (p.run_id) } }
                                    (count_cell(p.total.findings))
                                    (money_cell(Some(p.total.leakage)))
                                    (money_cell(Some(bucket(p, Bucket::Recoverable).leakage)))
                                    (money_cell(Some(bucket(p, Bucket::AtRisk).leakage)))
                                    @if page.has_resolved {
                                        @let r = p.resolved.unwrap_or_default();
                                        (count_cell(r.findings))
                                        (money_cell(Some(r.leakage)))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (runs_of_the_day(page))
        }
        "\n"
    }
}

/// One scorecard row.
struct ScoreRow<'a> {
    id: String,
    info: Option<&'a PartnerInfo>,
    figures: Option<&'a PartnerFigures>,
    tally: Tally,
    severities: [u64; 5],
}

fn scorecard(page: &Page) -> Markup {
    let a = page.analysis;
    let published = page.figures;
    let mut ids: Vec<String> = a.by_partner.keys().flatten().cloned().collect();
    ids.extend(published.partners.keys().cloned());
    ids.sort();
    ids.dedup();
    let mut rows: Vec<ScoreRow> = ids
        .into_iter()
        .map(|id| {
            let p = a.by_partner.get(&Some(id.clone()));
            ScoreRow {
                info: published.partners.get(&id),
                figures: published.figures.get(&id),
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

    let lookback = published
        .lookback
        .map(|(from, to)| format!("{from} to {to}"))
        .unwrap_or_else(|| "the lookback".into());
    let with_info = published.partners_read;
    let with_figures = published.figures_read;
    html! {
        section id="scorecard" {
            h2 { "Partner scorecard" }
            p class="note" {
                "Billed: issued invoices billed to the partner dated on or before as_of, less their credit notes. Forecast attainment: billed ÷ committed forecast over "
                (lookback) " (" code { "forecast_lookback_months" } "). DSO: still owed on those invoices ÷ billed in the last "
                (DSO_DAYS) " days × " (DSO_DAYS) ". Leakage and findings exclude live dispositions."
            }
            @for note in &published.notes {
                p class="warn" { (note) }
            }
            (filter_bar("scorecard-table", rows.len(), "Filter partners…"))
            div class="tablewrap" {
                table id="scorecard-table" class="sortable" data-selftest="1" {
                    thead {
                        tr {
                            (th("Partner", false))
                            @if with_info {
                                (th("Name", false))
                                (th("Tier", false))
                                (th("Region", false))
                            }
                            @if with_figures {
                                (th("Forecast attainment %", true))
                                (th("Billed", true))
                            }
                            th class="num" data-type="num" data-selftest="1" { "Leakage" }
                            @if with_figures {
                                (th("Leakage % of billed", true))
                            }
                            (th("Findings", true))
                            @for s in Severity::ALL {
                                (th(s.as_str(), true))
                            }
                            @if with_figures {
                                (th("DSO (days)", true))
                            }
                        }
                    }
                    tbody {
                        @for r in &rows {
                            (scorecard_row(r, with_info, with_figures, page.statement_links))
                        }
                    }
                }
            }
            @if total_rows > rows.len() {
                p class="note" {
                    "Showing the " (group_int(rows.len() as u64)) " partners with the most leakage of "
                    (group_int(total_rows as u64)) "; every finding is in "
                    code { (page.findings_path) } "."
                }
            }
        }
        "\n"
    }
}

fn scorecard_row(r: &ScoreRow, with_info: bool, with_figures: bool, link: bool) -> Markup {
    let (name, tier, region) = r
        .info
        .map(|i| (i.name.as_str(), i.tier.as_str(), i.region.as_str()))
        .unwrap_or(("(not in prm/partners)", "", ""));
    let billed = r.figures.map(|f| f.billed).unwrap_or_default();
    let percent = |p: Decimal| num_cell(format!("{p}%"), p.to_string());
    html! {
        tr {
            @if link {
                td { a href=(super::data::partner_file_name(&r.id)) title="the partner's statement" { (r.id) } }
            } @else {
                td { (r.id) }
            }
            @if with_info {
                td class="name" { (name) }
                td { (tier) }
                td { (region) }
            }
            @if with_figures {
                @match r.figures.and_then(|f| f.attainment) {
                    Some(p) => (percent(p)),
                    None => (num_cell("–", "")),
                }
                (money_cell(Some(billed)))
            }
            (money_cell(Some(r.tally.leakage)))
            @if with_figures {
                @if billed > Decimal::ZERO {
                    (percent((r.tally.leakage * Decimal::from(100) / billed).round_dp(1)))
                } @else {
                    (num_cell("–", ""))
                }
            }
            (count_cell(r.tally.findings))
            @for n in r.severities {
                (count_cell(n))
            }
            @if with_figures {
                @match r.figures.and_then(|f| f.dso) {
                    Some(d) => (num_cell(d.to_string(), d.to_string())),
                    None => (num_cell("–", "")),
                }
            }
        }
    }
}

fn checks(page: &Page) -> Markup {
    html! {
        section id="checks" {
            h2 { "Checks and findings" }
            @for meta in page.checks {
                (check(page, meta))
            }
        }
        "\n"
    }
}

/// A check: what it looks for, its figures and its top findings.
fn check(page: &Page, meta: &CheckMeta) -> Markup {
    let a = page.analysis;
    let (counted, all) = a.by_check.get(&meta.id).copied().unwrap_or_default();
    let rows = a.top.get(&meta.id).map(Vec::as_slice).unwrap_or(&[]);
    html! {
        div class="check" id={ "check-" (meta.id) } {
            h3 { (meta.title) " " code { (meta.id) } }
            @if !meta.description.is_empty() {
                p { (meta.description) }
            }
            dl class="kv" {
                dt { "Findings" }
                dd {
                    (group_int(all.findings)) " · leakage " (page.money(counted.leakage))
                    @if all.findings > counted.findings {
                        " (" (group_int(all.findings - counted.findings)) " under a live disposition left out)"
                    }
                }
                dt { "Group" }
                dd { (Bucket::of(&meta.id).label()) }
                dt { "Severity" }
                dd { (meta.default_severity) }
                @if !meta.owner.is_empty() {
                    dt { "Owner" }
                    dd { (meta.owner) }
                }
                @if !meta.parameters.is_empty() {
                    dt { "Parameters" }
                    dd {
                        @for (i, (k, v)) in meta.parameters.iter().enumerate() {
                            @if i > 0 { ", " }
                            code { (k) } " = " (v)
                        }
                    }
                }
                @if let Some(skipped) = &meta.skipped {
                    dt { "Skipped" }
                    dd class="warn" { (skipped) }
                }
                @if let Some(note) = &meta.note {
                    dt { "Note" }
                    dd class="note" { (note) }
                }
            }
            @if !rows.is_empty() {
                (findings_table(&format!("findings-{}", meta.id), rows))
                @if all.findings as usize > rows.len() {
                    p class="note" {
                        "Showing the top " (group_int(rows.len() as u64)) " by leakage; "
                        (group_int(all.findings - rows.len() as u64)) " more are in "
                        code { (page.findings_path) } "."
                    }
                }
            }
        }
    }
}

fn findings_table(id: &str, rows: &[PageFinding]) -> Markup {
    let with_disposition = rows.iter().any(|r| r.disposition.is_some());
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
    html! {
        (filter_bar(id, rows.len(), "Filter findings…"))
        div class="tablewrap" {
            table id=(id) class="sortable findings" {
                (head_row(&heads))
                tbody {
                    @for r in rows {
                        tr class=[(!r.counted).then_some("dispositioned")] {
                            td class="entity" {
                                span class="muted" { (&r.entity_type) }
                                br;
                                code { (&r.entity_id) }
                            }
                            td { (r.partner_id.as_deref().unwrap_or("")) }
                            td { (opt_date(r.period)) }
                            (money_cell(r.expected))
                            (money_cell(r.actual))
                            (money_cell(Some(r.leakage)))
                            td { span class={ "pill sev-" (r.severity) } { (r.severity) } }
                            td { (r.status) }
                            td { (opt_date(r.first_seen)) }
                            td class="detail" { (&r.detail) }
                            @if with_disposition {
                                td class="disp" { (join(&disposition(r), " · ")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What an analyst decided about a finding, piece by piece.
fn disposition(r: &PageFinding) -> Vec<Markup> {
    let mut d = Vec::new();
    if let Some(x) = &r.disposition {
        d.push(html! { b { (x) } });
    }
    if let Some(x) = &r.disposition_note {
        d.push(html! { (x) });
    }
    if let Some(x) = &r.disposition_owner {
        d.push(html! { "by " (x) });
    }
    if let Some(x) = r.disposition_until {
        d.push(html! { "until " (x) });
    }
    d
}

fn data_quality(page: &Page) -> Markup {
    let a = page.analysis;
    let inputs = &page.manifest.inputs;
    let (_, dq) = a.by_check.get("data_quality").copied().unwrap_or_default();
    let rows = a.top.get("data_quality").map(Vec::as_slice).unwrap_or(&[]);
    html! {
        section id="data-quality" {
            h2 { "Data quality" }
            @if inputs.is_empty() {
                p class="note" { "The manifest lists no input tables." }
            } @else {
                p class="note" {
                    "Per input table: rows read, rows dated after as_of (not part of this run), rows that passed every data-quality rule and rows flagged (one data_quality finding each, or per duplicated key). Read = after as_of + passed + flagged."
                }
                (filter_bar("inputs-table", inputs.len(), "Filter tables…"))
                div class="tablewrap" {
                    table id="inputs-table" class="sortable" {
                        (head_row(&[
                            ("Table", false),
                            ("Path", false),
                            ("Files", true),
                            ("Bytes", true),
                            ("Rows read", true),
                            ("After as_of", true),
                            ("Passed", true),
                            ("Flagged", true),
                            ("State", false),
                        ]))
                        tbody {
                            @for i in inputs {
                                tr {
                                    td { (i.table) }
                                    td { code { (i.path.as_deref().unwrap_or("")) } }
                                    (count_cell(i.files as u64))
                                    (count_cell(i.bytes))
                                    (count_cell(i.rows_read))
                                    (count_cell(i.rows_after_as_of))
                                    (count_cell(i.rows_passed))
                                    (count_cell(i.rows_flagged))
                                    td {
                                        @if i.missing {
                                            b class="warn" { "missing" }
                                        } @else {
                                            "read"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Flagged rows (" (group_int(dq.findings)) ")" }
            @if dq.findings == 0 {
                p class="note" { "No row was flagged." }
            } @else {
                p class="note" {
                    "The same rows are listed under "
                    a href="#check-data_quality" { "the data_quality check" }
                    "; here they are, with what is wrong with each."
                }
                (filter_bar("flagged-rows", rows.len(), "Filter flagged rows…"))
                div class="tablewrap" {
                    table id="flagged-rows" class="sortable" {
                        (head_row(&[
                            ("Row", false),
                            ("Problem", false),
                            ("Status", false),
                            ("First seen", false),
                        ]))
                        tbody {
                            @for r in rows {
                                tr {
                                    td { code { (r.entity_id) } }
                                    td class="detail" { (r.detail) }
                                    td { (r.status) }
                                    td { (opt_date(r.first_seen)) }
                                }
                            }
                        }
                    }
                }
                @if dq.findings as usize > rows.len() {
                    p class="note" {
                        "Showing " (group_int(rows.len() as u64)) "; "
                        (group_int(dq.findings - rows.len() as u64)) " more are in "
                        code { (page.findings_path) } " (check_id = data_quality)."
                    }
                }
            }
        }
        "\n"
    }
}

fn run_details(page: &Page) -> Markup {
    let m = page.manifest;
    let kv: Vec<(&str, Markup)> = vec![
        ("Tool", html! { (m.tool) " " (m.version) }),
        ("Run id", html! { code { (m.run_id) } }),
        ("As of", html! { (page.as_of) }),
        ("Reporting currency", html! { (page.currency) }),
        ("Started", html! { (m.started) }),
        ("Finished", html! { (m.finished) }),
        ("Snapshot", html! { code { (m.snapshot) } }),
        (
            "Previous run",
            html! {
                @match m.previous_as_of {
                    Some(d) => (d),
                    None => "none",
                }
            },
        ),
        ("Findings", html! { code { (page.findings_path) } }),
    ];
    let total_millis: u64 = m.checks.iter().map(|c| c.millis as u64).sum();
    html! {
        section id="run" {
            h2 { "Run details" }
            dl class="kv" {
                @for (k, v) in &kv {
                    dt { (k) }
                    dd { (v) }
                }
            }
            @if !page.manifest_found {
                p class="warn" {
                    "No manifest.json was found for this run: parameters, inputs, query files and timings are unknown."
                }
            }
            @if !m.warnings.is_empty() {
                h3 { "Warnings" }
                ul {
                    @for w in &m.warnings {
                        li { (w) }
                    }
                }
            }
            @if !m.parameters.is_empty() {
                h3 { "Parameters" }
                div class="tablewrap" {
                    table id="parameters" class="sortable" {
                        (head_row(&[("Name", false), ("Value", false)]))
                        tbody {
                            @for (k, v) in &m.parameters {
                                tr {
                                    td { code { (k) } }
                                    td { (v) }
                                }
                            }
                        }
                    }
                }
            }
            @if !m.checks.is_empty() {
                h3 { "Timings" }
                div class="tablewrap" {
                    table id="timings" class="sortable" {
                        (head_row(&[
                            ("Check", false),
                            ("Rows", true),
                            ("Leakage", true),
                            ("Milliseconds", true),
                            ("Skipped", false),
                        ]))
                        tbody {
                            @for c in &m.checks {
                                tr {
                                    td { (c.check_id) }
                                    (count_cell(c.rows as u64))
                                    (money_cell(Some(c.leakage)))
                                    (count_cell(c.millis as u64))
                                    td { (c.skipped.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
                p class="note" { "Checks took " (group_int(total_millis)) " ms in all." }
            }
            @if !m.queries.is_empty() {
                h3 { "Query files" }
                div class="tablewrap" {
                    table id="query-files" class="sortable" {
                        (head_row(&[("File", false), ("SHA-256", false)]))
                        tbody {
                            @for q in &m.queries {
                                tr {
                                    td { code { (q.path) } }
                                    td { code { (q.sha256) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unescaped_constants_cannot_close_their_element() {
        for js in [CAPTURE_JS, JS] {
            assert!(!js.to_ascii_lowercase().contains("</script"));
        }
        assert!(!CSS.to_ascii_lowercase().contains("</style"));
    }

    #[test]
    fn values_are_escaped_where_they_are_spliced() {
        assert_eq!(
            num_cell(r#"<script>alert("x" & 'y')</script>"#, "\"1\"").into_string(),
            r#"<td class="num" data-v="&quot;1&quot;">&lt;script&gt;alert(&quot;x&quot; &amp; 'y')&lt;/script&gt;</td>"#
        );
        assert_eq!(
            filter_bar("t\"x", 2, "<b>").into_string(),
            r#"<div class="filterbar"><input type="search" data-filter="t&quot;x" placeholder="&lt;b&gt;" aria-label="&lt;b&gt;"><span class="count" data-count-for="t&quot;x">2 rows</span></div>"#
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group_int(0), "0");
        assert_eq!(group_int(1234567), "1,234,567");
    }
}
