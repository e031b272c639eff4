//! The report's analytics over the published Parquet, with polars: the current
//! run's findings (summaries by check, partner, severity and status, the
//! partner × check pivot, the top findings of each check), the findings of
//! every earlier run in the same output folder (the trend) and the resolved
//! partitions (recovered leakage). Nothing here reads the snapshot: see
//! [`super::partner_figures`].

use crate::error::{Error, Result};
use chrono::NaiveDate;
use polars::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Findings of one check shown in the page; the rest stay in the Parquet.
pub const TOP_FINDINGS: usize = 100;

pub use revleak_contract::Severity;

/// Where a finding's leakage goes in the headline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    /// A document or a correction can claim it today.
    Recoverable,
    /// Billed, committed or due, but not lost yet.
    AtRisk,
    /// Leakage 0 by design: cash late, the vendor owes, rows no check can trust.
    Signal,
    /// A check of the analysts' own, not one of the shipped checks.
    Other,
}

impl Bucket {
    pub fn of(check_id: &str) -> Bucket {
        match check_id {
            "missing_invoice"
            | "under_billing"
            | "unbilled_partner_sale"
            | "unreported_usage"
            | "stale_pricing"
            | "unauthorized_discount"
            | "commission_overpayment"
            | "erp_posting_gap"
            | "unexplained_credit" => Bucket::Recoverable,
            "payment_gap" | "missed_renewal" | "forecast_variance" => Bucket::AtRisk,
            "late_invoice" | "commission_underpayment" | "data_quality" => Bucket::Signal,
            _ => Bucket::Other,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Bucket::Recoverable => "Recoverable now",
            Bucket::AtRisk => "At risk",
            Bucket::Signal => "Signals",
            Bucket::Other => "Other checks",
        }
    }

    pub fn all() -> [Bucket; 4] {
        [
            Bucket::Recoverable,
            Bucket::AtRisk,
            Bucket::Signal,
            Bucket::Other,
        ]
    }
}

// ---------------------------------------------------------------- layout

/// The output folder, and optionally a run's staging root laid out like it
/// whose partitions take precedence.
#[derive(Debug, Clone)]
pub struct Layout {
    pub out: PathBuf,
    pub overlay: Option<PathBuf>,
}

impl Layout {
    /// `kind/as_of=*/` folders: published ones (with `_SUCCESS`) under `out`,
    /// replaced by the overlay's.
    pub fn partitions(&self, kind: &str) -> BTreeMap<NaiveDate, PathBuf> {
        let mut found: BTreeMap<NaiveDate, PathBuf> =
            crate::outputs::publish::partitions(&self.out.join(kind))
                .into_iter()
                .collect();
        if let Some(overlay) = &self.overlay
            && let Ok(entries) = std::fs::read_dir(overlay.join(kind))
        {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some(date) = name
                    .strip_prefix("as_of=")
                    .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                {
                    found.insert(date, entry.path());
                }
            }
        }
        found
    }

    pub fn partition(&self, kind: &str, as_of: NaiveDate) -> Option<PathBuf> {
        self.partitions(kind).remove(&as_of)
    }
}

/// The Parquet files of a table location: the file itself, or the `*.parquet`
/// files under a folder (recursively, skipping `_` and `.` entries), sorted.
pub fn parquet_files(location: &Path) -> Vec<PathBuf> {
    if location.is_file() {
        return vec![location.to_path_buf()];
    }
    let mut files = Vec::new();
    let mut stack = vec![location.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('_') || name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A lazy scan of Parquet files (no Hive columns: the findings carry as_of).
pub fn scan(files: &[PathBuf]) -> PolarsResult<LazyFrame> {
    polars_ensure!(!files.is_empty(), ComputeError: "no Parquet file");
    let paths = files
        .iter()
        .map(|p| PlRefPath::try_from_path(p))
        .collect::<PolarsResult<Vec<_>>>()?;
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(false),
            hive_start_idx: 0,
            schema: None,
            try_parse_dates: false,
        },
        glob: false,
        ..Default::default()
    };
    LazyFrame::scan_parquet_files(paths.into_iter().collect(), args)
}

/// Maps a polars error to one naming the file or folder read.
pub fn failed(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Output {
        path: path.to_path_buf(),
        message: format!("report: {e}"),
    }
}

// ---------------------------------------------------------------- manifest

pub use crate::outputs::manifest::Manifest;

// ---------------------------------------------------------------- values

pub fn text(df: &DataFrame, column: &str, i: usize) -> Option<String> {
    match df.column(column).ok()?.get(i).ok()? {
        AnyValue::Null => None,
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        other => Some(other.to_string()),
    }
}

pub fn money(df: &DataFrame, column: &str, i: usize) -> Option<Decimal> {
    let value = df.column(column).ok()?.get(i).ok()?;
    any_decimal(&value)
}

pub fn any_decimal(value: &AnyValue) -> Option<Decimal> {
    match value {
        AnyValue::Decimal(v, _, scale) => Some(Decimal::from_i128_with_scale(*v, *scale as u32)),
        AnyValue::Int8(v) => Some(Decimal::from(*v)),
        AnyValue::Int16(v) => Some(Decimal::from(*v)),
        AnyValue::Int32(v) => Some(Decimal::from(*v)),
        AnyValue::Int64(v) => Some(Decimal::from(*v)),
        AnyValue::UInt32(v) => Some(Decimal::from(*v)),
        AnyValue::UInt64(v) => Some(Decimal::from(*v)),
        AnyValue::Float64(v) => Decimal::from_f64_retain(*v),
        AnyValue::Float32(v) => Decimal::from_f64_retain(*v as f64),
        _ => None,
    }
}

pub fn count(df: &DataFrame, column: &str, i: usize) -> u64 {
    match df.column(column).ok().and_then(|c| c.get(i).ok()) {
        Some(AnyValue::UInt32(v)) => v as u64,
        Some(AnyValue::UInt64(v)) => v,
        Some(AnyValue::Int32(v)) => v.max(0) as u64,
        Some(AnyValue::Int64(v)) => v.max(0) as u64,
        Some(AnyValue::Boolean(v)) => v as u64,
        _ => 0,
    }
}

pub fn date(df: &DataFrame, column: &str, i: usize) -> Option<NaiveDate> {
    match df.column(column).ok()?.get(i).ok()? {
        AnyValue::Date(days) => Some(from_days(days)),
        _ => None,
    }
}

pub fn from_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days as i64)
}

pub fn days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

// ---------------------------------------------------------------- findings

/// Columns of the findings the report reads; those an older run did not write
/// are added as nulls.
const TEXT_COLUMNS: &[&str] = &[
    "finding_id",
    "check_id",
    "severity",
    "partner_id",
    "entity_type",
    "entity_id",
    "currency",
    "detail",
    "status",
    "disposition",
    "disposition_note",
    "disposition_owner",
];
const MONEY_COLUMNS: &[&str] = &["expected_amount", "actual_amount", "leakage_amount"];
const DATE_COLUMNS: &[&str] = &["period", "first_seen", "disposition_until", "last_seen"];

/// The findings (or resolved) files of a partition, conformed to the columns
/// the report reads, with `counted`: false for a finding under a live
/// disposition (no `disposition_until`, or one on or after `as_of`), which
/// leaves the headline totals.
pub fn findings_frame(files: &[PathBuf], as_of: NaiveDate) -> PolarsResult<LazyFrame> {
    let mut lf = scan(files)?;
    let schema = lf.collect_schema()?;
    let mut exprs = Vec::new();
    for name in TEXT_COLUMNS {
        exprs.push(if schema.contains(name) {
            col(*name).cast(DataType::String)
        } else {
            lit(NULL).cast(DataType::String).alias(*name)
        });
    }
    for name in MONEY_COLUMNS {
        exprs.push(if schema.contains(name) {
            col(*name).cast(DataType::Decimal(18, 2))
        } else {
            lit(NULL).cast(DataType::Decimal(18, 2)).alias(*name)
        });
    }
    for name in DATE_COLUMNS {
        exprs.push(if schema.contains(name) {
            col(*name).cast(DataType::Date)
        } else {
            lit(NULL).cast(DataType::Date).alias(*name)
        });
    }
    let live = col("disposition").is_not_null().and(
        col("disposition_until")
            .is_null()
            .or(col("disposition_until")
                .cast(DataType::Int32)
                .gt_eq(lit(days(as_of)))),
    );
    Ok(lf.select(exprs).with_column(live.not().alias("counted")))
}

/// Runs of equal values of a (sorted) text column: (value, offset, length);
/// nulls are skipped.
fn runs_of(df: &DataFrame, column: &str) -> PolarsResult<Vec<(String, usize, usize)>> {
    let values = df.column(column)?.str()?;
    let mut runs: Vec<(String, usize, usize)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        match runs.last_mut() {
            Some((last, offset, len)) if last == v && *offset + *len == i => *len += 1,
            _ => runs.push((v.to_string(), i, 1)),
        }
    }
    Ok(runs)
}

/// One finding as the page shows it.
#[derive(Debug, Clone)]
pub struct PageFinding {
    pub finding_id: String,
    pub check_id: String,
    pub severity: String,
    pub partner_id: Option<String>,
    pub entity_type: String,
    pub entity_id: String,
    pub period: Option<NaiveDate>,
    pub expected: Option<Decimal>,
    pub actual: Option<Decimal>,
    pub leakage: Decimal,
    pub detail: String,
    pub status: String,
    pub first_seen: Option<NaiveDate>,
    pub disposition: Option<String>,
    pub disposition_note: Option<String>,
    pub disposition_owner: Option<String>,
    pub disposition_until: Option<NaiveDate>,
    pub counted: bool,
}

fn rows_of(df: &DataFrame) -> Vec<PageFinding> {
    (0..df.height())
        .map(|i| PageFinding {
            finding_id: text(df, "finding_id", i).unwrap_or_default(),
            check_id: text(df, "check_id", i).unwrap_or_default(),
            severity: text(df, "severity", i).unwrap_or_default(),
            partner_id: text(df, "partner_id", i),
            entity_type: text(df, "entity_type", i).unwrap_or_default(),
            entity_id: text(df, "entity_id", i).unwrap_or_default(),
            period: date(df, "period", i),
            expected: money(df, "expected_amount", i),
            actual: money(df, "actual_amount", i),
            leakage: money(df, "leakage_amount", i).unwrap_or_default(),
            detail: text(df, "detail", i).unwrap_or_default(),
            status: text(df, "status", i).unwrap_or_default(),
            first_seen: date(df, "first_seen", i),
            disposition: text(df, "disposition", i),
            disposition_note: text(df, "disposition_note", i),
            disposition_owner: text(df, "disposition_owner", i),
            disposition_until: date(df, "disposition_until", i),
            counted: count(df, "counted", i) > 0,
        })
        .collect()
}

/// Count and leakage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub findings: u64,
    pub leakage: Decimal,
}

impl Tally {
    pub fn add(&mut self, findings: u64, leakage: Decimal) {
        self.findings += findings;
        self.leakage += leakage;
    }
}

/// One group of the current run's findings: partner, check, severity, status.
#[derive(Debug, Clone)]
struct Group {
    partner_id: Option<String>,
    check_id: String,
    severity: String,
    status: String,
    counted: bool,
    tally: Tally,
}

/// Everything the page shows about one run's findings, for every partner or
/// for one.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Findings not under a live disposition: the headline.
    pub total: Tally,
    /// Under a live disposition: left out of the headline.
    pub dispositioned: Tally,
    /// Every finding, dispositioned or not.
    pub all: Tally,
    pub buckets: BTreeMap<Bucket, Tally>,
    /// Counted findings per severity, in [`Severity::ALL`] order.
    pub severities: Vec<(String, u64)>,
    /// Counted findings per lifecycle status (`new`, `recurring`).
    pub statuses: BTreeMap<String, Tally>,
    /// Per check: counted and all findings.
    pub by_check: BTreeMap<String, (Tally, Tally)>,
    /// Per partner (counted findings; None = no partner).
    pub by_partner: BTreeMap<Option<String>, PartnerTally>,
    /// partner × check leakage (counted findings).
    pub matrix: BTreeMap<(String, String), Tally>,
    /// Per check: the top findings by leakage (all findings, dispositioned
    /// included, marked).
    pub top: BTreeMap<String, Vec<PageFinding>>,
}

#[derive(Debug, Clone, Default)]
pub struct PartnerTally {
    pub tally: Tally,
    /// Findings per severity, in [`Severity::ALL`] order.
    pub severities: [u64; 5],
}

/// The current run's findings in memory (one partition; a few columns of
/// text per finding), analysed for the whole page or one partner.
pub struct Current {
    pub frame: DataFrame,
    pub path: PathBuf,
}

impl Current {
    pub fn load(files: &[PathBuf], as_of: NaiveDate, path: &Path) -> Result<Current> {
        let frame = findings_frame(files, as_of)
            .and_then(|lf| lf.collect())
            .map_err(failed(path))?;
        Ok(Current {
            frame,
            path: path.to_path_buf(),
        })
    }

    pub fn analyse(&self, top_n: usize) -> Result<Analysis> {
        let fail = failed(&self.path);
        let grouped = self
            .frame
            .clone()
            .lazy()
            .group_by([
                col("partner_id"),
                col("check_id"),
                col("severity"),
                col("status"),
                col("counted"),
            ])
            .agg([
                len().alias("n"),
                col("leakage_amount").sum().alias("leakage"),
            ])
            .sort(
                ["partner_id", "check_id", "severity", "status", "counted"],
                SortMultipleOptions::default().with_nulls_last(false),
            )
            .collect()
            .map_err(&fail)?;
        let groups: Vec<Group> = (0..grouped.height())
            .map(|i| Group {
                partner_id: text(&grouped, "partner_id", i),
                check_id: text(&grouped, "check_id", i).unwrap_or_default(),
                severity: text(&grouped, "severity", i).unwrap_or_default(),
                status: text(&grouped, "status", i).unwrap_or_default(),
                counted: count(&grouped, "counted", i) > 0,
                tally: Tally {
                    findings: count(&grouped, "n", i),
                    leakage: money(&grouped, "leakage", i).unwrap_or_default(),
                },
            })
            .collect();

        let mut a = Analysis::default();
        let mut severities: BTreeMap<String, u64> = BTreeMap::new();
        for g in &groups {
            let Tally { findings, leakage } = g.tally;
            a.all.add(findings, leakage);
            let entry = a.by_check.entry(g.check_id.clone()).or_default();
            entry.1.add(findings, leakage);
            if !g.counted {
                a.dispositioned.add(findings, leakage);
                continue;
            }
            entry.0.add(findings, leakage);
            a.total.add(findings, leakage);
            a.buckets
                .entry(Bucket::of(&g.check_id))
                .or_default()
                .add(findings, leakage);
            *severities.entry(g.severity.clone()).or_default() += findings;
            a.statuses
                .entry(g.status.clone())
                .or_default()
                .add(findings, leakage);
            let partner = a.by_partner.entry(g.partner_id.clone()).or_default();
            partner.tally.add(findings, leakage);
            if let Some(k) = Severity::ALL.iter().position(|s| s.as_str() == g.severity) {
                partner.severities[k] += findings;
            }
            if let Some(p) = &g.partner_id {
                a.matrix
                    .entry((p.clone(), g.check_id.clone()))
                    .or_default()
                    .add(findings, leakage);
            }
        }
        a.severities = Severity::ALL
            .iter()
            .map(|s| (s.to_string(), severities.remove(s.as_str()).unwrap_or(0)))
            .collect();
        // Severities a custom check invented, after the known ones.
        a.severities.extend(severities);

        // The top findings of every check from one sort: each check's rows
        // are contiguous, largest leakage first.
        let sorted = self
            .frame
            .clone()
            .lazy()
            .sort_by_exprs(
                [
                    col("check_id"),
                    col("leakage_amount"),
                    col("entity_id"),
                    col("finding_id"),
                ],
                SortMultipleOptions::default()
                    .with_order_descending_multi([false, true, false, false])
                    .with_nulls_last(true),
            )
            .collect()
            .map_err(&fail)?;
        for (check, offset, len) in runs_of(&sorted, "check_id").map_err(&fail)? {
            let top = sorted.slice(offset as i64, len.min(top_n));
            a.top.insert(check, rows_of(&top));
        }
        Ok(a)
    }
}

// ---------------------------------------------------------------- history

/// One run of the trend.
#[derive(Debug, Clone, Default)]
pub struct RunPoint {
    pub as_of: Option<NaiveDate>,
    pub run_id: String,
    pub total: Tally,
    pub buckets: BTreeMap<Bucket, Tally>,
    /// Findings resolved by this run (present when the run wrote `resolved/`).
    pub resolved: Option<Tally>,
}

/// The trend of every run up to the report's as_of.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub runs: BTreeMap<NaiveDate, RunPoint>,
    /// Whether any run up to as_of wrote a resolved partition.
    pub has_resolved: bool,
}

impl History {
    /// Sum of resolved leakage over every run up to as_of.
    pub fn recovered(points: &BTreeMap<NaiveDate, RunPoint>) -> Tally {
        let mut t = Tally::default();
        for p in points.values() {
            if let Some(r) = p.resolved {
                t.add(r.findings, r.leakage);
            }
        }
        t
    }

    pub fn load(layout: &Layout, as_of: NaiveDate) -> Result<History> {
        let mut history = History::default();
        let manifests = layout.partitions("runs");
        for (date, dir) in layout.partitions("findings").range(..=as_of) {
            let files = parquet_files(dir);
            if files.is_empty() {
                continue;
            }
            let run_id = manifests
                .get(date)
                .and_then(|m| Manifest::read(&m.join("manifest.json")).ok())
                .map(|m| m.run_id)
                .unwrap_or_default();
            let grouped = findings_frame(&files, *date)
                .and_then(|lf| {
                    lf.filter(col("counted"))
                        .group_by([col("check_id")])
                        .agg([
                            len().alias("n"),
                            col("leakage_amount").sum().alias("leakage"),
                        ])
                        .collect()
                })
                .map_err(failed(dir))?;
            let point = history.runs.entry(*date).or_default();
            point.as_of = Some(*date);
            point.run_id = run_id.clone();
            for i in 0..grouped.height() {
                let check = text(&grouped, "check_id", i).unwrap_or_default();
                let n = count(&grouped, "n", i);
                let leakage = money(&grouped, "leakage", i).unwrap_or_default();
                point.total.add(n, leakage);
                point
                    .buckets
                    .entry(Bucket::of(&check))
                    .or_default()
                    .add(n, leakage);
            }
        }
        for (date, dir) in layout.partitions("resolved").range(..=as_of) {
            let files = parquet_files(dir);
            if files.is_empty() {
                continue;
            }
            history.has_resolved = true;
            let grouped = findings_frame(&files, *date)
                .and_then(|lf| {
                    lf.select([
                        len().alias("n"),
                        col("leakage_amount").sum().alias("leakage"),
                    ])
                    .collect()
                })
                .map_err(failed(dir))?;
            for i in 0..grouped.height() {
                let n = count(&grouped, "n", i);
                let leakage = money(&grouped, "leakage", i).unwrap_or_default();
                let point = history.runs.entry(*date).or_default();
                point.as_of = Some(*date);
                point
                    .resolved
                    .get_or_insert_with(Tally::default)
                    .add(n, leakage);
            }
            // A run that resolved nothing still wrote its (empty) partition.
            history
                .runs
                .entry(*date)
                .or_default()
                .resolved
                .get_or_insert_with(Tally::default);
        }
        Ok(history)
    }
}

/// The summary partition's totals (count, leakage), to cross-check the page
/// against what a BI tool reading `summary/` sees.
pub fn summary_total(layout: &Layout, as_of: NaiveDate) -> Option<Result<Tally>> {
    let dir = layout.partition("summary", as_of)?;
    let files = parquet_files(&dir);
    if files.is_empty() {
        return None;
    }
    let result = scan(&files)
        .and_then(|lf| {
            lf.select([
                col("findings").cast(DataType::Int64).sum().alias("n"),
                col("leakage_amount").sum().alias("leakage"),
            ])
            .collect()
        })
        .map_err(failed(&dir))
        .map(|df| Tally {
            findings: count(&df, "n", 0),
            leakage: money(&df, "leakage", 0).unwrap_or_default(),
        });
    Some(result)
}

/// The file name of a partner's page: its id with anything but letters,
/// digits, `-`, `_` and `.` replaced by `_`.
pub fn partner_file_name(partner_id: &str) -> String {
    let safe: String = partner_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    format!("partners/{}.html", if safe.is_empty() { "_" } else { safe })
}
