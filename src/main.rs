//! The `revleak` binary: parses arguments, sets up logging, calls the library (or,
//! for `generate`, the snapshot generator) and
//! maps the outcome to an exit code (0 done, 1 --fail-on met, 2 failed).

use clap::Parser;
use revleak::cli::args::{Cli, Command, GenerateArgs, LogFormat};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    revleak::engine::memory::restart_with_huge_pages();
    let cli = Cli::parse();
    init_logging(&cli);
    tracing::debug!("memory: {}", revleak::engine::memory::huge_pages_state());
    if let Command::Generate(args) = &cli.command {
        return generate(args);
    }
    let json_logs = cli.log_format == LogFormat::Json;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = revleak::cli::app::worker_threads(&cli) {
        builder.worker_threads(threads);
    }
    // Deep plans (every layer inlined into a check on a cluster) recurse deeply
    // when optimized and serialized: give the workers room, as Ballista's own
    // scheduler does.
    builder.thread_stack_size(32 * 1024 * 1024);
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // On a worker thread, not this one: the command gets the workers' stack.
    let outcome = runtime.block_on(async move {
        match tokio::spawn(revleak::cli::app::execute(cli)).await {
            Ok(outcome) => outcome,
            Err(e) => Err(revleak::Error::Config(format!("the command stopped: {e}"))),
        }
    });
    match outcome {
        Ok(outcome) => {
            print!("{}", outcome.stdout);
            ExitCode::from(outcome.exit_code)
        }
        Err(e) => {
            if json_logs {
                tracing::error!(exit_code = 2, "{e}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(2)
        }
    }
}

/// Text or JSON lines on stderr; REVLEAK_LOG (an env-filter) overrides the level
/// that --quiet / -v choose.
fn init_logging(cli: &Cli) {
    let level = if cli.quiet {
        "off"
    } else {
        match cli.verbose {
            // a test case is a whole run: its progress lines would bury the results
            0 if matches!(cli.command, Command::Test(_)) => "revleak=warn",
            0 => "revleak=info",
            1 => "revleak=debug",
            _ => "revleak=trace,datafusion=debug",
        }
    };
    let filter = EnvFilter::try_from_env("REVLEAK_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.without_time().init(),
    }
}

/// `revleak generate`: a synthetic snapshot with planted leaks (the
/// `revleak-synth` crate, which the library does not depend on).
fn generate(args: &GenerateArgs) -> ExitCode {
    let summary = match revleak_synth::generate(&revleak_synth::GenerateOptions {
        out: args.out.clone(),
        scale: args.scale,
        seed: args.seed,
        as_of: args.as_of,
    }) {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rows: usize = summary.tables.iter().map(|(_, n)| n).sum();
    let planted: usize = summary.planted.iter().map(|(_, n)| n).sum();
    println!(
        "wrote {} ({} tables, {rows} rows); {planted} planted cases in {}",
        args.out.display(),
        summary.tables.len(),
        summary.truth_path.display()
    );
    ExitCode::SUCCESS
}
