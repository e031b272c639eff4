//! Settling a run's findings before they are published: run-level columns
//! (run_id, as_of, the lifecycle against the latest earlier run in the same
//! output folder: status `new`/`recurring`, first_seen; findings gone since then
//! are `resolved`), analysts' dispositions applied, the summary, the alerts not
//! yet raised and the `--fail-on` tally ([`settle`]).

use crate::config::{date32, from_date32};
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use revleak_contract::Severity;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The published findings schema: the findings shape, then the run-level columns.
pub fn findings_schema() -> SchemaRef {
    let mut fields: Vec<Field> = revleak_contract::FINDING_COLUMNS
        .iter()
        .map(|c| Field::new(c.name, c.ty.arrow_type(), c.nullable))
        .collect();
    fields.push(Field::new("run_id", DataType::Utf8, false));
    fields.push(Field::new("as_of", DataType::Date32, false));
    fields.push(Field::new("status", DataType::Utf8, false));
    fields.push(Field::new("first_seen", DataType::Date32, false));
    fields.push(Field::new("disposition", DataType::Utf8, true));
    fields.push(Field::new("disposition_note", DataType::Utf8, true));
    fields.push(Field::new("disposition_owner", DataType::Utf8, true));
    fields.push(Field::new("disposition_until", DataType::Date32, true));
    Arc::new(Schema::new(fields))
}

/// `resolved/`: the previous run's rows of findings gone in this run, with
/// as_of = this run's, status `resolved` and the as_of they were last seen.
pub fn resolved_schema() -> SchemaRef {
    let mut fields: Vec<Field> = findings_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("last_seen", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// The latest published run before this one.
pub struct PreviousRun {
    pub as_of: NaiveDate,
    /// Its findings, in the current findings schema.
    pub batches: Vec<RecordBatch>,
    /// finding_id → first_seen.
    pub first_seen: HashMap<String, NaiveDate>,
}

/// The latest published run before `as_of` (re-running an as_of, or running an
/// older one after a newer one, compares with the right run).
pub fn previous_run(out: &Path, as_of: NaiveDate) -> Result<Option<PreviousRun>> {
    let Some((date, dir)) = crate::outputs::publish::partitions(&out.join("findings"))
        .into_iter()
        .rfind(|(d, _)| *d < as_of)
    else {
        return Ok(None);
    };
    let path = dir.join("part-0.parquet");
    let batches = read_partition(&path, date)?;
    let schema = findings_schema();
    let mut first_seen = HashMap::new();
    for batch in &batches {
        let ids = batch
            .column(index(&schema, "finding_id"))
            .as_string::<i32>();
        let first = batch
            .column(index(&schema, "first_seen"))
            .as_primitive::<Date32Type>();
        for i in 0..batch.num_rows() {
            if first.is_null(i) {
                return Err(Error::Output {
                    path: path.clone(),
                    message: "not a revleak findings file (first_seen is null)".into(),
                });
            }
            first_seen.insert(ids.value(i).to_string(), from_date32(first.value(i)));
        }
    }
    Ok(Some(PreviousRun {
        as_of: date,
        batches,
        first_seen,
    }))
}

/// The findings of the published run of `date`, if there is one.
pub fn partition_rows(out: &Path, date: NaiveDate) -> Result<Option<Vec<FindingRow>>> {
    let Some((_, dir)) = crate::outputs::publish::partitions(&out.join("findings"))
        .into_iter()
        .find(|(d, _)| *d == date)
    else {
        return Ok(None);
    };
    Ok(Some(rows(&read_partition(
        &dir.join("part-0.parquet"),
        date,
    )?)))
}

/// A findings partition's file in the current findings schema.
fn read_partition(path: &Path, date: NaiveDate) -> Result<Vec<RecordBatch>> {
    read_parquet(path)?
        .iter()
        .map(|b| conform(b, &findings_schema(), date, path))
        .collect()
}

fn index(schema: &SchemaRef, name: &str) -> usize {
    schema
        .index_of(name)
        .expect("column of the findings schema")
}

/// Reads every batch of a Parquet file.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let fail = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| fail(e.to_string()))?;
    reader.map(|b| b.map_err(|e| fail(e.to_string()))).collect()
}

/// A batch of an earlier findings file in `schema`: columns by name, the
/// partition column from the folder's date (files published before it moved to
/// the path carry it themselves), a column the older file lacks as nulls (when
/// nullable), types cast where they differ.
fn conform(
    batch: &RecordBatch,
    schema: &SchemaRef,
    partition_date: NaiveDate,
    path: &Path,
) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            None if field.name() == crate::outputs::publish::PARTITION_COLUMN => {
                Ok(Arc::new(Date32Array::from(vec![
                    date32(partition_date);
                    batch.num_rows()
                ])) as ArrayRef)
            }
            Some(c) if c.data_type() == field.data_type() => Ok(c.clone()),
            Some(c) => {
                datafusion::arrow::compute::cast(c, field.data_type()).map_err(|e| Error::Output {
                    path: path.to_path_buf(),
                    message: format!("column {}: {e}", field.name()),
                })
            }
            None if field.is_nullable() => Ok(datafusion::arrow::array::new_null_array(
                field.data_type(),
                batch.num_rows(),
            )),
            None => Err(Error::Output {
                path: path.to_path_buf(),
                message: format!("not a revleak findings file (no column {})", field.name()),
            }),
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The previous run's findings that this run no longer reports.
pub fn resolved(
    previous: &PreviousRun,
    current: &std::collections::HashSet<String>,
    as_of: NaiveDate,
) -> Result<Vec<RecordBatch>> {
    let schema = resolved_schema();
    let findings = findings_schema();
    let mut out = Vec::new();
    for batch in &previous.batches {
        let ids = batch
            .column(index(&findings, "finding_id"))
            .as_string::<i32>();
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|i| Some(!current.contains(ids.value(i))))
            .collect();
        let gone = datafusion::arrow::compute::filter_record_batch(batch, &keep).map_err(|e| {
            Error::Output {
                path: PathBuf::from("resolved"),
                message: e.to_string(),
            }
        })?;
        let n = gone.num_rows();
        if n == 0 {
            continue;
        }
        let mut columns: Vec<ArrayRef> = gone.columns().to_vec();
        columns[index(&findings, "as_of")] = Arc::new(Date32Array::from(vec![date32(as_of); n]));
        columns[index(&findings, "status")] = Arc::new(StringArray::from(vec!["resolved"; n]));
        columns.push(Arc::new(Date32Array::from(vec![date32(previous.as_of); n])));
        out.push(
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Output {
                path: PathBuf::from("resolved"),
                message: e.to_string(),
            })?,
        );
    }
    Ok(out)
}

/// Sum of leakage_amount over the published `resolved/` partitions before `as_of`.
pub fn recovered_before(out: &Path, as_of: NaiveDate) -> Result<rust_decimal::Decimal> {
    let mut total = rust_decimal::Decimal::ZERO;
    for (date, dir) in crate::outputs::publish::partitions(&out.join("resolved")) {
        if date < as_of {
            total += decimal_sum(
                &read_parquet(&dir.join("part-0.parquet"))?,
                "leakage_amount",
            );
        }
    }
    Ok(total)
}

/// Appends run_id, as_of, status and first_seen to check output batches.
pub fn add_run_columns(
    batches: &[RecordBatch],
    run_id: &str,
    as_of: NaiveDate,
    previous: Option<&HashMap<String, NaiveDate>>,
    dispositions: &HashMap<String, crate::outputs::dispositions::Disposition>,
) -> Result<Vec<RecordBatch>> {
    let schema = findings_schema();
    batches
        .iter()
        .map(|batch| {
            let n = batch.num_rows();
            let ids = batch
                .column_by_name("finding_id")
                .expect("finding_id")
                .as_string::<i32>();
            let mut status = Vec::with_capacity(n);
            let mut first_seen = Vec::with_capacity(n);
            for i in 0..n {
                match previous.and_then(|p| p.get(ids.value(i))) {
                    Some(first) => {
                        status.push("recurring");
                        first_seen.push(date32(*first));
                    }
                    None => {
                        status.push("new");
                        first_seen.push(date32(as_of));
                    }
                }
            }
            let mut columns: Vec<ArrayRef> = revleak_contract::FINDING_COLUMNS
                .iter()
                .map(|c| {
                    batch
                        .column_by_name(c.name)
                        .expect("findings shape")
                        .clone()
                })
                .collect();
            columns.push(Arc::new(StringArray::from(vec![run_id; n])));
            columns.push(Arc::new(Date32Array::from(vec![date32(as_of); n])));
            columns.push(Arc::new(StringArray::from(status)));
            columns.push(Arc::new(Date32Array::from(first_seen)));
            let live: Vec<Option<&crate::outputs::dispositions::Disposition>> = (0..n)
                .map(|i| dispositions.get(ids.value(i)).filter(|d| d.is_live(as_of)))
                .collect();
            columns.push(Arc::new(StringArray::from(
                live.iter()
                    .map(|d| d.map(|d| d.disposition.clone()))
                    .collect::<Vec<_>>(),
            )));
            columns.push(Arc::new(StringArray::from(
                live.iter()
                    .map(|d| d.and_then(|d| d.note.clone()))
                    .collect::<Vec<_>>(),
            )));
            columns.push(Arc::new(StringArray::from(
                live.iter()
                    .map(|d| d.and_then(|d| d.owner.clone()))
                    .collect::<Vec<_>>(),
            )));
            columns.push(Arc::new(Date32Array::from(
                live.iter()
                    .map(|d| d.and_then(|d| d.until).map(date32))
                    .collect::<Vec<_>>(),
            )));
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Output {
                path: PathBuf::from("findings"),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Total number of rows.
pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Sum of a Decimal128(18,2) column as an exact decimal.
pub fn decimal_sum(batches: &[RecordBatch], column: &str) -> rust_decimal::Decimal {
    let mut total = rust_decimal::Decimal::ZERO;
    for batch in batches {
        if let Some(col) = batch.column_by_name(column) {
            let col = col.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
            for i in 0..col.len() {
                if col.is_valid(i) {
                    total += rust_decimal::Decimal::from_i128_with_scale(col.value(i), 2);
                }
            }
        }
    }
    total
}

/// The fields of a published finding the run's bookkeeping needs.
#[derive(Debug, Clone)]
pub struct FindingRow {
    pub finding_id: String,
    pub check_id: String,
    pub severity: Severity,
    pub partner_id: Option<String>,
    pub entity_type: String,
    pub entity_id: String,
    pub leakage: rust_decimal::Decimal,
    pub currency: String,
    pub detail: String,
    pub status: String,
    pub disposition: Option<String>,
}

/// The rows of batches in the findings schema.
pub fn rows(batches: &[RecordBatch]) -> Vec<FindingRow> {
    let mut out = Vec::new();
    for batch in batches {
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .expect("findings column")
                .as_string::<i32>()
                .clone()
        };
        let (
            ids,
            checks,
            severities,
            partners,
            types,
            entities,
            currencies,
            details,
            statuses,
            dispositions,
        ) = (
            text("finding_id"),
            text("check_id"),
            text("severity"),
            text("partner_id"),
            text("entity_type"),
            text("entity_id"),
            text("currency"),
            text("detail"),
            text("status"),
            text("disposition"),
        );
        let leakage = batch
            .column_by_name("leakage_amount")
            .expect("findings column")
            .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
            .clone();
        let opt = |a: &datafusion::arrow::array::StringArray, i: usize| {
            a.is_valid(i).then(|| a.value(i).to_string())
        };
        for i in 0..batch.num_rows() {
            out.push(FindingRow {
                finding_id: ids.value(i).to_string(),
                check_id: checks.value(i).to_string(),
                // Checks' severities are validated before they are published
                // (reconcile::checks); a hand-edited older partition's unknown
                // one ranks lowest.
                severity: severities.value(i).parse().unwrap_or(Severity::Info),
                partner_id: opt(&partners, i),
                entity_type: types.value(i).to_string(),
                entity_id: entities.value(i).to_string(),
                leakage: rust_decimal::Decimal::from_i128_with_scale(leakage.value(i), 2),
                currency: currencies.value(i).to_string(),
                detail: details.value(i).to_string(),
                status: statuses.value(i).to_string(),
                disposition: opt(&dispositions, i),
            });
        }
    }
    out
}

/// The alert and fail-on thresholds of a run.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// New findings at or above it are alerts.
    pub alert_min_severity: Severity,
    /// Open findings at or above it fail the run (exit 1).
    pub fail_on: Option<Severity>,
    /// With `fail_on`: count new findings only.
    pub fail_on_new: bool,
}

/// What a run's findings add up to: new and recurring (beside the resolved ones
/// already in `lifecycle`), the dispositions applied, expired and unmatched, the
/// alerts (each finding once: `alerted` is the record, updated) and the
/// findings that meet `--fail-on`.
pub struct RunTally {
    pub lifecycle: crate::outputs::manifest::Lifecycle,
    pub dispositions: crate::outputs::manifest::DispositionStats,
    pub alerts: Vec<serde_json::Value>,
    pub failing: usize,
    /// Warnings for the log and the manifest.
    pub notes: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn tally(
    rows: &[FindingRow],
    decisions: &HashMap<String, crate::outputs::dispositions::Disposition>,
    current: &std::collections::HashSet<String>,
    as_of: NaiveDate,
    thresholds: Thresholds,
    alerted: &mut crate::outputs::alerts::AlertRecord,
    mut lifecycle: crate::outputs::manifest::Lifecycle,
    mut dispositions: crate::outputs::manifest::DispositionStats,
) -> RunTally {
    let mut alerts = Vec::new();
    let mut failing = 0;
    for row in rows {
        if row.status == "new" {
            lifecycle.new += 1;
            lifecycle.new_leakage += row.leakage;
        } else {
            lifecycle.recurring += 1;
            lifecycle.recurring_leakage += row.leakage;
        }
        if row.disposition.is_some() {
            dispositions.applied += 1;
            dispositions.excluded_leakage += row.leakage;
            continue;
        }
        // Once per finding, however often the day is run (see `alerts`).
        if row.severity >= thresholds.alert_min_severity
            && alerted.raise(&row.finding_id, row.severity, as_of)
        {
            alerts.push(alert_json(row, as_of));
        }
        if thresholds.fail_on.is_some_and(|f| row.severity >= f)
            && (!thresholds.fail_on_new || row.status == "new")
        {
            failing += 1;
        }
    }
    for (id, decision) in decisions {
        if !current.contains(id) {
            dispositions.unmatched.push(id.clone());
        } else if !decision.is_live(as_of) {
            dispositions.expired += 1;
        }
    }
    alerted.retain(current);
    dispositions.unmatched.sort();
    let mut notes = Vec::new();
    if !dispositions.unmatched.is_empty() {
        notes.push(format!(
            "{} disposition(s) name findings this run did not report: {}",
            dispositions.unmatched.len(),
            dispositions.unmatched.join(", ")
        ));
    }
    RunTally {
        lifecycle,
        dispositions,
        alerts,
        failing,
        notes,
    }
}

/// One line of alerts.jsonl: what a chat or ticket system needs.
fn alert_json(row: &FindingRow, as_of: NaiveDate) -> serde_json::Value {
    serde_json::json!({
        "finding_id": row.finding_id,
        "as_of": as_of.to_string(),
        "check_id": row.check_id,
        "severity": row.severity,
        "partner_id": row.partner_id,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "leakage_amount": row.leakage.to_string(),
        "currency": row.currency,
        "detail": row.detail,
    })
}

/// What settling a run's findings needs besides the findings.
pub struct Settling<'a> {
    pub out: &'a Path,
    pub run_id: &'a str,
    pub as_of: NaiveDate,
    /// `--dispositions` (else `dispositions.csv` in `out`, when present).
    pub dispositions: Option<&'a Path>,
    pub thresholds: Thresholds,
    /// A webhook is set: this run's new alerts join those not yet delivered.
    pub webhook: bool,
}

/// A run's findings settled against the output folder's history, ready to publish.
pub struct Settled {
    /// The findings with the run-level columns (lifecycle, dispositions).
    pub findings: Vec<RecordBatch>,
    pub summary: Vec<RecordBatch>,
    pub previous_as_of: Option<NaiveDate>,
    /// None on a first run (no previous run to resolve against).
    pub resolved: Option<Vec<RecordBatch>>,
    pub lifecycle: crate::outputs::manifest::Lifecycle,
    pub dispositions: crate::outputs::manifest::DispositionStats,
    /// This run's new alerts.
    pub alerts: Vec<serde_json::Value>,
    /// What has been alerted for the as_of, this run included.
    pub alerted: crate::outputs::alerts::AlertRecord,
    /// With a webhook: the alerts to deliver (this run's and earlier runs' undelivered).
    pub pending: Option<Vec<serde_json::Value>>,
    /// Open findings at or above `--fail-on`.
    pub failing: usize,
    /// Leakage of the open findings (those without a live exclusion).
    pub open_leakage: rust_decimal::Decimal,
    /// Warnings for the log and the manifest.
    pub notes: Vec<String>,
}

/// Settles a run's findings: run-level columns against the previous run and the
/// analysts' dispositions, the summary, what was resolved since the previous
/// run, the alerts not yet raised and the `--fail-on` tally.
pub async fn settle(batches: &[RecordBatch], s: Settling<'_>) -> Result<Settled> {
    let disposition_file = crate::outputs::dispositions::locate(s.dispositions, s.out);
    let decisions = match &disposition_file {
        Some(path) => crate::outputs::dispositions::load(path)?,
        None => Default::default(),
    };
    let previous = previous_run(s.out, s.as_of)?;
    let published = add_run_columns(
        batches,
        s.run_id,
        s.as_of,
        previous.as_ref().map(|p| &p.first_seen),
        &decisions,
    )?;
    // The findings are in memory here: summarized by the embedded engine.
    let summary = summarize(&crate::engine::session::session(), &published).await?;
    let rows = rows(&published);
    let current = verify_before_publishing(&rows, &published, &summary)?;
    let gone = match &previous {
        Some(p) => Some(resolved(p, &current, s.as_of)?),
        None => None,
    };
    let gone_rows = gone.as_deref().unwrap_or_default();
    let mut lifecycle = crate::outputs::manifest::Lifecycle {
        previous_as_of: previous.as_ref().map(|p| p.as_of),
        resolved: row_count(gone_rows),
        resolved_leakage: decimal_sum(gone_rows, "leakage_amount"),
        ..Default::default()
    };
    lifecycle.recovered_to_date = recovered_before(s.out, s.as_of)? + lifecycle.resolved_leakage;
    let alert_min_severity = s.thresholds.alert_min_severity;
    let mut alerted = crate::outputs::alerts::AlertRecord::load(s.out, s.as_of, |date| {
        Ok(partition_rows(s.out, date)?
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.disposition.is_none() && r.severity >= alert_min_severity)
            .map(|r| (r.finding_id, r.severity))
            .collect())
    })?;
    let disposition_stats = crate::outputs::manifest::DispositionStats {
        file: disposition_file.map(|p| p.display().to_string()),
        ..Default::default()
    };
    let RunTally {
        lifecycle,
        dispositions,
        alerts,
        failing,
        notes,
    } = tally(
        &rows,
        &decisions,
        &current,
        s.as_of,
        s.thresholds,
        &mut alerted,
        lifecycle,
        disposition_stats,
    );
    // With a webhook, this run's new alerts and those earlier runs could not
    // deliver are published as pending before any request is made.
    let pending = match s.webhook {
        true => {
            let mut pending = crate::outputs::delivery::carried_over(s.out, s.as_of)?;
            pending.extend(alerts.iter().cloned());
            Some(pending)
        }
        false => None,
    };
    let open_leakage = decimal_sum(&published, "leakage_amount") - dispositions.excluded_leakage;
    Ok(Settled {
        findings: published,
        summary,
        previous_as_of: previous.as_ref().map(|p| p.as_of),
        resolved: gone,
        lifecycle,
        dispositions,
        alerts,
        alerted,
        pending,
        failing,
        open_leakage,
        notes,
    })
}

/// Checks what is cheap to check before a run publishes, and fails the run
/// rather than publish a number that cannot be right: every finding once (a
/// finding_id is a hash of its check and entity, so a second row with it is a
/// row read twice, e.g. a cluster stage's output fetched twice after a lost
/// executor), and a summary that adds up to the findings. The finding_ids.
fn verify_before_publishing(
    rows: &[FindingRow],
    findings: &[RecordBatch],
    summary: &[RecordBatch],
) -> Result<std::collections::HashSet<String>> {
    let mut current = std::collections::HashSet::with_capacity(rows.len());
    for row in rows {
        if !current.insert(row.finding_id.clone()) {
            return Err(Error::Invariant(format!(
                "check {} reported its finding for {} {} (finding_id {}) more than once: \
                 a finding is reported once, so this result cannot be trusted and nothing \
                 is published",
                row.check_id, row.entity_type, row.entity_id, row.finding_id
            )));
        }
    }
    let summary_findings: i64 = summary
        .iter()
        .map(|b| {
            let counts = b.column_by_name("findings").and_then(|c| {
                c.as_any()
                    .downcast_ref::<datafusion::arrow::array::Int64Array>()
            });
            counts.map_or(0, |c| c.iter().flatten().sum::<i64>())
        })
        .sum();
    let (leakage, summary_leakage) = (
        decimal_sum(findings, "leakage_amount"),
        decimal_sum(summary, "leakage_amount"),
    );
    if summary_findings != rows.len() as i64 || leakage != summary_leakage {
        return Err(Error::Invariant(format!(
            "the summary ({summary_findings} findings, leakage {summary_leakage}) differs from \
             the findings ({} findings, leakage {leakage}): nothing is published",
            rows.len()
        )));
    }
    Ok(current)
}

/// The published summary: per check, partner and severity.
pub fn summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("check_id", DataType::Utf8, false),
        Field::new("partner_id", DataType::Utf8, true),
        Field::new("severity", DataType::Utf8, false),
        Field::new("findings", DataType::Int64, false),
        Field::new("leakage_amount", DataType::Decimal128(18, 2), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("as_of", DataType::Date32, false),
        Field::new("run_id", DataType::Utf8, false),
    ]))
}

/// Per check, partner and severity: count and leakage sum.
async fn summarize(
    ctx: &datafusion::prelude::SessionContext,
    findings: &[RecordBatch],
) -> Result<Vec<RecordBatch>> {
    let table =
        datafusion::datasource::MemTable::try_new(findings_schema(), vec![findings.to_vec()])
            .map_err(|e| Error::exec("summary", e))?;
    ctx.register_table("published_findings", Arc::new(table))
        .map_err(|e| Error::exec("summary", e))?;
    let sql = "select check_id, partner_id, severity, count(*) as findings,
                      cast(sum(leakage_amount) as decimal(18, 2)) as leakage_amount,
                      min(currency) as currency, min(as_of) as as_of, min(run_id) as run_id
               from published_findings
               group by check_id, partner_id, severity
               order by check_id, partner_id nulls first, severity";
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::exec("summary", e))?
        .collect()
        .await
        .map_err(|e| Error::exec("summary", e))?;
    let schema = summary_schema();
    batches
        .into_iter()
        .map(|b| {
            let cols = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), cols)
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::exec("summary", e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, Int64Array};

    fn row(id: &str, entity: &str) -> FindingRow {
        FindingRow {
            finding_id: id.into(),
            check_id: "missing_invoice".into(),
            severity: Severity::High,
            partner_id: Some("P1".into()),
            entity_type: "deal_line".into(),
            entity_id: entity.into(),
            leakage: rust_decimal::Decimal::new(1000, 2),
            currency: "USD".into(),
            detail: String::new(),
            status: "new".into(),
            disposition: None,
        }
    }

    fn amounts(cents: &[i128], counts: Option<&[i64]>) -> RecordBatch {
        let leakage: ArrayRef = Arc::new(
            Decimal128Array::from(cents.to_vec())
                .with_precision_and_scale(18, 2)
                .unwrap(),
        );
        let mut columns = vec![("leakage_amount", leakage)];
        if let Some(counts) = counts {
            columns.push((
                "findings",
                Arc::new(Int64Array::from(counts.to_vec())) as ArrayRef,
            ));
        }
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn a_finding_reported_twice_or_a_summary_that_does_not_add_up_fails_the_run() {
        let findings = amounts(&[1000, 1000], None);
        let summary = amounts(&[2000], Some(&[2]));
        let two = [row("a1", "D1:1"), row("b2", "D2:1")];
        let ids = verify_before_publishing(
            &two,
            std::slice::from_ref(&findings),
            std::slice::from_ref(&summary),
        )
        .unwrap();
        assert_eq!(ids.len(), 2);

        // the same finding twice: rows read twice somewhere upstream
        let twice = [row("a1", "D1:1"), row("a1", "D1:1")];
        let e = verify_before_publishing(&twice, std::slice::from_ref(&findings), &[summary])
            .unwrap_err();
        assert!(matches!(e, Error::Invariant(_)), "{e}");
        let message = e.to_string();
        assert!(
            message.contains("missing_invoice") && message.contains("D1:1"),
            "{message}"
        );

        // a summary short of a finding, or of a cent
        for summary in [amounts(&[2000], Some(&[1])), amounts(&[1999], Some(&[2]))] {
            let e = verify_before_publishing(&two, std::slice::from_ref(&findings), &[summary])
                .unwrap_err();
            assert!(e.to_string().contains("differs from the findings"), "{e}");
        }
    }
}
