//! What a run is asked to do: the snapshot, the output folder, the settings
//! and flags resolved from `revleak.toml`, the environment and the command line.

use crate::config::ConfigFile;
use crate::engine::session::{Engine, EngineSettings};
use chrono::NaiveDate;
use std::path::PathBuf;

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

    /// The engine settings of the run: a memory limit spills under
    /// `<out>/_spill` unless told where.
    pub fn engine_settings(&self) -> EngineSettings {
        let spill_dir = match (&self.spill_dir, self.memory_limit) {
            (Some(dir), _) => Some(dir.clone()),
            // beside the outputs, unless they go to a bucket: then local disk
            (None, Some(_)) if crate::storage::is_object_store(&self.out) => {
                Some(std::env::temp_dir().join(format!("revleak-spill-{}", std::process::id())))
            }
            (None, Some(_)) => Some(self.out.join("_spill")),
            (None, None) => None,
        };
        EngineSettings {
            threads: self.threads,
            memory_limit: self.memory_limit,
            spill_dir,
            cluster_jobs: crate::engine::jobs::ClusterJobs::of(&self.config),
        }
    }
}
