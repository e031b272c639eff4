//! Command-line interface: the subcommands (`run`, `generate`, `checks`,
//! `inspect`, `test`, `watch`, `init`, `report`, `config`, `contract`, `cluster`)
//! and the flags every command shares (logging, output format).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes:
  0  the run completed and its outputs are published
  1  the run completed and published, and findings at or above --fail-on exist
     (new findings only with --fail-on-new; findings with a live disposition never count),
     or --keep-going published the run without the checks that failed
  2  the run failed (bad input, bad SQL, bad config, I/O): nothing was published";

#[derive(Debug, Parser)]
#[command(name = "revleak", version, about = "Finds channel revenue leakage by reconciling a nightly snapshot of partner, CRM, billing, ERP and commission systems", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines on stderr as text for people or JSON for schedulers (one object per line)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only errors on stderr (no progress, no info lines)
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More log detail (-v debug, -vv trace)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The final summary on stdout as text or as JSON
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

// Parsed once per process: boxing RunArgs would save a few hundred bytes, once.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile a snapshot and publish findings, summary and manifest under --out
    Run(RunArgs),
    /// Write a synthetic snapshot with planted leaks and its ground-truth file
    Generate(GenerateArgs),
    /// List the checks of the queries folder with their metadata
    Checks(ChecksArgs),
    /// Write a starter project to adapt: queries/ (staging, shared, checks, actions) and revleak.toml
    Init(InitArgs),
    /// Run the SQL tests beside the queries (queries/tests/*.toml): given rows, expected findings
    Test(TestArgs),
    /// Run on every snapshot that lands under ROOT, in order, one at a time, until SIGTERM
    Watch(WatchArgs),
    /// Show how staging maps a snapshot's raw tables to the contract, and every mismatch, without running the checks
    Inspect(InspectArgs),
    /// Print the effective configuration (revleak.toml, then REVLEAK_* variables, then --set)
    Config(ConfigArgs),
    /// Print the data contract as markdown (docs/contract.md): the canonical tables, their columns, keys and data-quality rules
    Contract,
    /// Re-render the HTML report of a run from the published Parquet in an output folder
    Report(ReportArgs),
    /// Serve a role of a Ballista cluster that `run --engine ballista` executes on
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans each check into stages and hands tasks to the executors
    Scheduler(SchedulerArgs),
    /// An executor: runs tasks and serves their shuffle output to the others
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
    pub bind: String,
    /// Config file: how buckets are reached (storage_endpoint, ...) [default: ./revleak.toml when it exists]
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address of this executor's data (Arrow Flight) service; its task service
    /// listens on PORT + 1
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    pub bind: String,
    /// Host name the scheduler and other executors reach this executor by
    /// [default: the host of --bind]
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Folder for shuffle files [default: a temporary folder]
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Memory pool of each task's engine, e.g. 4GiB [default: a share of the machine's memory]
    #[arg(long, value_name = "SIZE")]
    pub memory_pool_size: Option<String>,
    /// Tasks run at once [default: cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrent_tasks: Option<u32>,
    /// Config file: how buckets are reached (storage_endpoint, ...) [default: ./revleak.toml when it exists]
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Config file (default: ./revleak.toml when it exists)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a parameter, e.g. --set amount_tolerance=5.00 (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Snapshot folder: <system>/<name>.parquet, <name>.csv or <name>/ part files, mapped to the contract by staging/
    #[arg(default_value = "data/sample")]
    pub snapshot: PathBuf,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// Every option of a run, shared by `run` and `watch`.
#[derive(Debug, Args)]
pub struct RunFlags {
    /// Output folder or object-store URL (findings/, summary/, runs/ partitioned by as_of)
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Reconcile as of this date (default: snapshot.json's as_of, else today)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Config file (default: ./revleak.toml when it exists)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a parameter, e.g. --set amount_tolerance=5.00 (repeatable)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
    /// Run only this check (repeatable)
    #[arg(long = "only", value_name = "CHECK_ID")]
    pub only: Vec<String>,
    /// Folder holding staging/, shared/, checks/ and actions/ SQL [default: ./queries when present, else the built-in queries]
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Stop on the staging warnings too: a raw table no staging view reads, a table of absent_tables the snapshot holds (a missing export always stops the run)
    #[arg(long)]
    pub strict: bool,
    /// Also write a statement per partner to share with it (report/as_of=.../partners/<partner_id>.html)
    #[arg(long)]
    pub partner_reports: bool,
    /// Skip the recovery actions (actions/as_of=...: draft invoices, commission adjustments, work lists)
    #[arg(long)]
    pub no_actions: bool,
    /// Analysts' dispositions CSV (default: dispositions.csv in --out when present)
    #[arg(long, value_name = "FILE")]
    pub dispositions: Option<PathBuf>,
    /// New findings at or above this severity go to alerts/as_of=.../alerts.jsonl [default: high]
    #[arg(long, value_name = "SEVERITY")]
    pub alert_min_severity: Option<String>,
    /// POST each run's new alerts as JSON to this URL (retried on the next run when it fails)
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,
    /// Exit 1 when open findings at or above this severity exist (critical, high, medium, low, info)
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// With --fail-on: count new findings only
    #[arg(long)]
    pub fail_on_new: bool,
    /// A broken or failing check is reported and the others are published (exit 1)
    #[arg(long)]
    pub keep_going: bool,
    /// Query engine threads, shared by the queries run side by side [default: cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Memory pool of the query engine, e.g. 1GiB: sorts, aggregations and joins spill
    /// beyond it, and the run's intermediate layers go to disk [default: unbounded]
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Folder for spill files under --memory-limit [default: <out>/_spill]
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Query engine: local (embedded DataFusion) or ballista (a cluster, see --scheduler)
    /// [default: local]
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Ballista scheduler for --engine ballista, e.g. df://10.0.0.5:50050
    #[arg(long, value_name = "URL")]
    pub scheduler: Option<String>,
    /// Print each check's executed physical plan with row counts and timings
    /// (EXPLAIN ANALYZE) on stdout before the summary
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Snapshot folder to write (the truth file goes beside it: <out>.truth.csv)
    #[arg(long)]
    pub out: PathBuf,
    /// Size: 1 ≈ 1,000 partners and 50,000 deals; fractions allowed
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2026-11-26")]
    pub as_of: chrono::NaiveDate,
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    /// Folder holding checks/ [default: ./queries when present, else the built-in queries]
    #[arg(long)]
    pub queries: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Folder the snapshots land in, one folder each (processed in name order once its
    /// _SUCCESS or snapshot.json exists)
    pub root: PathBuf,
    /// Seconds between looks at ROOT
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub poll_seconds: f64,
    #[command(flatten)]
    pub flags: RunFlags,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only the cases whose name or file contains this text
    pub filter: Option<String>,
    /// Folder holding tests/ beside staging/, shared/ and checks/ [default: ./queries when present, else the built-in queries]
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Config file (default: ./revleak.toml when it exists): its [csv."system/name"] formats
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Snapshot folder: <system>/<name>.parquet, <name>.csv or <name>/ part files
    #[arg(default_value = "data/sample")]
    pub snapshot: PathBuf,
    /// Folder holding staging/ SQL [default: ./queries when present, else the built-in queries]
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Config file (default: ./revleak.toml when it exists): [csv."system/name"] formats
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write queries/ and revleak.toml into (created if missing)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output folder or object-store URL of earlier runs (holding findings/, summary/ and runs/)
    pub dir: PathBuf,
    /// The run to render (default: the latest as_of published under DIR)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Also write a statement per partner (report/as_of=.../partners/<partner_id>.html), from the run's statements/
    #[arg(long)]
    pub partner_reports: bool,
    /// Config file (default: ./revleak.toml when it exists): an object store's endpoint and timeouts
    #[arg(long)]
    pub config: Option<PathBuf>,
}
