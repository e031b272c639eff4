//! What a run records about itself in `runs/as_of=.../manifest.json`: run id,
//! times, parameters, every raw and canonical table with its rows (read,
//! after as_of, passed, flagged), every query file, and per check its outcome.
//! One type for the run that writes it and the report that reads it back;
//! read leniently (a field an earlier version did not write is left empty).
//! [`build`] draws one from what a run did.

pub mod build;

use crate::error::{Error, Result};
pub use crate::reconcile::layers::TableStats;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// New, recurring and resolved findings against the previous run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Lifecycle {
    pub previous_as_of: Option<NaiveDate>,
    pub new: usize,
    pub new_leakage: Decimal,
    pub recurring: usize,
    pub recurring_leakage: Decimal,
    pub resolved: usize,
    /// Leakage of the resolved findings as last reported: revenue recovered or explained.
    pub resolved_leakage: Decimal,
    /// Resolved leakage of every run up to and including this one.
    pub recovered_to_date: Decimal,
}

/// What the dispositions file did to this run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DispositionStats {
    pub file: Option<String>,
    /// Findings carrying a live disposition (excluded from totals, alerts, --fail-on).
    pub applied: usize,
    pub excluded_leakage: Decimal,
    /// Decisions whose `until` has passed: their findings count again.
    pub expired: usize,
    /// Decisions for finding_ids this run did not report.
    pub unmatched: Vec<String>,
}

/// A raw table as the manifest lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RawTableStats {
    /// `system/name`.
    pub table: String,
    pub path: String,
    pub format: String,
    pub files: usize,
    pub bytes: u64,
    pub rows: u64,
    /// The canonical tables (`system/table`) whose staging views read it.
    pub read_by: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckOutcome {
    pub check_id: String,
    pub path: String,
    pub title: String,
    pub sha256: String,
    pub rows: usize,
    pub leakage: Decimal,
    pub millis: u128,
    /// Set when the check did not run (a table it reads is missing).
    pub skipped: Option<String>,
    /// Set when the check's SQL failed and `--keep-going` let the run go on.
    pub failed: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QueryFile {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub run_id: String,
    pub tool: String,
    pub version: String,
    pub as_of: NaiveDate,
    pub started: String,
    pub finished: String,
    pub snapshot: String,
    pub reporting_currency: String,
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Every raw table of the snapshot and the canonical tables whose staging
    /// views read it (none: its rows are not reconciled, and a warning says so).
    pub raw_tables: Vec<RawTableStats>,
    pub inputs: Vec<TableStats>,
    pub queries: Vec<QueryFile>,
    pub checks: Vec<CheckOutcome>,
    pub warnings: Vec<String>,
    pub findings: usize,
    pub total_leakage: Decimal,
    pub previous_as_of: Option<NaiveDate>,
    /// Leakage of the findings without a live disposition: the headline figure.
    pub open_leakage: Decimal,
    pub lifecycle: Lifecycle,
    pub dispositions: DispositionStats,
    /// New findings written to alerts.jsonl.
    pub alerts: usize,
    /// `--fail-on` threshold and the number of findings that met it.
    pub fail_on: Option<revleak_contract::Severity>,
    pub failing_findings: usize,
    /// The report's figures beyond the findings (the partner figures are in
    /// `partner_figures/`).
    pub figures: crate::outputs::scorecard::FiguresMeta,
    /// The earlier runs of the same as_of, oldest first: the published partition
    /// is the latest run's, and this keeps the sequence of the day.
    pub earlier_runs_of_the_day: Vec<DayRun>,
    /// With an alert webhook: what was to be delivered and whether it was.
    pub alert_delivery: Option<crate::outputs::delivery::DeliveryOutcome>,
    /// The recovery actions published (`actions/`), by file.
    pub actions: Vec<ActionSummary>,
}

/// What the manifest and the report say of one action file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ActionSummary {
    pub id: String,
    pub title: String,
    /// The contract table its rows are shaped as (`billing/invoices`), if any.
    pub shape: Option<String>,
    pub rows: usize,
    /// Distinct findings its rows settle.
    pub findings: usize,
    /// Sum of `reporting_amount` (the documents' amounts in the reporting currency).
    pub reporting_amount: rust_decimal::Decimal,
    /// Rows whose finding is `accepted` (being recovered).
    pub accepted: usize,
}

/// One earlier run of the same as_of.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DayRun {
    pub run_id: String,
    pub started: String,
    pub finished: String,
    pub findings: usize,
    pub total_leakage: Decimal,
    pub alerts: usize,
}

/// One check's executed physical plan, annotated with rows, times and spills.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckPlan {
    pub check_id: String,
    pub millis: u128,
    pub rows: usize,
    pub plan: String,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Output {
            path: path.to_path_buf(),
            message: format!("not a revleak manifest: {e}"),
        })
    }

    /// A parameter as text (`""` when absent).
    pub fn parameter(&self, name: &str) -> String {
        self.parameters.get(name).cloned().unwrap_or_default()
    }

    /// The reporting currency (USD when the manifest names none).
    pub fn currency(&self) -> String {
        let from_params = self.parameter("reporting_currency");
        if !self.reporting_currency.is_empty() {
            self.reporting_currency.clone()
        } else if !from_params.is_empty() {
            from_params
        } else {
            "USD".into()
        }
    }
}

impl Manifest {
    /// The day's runs up to and including this one, for the next run of the
    /// same as_of.
    pub fn runs_of_the_day(&self) -> Vec<DayRun> {
        let mut runs = self.earlier_runs_of_the_day.clone();
        runs.push(DayRun {
            run_id: self.run_id.clone(),
            started: self.started.clone(),
            finished: self.finished.clone(),
            findings: self.findings,
            total_leakage: self.total_leakage,
            alerts: self.alerts,
        });
        runs
    }
}
