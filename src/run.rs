//! `revleak run`: snapshot → staging views → as-of and data-quality layers → checks
//! → findings with run-level columns → summary and manifest → atomic publish.

use crate::checks::{self, CheckFile};
use crate::config::{ConfigFile, Params};
use crate::contract::TABLES;
pub use crate::engine::Engine;
use crate::engine::{
    EngineSettings, Job, LAYERS, RemoveDirOnDrop, cluster_session, concurrency, joined,
    literal_plan, on_cluster, register_params, run_costliest_first, session, session_with,
};
use crate::error::{Error, Result};
use crate::findings;
use crate::publish::{self, OutputLock, Staged};
use crate::quality;
use crate::scorecard;
use crate::snapshot::Snapshot;
use crate::staging::{self, Staging};
use chrono::{NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::prelude::SessionContext;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub snapshot: PathBuf,
    pub out: PathBuf,
    pub as_of: Option<NaiveDate>,
    pub config: ConfigFile,
    pub sets: Vec<String>,
    pub only: Vec<String>,
    pub queries: PathBuf,
    pub strict: bool,
    /// Also render one report page per partner.
    pub partner_reports: bool,
    /// The dispositions file (default: `dispositions.csv` in `out` when present).
    pub dispositions: Option<PathBuf>,
    /// New findings at or above this severity are written to alerts.jsonl.
    pub alert_min_severity: String,
    /// Exit 1 when open findings at or above this severity exist.
    pub fail_on: Option<String>,
    /// With `fail_on`: count new findings only.
    pub fail_on_new: bool,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// A broken or failing check is recorded and the run publishes the others.
    pub keep_going: bool,
    /// Query engine threads: how many queries of a stage run side by side (up to
    /// four, each over the remaining threads) or, under a memory limit, the
    /// partitions of the one query running (the binary also sizes its runtime
    /// with it). None: one per core.
    pub threads: Option<usize>,
    /// Bytes of DataFusion's memory pool (a fair spill pool); sorts, aggregations
    /// and (sort-merge) joins spill beyond it. With a limit the layers (existing,
    /// clean, flagged and shared rows) are written as Parquet beside the outputs
    /// instead of held in memory. None: unbounded, layers in memory.
    pub memory_limit: Option<usize>,
    /// Where spill files go (default with a memory limit: `<out>/_spill`).
    pub spill_dir: Option<PathBuf>,
    /// Keep each check's executed physical plan with its metrics (EXPLAIN ANALYZE).
    pub explain: bool,
    /// Where the SQL executes: the embedded engine or a Ballista cluster.
    pub engine: Engine,
}

impl RunOptions {
    /// Options for `revleak run SNAPSHOT --out OUT` with every default.
    pub fn new(snapshot: impl Into<PathBuf>, out: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            snapshot: snapshot.into(),
            out: out.into(),
            as_of: None,
            config: ConfigFile::default(),
            sets: Vec::new(),
            only: Vec::new(),
            queries: PathBuf::from("queries"),
            strict: false,
            partner_reports: false,
            dispositions: None,
            alert_min_severity: "high".into(),
            fail_on: None,
            fail_on_new: false,
            progress: false,
            keep_going: false,
            threads: None,
            memory_limit: None,
            spill_dir: None,
            explain: false,
            engine: Engine::Local,
        }
    }
}

/// New, recurring and resolved findings against the previous run.
#[derive(Debug, Clone, Default, Serialize)]
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
#[derive(Debug, Clone, Default, Serialize)]
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

/// Per input table: where it came from and what became of its rows.
#[derive(Debug, Clone, Serialize)]
pub struct TableStats {
    pub table: String,
    /// The raw file(s) its staging view reads.
    pub path: Option<String>,
    /// The staging view that builds it.
    pub staging: String,
    /// The raw tables (`system/name`) the staging view reads.
    pub raw_tables: Vec<String>,
    pub files: usize,
    pub bytes: u64,
    /// Rows its staging view returned (the canonical rows).
    pub rows_read: u64,
    /// Dated after as_of: not part of this run.
    pub rows_after_as_of: u64,
    pub rows_passed: u64,
    pub rows_flagged: u64,
    pub missing: bool,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct QueryFile {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
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
    pub fail_on: Option<String>,
    pub failing_findings: usize,
    /// The report's figures beyond the findings (the partner figures are in
    /// `partner_figures/`).
    pub figures: crate::scorecard::FiguresMeta,
}

/// What a finished run reports back to the caller.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub manifest: Manifest,
    pub published: Vec<PathBuf>,
    /// With `explain`: per check run, its executed physical plan with metrics.
    pub explain: Vec<CheckPlan>,
}

/// One check's executed physical plan, annotated with rows, times and spills.
#[derive(Debug, Clone, Serialize)]
pub struct CheckPlan {
    pub check_id: String,
    pub millis: u128,
    pub rows: usize,
    pub plan: String,
}

impl RunReport {
    /// Whether `--fail-on` findings exist: the scheduler's exit code 1.
    pub fn threshold_met(&self) -> bool {
        self.manifest.fail_on.is_some() && self.manifest.failing_findings > 0
    }

    /// Checks that failed under `--keep-going`.
    pub fn failed_checks(&self) -> Vec<&CheckOutcome> {
        self.manifest
            .checks
            .iter()
            .filter(|c| c.failed.is_some())
            .collect()
    }
}

/// What [`prepare`] leaves for the checks.
pub struct Prepared {
    /// Per input table: rows read, after as_of, passed and flagged.
    pub inputs: Vec<TableStats>,
    /// The shared views built so far (the daily rates) and their input tables.
    pub shared_deps: SharedDeps,
    /// The other shared view files, built with the checks by [`build_and_check`].
    pub pending_shared: Vec<PathBuf>,
}

/// Builds the as-of and data-quality layers and the daily rates over the
/// registered staging views.
pub async fn prepare(
    ctx: &SessionContext,
    snapshot: &Snapshot,
    staging: &Staging,
    queries: &Path,
    layers: &Layers,
) -> Result<Prepared> {
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    for layer in LAYERS.iter().filter(|l| catalog.schema(l).is_none()) {
        catalog
            .register_schema(layer, Arc::new(MemorySchemaProvider::new()))
            .map_err(|e| Error::exec("registering schemas", e))?;
    }
    let started = Instant::now();

    // Independent queries of one stage run side by side when the CPU has room.
    let width = concurrency(ctx);
    // Every rule and check reads the rows that exist as of as_of many times:
    // read the snapshot once and keep them.
    let reads = TABLES.iter().map(|table| {
        let ctx = ctx.clone();
        let layers = layers.clone();
        Box::pin(async move {
            materialize_sql(
                &ctx,
                &format!("existing.{}", table.name),
                &quality::existing_sql(table),
                &layers,
            )
            .await
        }) as Job<Result<()>>
    });
    // The biggest files first, so that the stage does not end on one of them alone.
    let raw_bytes = |table: &crate::contract::Table| -> u64 {
        staging.of(table).map_or(0, |s| {
            s.reads
                .iter()
                .filter_map(|r| snapshot.table(r))
                .map(|r| r.bytes)
                .sum()
        })
    };
    let bytes: Vec<usize> = TABLES.iter().map(|t| raw_bytes(t) as usize).collect();
    for done in run_costliest_first(reads.collect(), &bytes, width).await {
        done?;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        "snapshot read as of as_of"
    );

    // The currency a payment or posting must be in needs only the existing
    // invoices and deals: built beside the steps up to the daily rates, which
    // are small and leave a core idle (one step after the other under a
    // memory limit).
    let invoice_currency = {
        let (ctx, layers) = (ctx.clone(), layers.clone());
        let build = async move {
            materialize_sql(
                &ctx,
                quality::INVOICE_CURRENCY,
                quality::INVOICE_CURRENCY_SQL,
                &layers,
            )
            .await
        };
        if width > 1 {
            tokio::spawn(build)
        } else {
            build.await?;
            tokio::spawn(async { Ok(()) })
        }
    };

    // Pass 1: fx_rates, which the daily rates need before any other table can be checked.
    let mut issues = RowIssues::new(layers.clone());
    let counted = count_duplicate_keys(ctx, layers, width).await?;
    let duplicates = match counted {
        true => quality::DuplicateKeys::Counted,
        false => quality::DuplicateKeys::Grouped,
    };
    for table in quality::first_pass() {
        issues
            .add(ctx, &quality::issues_sql(table, false, duplicates), table)
            .await?;
    }
    issues.register(ctx).await?;
    for table in quality::first_pass() {
        split_layers(ctx, table, layers).await?;
    }
    let shared_dir = queries.join("shared");
    let fx_path = shared_dir.join("fx_daily.sql");
    tracing::debug!(ms = started.elapsed().as_millis(), "fx_rates cleaned");
    let mut shared_deps = SharedDeps::new();
    materialize_file(ctx, "shared.fx_daily", &fx_path, &mut shared_deps, layers).await?;
    tracing::debug!(ms = started.elapsed().as_millis(), "daily rates built");
    materialize_sql(
        ctx,
        "quality.fx_first_rate",
        quality::FX_FIRST_RATE_SQL,
        layers,
    )
    .await?;
    joined(invoice_currency.await)?;
    register_partner_cycles(ctx).await?;

    // Pass 2: every other table.
    let mut planned = Vec::new();
    for table in quality::second_pass() {
        planned.push(
            RowIssues::plan(ctx, &quality::issues_sql(table, true, duplicates), table).await?,
        );
    }
    issues.add_all(planned, width).await?;
    issues.register(ctx).await?;
    tracing::debug!(ms = started.elapsed().as_millis(), "data-quality rules run");
    let splits = quality::second_pass().map(|table| {
        let ctx = ctx.clone();
        let layers = layers.clone();
        Box::pin(async move { split_layers(&ctx, table, &layers).await }) as Job<Result<()>>
    });
    let mut rows = Vec::new();
    for table in quality::second_pass() {
        rows.push(layer_rows(ctx, &format!("existing.{}", table.name)).await);
    }
    for done in run_costliest_first(splits.collect(), &rows, width).await {
        done?;
    }
    tracing::debug!(
        ms = started.elapsed().as_millis(),
        "clean and flagged layers built"
    );
    // The other shared views are built beside the checks (see `build_and_check`).
    let pending: Vec<PathBuf> = sql_files(&shared_dir)?
        .into_iter()
        .filter(|p| *p != fx_path)
        .collect();
    // One query for every table (one job on a cluster), not two per table.
    let counts = count_all(ctx).await?;
    let mut stats = Vec::new();
    for table in TABLES {
        let staged = staging.of(table).expect("every contract table is staged");
        let raw: Vec<&crate::snapshot::RawTable> = staged
            .reads
            .iter()
            .filter_map(|r| snapshot.table(r))
            .collect();
        let (staged_rows, existing, passed) = counts.get(table.name).copied().unwrap_or((0, 0, 0));
        let path = match raw.as_slice() {
            [] => None,
            [one] => Some(one.location.display().to_string()),
            many => Some(
                many.iter()
                    .map(|r| r.location.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        stats.push(TableStats {
            table: table.qualified(),
            path,
            staging: staged.file.display().to_string(),
            raw_tables: staged.reads.clone(),
            files: raw.iter().map(|r| r.files.len()).sum(),
            bytes: raw.iter().map(|r| r.bytes).sum(),
            rows_read: staged_rows,
            rows_after_as_of: staged_rows.saturating_sub(existing),
            rows_passed: passed,
            rows_flagged: existing - passed,
            missing: staged.missing(),
        });
    }
    Ok(Prepared {
        inputs: stats,
        shared_deps,
        pending_shared: pending,
    })
}

/// How [`prepare`] keeps each layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layers {
    /// Computed once into memory: every later query reads the result.
    Materialized,
    /// Written once as Parquet under `dir` and read back. On a cluster (which can
    /// only scan files, and whose executors must all reach `dir`): the
    /// data-quality issues, clean rows and shared views; existing and flagged
    /// rows are views over them and the snapshot. The embedded engine under a
    /// memory limit (`embedded`) writes the existing, clean, flagged and shared
    /// rows and keeps the few data-quality issue rows in memory.
    Files { dir: PathBuf, embedded: bool },
}

/// With the existing rows in memory, counts each table's repeated primary keys
/// outside the engine ([`quality::duplicate_keys`], `width` tables at a time)
/// into [`quality::duplicate_keys_table`]; returns whether it did. Rows kept as
/// files (a cluster, a memory limit) are counted by the rules' own grouping,
/// which can spill.
async fn count_duplicate_keys(ctx: &SessionContext, layers: &Layers, width: usize) -> Result<bool> {
    if !matches!(layers, Layers::Materialized) {
        return Ok(false);
    }
    let mut jobs = Vec::new();
    let mut rows = Vec::new();
    for table in TABLES {
        let name = format!("existing.{}", table.name);
        let df = ctx
            .table(name.as_str())
            .await
            .map_err(|e| Error::exec(name.clone(), e))?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df
            .collect()
            .await
            .map_err(|e| Error::exec(name.clone(), e))?;
        rows.push(batches.iter().map(|b| b.num_rows()).sum());
        jobs.push(Box::pin(async move {
            let counted = tokio::task::spawn_blocking(move || {
                quality::duplicate_keys(&schema, &batches, table.primary_key)
            })
            .await
            .map_err(|e| {
                Error::exec(
                    name.clone(),
                    datafusion::error::DataFusionError::External(e.into()),
                )
            })?
            .map_err(|e| Error::exec(name.clone(), e))?;
            Ok((table, counted))
        })
            as Job<Result<(&'static crate::contract::Table, RecordBatch)>>);
    }
    for done in run_costliest_first(jobs, &rows, width).await {
        let (table, counted) = done?;
        let name = quality::duplicate_keys_table(table);
        let _ = ctx.deregister_table(name.as_str());
        let memory =
            datafusion::datasource::MemTable::try_new(counted.schema(), vec![vec![counted]])
                .map_err(|e| Error::exec(name.clone(), e))?;
        ctx.register_table(name.as_str(), Arc::new(memory))
            .map_err(|e| Error::exec(name, e))?;
    }
    Ok(true)
}

/// `quality.row_issues` as it grows pass by pass: collected batches, or the
/// union of the rule queries.
struct RowIssues {
    layers: Layers,
    batches: Vec<RecordBatch>,
    queries: Vec<datafusion::dataframe::DataFrame>,
    passes: usize,
}

impl RowIssues {
    fn new(layers: Layers) -> RowIssues {
        RowIssues {
            layers,
            batches: Vec::new(),
            queries: Vec::new(),
            passes: 0,
        }
    }

    async fn add(
        &mut self,
        ctx: &SessionContext,
        rules: &str,
        table: &crate::contract::Table,
    ) -> Result<()> {
        let planned = RowIssues::plan(ctx, rules, table).await?;
        self.add_all(vec![planned], 1).await
    }

    /// The rules of one table as a query of the row_issues shape, with the
    /// context its errors carry.
    async fn plan(
        ctx: &SessionContext,
        rules: &str,
        table: &crate::contract::Table,
    ) -> Result<(String, datafusion::dataframe::DataFrame)> {
        let context = format!("data quality rules of {}", table.qualified());
        let sql = format!(
            "select arrow_cast(table_name, 'Utf8') as table_name, \
             arrow_cast(row_key, 'Utf8') as row_key, arrow_cast(problems, 'Utf8') as problems \
             from ({rules}) rules"
        );
        let df = ctx
            .sql(&sql)
            .await
            .map_err(|e| Error::exec(context.clone(), e))?;
        Ok((context, df))
    }

    /// Runs the planned rules (`width` tables at a time) or keeps them for the
    /// union a cluster writes.
    async fn add_all(
        &mut self,
        planned: Vec<(String, datafusion::dataframe::DataFrame)>,
        width: usize,
    ) -> Result<()> {
        if let Layers::Files {
            embedded: false, ..
        } = self.layers
        {
            self.queries.extend(planned.into_iter().map(|(_, df)| df));
            return Ok(());
        }
        let costs: Vec<usize> = planned
            .iter()
            .map(|(_, df)| rows_scanned(df.logical_plan()))
            .collect();
        let jobs = planned.into_iter().map(|(context, df)| {
            Box::pin(async move {
                let t = Instant::now();
                let found = df
                    .collect()
                    .await
                    .map_err(|e| Error::exec(context.clone(), e))?
                    .into_iter()
                    .map(|batch| {
                        RecordBatch::try_new(row_issues_schema(), batch.columns().to_vec())
                            .map_err(|e| Error::exec(context.clone(), e.into()))
                    })
                    .collect::<Result<Vec<_>>>();
                let ms = t.elapsed().as_millis() as u64;
                tracing::debug!(ms, "{context}");
                found
            }) as Job<Result<Vec<RecordBatch>>>
        });
        for found in run_costliest_first(jobs.collect(), &costs, width).await {
            self.batches.extend(found?);
        }
        Ok(())
    }

    async fn register(&mut self, ctx: &SessionContext) -> Result<()> {
        let context = || "quality.row_issues".to_string();
        let _ = ctx.deregister_table("quality.row_issues");
        match &self.layers {
            Layers::Materialized | Layers::Files { embedded: true, .. } => {
                let table = datafusion::datasource::MemTable::try_new(
                    row_issues_schema(),
                    vec![self.batches.clone()],
                )
                .map_err(|e| Error::exec(context(), e))?;
                ctx.register_table("quality.row_issues", Arc::new(table))
                    .map_err(|e| Error::exec(context(), e))?;
            }
            Layers::Files { .. } => {
                let mut queries = self.queries.iter().cloned();
                let first = queries.next().expect("the first pass has rules");
                let all = queries
                    .try_fold(first, |all, next| all.union(next))
                    .map_err(|e| Error::exec(context(), e))?;
                self.passes += 1;
                let name = format!("quality.row_issues_{}", self.passes);
                keep(ctx, &name, all, &context(), &self.layers).await?;
                let view = ctx
                    .table(name.as_str())
                    .await
                    .map_err(|e| Error::exec(context(), e))?
                    .into_view();
                ctx.register_table("quality.row_issues", view)
                    .map_err(|e| Error::exec(context(), e))?;
            }
        }
        Ok(())
    }
}

fn row_issues_schema() -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("row_key", DataType::Utf8, false),
        Field::new("problems", DataType::Utf8, true),
    ]))
}

/// `quality.partner_cycles`: the partners whose parent chain comes back to them.
/// The chains are walked here rather than by a recursive query, which a
/// cluster cannot run; the result is a literal table either way.
async fn register_partner_cycles(ctx: &SessionContext) -> Result<()> {
    let context = || "quality.partner_cycles".to_string();
    let edges = ctx
        .sql(
            "select arrow_cast(partner_id, 'Utf8') as partner_id, \
             arrow_cast(parent_partner_id, 'Utf8') as parent_partner_id \
             from existing.partners where partner_id is not null and parent_partner_id is not null",
        )
        .await
        .map_err(|e| Error::exec(context(), e))?
        .collect()
        .await
        .map_err(|e| Error::exec(context(), e))?;
    use datafusion::arrow::array::AsArray;
    let mut parents: Vec<(String, String)> = Vec::new();
    for batch in &edges {
        let child = batch.column(0).as_string::<i32>();
        let parent = batch.column(1).as_string::<i32>();
        for i in 0..batch.num_rows() {
            parents.push((child.value(i).to_string(), parent.value(i).to_string()));
        }
    }
    let cycles = quality::partners_in_cycles(&parents);
    let batch = RecordBatch::try_new(
        Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new(
                "partner_id",
                datafusion::arrow::datatypes::DataType::Utf8,
                true,
            ),
        ])),
        vec![Arc::new(datafusion::arrow::array::StringArray::from(
            cycles,
        ))],
    )
    .map_err(|e| Error::exec(context(), e.into()))?;
    let plan = literal_plan(&batch).map_err(|e| Error::exec(context(), e))?;
    ctx.register_table(
        "quality.partner_cycles",
        datafusion::dataframe::DataFrame::new(ctx.state(), plan).into_view(),
    )
    .map_err(|e| Error::exec(context(), e))?;
    Ok(())
}

async fn materialize_sql(
    ctx: &SessionContext,
    name: &str,
    sql: &str,
    layers: &Layers,
) -> Result<()> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::exec(name.to_string(), e))?;
    keep(ctx, name, df, name, layers).await
}

/// `clean.<table>` and `flagged.<table>`: in memory from one pass, or on a
/// cluster the clean rows written and the flagged ones a view.
async fn split_layers(
    ctx: &SessionContext,
    table: &crate::contract::Table,
    layers: &Layers,
) -> Result<()> {
    if let Layers::Materialized = layers {
        return materialize_split(ctx, table).await;
    }
    for (layer, keep_flagged) in [("clean", false), ("flagged", true)] {
        let name = format!("{layer}.{}", table.name);
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let sql = format!(
            "select {} from ({}) split where {}{}",
            columns.join(", "),
            quality::split_sql(table),
            if keep_flagged { "" } else { "not " },
            quality::FLAGGED_COLUMN
        );
        materialize_sql(ctx, &name, &sql, layers).await?;
    }
    Ok(())
}

/// `clean.<table>` and `flagged.<table>` from the existing rows in memory: a
/// batch without a flagged row (most) goes to `clean` as it is, shared, not
/// copied; the others are divided ([`quality::FlaggedKeys`]).
async fn materialize_split(ctx: &SessionContext, table: &crate::contract::Table) -> Result<()> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::compute::{filter_record_batch, not};
    let context = format!("clean.{0} and flagged.{0}", table.name);
    let failed = |e: datafusion::error::DataFusionError| Error::exec(context.clone(), e);
    let flagged_keys = ctx
        .sql(&format!(
            "select row_key from quality.row_issues where table_name = '{}'",
            table.qualified()
        ))
        .await
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    let flagged_keys = quality::FlaggedKeys::new(
        table,
        flagged_keys.iter().flat_map(|batch| {
            batch
                .column(0)
                .as_string::<i32>()
                .iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        }),
    );
    let existing = ctx
        .table(format!("existing.{}", table.name).as_str())
        .await
        .map_err(failed)?;
    // the contract's columns, in its order, as the layers have always had them
    let existing_schema = existing.schema().as_arrow().clone();
    let columns_at = table
        .columns
        .iter()
        .map(|c| existing_schema.index_of(c.name))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| failed(e.into()))?;
    let schema = Arc::new(
        existing_schema
            .project(&columns_at)
            .map_err(|e| failed(e.into()))?,
    );
    let key_at = table
        .primary_key
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| failed(e.into()))?;
    let mut clean = Vec::new();
    let mut flagged = Vec::new();
    for partition in existing.collect_partitioned().await.map_err(failed)? {
        let (mut passed, mut bad) = (Vec::new(), Vec::new());
        for batch in partition {
            let batch = batch.project(&columns_at).map_err(|e| failed(e.into()))?;
            let keys: Vec<_> = key_at.iter().map(|&i| batch.column(i).clone()).collect();
            let divided = (|| match flagged_keys.flags(&keys)? {
                None => Ok::<_, datafusion::arrow::error::ArrowError>((batch.clone(), None)),
                Some(flag) => Ok((
                    filter_record_batch(&batch, &not(&flag)?)?,
                    Some(filter_record_batch(&batch, &flag)?),
                )),
            })();
            let (p, b) = divided.map_err(|e| failed(e.into()))?;
            passed.push(p);
            bad.extend(b);
        }
        clean.push(passed);
        flagged.push(bad);
    }
    let width = ctx.state().config().target_partitions();
    let (clean, flagged) = (
        checks::balanced(clean, width),
        checks::balanced(flagged, width),
    );
    for (layer, partitions) in [("clean", clean), ("flagged", flagged)] {
        let mem = datafusion::datasource::MemTable::try_new(schema.clone(), partitions)
            .map_err(failed)?;
        ctx.register_table(format!("{layer}.{}", table.name), Arc::new(mem))
            .map_err(failed)?;
    }
    Ok(())
}

/// The rows of the in-memory table `name` (0 for files and views).
async fn layer_rows(ctx: &SessionContext, name: &str) -> usize {
    match ctx.table(name).await {
        Ok(df) => rows_scanned(df.logical_plan()),
        Err(_) => 0,
    }
}

/// A rough cost of a query: the rows of the in-memory tables it scans, each
/// time it scans them (0 for files and views, as on a cluster).
fn rows_scanned(plan: &datafusion::logical_expr::LogicalPlan) -> usize {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::LogicalPlan;
    let mut rows = 0;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider = datafusion::datasource::source_as_provider(&scan.source).ok();
            if let Some(table) = provider.as_ref().and_then(|p| {
                (p.as_ref() as &dyn std::any::Any)
                    .downcast_ref::<datafusion::datasource::MemTable>()
            }) {
                for partition in &table.batches {
                    if let Ok(batches) = partition.try_read() {
                        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
                    }
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    rows
}

async fn materialize_file(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    deps: &mut SharedDeps,
    layers: &Layers,
) -> Result<()> {
    let df = plan_file(ctx, name, path, deps).await?;
    keep(ctx, name, df, &path.display().to_string(), layers).await
}

/// Plans the shared view `name` from `path` and records the tables it needs.
async fn plan_file(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    deps: &mut SharedDeps,
) -> Result<datafusion::dataframe::DataFrame> {
    let sql = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let df = ctx
        .sql(&sql)
        .await
        .map_err(|e| Error::Queries(vec![crate::error::located(path, &e)]))?;
    let needs = input_tables(&checks::scanned_tables(df.logical_plan()), deps);
    deps.insert(name.to_string(), needs);
    Ok(df)
}

/// Registers a layer table under `name`: computed now into memory, or on a
/// cluster written as Parquet (issues, shared views) or kept as a view.
async fn keep(
    ctx: &SessionContext,
    name: &str,
    df: datafusion::dataframe::DataFrame,
    context: &str,
    layers: &Layers,
) -> Result<()> {
    let failed = |e| Error::exec(context.to_string(), e);
    match layers {
        Layers::Materialized => checks::materialize(ctx, name, df, context).await,
        // Written: what many queries read, and what keeps their plans shallow
        // enough to travel (a plan is sent nested, and its decoder stops at
        // 100 levels). The embedded engine (under a memory limit) writes the
        // as-of and flagged rows too: as views, every rule would filter the
        // snapshot again, and every query over flagged rows would sort its way
        // through the split of each table at once.
        Layers::Files { embedded, .. }
            if !["shared.", "quality.", "clean."]
                .iter()
                .chain(if *embedded {
                    &["existing.", "flagged."][..]
                } else {
                    &[]
                })
                .any(|p| name.starts_with(p)) =>
        {
            ctx.register_table(name, df.into_view())
                .map(|_| ())
                .map_err(failed)
        }
        Layers::Files { dir: root, .. } => {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let schema = df.schema().as_arrow().clone();
            // One writing task: Ballista runs the sink once per partition of its
            // stage, and a sink writes every input partition, so a layer built
            // from several partitions would be written several times over.
            let df = df
                .repartition(datafusion::logical_expr::Partitioning::RoundRobinBatch(1))
                .map_err(failed)?;
            df.write_parquet(
                dir.to_str().expect("the work folder is a UTF-8 path"),
                datafusion::dataframe::DataFrameWriteOptions::new(),
                None,
            )
            .await
            .map_err(failed)?;
            let location = format!("{}/", dir.display());
            ctx.register_parquet(
                name,
                &location,
                datafusion::prelude::ParquetReadOptions {
                    schema: Some(&schema),
                    ..Default::default()
                },
            )
            .await
            .map_err(failed)
        }
    }
}

/// What became of one check in [`build_and_check`].
enum CheckRun {
    /// Its SQL does not plan or lacks a column: the problems, located.
    Broken(Vec<String>),
    /// Not run: a table it reads is missing from the snapshot (the reason).
    Skipped(String),
    /// Run: its findings (and plan with `--explain`) or its error, and its milliseconds.
    Ran(Result<(Vec<RecordBatch>, Option<String>)>, u128),
}

/// A shared view or a check, once the shared views it reads are built.
enum Task {
    Shared { name: String, path: PathBuf },
    Check(usize),
}

/// What a finished [`Task`] hands back.
enum Finished {
    Shared(String, Result<()>),
    Check(usize, Result<(Vec<RecordBatch>, Option<String>)>, u128),
}

/// The `shared.*` tables `sql` names (none when it does not parse: planning
/// reports that).
fn shared_tables_named(ctx: &SessionContext, sql: &str) -> BTreeSet<String> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(statement) = state.sql_to_statement(sql, &dialect) else {
        return BTreeSet::new();
    };
    state
        .resolve_table_references(&statement)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.schema() == Some("shared"))
        .map(|t| format!("shared.{}", t.table()))
        .collect()
}

/// Builds the `shared` view files not built yet and runs `checks`, as one graph:
/// each starts once the shared views it names are built, at most
/// [`concurrency`] at a time. Shared views go first (checks wait on them), then
/// the checks that scan the most rows, so that no long check is left to run
/// alone at the end; a check never waits for a view it does not read.
/// A broken check is reported with the others; once one is found (without
/// `--keep-going`) the remaining checks are only planned, not run.
#[allow(clippy::too_many_arguments)]
async fn build_and_check(
    ctx: &SessionContext,
    layers: &Layers,
    shared: Vec<PathBuf>,
    deps: &mut SharedDeps,
    checks: &[CheckFile],
    missing: &BTreeSet<String>,
    opts: &RunOptions,
    bar: &indicatif::ProgressBar,
    clock: Instant,
) -> Result<Vec<CheckRun>> {
    let width = concurrency(ctx);
    let mut unbuilt: BTreeSet<String> = BTreeSet::new();
    // (task, the shared views it names)
    let mut waiting: Vec<(Task, BTreeSet<String>)> = Vec::new();
    for path in shared {
        let sql = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let name = format!("shared.{stem}");
        let mut names = shared_tables_named(ctx, &sql);
        names.remove(&name);
        unbuilt.insert(name.clone());
        waiting.push((Task::Shared { name, path }, names));
    }
    for (index, check) in checks.iter().enumerate() {
        waiting.push((Task::Check(index), shared_tables_named(ctx, &check.sql)));
    }
    let mut runs: Vec<Option<CheckRun>> = checks.iter().map(|_| None).collect();
    // (priority, job): shared views above every check
    let mut queued: Vec<(usize, Job<Finished>)> = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    let mut failure: Option<Error> = None;
    let mut broken = false;
    loop {
        let (ready, blocked): (Vec<_>, Vec<_>) = std::mem::take(&mut waiting)
            .into_iter()
            .partition(|(_, names)| names.is_disjoint(&unbuilt));
        waiting = blocked;
        for (task, _) in ready {
            match task {
                Task::Shared { name, path } => match plan_file(ctx, &name, &path, deps).await {
                    Ok(df) => {
                        let (ctx, layers) = (ctx.clone(), layers.clone());
                        queued.push((
                            usize::MAX,
                            Box::pin(async move {
                                let context = path.display().to_string();
                                let built = keep(&ctx, &name, df, &context, &layers).await;
                                Finished::Shared(name, built)
                            }),
                        ));
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                },
                Task::Check(index) => {
                    let check = &checks[index];
                    let df = match checks::plan(ctx, check).await {
                        Ok(df) => df,
                        Err(problems) => {
                            broken = true;
                            bar.inc(1);
                            runs[index] = Some(CheckRun::Broken(problems));
                            continue;
                        }
                    };
                    let needs = input_tables(&checks::scanned_tables(df.logical_plan()), deps);
                    let absent: Vec<&str> =
                        needs.intersection(missing).map(|s| s.as_str()).collect();
                    if !absent.is_empty() && check.id != checks::DATA_QUALITY {
                        bar.inc(1);
                        runs[index] = Some(CheckRun::Skipped(format!(
                            "missing input table(s): {}",
                            absent.join(", ")
                        )));
                        continue;
                    }
                    let cost = rows_scanned(df.logical_plan());
                    let (ctx, check, bar, explain) =
                        (ctx.clone(), check.clone(), bar.clone(), opts.explain);
                    queued.push((
                        cost,
                        Box::pin(async move {
                            bar.set_message(check.id.clone());
                            let t = Instant::now();
                            let result = checks::execute_explained(&ctx, &check, df, explain).await;
                            bar.inc(1);
                            Finished::Check(index, result, t.elapsed().as_millis())
                        }),
                    ));
                }
            }
        }
        // Stable: equal priorities start in file order.
        queued.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
        if failure.is_none() {
            let mut kept = Vec::new();
            for (priority, job) in std::mem::take(&mut queued) {
                let is_check = priority != usize::MAX;
                if running.len() >= width.max(1) || (is_check && broken && !opts.keep_going) {
                    kept.push((priority, job));
                } else {
                    running.spawn(job);
                }
            }
            queued = kept;
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        match joined(finished) {
            Finished::Shared(name, Ok(())) => {
                unbuilt.remove(&name);
                if unbuilt.is_empty() {
                    tracing::debug!(
                        ms = clock.elapsed().as_millis() as u64,
                        "shared views built"
                    );
                }
            }
            Finished::Shared(_, Err(e)) => {
                failure.get_or_insert(e);
            }
            Finished::Check(index, result, millis) => {
                runs[index] = Some(CheckRun::Ran(result, millis));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !waiting.is_empty() {
        // Nothing runs and these still wait: shared views that name one another
        // in a loop. Planning them says which tables are missing.
        let mut errors = Vec::new();
        for (task, _) in waiting {
            if let Task::Shared { name, path } = task
                && let Err(e) = plan_file(ctx, &name, &path, deps).await
            {
                match e {
                    Error::Queries(messages) => errors.extend(messages),
                    other => return Err(other),
                }
            }
        }
        return Err(Error::Queries(errors));
    }
    // A check left without a run was held back because another one is broken:
    // the run stops on that one's problems and publishes nothing.
    Ok(runs
        .into_iter()
        .map(|run| {
            run.unwrap_or_else(|| CheckRun::Skipped("not run: another check file is broken".into()))
        })
        .collect())
}

/// For each materialized shared view, the contract tables it was built from:
/// a check reading `shared.invoice_balances` needs billing/credit_notes too.
pub type SharedDeps = std::collections::HashMap<String, BTreeSet<String>>;

/// The contract tables behind the tables a query scans, through shared views.
fn input_tables(scanned: &BTreeSet<String>, deps: &SharedDeps) -> BTreeSet<String> {
    let mut needs = BTreeSet::new();
    // flagged.* only keeps a check silent where a bad row touches an entity:
    // an absent table flags nothing, so it is not a need.
    for table in scanned.iter().filter(|t| !t.starts_with("flagged.")) {
        match deps.get(table) {
            Some(inner) => needs.extend(inner.iter().cloned()),
            None => needs.extend(contract_table_of(table)),
        }
    }
    needs
}

/// Rows of every `staging.*`, `existing.*` and `clean.*` table, by table name, in one query.
async fn count_all(
    ctx: &SessionContext,
) -> Result<std::collections::HashMap<String, (u64, u64, u64)>> {
    let sql = TABLES
        .iter()
        .map(|t| {
            format!(
                "select '{n}' as name, s.n as staged, e.n as existing, c.n as passed \
                 from (select count(*) as n from staging.{n}) s \
                 cross join (select count(*) as n from existing.{n}) e \
                 cross join (select count(*) as n from clean.{n}) c",
                n = t.name
            )
        })
        .collect::<Vec<_>>()
        .join(" union all ");
    let failed = |e| Error::exec("counting rows of the layers", e);
    let batches = ctx
        .sql(&sql)
        .await
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)?;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let mut counts = std::collections::HashMap::new();
    for batch in &batches {
        let names = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| failed(e.into()))?;
        let names = names.as_string::<i32>();
        let staged = batch.column(1).as_primitive::<Int64Type>();
        let existing = batch.column(2).as_primitive::<Int64Type>();
        let passed = batch.column(3).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            counts.insert(
                names.value(i).to_string(),
                (
                    staged.value(i) as u64,
                    existing.value(i) as u64,
                    passed.value(i) as u64,
                ),
            );
        }
    }
    Ok(counts)
}

/// `*.sql` files of a folder, sorted; none when the folder does not exist.
pub fn sql_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("sql"))
        .collect();
    files.sort();
    Ok(files)
}

/// Maps a scanned table name to the contract table it stands for, if any.
fn contract_table_of(scanned: &str) -> Option<String> {
    let (schema, name) = scanned.split_once('.')?;
    let layer_or_system = LAYERS.contains(&schema) || TABLES.iter().any(|t| t.system == schema);
    if !layer_or_system {
        return None;
    }
    TABLES
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.qualified())
}

/// The engine settings of a run: a memory limit spills under `<out>/_spill`
/// unless told where.
fn engine_settings(opts: &RunOptions) -> EngineSettings {
    let spill_dir = match (&opts.spill_dir, opts.memory_limit) {
        (Some(dir), _) => Some(dir.clone()),
        (None, Some(_)) => Some(opts.out.join("_spill")),
        (None, None) => None,
    };
    EngineSettings {
        threads: opts.threads,
        memory_limit: opts.memory_limit,
        spill_dir,
    }
}

pub async fn run(opts: &RunOptions) -> Result<RunReport> {
    let started = Utc::now();
    let clock = Instant::now();
    // Every executor must find the files at the paths the plan names.
    let snapshot_root = match &opts.engine {
        Engine::Local => opts.snapshot.clone(),
        Engine::Ballista { .. } => {
            std::fs::canonicalize(&opts.snapshot).map_err(|e| Error::io(&opts.snapshot, e))?
        }
    };
    let snapshot = Snapshot::open(&snapshot_root, &opts.config.csv_formats()?)?;
    // One run per output folder at a time, taken before any work so a second
    // run started meanwhile stops at once with a clear message.
    let _lock = OutputLock::acquire(&opts.out)?;
    publish::recover(&opts.out)?;
    for file in publish::upgrade_layout(&opts.out)? {
        tracing::info!(
            file = %file.display(),
            "moved as_of out of an earlier run's file into its partition path only"
        );
    }
    let params = Params::resolve(&opts.config, &opts.sets, opts.as_of, snapshot.as_of)?;
    let as_of = params.as_of();
    let run_id = format!(
        "{}-{:08x}",
        started.format("%Y%m%dT%H%M%SZ"),
        std::process::id() ^ started.timestamp_subsec_nanos()
    );

    let mut warnings = Vec::new();

    let mut all_checks = checks::discover(&opts.queries.join("checks"))?;
    if !opts.only.is_empty() {
        for id in &opts.only {
            if !all_checks.iter().any(|c| &c.id == id) {
                return Err(Error::Config(format!(
                    "--only {id}: no check file {}",
                    opts.queries
                        .join("checks")
                        .join(format!("{id}.sql"))
                        .display()
                )));
            }
        }
        all_checks.retain(|c| opts.only.contains(&c.id));
    }

    let engine = engine_settings(opts);
    // Created by session_with when needed; removed (if left empty) after the engine.
    let _spill_guard = RemoveDirOnDrop(
        engine
            .spill_dir
            .as_ref()
            .filter(|_| opts.spill_dir.is_none())
            .cloned(),
    );
    // Beside the outputs, removed with the run; a killed run's is removed by the
    // next run's recovery (`_tmp-*` without a journal).
    let layer_files = |embedded| -> Result<Layers> {
        let out = std::fs::canonicalize(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
        Ok(Layers::Files {
            dir: out.join(format!("_tmp-{run_id}-layers")),
            embedded,
        })
    };
    let (ctx, layers) = match &opts.engine {
        // Under a memory limit the layers go to disk too: in memory they would sit
        // outside the pool for the whole run (most of the RSS at scale 50).
        Engine::Local if engine.memory_limit.is_some() => {
            (session_with(&engine)?, layer_files(true)?)
        }
        Engine::Local => (session_with(&engine)?, Layers::Materialized),
        Engine::Ballista { scheduler } => (
            cluster_session(scheduler, &engine).await?,
            layer_files(false)?,
        ),
    };
    let _work_guard = RemoveDirOnDrop(match &layers {
        Layers::Files { dir, .. } => Some(dir.clone()),
        Layers::Materialized => None,
    });
    tracing::debug!(
        target_partitions = ctx.state().config().target_partitions(),
        memory_limit = opts.memory_limit.map(|b| b as u64),
        spill_dir = engine.spill_dir.as_ref().map(|d| d.display().to_string()),
        "query engine"
    );
    let mut explain: Vec<CheckPlan> = Vec::new();
    tracing::info!(
        raw_tables = snapshot.raw.len(),
        "loading snapshot {}",
        opts.snapshot.display()
    );
    // A cluster's executors cannot see this process's memory: CSV tables go to
    // Parquet beside the layers, which every executor reads.
    let csv_dir = match &layers {
        Layers::Files {
            dir,
            embedded: false,
        } => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            Some(dir.as_path())
        }
        _ => None,
    };
    register_params(&ctx, &params)?;
    snapshot.register(&ctx, csv_dir).await?;
    let staging = staging::register(&ctx, &snapshot, &opts.queries.join("staging")).await?;
    let missing: BTreeSet<String> = staging.missing().map(|s| s.table.qualified()).collect();
    for staged in staging.missing() {
        warnings.push(format!(
            "{}: table {} is missing: {} reads {}, which the snapshot does not hold; checks that read it are skipped",
            opts.snapshot.display(),
            staged.table.qualified(),
            staged.file.display(),
            staged.absent.join(", "),
        ));
    }
    if opts.strict && !missing.is_empty() {
        return Err(Error::Snapshot(warnings));
    }
    for raw in staging.unread(&snapshot) {
        warnings.push(format!(
            "{}: raw table {} ({} rows) is read by no staging view: its rows are not reconciled",
            raw.location.display(),
            raw.qualified(),
            raw.rows
        ));
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let loading = progress_bar(opts.progress, None, "loading and checking inputs");
    let Prepared {
        inputs,
        mut shared_deps,
        pending_shared,
    } = prepare(&ctx, &snapshot, &staging, &opts.queries, &layers)
        .await
        .map_err(|e| staging.explain(&snapshot, e))
        .map_err(|e| on_cluster(e, &opts.engine))?;
    loading.finish_and_clear();

    let mut batches: Vec<RecordBatch> = Vec::new();
    let bar = progress_bar(opts.progress, Some(all_checks.len() as u64), "checks");
    let runs = build_and_check(
        &ctx,
        &layers,
        pending_shared,
        &mut shared_deps,
        &all_checks,
        &missing,
        opts,
        &bar,
        clock,
    )
    .await
    .map_err(|e| on_cluster(e, &opts.engine))?;
    // Every broken file is reported together, and then nothing is published.
    let problems: Vec<String> = runs
        .iter()
        .filter_map(|run| match run {
            CheckRun::Broken(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    if !problems.is_empty() && !opts.keep_going {
        return Err(Error::Queries(problems));
    }
    let (partner_figures, figures_meta) = scorecard::compute(&ctx, &params).await;
    if let Some(failed) = &figures_meta.failed {
        warnings.push(format!(
            "the report's partner figures are not shown: {failed}"
        ));
    }
    // Recorded in the checks' order, so outcomes and findings do not depend on
    // which finished first.
    let mut outcomes = Vec::new();
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
            Err(e) if opts.keep_going => {
                let message = e.to_string();
                tracing::error!(check_id = %check.id, "check failed: {message}");
                warnings.push(format!("check {} failed: {message}", check.id));
                let mut failed = outcome(check, 0, Decimal::ZERO, millis, None);
                failed.failed = Some(message);
                outcomes.push(failed);
                continue;
            }
            Err(e) => return Err(on_cluster(e, &opts.engine)),
        };
        let rows = findings::row_count(&found);
        let leakage = findings::decimal_sum(&found, "leakage_amount");
        tracing::info!(check_id = %check.id, rows, ms = millis as u64, "check done");
        outcomes.push(outcome(check, rows, leakage, millis, None));
        batches.extend(found);
    }

    bar.finish_and_clear();

    // Publishing: lock, lifecycle against the previous run, write under _tmp, move into place.
    tracing::debug!(ms = clock.elapsed().as_millis() as u64, "checks run");
    let disposition_file = crate::dispositions::locate(opts.dispositions.as_deref(), &opts.out);
    let decisions = match &disposition_file {
        Some(path) => crate::dispositions::load(path)?,
        None => Default::default(),
    };
    let previous = findings::previous_run(&opts.out, as_of)?;
    let published_findings = findings::add_run_columns(
        &batches,
        &run_id,
        as_of,
        previous.as_ref().map(|p| &p.first_seen),
        &decisions,
    )?;
    // The findings are in memory here: summarized by the embedded engine.
    let summary = summarize(&session(), &published_findings).await?;
    let rows = findings::rows(&published_findings);
    let current: std::collections::HashSet<String> =
        rows.iter().map(|r| r.finding_id.clone()).collect();
    let resolved = match &previous {
        Some(p) => findings::resolved(p, &current, as_of)?,
        None => Vec::new(),
    };
    let mut lifecycle = Lifecycle {
        previous_as_of: previous.as_ref().map(|p| p.as_of),
        resolved: findings::row_count(&resolved),
        resolved_leakage: findings::decimal_sum(&resolved, "leakage_amount"),
        ..Default::default()
    };
    lifecycle.recovered_to_date =
        findings::recovered_before(&opts.out, as_of)? + lifecycle.resolved_leakage;
    let mut disposition_stats = DispositionStats {
        file: disposition_file.map(|p| p.display().to_string()),
        ..Default::default()
    };
    let alert_rank = findings::severity_rank(&opts.alert_min_severity);
    let fail_rank = opts.fail_on.as_deref().map(findings::severity_rank);
    let mut alerts = Vec::new();
    let mut failing = 0;
    for row in &rows {
        if row.status == "new" {
            lifecycle.new += 1;
            lifecycle.new_leakage += row.leakage;
        } else {
            lifecycle.recurring += 1;
            lifecycle.recurring_leakage += row.leakage;
        }
        if row.disposition.is_some() {
            disposition_stats.applied += 1;
            disposition_stats.excluded_leakage += row.leakage;
            continue;
        }
        let rank = findings::severity_rank(&row.severity);
        if row.status == "new" && rank >= alert_rank {
            alerts.push(alert_json(row, as_of));
        }
        if fail_rank.is_some_and(|f| rank >= f) && (!opts.fail_on_new || row.status == "new") {
            failing += 1;
        }
    }
    for (id, decision) in &decisions {
        if !current.contains(id) {
            disposition_stats.unmatched.push(id.clone());
        } else if !decision.is_live(as_of) {
            disposition_stats.expired += 1;
        }
    }
    disposition_stats.unmatched.sort();
    if !disposition_stats.unmatched.is_empty() {
        let note = format!(
            "{} disposition(s) name findings this run did not report: {}",
            disposition_stats.unmatched.len(),
            disposition_stats.unmatched.join(", ")
        );
        tracing::warn!("{note}");
        warnings.push(note);
    }

    let mut query_files: Vec<QueryFile> = Vec::new();
    for dir in ["staging", "shared", "checks"] {
        for path in sql_files(&opts.queries.join(dir))? {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            query_files.push(QueryFile {
                path: path.display().to_string(),
                sha256: checks::sha256_hex(&bytes),
            });
        }
    }
    let manifest = Manifest {
        run_id: run_id.clone(),
        tool: "revleak".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        as_of,
        started: started.to_rfc3339(),
        finished: String::new(),
        snapshot: opts.snapshot.display().to_string(),
        reporting_currency: params.reporting_currency(),
        parameters: params
            .values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        inputs,
        queries: query_files,
        findings: findings::row_count(&published_findings),
        total_leakage: outcomes.iter().map(|o| o.leakage).sum(),
        checks: outcomes,
        warnings,
        previous_as_of: previous.as_ref().map(|p| p.as_of),
        open_leakage: findings::decimal_sum(&published_findings, "leakage_amount")
            - disposition_stats.excluded_leakage,
        lifecycle,
        dispositions: disposition_stats,
        alerts: alerts.len(),
        fail_on: opts.fail_on.clone(),
        failing_findings: failing,
        figures: figures_meta,
    };

    let mut staged = Staged::new(&opts.out, &run_id, as_of)?;
    staged.write_parquet("findings", findings::findings_schema(), &published_findings)?;
    staged.write_parquet("summary", summary_schema(), &summary)?;
    if previous.is_some() {
        staged.write_parquet("resolved", findings::resolved_schema(), &resolved)?;
    }
    let mut alert_lines = String::new();
    for alert in &alerts {
        alert_lines.push_str(&alert.to_string());
        alert_lines.push('\n');
    }
    staged.write_file("alerts", "alerts.jsonl", alert_lines.as_bytes())?;
    if manifest.figures.failed.is_none() {
        staged.write_parquet(scorecard::OUTPUT, scorecard::schema(), &partner_figures)?;
    }
    let mut manifest = manifest;
    manifest.finished = Utc::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    staged.write_file("runs", "manifest.json", &json)?;
    let report_options = crate::report::ReportOptions {
        partner_pages: opts.partner_reports,
    };
    tracing::debug!(ms = clock.elapsed().as_millis() as u64, "findings written");
    for file in crate::report::build(&opts.out, Some(staged.root()), as_of, &report_options)? {
        staged.write_file("report", &file.name, &file.bytes)?;
    }
    let published = staged.commit()?;
    tracing::info!(ms = clock.elapsed().as_millis() as u64, "run published");
    Ok(RunReport {
        manifest,
        published,
        explain,
    })
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

fn summary_schema() -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
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
async fn summarize(ctx: &SessionContext, findings: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    let table = datafusion::datasource::MemTable::try_new(
        findings::findings_schema(),
        vec![findings.to_vec()],
    )
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

/// One line of alerts.jsonl: what a chat or ticket system needs.
fn alert_json(row: &findings::FindingRow, as_of: NaiveDate) -> serde_json::Value {
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

/// A progress bar on stderr, or a hidden one (when stderr is not a terminal, or
/// with --quiet): log lines then stay clean for schedulers.
fn progress_bar(shown: bool, len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_prefix(what.to_string());
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
