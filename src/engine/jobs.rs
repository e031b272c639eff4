//! How a cluster's jobs are watched from the client (`cluster_stall_timeout`,
//! `cluster_job_retries`): the settings, with or without the `cluster` feature,
//! so the engine's settings name them either way.

/// How a cluster's jobs are watched (`cluster_stall_timeout`, `cluster_job_retries`).
#[derive(Debug, Clone, Copy)]
pub struct ClusterJobs {
    pub stall_timeout: std::time::Duration,
    pub retries: usize,
}

impl Default for ClusterJobs {
    fn default() -> ClusterJobs {
        ClusterJobs::of(&crate::config::ConfigFile::default())
    }
}

impl ClusterJobs {
    pub fn of(config: &crate::config::ConfigFile) -> ClusterJobs {
        ClusterJobs {
            stall_timeout: std::time::Duration::from_secs(
                config.cluster_stall_timeout.unwrap_or(600),
            ),
            retries: config.cluster_job_retries.unwrap_or(1) as usize,
        }
    }
}
