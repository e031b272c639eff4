//! Distributed runs on Apache DataFusion Ballista: the client session that sends
//! every query to a scheduler (`revleak run --engine ballista`), and the scheduler
//! and executor roles this same binary serves (`revleak cluster ...`). Each role
//! registers revleak's functions ([`crate::engine::udf::all`]), so a plan that calls
//! `fmt_money` decodes and runs on every process, and builds the clients of the
//! buckets a plan names from its own environment ([`LazyStores`]), so a cluster
//! reads a snapshot and writes a run's layers in object storage without a
//! shared folder and without credentials in any plan.

use crate::engine::jobs::ClusterJobs;
use crate::engine::lost_executors::FailJobsOnLostExecutor;
use crate::error::{Error, Result};
use crate::storage::registry::LazyStores;
use crate::storage::store::StorageSettings;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::cluster::memory::InMemoryJobState;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use ballista_scheduler::state::session_manager::share_file_statistics_cache;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{JoinType, plan_err};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A session whose queries are planned by the Ballista scheduler at `scheduler`
/// (`df://host:port`) and executed by its executors; results stream back here.
/// `threads` sets the partitions of each stage (default: this machine's cores).
pub async fn client_session(
    scheduler: &str,
    threads: Option<usize>,
    jobs: ClusterJobs,
) -> Result<SessionContext> {
    let address = scheduler_address(scheduler)?;
    // Fail at once, naming the address, rather than at the first query.
    let reachable = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok());
    if !reachable {
        return Err(Error::Config(format!(
            "--scheduler {scheduler}: no Ballista scheduler answers at {address} \
             (start one with `revleak cluster scheduler --bind {address}`)"
        )));
    }
    let mut config = SessionConfig::new_with_ballista().with_information_schema(false);
    // Ballista's own default is 16 partitions per stage, a task each: on a small
    // cluster the tasks' overhead would dwarf the work.
    let partitions =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    config = config.with_target_partitions(partitions.max(1));
    // Ballista 55's adaptive planner re-plans the stages of revleak's checks
    // without end (new stage ids, never a result): use the static planner.
    config = config.set_str("ballista.planner.adaptive.enabled", "false");
    config.options_mut().sql_parser.collect_spans = true;
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    config.options_mut().optimizer.skip_failed_rules = false;
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_optimizer_rule(Arc::new(NoOuterJoinsWithoutEquality))
        .build();
    let ctx = SessionContext::remote_with_state(&format!("df://{address}"), state)
        .await
        .map_err(|e| Error::exec(format!("connecting to the scheduler at {scheduler}"), e))?;
    // Every job the cluster runs is watched: Ballista's own planner, its plans
    // wrapped in a JobGuard.
    let state = ctx.state();
    let planner = Arc::new(GuardedPlanner {
        inner: state.query_planner().clone(),
        jobs,
    });
    let ctx = SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_query_planner(planner)
            .build(),
    );
    crate::engine::udf::register(&ctx);
    Ok(ctx)
}

/// `df://host:port`, `http://host:port` or `host:port` → `host:port`.
pub fn scheduler_address(scheduler: &str) -> Result<String> {
    let rest = scheduler
        .strip_prefix("df://")
        .or_else(|| scheduler.strip_prefix("http://"))
        .unwrap_or(scheduler)
        .trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(rest.to_string())
        }
        _ => Err(Error::Config(format!(
            "--scheduler {scheduler}: expected df://HOST:PORT"
        ))),
    }
}

fn socket_address(what: &str, value: &str) -> Result<SocketAddr> {
    value
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::Config(format!("{what} {value}: expected HOST:PORT")))
}

/// Serves the scheduler on `bind` until the process is stopped.
pub async fn serve_scheduler(bind: &str, storage: StorageSettings) -> Result<()> {
    let address = socket_address("--bind", bind)?;
    let stores: Arc<dyn ObjectStoreRegistry> = Arc::new(LazyStores::new(storage));
    let session_builder: ballista_scheduler::scheduler_server::SessionBuilder =
        Arc::new(move |config: SessionConfig| {
            let state = ballista_core::utils::default_session_builder(config)?;
            // The scheduler lists a bucket's files while it plans.
            let runtime = RuntimeEnvBuilder::new()
                .with_object_store_registry(stores.clone())
                .build_arc()?;
            let mut state = SessionStateBuilder::new_from_existing(state)
                .with_runtime_env(runtime)
                .build();
            for udf in crate::engine::udf::all() {
                state.register_udf(Arc::new(udf))?;
            }
            Ok(state)
        });
    let mut config = SchedulerConfig::default()
        .with_hostname(address.ip().to_string())
        .with_port(address.port());
    config.bind_host = address.ip().to_string();
    // Executors heartbeat every 5 s: one silent for 20 s is lost, and its tasks
    // are given to the others instead of the job waiting three minutes.
    config.executor_timeout_seconds = EXECUTOR_TIMEOUT.as_secs();
    config.expire_dead_executor_interval_seconds = EXPIRY_CHECK.as_secs();
    config.no_executors_grace_period_seconds = 20;
    // A job is never recovered in place after a lost executor (see
    // lost_executors): a task or stage that fails fails its job, which the
    // client runs again from its inputs.
    config.task_max_failures = 1;
    config.stage_max_failures = 1;
    let cluster = BallistaCluster::new(
        Arc::new(FailJobsOnLostExecutor::new(format!("http://{address}"))),
        Arc::new(InMemoryJobState::new(
            config.scheduler_id.clone(),
            share_file_statistics_cache(session_builder),
            Arc::new(ballista_core::utils::default_config_producer),
        )),
    );
    tracing::info!("Ballista scheduler listening on {address}");
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|e| Error::Cluster(format!("scheduler on {bind}: {e}")))
}

/// How long revleak's scheduler waits for a silent executor's heartbeat
/// before it declares the executor lost, and how often it looks.
const EXECUTOR_TIMEOUT: Duration = Duration::from_secs(20);
const EXPIRY_CHECK: Duration = Duration::from_secs(5);

/// Rejects, before a query leaves the client, a join that Ballista 55 can answer
/// wrongly: an outer, semi or anti join without an equality condition (what an
/// uncorrelated scalar subquery, `left join ... on true` or a non-equi outer join
/// become). Ballista runs it as a nested-loop join and, with more than two
/// partitions per stage, returned its rows twice (seen on revleak's fx_daily).
/// Wrong amounts in a finance report are worse than a clear error: the message
/// names the way to write the same SQL that both engines run.
#[derive(Debug)]
pub struct NoOuterJoinsWithoutEquality;

impl OptimizerRule for NoOuterJoinsWithoutEquality {
    fn name(&self) -> &str {
        "revleak_no_outer_joins_without_equality"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> datafusion::common::Result<Transformed<LogicalPlan>> {
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::Join(join) = node
                && join.on.is_empty()
                && join.join_type != JoinType::Inner
            {
                return plan_err!(
                    "a {} join without an equality condition (an uncorrelated scalar \
                     subquery, `on true`, or only non-equi conditions) cannot run on a \
                     Ballista cluster: Ballista 55 can return its rows more than once. \
                     Give it an equality condition, or cross join a one-row CTE instead \
                     of a scalar subquery (see docs/cluster.md)",
                    join.join_type.to_string().to_lowercase()
                );
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(Transformed::no(plan))
    }
}

/// Ballista's query planner, with every job it sends to the cluster wrapped in
/// a [`JobGuard`].
#[derive(Debug)]
struct GuardedPlanner {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
    jobs: ClusterJobs,
}

#[async_trait::async_trait]
impl QueryPlanner for GuardedPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn datafusion::catalog::Session,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let plan = self
            .inner
            .create_physical_plan(logical_plan, session_state)
            .await?;
        // Only what runs as a job on the cluster (DDL and the like run here).
        if plan.name() != "DistributedQueryExec" {
            return Ok(plan);
        }
        Ok(Arc::new(JobGuard {
            properties: plan.properties().clone(),
            job: plan,
            jobs: self.jobs,
        }))
    }
}

/// A job on the cluster, watched from here: one that has not returned all its
/// rows within `stall_timeout` (hung: Ballista 55 was seen to roll a lost
/// executor's stages back and never finish) or that failed (an executor lost,
/// its retries spent) is run again from its inputs as a new job, `retries`
/// times; then the query fails, naming the cause, and the run publishes
/// nothing. A job only answers once it has finished, so the timeout bounds a
/// whole job: set it above the longest one.
#[derive(Debug)]
struct JobGuard {
    job: Arc<dyn ExecutionPlan>,
    properties: Arc<datafusion::physical_plan::PlanProperties>,
    jobs: ClusterJobs,
}

impl datafusion::physical_plan::DisplayAs for JobGuard {
    fn fmt_as(
        &self,
        _: datafusion::physical_plan::DisplayFormatType,
        f: &mut std::fmt::Formatter,
    ) -> std::fmt::Result {
        write!(
            f,
            "JobGuard: stall_timeout={}s, retries={}",
            self.jobs.stall_timeout.as_secs(),
            self.jobs.retries
        )
    }
}

impl ExecutionPlan for JobGuard {
    fn name(&self) -> &str {
        "JobGuard"
    }

    fn properties(&self) -> &Arc<datafusion::physical_plan::PlanProperties> {
        &self.properties
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_plan::PhysicalExpr>,
        ) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.job]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(JobGuard {
            properties: self.properties.clone(),
            job: children.remove(0),
            jobs: self.jobs,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<datafusion::execution::TaskContext>,
    ) -> datafusion::common::Result<datafusion::execution::SendableRecordBatchStream> {
        use futures::{StreamExt, TryStreamExt};
        let (job, jobs, schema) = (self.job.clone(), self.jobs, self.schema());
        let attempts = async move {
            let mut last = String::new();
            let mut failed = false;
            for attempt in 0..=jobs.retries {
                if attempt > 0 {
                    tracing::warn!(
                        "a cluster job {last}: running it again from its inputs ({attempt} of {})",
                        jobs.retries
                    );
                    // A job that failed because an executor died fails again if
                    // it runs before the scheduler has declared that executor
                    // lost (seen: its tasks sent to the dead one): wait until it has.
                    if failed {
                        tokio::time::sleep(EXECUTOR_TIMEOUT + EXPIRY_CHECK).await;
                    }
                }
                // The whole job, its result's partitions fetched from the
                // executors included: a fetch from a lost executor can hang too.
                // revleak collects every cluster result anyway, so it is kept
                // here until complete, and a job can be run again at any point.
                let stream = job.execute(partition, context.clone())?;
                match tokio::time::timeout(jobs.stall_timeout, stream.try_collect::<Vec<_>>()).await
                {
                    Ok(Ok(batches)) => {
                        return Ok(futures::stream::iter(batches.into_iter().map(Ok)).boxed());
                    }
                    Ok(Err(e)) if !retryable(&e) => return Err(e),
                    Ok(Err(e)) => {
                        last = format!("failed ({e})");
                        failed = true;
                    }
                    Err(_) => {
                        failed = false;
                        last = format!(
                            "gave no result in {} s (cluster_stall_timeout)",
                            jobs.stall_timeout.as_secs()
                        )
                    }
                }
            }
            Err(datafusion::error::DataFusionError::Execution(format!(
                "a job on the cluster {last}, {} time(s) in all (cluster_job_retries = {}); nothing is published",
                jobs.retries + 1,
                jobs.retries
            )))
        };
        let stream = futures::stream::once(attempts).try_flatten();
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, stream),
        ))
    }
}

/// Whether a job's error may go away when the job runs again: a failure on
/// the cluster (a lost executor, a task's I/O), not a plan or a query's own
/// error, which would fail the same way.
fn retryable(e: &datafusion::error::DataFusionError) -> bool {
    matches!(
        e.find_root(),
        datafusion::error::DataFusionError::Execution(_)
            | datafusion::error::DataFusionError::External(_)
            | datafusion::error::DataFusionError::IoError(_)
    )
}

/// What `revleak cluster executor` was asked for.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: String,
    pub bind: String,
    pub external_host: Option<String>,
    pub work_dir: Option<PathBuf>,
    pub memory_pool_size: Option<usize>,
    pub concurrent_tasks: Option<usize>,
    /// How buckets are reached (`revleak.toml` and `REVLEAK_STORAGE_*`).
    pub storage: StorageSettings,
}

/// Serves an executor registered with the scheduler until the process is stopped.
pub async fn serve_executor(opts: &ExecutorOptions) -> Result<()> {
    let address = socket_address("--bind", &opts.bind)?;
    let scheduler = scheduler_address(&opts.scheduler)?;
    let (scheduler_host, scheduler_port) = scheduler
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse::<u16>().unwrap_or(50050)))
        .expect("scheduler_address checked the form");
    if let Some(dir) = &opts.work_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut registry = BallistaFunctionRegistry::default();
    // Ballista's default registry lacks DataFusion's array functions, which the
    // data-quality rules use (array_sort, array_to_string).
    for udf in datafusion::functions_nested::all_default_nested_functions() {
        registry
            .scalar_functions
            .insert(udf.name().to_string(), udf);
    }
    for udf in crate::engine::udf::all() {
        registry
            .scalar_functions
            .insert(udf.name().to_string(), Arc::new(udf));
    }
    let defaults = ExecutorProcessConfig::default();
    // Ballista's default runtime (spills in the work folder), plus the clients
    // of the buckets the plans name, built from this process's environment.
    let stores: Arc<dyn ObjectStoreRegistry> = Arc::new(LazyStores::new(opts.storage.clone()));
    let spill_dir = opts
        .work_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .display()
        .to_string();
    let runtime_producer: ballista_core::RuntimeProducer = Arc::new(move |_| {
        RuntimeEnvBuilder::new()
            .with_temp_file_path(spill_dir.clone())
            .with_object_store_registry(stores.clone())
            .build_arc()
    });
    let config = ExecutorProcessConfig {
        bind_host: address.ip().to_string(),
        external_host: Some(
            opts.external_host
                .clone()
                .unwrap_or_else(|| address.ip().to_string()),
        ),
        port: address.port(),
        grpc_port: address.port().checked_add(1).ok_or_else(|| {
            Error::Config(format!(
                "--bind {}: the task service needs PORT + 1",
                opts.bind
            ))
        })?,
        scheduler_host,
        scheduler_port,
        // Wait for a scheduler that is still starting instead of failing at once.
        scheduler_connect_timeout_seconds: 30,
        work_dir: opts.work_dir.as_ref().map(|d| d.display().to_string()),
        memory_pool_size: opts.memory_pool_size.map(|b| b as u64),
        vcores: opts.concurrent_tasks.unwrap_or(defaults.vcores),
        // A short heartbeat lets the scheduler notice a lost executor quickly.
        executor_heartbeat_interval_seconds: 5,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry)),
        override_runtime_producer: Some(runtime_producer),
        override_execution_engine: Some(Arc::new(WithoutStageMetrics(
            DefaultExecutionEngine::new(),
        ))),
        ..defaults
    };
    tracing::info!(
        "Ballista executor on {address} (tasks on port {}) registering with {scheduler}",
        config.grpc_port
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| Error::Cluster(format!("executor on {}: {e}", opts.bind)))
}

/// Ballista's default engine, reporting no per-operator metrics to the
/// scheduler. Tasks of one stage can report different numbers of operator
/// metric sets (an operator a task never ran reports none); Ballista 55's
/// scheduler then rejects the task's status update and waits for the task
/// forever. Without metrics the scheduler skips that bookkeeping.
struct WithoutStageMetrics(DefaultExecutionEngine);

impl ExecutionEngine for WithoutStageMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: ballista_core::JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(StageWithoutMetrics(inner)))
    }
}

#[derive(Debug)]
struct StageWithoutMetrics(Arc<dyn QueryStageExecutor>);

impl std::fmt::Display for StageWithoutMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for StageWithoutMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<datafusion::execution::TaskContext>,
    ) -> datafusion::error::Result<Vec<ballista_core::serde::protobuf::ShuffleWritePartition>> {
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<datafusion::physical_plan::metrics::MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(
        &self,
    ) -> Vec<ballista_core::serde::protobuf::RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(
        &self,
    ) -> datafusion::error::Result<Vec<ballista_core::serde::protobuf::WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<ballista_core::serde::protobuf::TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls_accept_the_documented_forms_only() {
        assert_eq!(
            scheduler_address("df://10.0.0.5:50050").unwrap(),
            "10.0.0.5:50050"
        );
        assert_eq!(scheduler_address("127.0.0.1:7").unwrap(), "127.0.0.1:7");
        assert_eq!(scheduler_address("http://h:1/").unwrap(), "h:1");
        for bad in ["df://host", "df://:50050", "host:port", ""] {
            let e = scheduler_address(bad).unwrap_err().to_string();
            assert!(e.contains("expected df://HOST:PORT"), "{bad}: {e}");
        }
    }
}
