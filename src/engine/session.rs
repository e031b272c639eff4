//! The query engine: DataFusion sessions and their settings (threads, memory
//! pool, spill folder, revleak's optimizer rules and estimates), the Ballista
//! client session, how many queries of a stage run side by side, the schemas
//! that hold the run's layers, and the literal plans that carry small tables
//! (the parameters, an absent table) to a cluster's executors.

use crate::config::Params;
use crate::error::{Error, Result};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the checks execute. Either way the client reads the snapshot's schemas,
/// plans every query and writes every output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// Embedded DataFusion: the layers are materialized in memory once.
    #[default]
    Local,
    /// A Ballista cluster at `scheduler` (`df://host:port`): every layer is a view
    /// over the snapshot's Parquet files, so the executors read them directly.
    Ballista { scheduler: String },
}

/// Schemas holding the layers, in the order data flows through them.
pub const LAYERS: &[&str] = &[
    "staging", "existing", "quality", "clean", "flagged", "shared",
];

pub fn session() -> SessionContext {
    session_with(&EngineSettings::default()).expect("the default engine needs no resources")
}

/// Threads, memory pool and spill folder of the query engine.
#[derive(Debug, Clone, Default)]
pub struct EngineSettings {
    pub threads: Option<usize>,
    pub memory_limit: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    /// On a cluster: how long a job may go without a result, and how many
    /// times a stalled or failed job is run again.
    pub cluster_jobs: crate::engine::jobs::ClusterJobs,
}

/// Removes a folder this run created (spill files, a cluster's layer files) once
/// the engine (declared after it, so dropped before it) is done with it.
pub(crate) struct RemoveDirOnDrop(pub(crate) Option<PathBuf>);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A session with `settings`: its threads split between queries side by side and
/// partitions of each, a fair spill pool of `memory_limit` bytes and a disk
/// manager spilling under `spill_dir`.
pub fn session_with(settings: &EngineSettings) -> Result<SessionContext> {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let mut config = SessionConfig::new().with_information_schema(false);
    let threads = settings
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    // A stage holds many independent queries (a table's rules, a check), and
    // they run side by side: up to four at once, each split over the remaining
    // threads. On two cores each query is one partition, so none pays for
    // repartitioning its rows between threads (scale 10: about 7% less CPU).
    // Under a memory limit queries run one at a time, over every thread.
    let (side_by_side, partitions) = match settings.memory_limit {
        Some(_) => (1, threads),
        None => {
            let side_by_side = threads.min(4);
            (side_by_side, (threads / side_by_side).max(1))
        }
    };
    config = config
        .with_target_partitions(partitions)
        .with_extension(Arc::new(SideBySide(side_by_side)));
    // Spans let planning errors point at a line and column of the check file.
    config.options_mut().sql_parser.collect_spans = true;
    // `0.01` in a check must stay exact: money never passes through a float.
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // With a few partitions, hashing both sides of a join into partitions costs
    // more than one shared hash table of the smaller side: build that table for
    // up to 2 million rows or 200 MiB (measured at scale 10: about 5% less time).
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.hash_join_single_partition_threshold = 200 * 1024 * 1024;
    optimizer.hash_join_single_partition_threshold_rows = 2_000_000;
    // Join sides are chosen on revleak's estimates too (see `estimates`).
    optimizer.use_statistics_registry = true;
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(bytes) = settings.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(bytes)));
        // Each sorting partition sets aside this much to merge its spills (10 MB by
        // default). With sort-merge joins a query sorts in dozens of places at
        // once, so under a small pool each keeps a small slice.
        let partitions = config.target_partitions().max(1);
        let execution = &mut config.options_mut().execution;
        execution.sort_spill_reservation_bytes = execution
            .sort_spill_reservation_bytes
            .min(bytes / (64 * partitions));
        // A hash join's build side cannot spill in DataFusion 55; a sort-merge join
        // sorts (and spills) both sides instead.
        config.options_mut().optimizer.prefer_hash_join = false;
        // The fair pool gives each sorting partition an equal share, and a sorter
        // must hold at least one batch: smaller batches fit more sorts at once.
        config = config.with_batch_size(2048);
    }
    if let Some(dir) = &settings.spill_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        runtime = runtime.with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
        );
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| Error::exec("starting the query engine", e))?;
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_optimizer_rule(Arc::new(crate::engine::plan_rules::InlineConstantRows))
        .with_physical_optimizer_rule(Arc::new(crate::engine::plan_rules::FilterOneRowJoins))
        .with_statistics_registry(crate::engine::estimates::registry())
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::engine::udf::register(&ctx);
    Ok(ctx)
}

/// Registers the parameters as the one-row table `params`, which staging,
/// shared and check SQL read.
pub fn register_params(ctx: &SessionContext, params: &Params) -> Result<()> {
    // Typed literals in the plan rather than an in-memory table: a cluster's
    // executors receive them with the plan.
    let params_plan = literal_plan(&params.to_record_batch()?)
        .map_err(|e| Error::exec("registering params", e))?;
    ctx.register_table(
        "params",
        datafusion::dataframe::DataFrame::new(ctx.state(), params_plan).into_view(),
    )
    .map_err(|e| Error::exec("registering params", e))?;
    Ok(())
}

/// A batch as a plan of typed literal rows (a one-row `values`, or an empty
/// relation of the same columns when the batch has no rows).
pub fn literal_plan(
    batch: &RecordBatch,
) -> datafusion::error::Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, lit};
    let schema = batch.schema();
    let named = |i: usize| schema.field(i).name().clone();
    if batch.num_rows() == 0 {
        let nulls = (0..batch.num_columns())
            .map(|i| {
                let ty = schema.field(i).data_type();
                Ok(cast(lit(ScalarValue::try_from(ty)?), ty.clone()).alias(named(i)))
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        return LogicalPlanBuilder::empty(false).project(nulls)?.build();
    }
    let rows = (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, row).map(lit))
                .collect::<datafusion::error::Result<Vec<_>>>()
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let values = LogicalPlanBuilder::values(rows)?.build()?;
    let renamed = values
        .schema()
        .columns()
        .into_iter()
        .enumerate()
        .map(|(i, c)| datafusion::logical_expr::col(c).alias(named(i)))
        .collect::<Vec<_>>();
    LogicalPlanBuilder::from(values).project(renamed)?.build()
}

/// A query of a stage, run on its own task.
pub(crate) type Job<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// How many independent queries of a stage run at once, as [`session_with`]
/// decides it.
#[derive(Debug)]
struct SideBySide(usize);

/// How many independent queries run at once: as many as the embedded engine's
/// threads (at most four), and one at a time under a memory limit (each query
/// then has the whole pool to itself); on a cluster, one per partition (at most
/// four).
pub(crate) fn concurrency(ctx: &SessionContext) -> usize {
    use datafusion::execution::memory_pool::MemoryLimit;
    let state = ctx.state();
    match ctx.runtime_env().memory_pool.memory_limit() {
        MemoryLimit::Finite(_) => 1,
        _ => state
            .config()
            .get_extension::<SideBySide>()
            .map_or(state.config().target_partitions().clamp(1, 4), |s| s.0),
    }
}

/// Runs `jobs`, at most `width` at a time, and returns their outputs in order.
/// The next job starts as soon as any running one ends, so a long job never
/// keeps a free thread waiting behind it; the jobs of highest `costs` start
/// first, so the last to finish is a short one, not a long one started when
/// the others are done.
pub(crate) async fn run_costliest_first<T: Send + 'static>(
    jobs: Vec<Job<T>>,
    costs: &[usize],
    width: usize,
) -> Vec<T> {
    let mut running = tokio::task::JoinSet::new();
    let mut outputs: Vec<Option<T>> = jobs.iter().map(|_| None).collect();
    let mut queued: Vec<(usize, Job<T>)> = jobs.into_iter().enumerate().collect();
    // Stable: jobs of equal cost start in their given order.
    queued.sort_by_key(|(index, _)| std::cmp::Reverse(costs.get(*index).copied().unwrap_or(0)));
    for (index, job) in queued {
        if running.len() >= width.max(1) {
            let (done, output) = joined(running.join_next().await.expect("a running job"));
            outputs[done] = Some(output);
        }
        running.spawn(async move { (index, job.await) });
    }
    while let Some(finished) = running.join_next().await {
        let (done, output) = joined(finished);
        outputs[done] = Some(output);
    }
    outputs
        .into_iter()
        .map(|output| output.expect("every job ran"))
        .collect()
}

pub(crate) fn joined<T>(finished: std::result::Result<T, tokio::task::JoinError>) -> T {
    match finished {
        Ok(output) => output,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a query task was cancelled: {e}"),
    }
}

/// A query that failed on a cluster most often could not reach a file: say where
/// the executors must find them (unless the client refused to plan it).
pub(crate) fn on_cluster(e: Error, engine: &Engine) -> Error {
    match (engine, e) {
        (Engine::Ballista { scheduler }, Error::Execution { context, source })
            if matches!(
                source.find_root(),
                datafusion::error::DataFusionError::Plan(_)
            ) =>
        {
            Error::Execution {
                context: format!("{context} (planned for the Ballista cluster at {scheduler})"),
                source,
            }
        }
        (Engine::Ballista { scheduler }, Error::Execution { context, source }) => {
            Error::Execution {
                context: format!(
                    "{context} (on the Ballista cluster at {scheduler}: every executor must read \
                 the snapshot and write the output folder at the paths this client uses, or \
                 reach the bucket of a URL with the credentials and endpoint of its own \
                 environment)"
                ),
                source,
            }
        }
        (_, e) => e,
    }
}

#[cfg(feature = "cluster")]
pub(crate) async fn cluster_session(
    scheduler: &str,
    settings: &EngineSettings,
) -> Result<SessionContext> {
    crate::engine::cluster::client_session(scheduler, settings.threads, settings.cluster_jobs).await
}

#[cfg(not(feature = "cluster"))]
pub(crate) async fn cluster_session(
    _scheduler: &str,
    _settings: &EngineSettings,
) -> Result<SessionContext> {
    Err(Error::Config(
        "--engine ballista: this revleak was built without the `cluster` feature: rebuild with `cargo install --path . --features cluster`".into(),
    ))
}
