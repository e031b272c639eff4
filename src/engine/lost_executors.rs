//! The scheduler's view of its executors, with one rule Ballista does not have:
//! when an executor is lost, every job still running fails at once, and the
//! client runs it again from its inputs as a new job (see `JobGuard` in
//! [`crate::engine::cluster`]).
//!
//! Ballista 55 recovers a job in place instead: it rolls back the stages whose
//! output lived on the lost executor and runs their tasks again. Seen here, that
//! recovery hung forever (the survivors' task slots were never given back) or
//! finished with exit 0 and rows read twice (a snapshot's invoice lines counted
//! as duplicated keys). A job that lost an executor is therefore never trusted:
//! its tasks fail rather than retry (`task_max_failures` and
//! `stage_max_failures` are 1, see `serve_scheduler`) and, here, the jobs
//! running when the scheduler declares an executor lost are cancelled before
//! Ballista's own recovery (its `ExecutorLost` event) can touch them.

use ballista_core::JobId;
use ballista_core::error::Result;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{CancelJobParams, ExecutorHeartbeat, job_status};
use ballista_core::serde::scheduler::{ExecutorData, ExecutorMetadata};
use ballista_core::utils::{GrpcClientConfig, create_grpc_client_connection};
use ballista_scheduler::cluster::memory::InMemoryClusterState;
use ballista_scheduler::cluster::{BoundTask, ClusterState, ClusterStateEventStream, ExecutorSlot};
use ballista_scheduler::config::TaskDistributionPolicy;
use ballista_scheduler::state::execution_graph::ExecutionGraphBox;
use ballista_scheduler::state::task_manager::JobInfoCache;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::RwLock;

/// Ballista's in-memory cluster state, remembering the jobs it has given
/// tasks to so that it can fail those still running when an executor goes.
pub struct FailJobsOnLostExecutor {
    inner: InMemoryClusterState,
    /// This scheduler's own gRPC address (`http://host:port`): jobs are
    /// cancelled through it, the way a client cancels one, so Ballista's
    /// bookkeeping (task slots, the job's status) stays its own.
    scheduler_url: String,
    jobs: Mutex<HashMap<JobId, Arc<RwLock<ExecutionGraphBox>>>>,
}

impl FailJobsOnLostExecutor {
    pub fn new(scheduler_url: String) -> Self {
        FailJobsOnLostExecutor {
            inner: InMemoryClusterState::default(),
            scheduler_url,
            jobs: Mutex::new(HashMap::new()),
        }
    }

    /// The jobs running at the last binding of tasks that have not ended since.
    async fn running_jobs(&self) -> Vec<JobId> {
        let known: Vec<(JobId, Arc<RwLock<ExecutionGraphBox>>)> = self
            .jobs
            .lock()
            .expect("job list lock")
            .iter()
            .map(|(id, graph)| (id.clone(), graph.clone()))
            .collect();
        let mut running = Vec::new();
        let mut ended = Vec::new();
        for (id, graph) in known {
            let status = graph.read().await.status().status.clone();
            match status {
                Some(job_status::Status::Successful(_)) | Some(job_status::Status::Failed(_)) => {
                    ended.push(id)
                }
                _ => running.push(id),
            }
        }
        let mut jobs = self.jobs.lock().expect("job list lock");
        for id in ended {
            jobs.remove(&id);
        }
        running
    }

    async fn cancel(&self, executor_id: &str, jobs: Vec<JobId>) {
        let channel = match create_grpc_client_connection(
            self.scheduler_url.clone(),
            &GrpcClientConfig::default(),
        )
        .await
        {
            Ok(channel) => channel,
            Err(e) => {
                tracing::error!(
                    "executor {executor_id} lost: cannot reach this scheduler at {} to fail \
                         its running jobs: {e}",
                    self.scheduler_url
                );
                return;
            }
        };
        let mut scheduler = SchedulerGrpcClient::new(channel);
        for job_id in jobs {
            tracing::warn!(
                "executor {executor_id} lost: job {job_id} fails, its client runs it again \
                 from its inputs"
            );
            if let Err(e) = scheduler
                .cancel_job(CancelJobParams {
                    job_id: job_id.to_string(),
                })
                .await
            {
                tracing::error!("executor {executor_id} lost: job {job_id} not cancelled: {e}");
            }
        }
    }
}

#[async_trait::async_trait]
impl ClusterState for FailJobsOnLostExecutor {
    async fn init(&self) -> Result<()> {
        self.inner.init().await
    }

    async fn bind_schedulable_tasks(
        &self,
        distribution: TaskDistributionPolicy,
        active_jobs: Arc<HashMap<JobId, JobInfoCache>>,
        executors: Option<HashSet<String>>,
    ) -> Result<Vec<BoundTask>> {
        // Ballista passes every running job: the list is replaced, so a
        // finished job's graph is not kept alive here.
        *self.jobs.lock().expect("job list lock") = active_jobs
            .iter()
            .map(|(id, job)| (id.clone(), job.execution_graph.clone()))
            .collect();
        self.inner
            .bind_schedulable_tasks(distribution, active_jobs, executors)
            .await
    }

    async fn unbind_tasks(&self, executor_slots: Vec<ExecutorSlot>) -> Result<()> {
        self.inner.unbind_tasks(executor_slots).await
    }

    async fn register_executor(
        &self,
        metadata: ExecutorMetadata,
        spec: ExecutorData,
    ) -> Result<()> {
        self.inner.register_executor(metadata, spec).await
    }

    async fn save_executor_metadata(&self, metadata: ExecutorMetadata) -> Result<()> {
        self.inner.save_executor_metadata(metadata).await
    }

    async fn get_executor_metadata(&self, executor_id: &str) -> Result<ExecutorMetadata> {
        self.inner.get_executor_metadata(executor_id).await
    }

    async fn registered_executor_metadata(&self) -> Vec<ExecutorMetadata> {
        self.inner.registered_executor_metadata().await
    }

    async fn save_executor_heartbeat(&self, heartbeat: ExecutorHeartbeat) -> Result<()> {
        self.inner.save_executor_heartbeat(heartbeat).await
    }

    /// Called before Ballista posts its `ExecutorLost` event: the running jobs'
    /// cancellations are queued first, so no job is recovered in place.
    async fn remove_executor(&self, executor_id: &str) -> Result<()> {
        let removed = self.inner.remove_executor(executor_id).await;
        let running = self.running_jobs().await;
        if !running.is_empty() {
            self.cancel(executor_id, running).await;
        }
        removed
    }

    fn executor_heartbeats(&self) -> HashMap<String, ExecutorHeartbeat> {
        self.inner.executor_heartbeats()
    }

    fn get_executor_heartbeat(&self, executor_id: &str) -> Option<ExecutorHeartbeat> {
        self.inner.get_executor_heartbeat(executor_id)
    }

    async fn cluster_state_events(&self) -> Result<ClusterStateEventStream> {
        self.inner.cluster_state_events().await
    }
}
