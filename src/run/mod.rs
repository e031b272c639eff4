//! `revleak run`: snapshot → staging views → as-of and data-quality layers → checks
//! → findings with run-level columns → summary and manifest → atomic publish.

mod options;
mod progress;

pub use self::options::RunOptions;
use self::progress::progress_bar;
use crate::config::Params;
pub use crate::engine::session::Engine;
use crate::engine::session::{
    RemoveDirOnDrop, cluster_session, on_cluster, register_params, session_with,
};
use crate::error::{Error, Result};
use crate::ingest::snapshot::Snapshot;
use crate::ingest::staging;
use crate::outputs::actions;
use crate::outputs::destination::{Claimed, Destination};
use crate::outputs::findings;
use crate::outputs::manifest::build::{RunFacts, manifest_of, outcomes_of};
pub use crate::outputs::manifest::*;
use crate::outputs::scorecard;
use crate::reconcile::checks::{self, CheckFile};
use crate::reconcile::graph::{CheckRun, build_and_check};
use crate::reconcile::layers::{Layers, Prepared, prepare};
use crate::storage::{SnapshotSource, is_object_store};
use chrono::{NaiveDate, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
/// The manifest, already published, is replaced whole with the outcome.
async fn deliver_alerts(
    claimed: &Claimed,
    webhook: &crate::outputs::delivery::Webhook,
    pending: &[serde_json::Value],
    manifest: &mut Manifest,
) -> Result<()> {
    let as_of = manifest.as_of;
    let outcome =
        crate::outputs::delivery::deliver(webhook, pending, &manifest.run_id, as_of).await;
    let delivery = manifest.alert_delivery.get_or_insert_with(Default::default);
    match outcome {
        Ok(()) => {
            delivery.delivered = true;
            claimed.replace_published("alerts", as_of, crate::outputs::delivery::DELIVERED, b"")?;
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
    let json = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
    claimed
        .replace_published("runs", as_of, "manifest.json", &json)
        .map(|_| ())
}

/// The query engine of a run and where its layers are kept. Dropped in this
/// order: the session, then the folders it wrote (the layer files; the spill
/// folder revleak made).
struct RunEngine {
    ctx: SessionContext,
    layers: Layers,
    _bucket_work: Option<crate::outputs::bucket::WorkPrefix>,
    _work_guard: RemoveDirOnDrop,
    _spill_guard: RemoveDirOnDrop,
}

/// Opens the session the run's options ask for: embedded (layers in memory, or
/// as files under a memory limit, on local disk) or a Ballista cluster (layers
/// as files beside the outputs, in the output folder or bucket, which every
/// executor reads and writes).
async fn open_engine(opts: &RunOptions, run_id: &str, claimed: &Claimed) -> Result<RunEngine> {
    let engine = opts.engine_settings();
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
    let layer_files = |embedded: bool| -> Result<Layers> {
        let name = format!("_tmp-{run_id}-layers");
        let dir = match claimed.destination() {
            Destination::Bucket(bucket) if !embedded => PathBuf::from(bucket.url_of(&name)),
            // under a memory limit: local disk (a bucket's local copy)
            _ => std::fs::canonicalize(claimed.root())
                .map_err(|e| Error::io(claimed.root(), e))?
                .join(name),
        };
        Ok(Layers::Files { dir, embedded })
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
    let mut bucket_work = None;
    if let Destination::Bucket(bucket) = claimed.destination() {
        bucket.register_with(&ctx)?;
        if let Layers::Files { dir, .. } = &layers
            && is_object_store(dir)
        {
            bucket_work = Some(crate::outputs::bucket::WorkPrefix {
                bucket: bucket.clone(),
                relative: format!("_tmp-{run_id}-layers"),
            });
        }
    }
    let work_guard = RemoveDirOnDrop(match &layers {
        Layers::Files { dir, .. } if !is_object_store(dir) => Some(dir.clone()),
        _ => None,
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
        _bucket_work: bucket_work,
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
    claimed: &Claimed,
    run_id: &str,
    as_of: NaiveDate,
    outputs: Outputs,
    mut manifest: Manifest,
) -> Result<(Manifest, Vec<PathBuf>)> {
    let mut unpublished = claimed.begin(run_id, as_of)?;
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
    let started = std::time::Instant::now();
    // a million rows at scale 10: each dataset encoded on a thread of its own
    let encoded: Vec<Result<Vec<u8>>> = std::thread::scope(|scope| {
        let encoders: Vec<_> = outputs
            .statements
            .iter()
            .map(|s| scope.spawn(|| actions::parquet_bytes(&s.schema, &s.batches)))
            .collect();
        encoders
            .into_iter()
            .map(|e| e.join().expect("a statement's Parquet encoder panicked"))
            .collect()
    });
    for (statement, parquet) in outputs.statements.iter().zip(encoded) {
        let name = format!("{}.parquet", statement.file.id);
        unpublished.write_file(actions::STATEMENTS, &name, &parquet?)?;
    }
    if !outputs.statements.is_empty() {
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "statement datasets written"
        );
    }
    manifest.finished = Utc::now().to_rfc3339();
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    unpublished.write_file("runs", "manifest.json", &json)?;
    if opts.report {
        // the report reads the staged partitions while its pages are staged
        let staged = unpublished.root().to_path_buf();
        // the statements as their queries returned them: the rows just
        // written to statements/, not read back
        let statements = match opts.partner_reports {
            true => Some(std::sync::Arc::new(
                crate::outputs::report::statement::Statements::of_batches(
                    outputs
                        .statements
                        .iter()
                        .map(|s| (s.file.id.as_str(), s.batches.as_slice())),
                    &staged.join(actions::STATEMENTS),
                )?,
            )),
            false => None,
        };
        let report_options = crate::outputs::report::ReportOptions {
            partner_pages: opts.partner_reports,
            statements,
        };
        crate::outputs::report::build_into(
            claimed.root(),
            Some(&staged),
            as_of,
            &report_options,
            &mut |file| unpublished.write_file("report", &file.name, &file.bytes),
        )?;
    }
    let published = unpublished.commit()?;
    Ok((manifest, published))
}

/// The warnings of staging: canonical tables declared absent (their checks
/// are skipped), declared absent tables the snapshot holds, and raw tables no
/// staging view reads. With `--strict` the last two stop the run: a declared
/// absence is a decision, those are an export nobody maps or a stale
/// declaration.
fn staging_warnings(
    opts: &RunOptions,
    snapshot: &Snapshot,
    staging: &staging::Staging,
) -> Result<Vec<String>> {
    let absent_tables = &opts.config.absent_tables;
    let mut warnings = Vec::new();
    for staged in staging.missing() {
        warnings.push(format!(
            "{}: table {} is missing: {} reads {}, which the snapshot does not hold; checks that read it are skipped (absent_tables declares it)",
            opts.snapshot.display(),
            staged.table.qualified(),
            staged.file.display(),
            staged.absent.join(", "),
        ));
    }
    let mut strict_warnings = Vec::new();
    for staged in staging.declared_but_present(absent_tables) {
        strict_warnings.push(format!(
            "{}: table {} is declared in absent_tables, but the snapshot holds {}: it is read and its checks run (remove it from absent_tables)",
            opts.snapshot.display(),
            staged.table.qualified(),
            staged.reads.join(", "),
        ));
    }
    for raw in staging.unread(snapshot) {
        strict_warnings.push(format!(
            "{}: raw table {} ({} rows) is read by no staging view: its rows are not reconciled",
            raw.location.display(),
            raw.qualified(),
            raw.rows
        ));
    }
    if opts.strict && !strict_warnings.is_empty() {
        return Err(Error::Snapshot(strict_warnings));
    }
    warnings.extend(strict_warnings);
    Ok(warnings)
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

/// A run, stage by stage (docs/architecture.md, "How a run flows").
pub async fn run(opts: &RunOptions) -> Result<RunReport> {
    let started = Utc::now();
    let clock = Instant::now();
    let destination = Destination::locate(&opts.out, &opts.config)?;
    destination.check()?;
    let run_id = new_run_id(started);
    let snapshot = open_snapshot(opts)?;
    // One run per output at a time, taken before any work so a second run
    // started meanwhile stops at once with a clear message.
    let claimed = destination.claim(&run_id)?;
    let params = Params::resolve(&opts.config, &opts.sets, opts.as_of, snapshot.as_of)?;
    let as_of = params.as_of();
    let checks = selected_checks(opts)?;
    let action_files = match opts.actions {
        true => actions::discover(&opts.queries.join(actions::OUTPUT))?,
        false => Vec::new(),
    };
    let statement_files = match opts.partner_reports {
        true => actions::discover(&opts.queries.join(actions::STATEMENTS))?,
        false => Vec::new(),
    };

    let engine = open_engine(opts, &run_id, &claimed).await?;
    let mut loaded = load_inputs(opts, &engine, &snapshot, &params).await?;
    let checked = run_checks(opts, &engine, &checks, &mut loaded, &params, clock).await?;
    tracing::debug!(ms = clock.elapsed().as_millis() as u64, "checks run");

    let settled = findings::settle(
        &checked.batches,
        settling(opts, claimed.root(), &run_id, as_of),
    )
    .await?;
    for note in &settled.notes {
        tracing::warn!("{note}");
    }
    let (ctx, layers) = (&engine.ctx, &engine.layers);
    // the statements' queries fill the cores while actions wait on each other
    let mut outputs = actions::run(
        ctx,
        layers,
        &[
            (&action_files, actions::OUTPUT),
            (&statement_files, actions::STATEMENTS),
        ],
        &settled.findings,
    )
    .await
    .map_err(|e| on_cluster(e, &opts.engine))?;
    let statements = outputs.pop().unwrap_or_default();
    let recovery = outputs.pop().unwrap_or_default();

    let mut manifest = manifest_of(RunFacts {
        run_id: &run_id,
        started,
        params: &params,
        snapshot_dir: &opts.snapshot,
        snapshot: &snapshot,
        staging: &loaded.staging,
        inputs: &loaded.prepared.inputs,
        queries: &opts.queries,
        out: claimed.root(),
        outcomes: &checked.outcomes,
        figures: &checked.figures,
        settled: &settled,
        warnings: [&loaded.warnings, &checked.warnings]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        fail_on: opts.fail_on,
    })?;
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
    let (mut manifest, published) = publish_run(opts, &claimed, &run_id, as_of, outputs, manifest)?;
    if let (Some(webhook), Some(pending)) = (&opts.alert_webhook, &settled.pending)
        && !pending.is_empty()
    {
        deliver_alerts(&claimed, webhook, pending, &mut manifest).await?;
    }
    tracing::info!(ms = clock.elapsed().as_millis() as u64, "run published");
    Ok(RunReport {
        manifest,
        published,
        explain: checked.explain,
    })
}

/// What settling the findings takes from the run's options.
fn settling<'a>(
    opts: &'a RunOptions,
    out: &'a Path,
    run_id: &'a str,
    as_of: NaiveDate,
) -> findings::Settling<'a> {
    findings::Settling {
        out,
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

/// The snapshot's raw tables, from a folder or an object-store URL. On a
/// cluster a folder's path is made absolute: every executor must find the
/// files at the paths the plan names (a URL every executor reaches with its
/// own credentials).
fn open_snapshot(opts: &RunOptions) -> Result<Snapshot> {
    let (source, root) = SnapshotSource::locate(&opts.snapshot, &opts.config)?;
    let root = match &opts.engine {
        Engine::Ballista { .. } if !source.is_store() => {
            std::fs::canonicalize(&root).map_err(|e| Error::io(&root, e))?
        }
        _ => root,
    };
    Snapshot::open_in(
        source,
        &root,
        &opts.config.csv_formats()?,
        &opts.config.xlsx_sheets()?,
    )
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
    /// Canonical tables declared absent: checks reading them are skipped.
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
            if !is_object_store(dir) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            Some(dir.as_path())
        }
        _ => None,
    };
    register_params(ctx, params)?;
    snapshot.register(ctx, csv_dir).await?;
    let staging = staging::register(
        ctx,
        snapshot,
        &opts.queries.join("staging"),
        &opts.config.absent_tables,
    )
    .await?;
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
    let (outcomes, batches) =
        outcomes_of(checks, runs, opts.keep_going, &mut warnings, &mut explain)
            .map_err(|e| on_cluster(e, &opts.engine))?;
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
