//! Building a run's manifest from what the run did: its checks' outcomes, its
//! raw tables and query files, the day's earlier runs. The run hands its facts
//! over; the types are the manifest's own (see the parent module).

use crate::config::Params;
use crate::error::{Error, Result};
use crate::ingest::snapshot::Snapshot;
use crate::ingest::staging::Staging;
use crate::outputs::actions;
use crate::outputs::delivery::DeliveryOutcome;
use crate::outputs::findings::{self, Settled};
use crate::outputs::manifest::{
    CheckOutcome, CheckPlan, DayRun, Manifest, QueryFile, RawTableStats, TableStats,
};
use crate::outputs::publish;
use crate::outputs::scorecard::FiguresMeta;
use crate::reconcile::checks::{self, CheckFile};
use crate::reconcile::graph::CheckRun;
use crate::reconcile::layers::sql_files;
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use rust_decimal::Decimal;
use std::path::Path;

/// Where a run's manifest is drawn from, once its findings are settled.
pub struct RunFacts<'a> {
    pub run_id: &'a str,
    pub started: DateTime<Utc>,
    pub params: &'a Params,
    /// The snapshot folder as the run was given it.
    pub snapshot_dir: &'a Path,
    pub snapshot: &'a Snapshot,
    pub staging: &'a Staging,
    /// Per input table: rows read, after as_of, passed and flagged.
    pub inputs: &'a [TableStats],
    pub queries: &'a Path,
    pub out: &'a Path,
    pub outcomes: &'a [CheckOutcome],
    pub figures: &'a FiguresMeta,
    pub settled: &'a Settled,
    /// The warnings of loading and checking; settling's notes follow them.
    pub warnings: Vec<String>,
    pub fail_on: Option<revleak_contract::Severity>,
}

/// The run's manifest, all but its finish time, its actions and the webhook's
/// outcome.
pub fn manifest_of(facts: RunFacts) -> Result<Manifest> {
    let RunFacts {
        params, settled, ..
    } = facts;
    let as_of = params.as_of();
    let warnings = facts
        .warnings
        .into_iter()
        .chain(settled.notes.iter().cloned())
        .collect();
    Ok(Manifest {
        run_id: facts.run_id.to_string(),
        tool: "revleak".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        as_of,
        started: facts.started.to_rfc3339(),
        finished: String::new(),
        snapshot: facts.snapshot_dir.display().to_string(),
        reporting_currency: params.reporting_currency(),
        raw_tables: raw_table_stats(facts.snapshot, facts.staging),
        parameters: params
            .values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        inputs: facts.inputs.to_vec(),
        queries: query_files(facts.queries)?,
        findings: findings::row_count(&settled.findings),
        total_leakage: facts.outcomes.iter().map(|o| o.leakage).sum(),
        checks: facts.outcomes.to_vec(),
        warnings,
        previous_as_of: settled.previous_as_of,
        open_leakage: settled.open_leakage,
        lifecycle: settled.lifecycle.clone(),
        dispositions: settled.dispositions.clone(),
        alerts: settled.alerts.len(),
        fail_on: facts.fail_on,
        failing_findings: settled.failing,
        figures: facts.figures.clone(),
        earlier_runs_of_the_day: earlier_runs_of_the_day(facts.out, as_of),
        alert_delivery: settled.pending.as_ref().map(|p| DeliveryOutcome {
            alerts: p.len(),
            delivered: p.is_empty(),
            error: None,
        }),
        actions: Vec::new(),
    })
}

/// Each check's outcome and findings, in the checks' order (so neither depends on
/// which finished first); failures and skips become warnings (with
/// `--keep-going`, a failed check too). Without it a failed check is the
/// error returned.
pub(crate) fn outcomes_of(
    all_checks: &[CheckFile],
    runs: Vec<CheckRun>,
    keep_going: bool,
    warnings: &mut Vec<String>,
    explain: &mut Vec<CheckPlan>,
) -> Result<(Vec<CheckOutcome>, Vec<RecordBatch>)> {
    let mut outcomes = Vec::new();
    let mut batches = Vec::new();
    for (check, run) in all_checks.iter().zip(runs) {
        let (result, millis) = match run {
            CheckRun::Broken(p) => {
                let message = p.join("; ");
                tracing::error!(check_id = %check.id, "check failed: {message}");
                warnings.push(format!("check {} failed: {message}", check.id));
                let mut failed = outcome(check, 0, Decimal::ZERO, 0, None);
                failed.failed = Some(message);
                outcomes.push(failed);
                continue;
            }
            CheckRun::Skipped(reason) => {
                tracing::warn!(check_id = %check.id, "skipped: {reason}");
                warnings.push(format!("check {} skipped: {reason}", check.id));
                outcomes.push(outcome(check, 0, Decimal::ZERO, 0, Some(reason)));
                continue;
            }
            CheckRun::Ran(result, millis) => (result, millis),
        };
        let found = match result {
            Ok((found, plan)) => {
                if let Some(plan) = plan {
                    explain.push(CheckPlan {
                        check_id: check.id.clone(),
                        millis,
                        rows: findings::row_count(&found),
                        plan,
                    });
                }
                found
            }
            Err(e) if keep_going => {
                let message = e.to_string();
                tracing::error!(check_id = %check.id, "check failed: {message}");
                warnings.push(format!("check {} failed: {message}", check.id));
                let mut failed = outcome(check, 0, Decimal::ZERO, millis, None);
                failed.failed = Some(message);
                outcomes.push(failed);
                continue;
            }
            Err(e) => return Err(e),
        };
        let rows = findings::row_count(&found);
        let leakage = findings::decimal_sum(&found, "leakage_amount");
        tracing::info!(check_id = %check.id, rows, ms = millis as u64, "check done");
        outcomes.push(outcome(check, rows, leakage, millis, None));
        batches.extend(found);
    }
    Ok((outcomes, batches))
}

fn outcome(
    check: &CheckFile,
    rows: usize,
    leakage: Decimal,
    millis: u128,
    skipped: Option<String>,
) -> CheckOutcome {
    CheckOutcome {
        check_id: check.id.clone(),
        path: check.path.display().to_string(),
        title: check.title.clone(),
        sha256: check.sha256.clone(),
        rows,
        leakage,
        millis,
        skipped,
        failed: None,
    }
}

/// Every raw table of the snapshot, with the canonical tables whose staging
/// views read it.
fn raw_table_stats(snapshot: &Snapshot, staging: &Staging) -> Vec<RawTableStats> {
    snapshot
        .raw
        .iter()
        .map(|raw| RawTableStats {
            table: raw.qualified(),
            path: raw.location.display().to_string(),
            format: raw.format.name().to_string(),
            files: raw.files.len(),
            bytes: raw.bytes,
            rows: raw.rows,
            read_by: staging
                .tables
                .iter()
                .filter(|s| s.reads.contains(&raw.qualified()))
                .map(|s| s.table.qualified())
                .collect(),
        })
        .collect()
}

/// Every query file the run read, with its SHA-256.
fn query_files(queries: &Path) -> Result<Vec<QueryFile>> {
    let mut files = Vec::new();
    for dir in [
        "staging",
        "shared",
        "checks",
        actions::OUTPUT,
        actions::STATEMENTS,
    ] {
        for path in sql_files(&queries.join(dir))? {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            files.push(QueryFile {
                path: path.display().to_string(),
                sha256: checks::sha256_hex(&bytes),
            });
        }
    }
    Ok(files)
}

/// The runs of `as_of` published before this one (their manifest, when
/// readable, lists them): an earlier version's or an unreadable manifest starts
/// the sequence afresh, and the log says so.
fn earlier_runs_of_the_day(out: &Path, as_of: NaiveDate) -> Vec<DayRun> {
    let Some((_, dir)) = publish::partitions(&out.join("runs"))
        .into_iter()
        .find(|(d, _)| *d == as_of)
    else {
        return Vec::new();
    };
    match Manifest::read(&dir.join("manifest.json")) {
        Ok(previous) => previous.runs_of_the_day(),
        Err(e) => {
            tracing::warn!("the day's earlier runs are not listed: {e}");
            Vec::new()
        }
    }
}
