//! The subcommands as library functions returning the text they print, so that the
//! binary stays thin and tests can call them directly.

use crate::checks;
use crate::cli::{ChecksArgs, Command, GenerateArgs, RunArgs};
use crate::config::ConfigFile;
use crate::error::Result;
use crate::run::{self, RunOptions, RunReport};
use rust_decimal::Decimal;
use std::fmt::Write;
use std::path::PathBuf;

pub async fn execute(command: Command) -> Result<String> {
    match command {
        Command::Run(args) => run_command(args).await,
        Command::Generate(args) => generate_command(args),
        Command::Checks(args) => checks_command(args),
    }
}

pub fn run_options(args: RunArgs) -> Result<RunOptions> {
    let config = ConfigFile::load(args.config.as_deref())?;
    let queries = args
        .queries
        .or_else(|| config.queries.clone())
        .unwrap_or_else(|| PathBuf::from("queries"));
    Ok(RunOptions {
        snapshot: args.snapshot,
        out: args.out,
        as_of: args.as_of,
        strict: args.strict || config.strict,
        config,
        sets: args.sets,
        only: args.only,
        queries,
    })
}

async fn run_command(args: RunArgs) -> Result<String> {
    let opts = run_options(args)?;
    let report = run::run(&opts).await?;
    Ok(render_summary(&report))
}

/// Thousands separators, two decimals: 1234567.5 → 1,234,567.50.
pub fn format_amount(amount: Decimal) -> String {
    crate::udf::format_money(amount)
}

pub fn render_summary(report: &RunReport) -> String {
    let m = &report.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "revleak run {} as of {} ({})",
        m.run_id, m.as_of, m.snapshot
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<26} {:>9} {:>18}",
        "check",
        "findings",
        format!("leakage {}", m.reporting_currency)
    );
    for c in &m.checks {
        match &c.skipped {
            Some(reason) => {
                let _ = writeln!(
                    out,
                    "{:<26} {:>9} {:>18}  skipped: {reason}",
                    c.check_id, "-", "-"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{:<26} {:>9} {:>18}",
                    c.check_id,
                    c.rows,
                    format_amount(c.leakage)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{:<26} {:>9} {:>18}",
        "total",
        m.findings,
        format_amount(m.total_leakage)
    );
    for w in &m.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "outputs:");
    for p in &report.published {
        let _ = writeln!(out, "  {}", p.display());
    }
    out
}

fn generate_command(args: GenerateArgs) -> Result<String> {
    let summary = crate::generate::generate(&crate::generate::GenerateOptions {
        out: args.out.clone(),
        scale: args.scale,
        seed: args.seed,
        as_of: args.as_of,
    })?;
    let mut out = String::new();
    let rows: usize = summary.tables.iter().map(|(_, n)| n).sum();
    let planted: usize = summary.planted.iter().map(|(_, n)| n).sum();
    let _ = writeln!(
        out,
        "wrote {} ({} tables, {rows} rows); {planted} planted cases in {}",
        args.out.display(),
        summary.tables.len(),
        summary.truth_path.display()
    );
    Ok(out)
}

fn checks_command(args: ChecksArgs) -> Result<String> {
    let all = checks::discover(&args.queries.join("checks"))?;
    let mut out = String::new();
    for c in all {
        let _ = writeln!(out, "{}  [{}]  {}", c.id, c.default_severity, c.title);
        if !c.description.is_empty() {
            let _ = writeln!(out, "    {}", c.description);
        }
    }
    Ok(out)
}
