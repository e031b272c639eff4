//! `revleak run`: snapshot → staging views → as-of and data-quality layers → checks
//! → findings with run-level columns → summary and manifest → atomic publish.

use crate::config::{ConfigFile, Params};
pub use crate::engine::session::Engine;
use crate::engine::session::{
    EngineSettings, RemoveDirOnDrop, cluster_session, on_cluster, register_params, session_with,
};
use crate::error::{Error, Result};
use crate::ingest::snapshot::Snapshot;
use crate::ingest::staging;
use crate::outputs::actions;
use crate::outputs::findings;
pub use crate::outputs::manifest::*;
use crate::outputs::publish::{self, OutputLock, Unpublished};
use crate::outputs::scorecard;
use crate::reconcile::checks::{self, CheckFile};
use crate::reconcile::graph::{CheckRun, build_and_check};
use crate::reconcile::layers::{Layers, Prepared, prepare, sql_files};
use chrono::{NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::path::PathBuf;
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
    pub alert_min_severity: crate::config::Severity,
    /// Where the run's new alerts are POSTed.
    pub alert_webhook: Option<crate::outputs::delivery::Webhook>,
    /// Exit 1 when open findings at or above this severity exist.
    pub fail_on: Option<crate::config::Severity>,
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
    /// Render the HTML report (a `revleak test` case needs only the findings).
    pub report: bool,
    /// Run `queries/actions/` and publish the recovery actions.
    pub actions: bool,
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
            alert_min_severity: crate::config::DEFAULT_ALERT_MIN_SEVERITY,
            alert_webhook: None,
            fail_on: None,
            fail_on_new: false,
            progress: false,
            keep_going: false,
            threads: None,
            memory_limit: None,
            spill_dir: None,
            explain: false,
            report: true,
            actions: true,
            engine: Engine::Local,
        }
    }
}

/// What a finished run reports back to the caller.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub manifest: Manifest,
    pub published: Vec<PathBuf>,
    /// With `explain`: per check run, its executed physical plan with metrics.
    pub explain: Vec<CheckPlan>,
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

/// POSTs the published pending alerts. A failure is a warning in the log and
/// the manifest, never a failed run: the alerts stay pending for the next run.
/// The manifest, already published, is replaced whole (by rename) with the
/// outcome.
async fn deliver_alerts(
    opts: &RunOptions,
    webhook: &crate::outputs::delivery::Webhook,
    pending: &[serde_json::Value],
    manifest: &mut Manifest,
) -> Result<()> {
    let as_of = manifest.as_of;
    let outcome =
        crate::outputs::delivery::deliver(webhook, pending, &manifest.run_id, as_of).await;
    let partition = |kind: &str| opts.out.join(kind).join(format!("as_of={as_of}"));
    let delivery = manifest.alert_delivery.get_or_insert_with(Default::default);
    match outcome {
        Ok(()) => {
            delivery.delivered = true;
            crate::outputs::delivery::mark_delivered(&partition("alerts"))?;
            tracing::info!(alerts = pending.len(), "alerts delivered to the webhook");
        }
        Err(e) => {
            let note = format!(
                "{} alert(s) not delivered to the webhook ({e}); the next run tries again",
                pending.len()
            );
            tracing::warn!("{note}");
            delivery.error = Some(e);
            manifest.warnings.push(note);
        }
    }
    let path = partition("runs").join("manifest.json");
    let partial = path.with_extension("json.partial");
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    std::fs::write(&partial, &json).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))
}

/// Each check's outcome and findings, in the checks' order (so neither depends on
/// which finished first); failures and skips become warnings (with
/// `--keep-going`, a failed check too).
fn outcomes_of(
    all_checks: &[CheckFile],
    runs: Vec<CheckRun>,
    opts: &RunOptions,
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
    Ok((outcomes, batches))
}

/// The query engine of a run and where its layers are kept. Dropped in this
/// order: the session, then the folders it wrote (the layer files; the spill
/// folder revleak made).
struct RunEngine {
    ctx: SessionContext,
    layers: Layers,
    _work_guard: RemoveDirOnDrop,
    _spill_guard: RemoveDirOnDrop,
}

/// Opens the session the run's options ask for: embedded (layers in memory, or
/// as files under a memory limit) or a Ballista cluster (layers as files
/// beside the outputs, which every executor reads).
async fn open_engine(opts: &RunOptions, run_id: &str) -> Result<RunEngine> {
    let engine = engine_settings(opts);
    // Created by session_with when needed; removed (if left empty) after the engine.
    let spill_guard = RemoveDirOnDrop(
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
    let work_guard = RemoveDirOnDrop(match &layers {
        Layers::Files { dir, .. } => Some(dir.clone()),
        Layers::Materialized => None,
    });
    tracing::debug!(
        target_partitions = ctx.state().config().target_partitions(),
        memory_limit = opts.memory_limit.map(|b| b as u64),
        spill_dir = engine.spill_dir.as_ref().map(|d| d.display().to_string()),
        "query engine"
    );
    Ok(RunEngine {
        ctx,
        layers,
        _work_guard: work_guard,
        _spill_guard: spill_guard,
    })
}

/// What a run publishes besides its manifest and report.
struct Outputs<'a> {
    findings: &'a [RecordBatch],
    summary: &'a [RecordBatch],
    /// None on a first run (no previous run to resolve against).
    resolved: Option<&'a [RecordBatch]>,
    alerts: &'a [serde_json::Value],
    /// What has been alerted, this run included.
    alerted: &'a crate::outputs::alerts::AlertRecord,
    /// With a webhook: the alerts to deliver (this run's and earlier ones').
    pending: Option<&'a [serde_json::Value]>,
    partner_figures: &'a [RecordBatch],
    actions: &'a [actions::ActionOutput],
    /// With partner pages: the partners' statement datasets.
    statements: &'a [actions::ActionOutput],
}

/// Writes every output of the run under `_tmp-<run>/`, the manifest last but
/// the report, and moves them into place at once (see [`publish`]).
fn publish_run(
    opts: &RunOptions,
    run_id: &str,
    as_of: NaiveDate,
    outputs: Outputs,
    mut manifest: Manifest,
) -> Result<(Manifest, Vec<PathBuf>)> {
    let mut unpublished = Unpublished::new(&opts.out, run_id, as_of)?;
    unpublished.write_parquet("findings", findings::findings_schema(), outputs.findings)?;
    unpublished.write_parquet("summary", findings::summary_schema(), outputs.summary)?;
    if let Some(resolved) = outputs.resolved {
        unpublished.write_parquet("resolved", findings::resolved_schema(), resolved)?;
    }
    let mut alert_lines = String::new();
    for alert in outputs.alerts {
        alert_lines.push_str(&alert.to_string());
        alert_lines.push('\n');
    }
    unpublished.write_file("alerts", "alerts.jsonl", alert_lines.as_bytes())?;
    unpublished.write_file(
        "alerts",
        crate::outputs::alerts::RECORD,
        outputs.alerted.to_jsonl().as_bytes(),
    )?;
    if let Some(pending) = outputs.pending.filter(|p| !p.is_empty()) {
        let mut lines = String::new();
        for alert in pending {
            lines.push_str(&alert.to_string());
            lines.push('\n');
        }
        unpublished.write_file(
            "alerts",
            crate::outputs::delivery::PENDING,
            lines.as_bytes(),
        )?;
    }
    if manifest.figures.failed.is_none() {
        unpublished.write_parquet(
            scorecard::OUTPUT,
            scorecard::schema(),
            outputs.partner_figures,
        )?;
    }
    for action in outputs.actions {
        let id = &action.file.id;
        let parquet = actions::parquet_bytes(&action.schema, &action.batches)?;
        unpublished.write_file(actions::OUTPUT, &format!("{id}.parquet"), &parquet)?;
        let csv = actions::csv_bytes(&action.schema, &action.batches)?;
        unpublished.write_file(actions::OUTPUT, &format!("{id}.csv"), &csv)?;
    }
    for statement in outputs.statements {
        let parquet = actions::parquet_bytes(&statement.schema, &statement.batches)?;
        let name = format!("{}.parquet", statement.file.id);
        unpublished.write_file(actions::STATEMENTS, &name, &parquet)?;
    }
    manifest.finished = Utc::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    unpublished.write_file("runs", "manifest.json", &json)?;
    if opts.report {
        let report_options = crate::outputs::report::ReportOptions {
            partner_pages: opts.partner_reports,
        };
        for file in crate::outputs::report::build(
            &opts.out,
            Some(unpublished.root()),
            as_of,
            &report_options,
        )? {
            unpublished.write_file("report", &file.name, &file.bytes)?;
        }
    }
    let published = unpublished.commit()?;
    Ok((manifest, published))
}

/// The warnings of staging: canonical tables that are missing (an error with
/// `--strict`) and raw tables no staging view reads.
fn staging_warnings(
    opts: &RunOptions,
    snapshot: &Snapshot,
    staging: &staging::Staging,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for staged in staging.missing() {
        warnings.push(format!(
            "{}: table {} is missing: {} reads {}, which the snapshot does not hold; checks that read it are skipped",
            opts.snapshot.display(),
            staged.table.qualified(),
            staged.file.display(),
            staged.absent.join(", "),
        ));
    }
    if opts.strict && !warnings.is_empty() {
        return Err(Error::Snapshot(warnings));
    }
    for raw in staging.unread(snapshot) {
        warnings.push(format!(
            "{}: raw table {} ({} rows) is read by no staging view: its rows are not reconciled",
            raw.location.display(),
            raw.qualified(),
            raw.rows
        ));
    }
    Ok(warnings)
}

/// The runs of `as_of` published before this one (their manifest, when
/// readable, lists them): an earlier version's or an unreadable manifest starts
/// the sequence afresh, and the log says so.
fn earlier_runs_of_the_day(out: &std::path::Path, as_of: NaiveDate) -> Vec<DayRun> {
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

/// The check files of the run: every one, or those of `--only` (each must exist).
fn selected_checks(opts: &RunOptions) -> Result<Vec<CheckFile>> {
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
    Ok(all_checks)
}

/// Every raw table of the snapshot, with the canonical tables whose staging
/// views read it.
fn raw_table_stats(snapshot: &Snapshot, staging: &staging::Staging) -> Vec<RawTableStats> {
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
fn query_files(queries: &std::path::Path) -> Result<Vec<QueryFile>> {
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

/// A run, stage by stage (README, "How a run flows").
pub async fn run(opts: &RunOptions) -> Result<RunReport> {
    let started = Utc::now();
    let clock = Instant::now();
    let snapshot = open_snapshot(opts)?;
    // One run per output folder at a time, taken before any work so a second
    // run started meanwhile stops at once with a clear message.
    let _lock = claim_output(&opts.out)?;
    let params = Params::resolve(&opts.config, &opts.sets, opts.as_of, snapshot.as_of)?;
    let as_of = params.as_of();
    let run_id = new_run_id(started);
    let checks = selected_checks(opts)?;
    let action_files = match opts.actions {
        true => actions::discover(&opts.queries.join(actions::OUTPUT))?,
        false => Vec::new(),
    };
    let statement_files = match opts.partner_reports {
        true => actions::discover(&opts.queries.join(actions::STATEMENTS))?,
        false => Vec::new(),
    };

    let engine = open_engine(opts, &run_id).await?;
    let mut loaded = load_inputs(opts, &engine, &snapshot, &params).await?;
    let checked = run_checks(opts, &engine, &checks, &mut loaded, &params, clock).await?;
    tracing::debug!(ms = clock.elapsed().as_millis() as u64, "checks run");

    let settled = findings::settle(&checked.batches, settling(opts, &run_id, as_of)).await?;
    for note in &settled.notes {
        tracing::warn!("{note}");
    }
    let (ctx, layers) = (&engine.ctx, &engine.layers);
    let recovery = actions::run(
        ctx,
        layers,
        &action_files,
        &settled.findings,
        actions::OUTPUT,
    )
    .await
    .map_err(|e| on_cluster(e, &opts.engine))?;
    let statements = actions::run(
        ctx,
        layers,
        &statement_files,
        &settled.findings,
        actions::STATEMENTS,
    )
    .await
    .map_err(|e| on_cluster(e, &opts.engine))?;

    let header = RunHeader {
        run_id: &run_id,
        started,
        params: &params,
    };
    let mut manifest = manifest_of(opts, header, &snapshot, &loaded, &checked, &settled)?;
    manifest.actions = recovery.iter().map(actions::summarize).collect();
    let outputs = Outputs {
        findings: &settled.findings,
        summary: &settled.summary,
        resolved: settled.resolved.as_deref(),
        alerts: &settled.alerts,
        alerted: &settled.alerted,
        pending: settled.pending.as_deref(),
        partner_figures: &checked.partner_figures,
        actions: &recovery,
        statements: &statements,
    };
    let (mut manifest, published) = publish_run(opts, &run_id, as_of, outputs, manifest)?;
    if let (Some(webhook), Some(pending)) = (&opts.alert_webhook, &settled.pending)
        && !pending.is_empty()
    {
        deliver_alerts(opts, webhook, pending, &mut manifest).await?;
    }
    tracing::info!(ms = clock.elapsed().as_millis() as u64, "run published");
    Ok(RunReport {
        manifest,
        published,
        explain: checked.explain,
    })
}

/// What settling the findings takes from the run's options.
fn settling<'a>(opts: &'a RunOptions, run_id: &'a str, as_of: NaiveDate) -> findings::Settling<'a> {
    findings::Settling {
        out: &opts.out,
        run_id,
        as_of,
        dispositions: opts.dispositions.as_deref(),
        thresholds: findings::Thresholds {
            alert_min_severity: opts.alert_min_severity,
            fail_on: opts.fail_on,
            fail_on_new: opts.fail_on_new,
        },
        webhook: opts.alert_webhook.is_some(),
    }
}

/// The snapshot's raw tables. On a cluster the path is made absolute: every
/// executor must find the files at the paths the plan names.
fn open_snapshot(opts: &RunOptions) -> Result<Snapshot> {
    let root = match &opts.engine {
        Engine::Local => opts.snapshot.clone(),
        Engine::Ballista { .. } => {
            std::fs::canonicalize(&opts.snapshot).map_err(|e| Error::io(&opts.snapshot, e))?
        }
    };
    Snapshot::open(&root, &opts.config.csv_formats()?)
}

/// Takes the output folder: its lock, then the recovery of a run killed while
/// publishing, then earlier versions' layouts brought up to date.
fn claim_output(out: &std::path::Path) -> Result<OutputLock> {
    let lock = OutputLock::acquire(out)?;
    publish::recover(out)?;
    for file in publish::upgrade_layout(out)? {
        tracing::info!(
            file = %file.display(),
            "moved as_of out of an earlier run's file into its partition path only"
        );
    }
    Ok(lock)
}

/// A run id that sorts by start time and differs between runs started together.
fn new_run_id(started: chrono::DateTime<Utc>) -> String {
    format!(
        "{}-{:08x}",
        started.format("%Y%m%dT%H%M%SZ"),
        std::process::id() ^ started.timestamp_subsec_nanos()
    )
}

/// The inputs of a run, loaded and checked.
struct Loaded {
    staging: staging::Staging,
    /// Canonical tables the snapshot does not hold: checks reading them are skipped.
    missing: BTreeSet<String>,
    prepared: Prepared,
    warnings: Vec<String>,
}

/// Registers the parameters, the raw tables and the staging views, and builds
/// the as-of, clean and flagged layers and the first shared views.
async fn load_inputs(
    opts: &RunOptions,
    engine: &RunEngine,
    snapshot: &Snapshot,
    params: &Params,
) -> Result<Loaded> {
    let (ctx, layers) = (&engine.ctx, &engine.layers);
    tracing::info!(
        raw_tables = snapshot.raw.len(),
        "loading snapshot {}",
        opts.snapshot.display()
    );
    // A cluster's executors cannot see this process's memory: CSV tables go to
    // Parquet beside the layers, which every executor reads.
    let csv_dir = match layers {
        Layers::Files {
            dir,
            embedded: false,
        } => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            Some(dir.as_path())
        }
        _ => None,
    };
    register_params(ctx, params)?;
    snapshot.register(ctx, csv_dir).await?;
    let staging = staging::register(ctx, snapshot, &opts.queries.join("staging")).await?;
    let missing = staging.missing().map(|s| s.table.qualified()).collect();
    let warnings = staging_warnings(opts, snapshot, &staging)?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let loading = progress_bar(opts.progress, None, "loading and checking inputs");
    let prepared = prepare(ctx, snapshot, &staging, &opts.queries, layers)
        .await
        .map_err(|e| staging.explain(snapshot, e))
        .map_err(|e| on_cluster(e, &opts.engine))?;
    loading.finish_and_clear();
    Ok(Loaded {
        staging,
        missing,
        prepared,
        warnings,
    })
}

/// The checks of a run, done.
struct Checked {
    outcomes: Vec<CheckOutcome>,
    /// Every check's findings, in the checks' order.
    batches: Vec<RecordBatch>,
    partner_figures: Vec<RecordBatch>,
    figures: scorecard::FiguresMeta,
    explain: Vec<CheckPlan>,
    warnings: Vec<String>,
}

/// Builds the remaining shared views and runs the checks (each as soon as what
/// it reads is built), then the report's partner figures. Every broken check
/// file is reported together, and then nothing is published.
async fn run_checks(
    opts: &RunOptions,
    engine: &RunEngine,
    checks: &[CheckFile],
    loaded: &mut Loaded,
    params: &Params,
    clock: Instant,
) -> Result<Checked> {
    let ctx = &engine.ctx;
    let bar = progress_bar(opts.progress, Some(checks.len() as u64), "checks");
    let runs = build_and_check(
        ctx,
        &engine.layers,
        std::mem::take(&mut loaded.prepared.pending_shared),
        &mut loaded.prepared.shared_deps,
        checks,
        &loaded.missing,
        opts.keep_going,
        opts.explain,
        &bar,
        clock,
    )
    .await
    .map_err(|e| on_cluster(e, &opts.engine))?;
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
    let mut warnings = Vec::new();
    let (partner_figures, figures) = scorecard::compute(ctx, params).await;
    if let Some(failed) = &figures.failed {
        warnings.push(format!(
            "the report's partner figures are not shown: {failed}"
        ));
    }
    let mut explain = Vec::new();
    let (outcomes, batches) = outcomes_of(checks, runs, opts, &mut warnings, &mut explain)?;
    bar.finish_and_clear();
    Ok(Checked {
        outcomes,
        batches,
        partner_figures,
        figures,
        explain,
        warnings,
    })
}

/// Who a run is: its id, when it started and its parameters.
struct RunHeader<'a> {
    run_id: &'a str,
    started: chrono::DateTime<Utc>,
    params: &'a Params,
}

/// The run's manifest, all but its finish time and the webhook's outcome.
fn manifest_of(
    opts: &RunOptions,
    header: RunHeader,
    snapshot: &Snapshot,
    loaded: &Loaded,
    checked: &Checked,
    settled: &findings::Settled,
) -> Result<Manifest> {
    let params = header.params;
    let as_of = params.as_of();
    let warnings = [&loaded.warnings, &checked.warnings, &settled.notes]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    Ok(Manifest {
        run_id: header.run_id.to_string(),
        tool: "revleak".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        as_of,
        started: header.started.to_rfc3339(),
        finished: String::new(),
        snapshot: opts.snapshot.display().to_string(),
        reporting_currency: params.reporting_currency(),
        raw_tables: raw_table_stats(snapshot, &loaded.staging),
        parameters: params
            .values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        inputs: loaded.prepared.inputs.clone(),
        queries: query_files(&opts.queries)?,
        findings: findings::row_count(&settled.findings),
        total_leakage: checked.outcomes.iter().map(|o| o.leakage).sum(),
        checks: checked.outcomes.clone(),
        warnings,
        previous_as_of: settled.previous_as_of,
        open_leakage: settled.open_leakage,
        lifecycle: settled.lifecycle.clone(),
        dispositions: settled.dispositions.clone(),
        alerts: settled.alerts.len(),
        fail_on: opts.fail_on,
        failing_findings: settled.failing,
        figures: checked.figures.clone(),
        earlier_runs_of_the_day: earlier_runs_of_the_day(&opts.out, as_of),
        alert_delivery: settled.pending.as_ref().map(|p| {
            crate::outputs::delivery::DeliveryOutcome {
                alerts: p.len(),
                delivered: p.is_empty(),
                error: None,
            }
        }),
        actions: Vec::new(),
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
