//! Command-line interface: `run`, `generate`, `checks`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "Exit codes:
  0  the run completed and its outputs are published
  2  the run failed (bad input, bad SQL, I/O): nothing was published";

#[derive(Debug, Parser)]
#[command(name = "revleak", version, about = "Finds channel revenue leakage by reconciling a nightly snapshot of partner, CRM, billing, ERP and commission systems", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile a snapshot and publish findings, summary and manifest under --out
    Run(RunArgs),
    /// Write a synthetic snapshot with planted leaks and its ground-truth file
    Generate(GenerateArgs),
    /// List the checks of the queries folder with their metadata
    Checks(ChecksArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Snapshot folder: <system>/<table>.parquet or <system>/<table>/ part files
    #[arg(default_value = "data/sample")]
    pub snapshot: PathBuf,
    /// Output folder (findings/, summary/, runs/ partitioned by as_of)
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
    /// Folder holding staging/, shared/ and checks/ SQL
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// A missing input table is an error instead of skipping the checks that read it
    #[arg(long)]
    pub strict: bool,
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
    /// Folder holding checks/
    #[arg(long, default_value = "queries")]
    pub queries: PathBuf,
}
