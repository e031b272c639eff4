//! The subcommands as library functions returning the text they print, so that the
//! binary stays thin and tests can call them directly.

use crate::cli::args::{
    ChecksArgs, Cli, Command, ConfigArgs, InitArgs, OutputFormat, ReportArgs, RunArgs,
};
use crate::config::keys::Unset;
use crate::config::{ConfigFile, DEFAULT_ALERT_MIN_SEVERITY, EngineChoice, parse_severity};
use crate::error::{Error, Result};
use crate::reconcile::checks;
use crate::run::{self, RunOptions, RunReport};
use rust_decimal::Decimal;
use std::fmt::Write;
use std::io::IsTerminal;

/// What a command leaves for the binary: text for stdout and the exit code.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub stdout: String,
    pub exit_code: u8,
}

impl CommandOutput {
    fn ok(stdout: String) -> CommandOutput {
        CommandOutput {
            stdout,
            exit_code: 0,
        }
    }
}

pub async fn execute(cli: Cli) -> Result<CommandOutput> {
    let output = cli.output;
    let progress = !cli.quiet && std::io::stderr().is_terminal();
    match cli.command {
        Command::Run(args) => run_command(args, output, progress).await,
        // the generator is not part of the library: the binary runs it (src/main.rs)
        Command::Generate(_) => Err(crate::Error::Config(
            "`revleak generate` is run by the revleak binary".to_string(),
        )),
        Command::Checks(args) => checks_command(args).map(CommandOutput::ok),
        Command::Init(args) => init_command(args).map(CommandOutput::ok),
        Command::Inspect(args) => inspect_command(args, output).await,
        Command::Test(args) => test_command(args).await,
        Command::Watch(args) => watch_command(args, progress).await,
        Command::Config(args) => config_command(args).map(CommandOutput::ok),
        Command::Contract => Ok(CommandOutput::ok(revleak_contract::markdown())),
        Command::Report(args) => report_command(args).map(CommandOutput::ok),
        Command::Cluster(role) => cluster_command(role).await.map(CommandOutput::ok),
    }
}

/// Serves a cluster role until the process is stopped.
#[cfg(feature = "cluster")]
async fn cluster_command(role: crate::cli::args::ClusterCommand) -> Result<String> {
    use crate::cli::args::ClusterCommand;
    use crate::engine::cluster;
    use crate::storage::store::StorageSettings;
    match role {
        ClusterCommand::Scheduler(args) => {
            let config = ConfigFile::load_with_env(args.config.as_deref())?;
            cluster::serve_scheduler(&args.bind, StorageSettings::of(&config)).await?
        }
        ClusterCommand::Executor(args) => {
            let memory_pool_size = match &args.memory_pool_size {
                Some(s) => Some(crate::config::parse_size("--memory-pool-size", s)?),
                None => None,
            };
            let config = ConfigFile::load_with_env(args.config.as_deref())?;
            cluster::serve_executor(&cluster::ExecutorOptions {
                scheduler: args.scheduler,
                bind: args.bind,
                external_host: args.external_host,
                work_dir: args.work_dir,
                memory_pool_size,
                concurrent_tasks: args.concurrent_tasks.map(|n| n as usize),
                storage: StorageSettings::of(&config),
            })
            .await?
        }
    }
    Ok(String::new())
}

#[cfg(not(feature = "cluster"))]
async fn cluster_command(_role: crate::cli::args::ClusterCommand) -> Result<String> {
    Err(crate::error::Error::Config(
        "revleak cluster: this revleak was built without the `cluster` feature: rebuild with `cargo install --path . --features cluster`"
            .into(),
    ))
}

pub fn run_options(
    snapshot: std::path::PathBuf,
    args: crate::cli::args::RunFlags,
) -> Result<RunOptions> {
    let config = ConfigFile::load_with_env(args.config.as_deref())?;
    let queries =
        crate::cli::queries::resolve(args.queries.or_else(|| config.queries.clone()).as_deref())?;
    let alert_min_severity = match &args.alert_min_severity {
        Some(s) => parse_severity("--alert-min-severity", s)?,
        None => config
            .alert_min_severity
            .unwrap_or(DEFAULT_ALERT_MIN_SEVERITY),
    };
    let alert_webhook = match (&args.alert_webhook, &config.alert_webhook_env) {
        (Some(url), _) => Some(crate::outputs::delivery::Webhook::new(
            url,
            "--alert-webhook",
        )?),
        (None, Some(var)) => {
            let source = format!("alert_webhook_env = {var:?}");
            let url = std::env::var(var).map_err(|_| {
                crate::error::Error::Config(format!(
                    "{source}: the environment variable {var} is not set"
                ))
            })?;
            Some(crate::outputs::delivery::Webhook::new(&url, &source)?)
        }
        (None, None) => None,
    };
    let fail_on = match &args.fail_on {
        Some(s) => Some(parse_severity("--fail-on", s)?),
        None => config.fail_on,
    };
    let threads = match args.threads {
        Some(n) => Some(n as usize),
        None => config.threads,
    };
    let memory_limit = match args
        .memory_limit
        .as_deref()
        .or(config.memory_limit.as_deref())
    {
        Some(s) => Some(crate::config::parse_size("--memory-limit", s)?),
        None => None,
    };
    let spill_dir = args.spill_dir.or_else(|| config.spill_dir.clone());
    let engine = match args.engine.as_deref() {
        Some(e) => crate::config::parse_engine("--engine", e)?,
        None => config.engine.unwrap_or_default(),
    };
    let scheduler = args.scheduler.or_else(|| config.scheduler.clone());
    let engine = match (engine, scheduler) {
        (EngineChoice::Ballista, Some(scheduler)) => run::Engine::Ballista { scheduler },
        (EngineChoice::Ballista, None) => {
            return Err(crate::error::Error::Config(
                "--engine ballista needs --scheduler df://HOST:PORT (or scheduler in revleak.toml)"
                    .into(),
            ));
        }
        (EngineChoice::Local, _) => run::Engine::Local,
    };
    Ok(RunOptions {
        engine,
        threads,
        memory_limit,
        spill_dir,
        explain: args.explain,
        report: true,
        actions: !args.no_actions,
        snapshot,
        // `file:///x` is the folder /x; another URL is refused by the run
        out: crate::storage::local_path(&args.out)?,
        as_of: args.as_of,
        strict: args.strict || config.strict,
        partner_reports: args.partner_reports || config.partner_reports,
        dispositions: args.dispositions.or_else(|| config.dispositions.clone()),
        alert_min_severity,
        alert_webhook,
        fail_on,
        fail_on_new: args.fail_on_new || config.fail_on_new,
        progress: false,
        keep_going: args.keep_going,
        config,
        sets: args.sets,
        only: args.only,
        queries,
    })
}

async fn run_command(args: RunArgs, output: OutputFormat, progress: bool) -> Result<CommandOutput> {
    let mut opts = run_options(args.snapshot, args.flags)?;
    opts.progress = progress;
    let report = run::run(&opts).await?;
    let exit_code = if report.threshold_met() || !report.failed_checks().is_empty() {
        1
    } else {
        0
    };
    let stdout = match output {
        OutputFormat::Text => render_explain(&report) + &render_summary(&report),
        OutputFormat::Json => {
            let mut value = serde_json::json!({
                "exit_code": exit_code,
                "published": report.published,
                "manifest": report.manifest,
            });
            if opts.explain {
                value["explain"] = serde_json::json!(report.explain);
            }
            let mut json = serde_json::to_string_pretty(&value).expect("summary serializes");
            json.push('\n');
            json
        }
    };
    Ok(CommandOutput { stdout, exit_code })
}

/// `revleak watch ROOT`: exit 0 when stopped by SIGTERM or SIGINT.
async fn watch_command(args: crate::cli::args::WatchArgs, progress: bool) -> Result<CommandOutput> {
    if !(args.poll_seconds.is_finite() && args.poll_seconds > 0.0) {
        return Err(crate::error::Error::Config(format!(
            "--poll-seconds {}: must be a positive number of seconds",
            args.poll_seconds
        )));
    }
    let mut template = run_options(args.root.clone(), args.flags)?;
    template.progress = progress;
    let stop = crate::ops::watch::stop_signal()?;
    let poll = std::time::Duration::from_secs_f64(args.poll_seconds);
    let summary = crate::ops::watch::watch(&args.root, &template, poll, stop).await?;
    Ok(CommandOutput::ok(format!(
        "watch stopped: {} snapshot(s) published, {} failed (published nothing)\n",
        summary.published, summary.failed
    )))
}

/// `revleak test`: exit 0 when every case passes, 1 when one fails, 2 when a
/// test file is broken (named with its line).
async fn test_command(args: crate::cli::args::TestArgs) -> Result<CommandOutput> {
    let config = ConfigFile::load_with_env(args.config.as_deref())?;
    let queries =
        crate::cli::queries::resolve(args.queries.or_else(|| config.queries.clone()).as_deref())?;
    let cases = crate::ops::sql_tests::load(&queries.join("tests"))?;
    let started = std::time::Instant::now();
    let results =
        crate::ops::sql_tests::run_all(cases, &queries, &config, args.filter.as_deref()).await;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "tests run");
    let failed = results.iter().any(|o| !o.problems.is_empty());
    Ok(CommandOutput {
        stdout: crate::ops::sql_tests::render(&results),
        exit_code: if failed { 1 } else { 0 },
    })
}

/// `revleak inspect`: exit 0 when every staging view meets the contract, 2
/// when a problem is listed.
async fn inspect_command(
    args: crate::cli::args::InspectArgs,
    output: OutputFormat,
) -> Result<CommandOutput> {
    let config = ConfigFile::load_with_env(args.config.as_deref())?;
    let queries =
        crate::cli::queries::resolve(args.queries.or_else(|| config.queries.clone()).as_deref())?;
    let inspection = crate::cli::inspect::inspect(&args.snapshot, &queries, &config).await?;
    let stdout = match output {
        OutputFormat::Text => inspection.render(),
        OutputFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(&inspection).expect("inspection serializes");
            json.push('\n');
            json
        }
    };
    let exit_code = if inspection.problems.is_empty() { 0 } else { 2 };
    Ok(CommandOutput { stdout, exit_code })
}

/// `revleak config`: the effective configuration as revleak.toml text.
fn config_command(args: ConfigArgs) -> Result<String> {
    let config = ConfigFile::load_with_env(args.config.as_deref())?;
    let params = crate::config::Params::resolve(&config, &args.sets, None, None)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# effective configuration: {} < REVLEAK_* environment < --set",
        config
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "defaults (no revleak.toml)".into())
    );
    let quoted = |v: &str| format!("{v:?}");
    for key in crate::config::KEYS {
        let value = (key.get)(&config);
        let _ = match (value.as_deref(), key.unset) {
            (Some(value), _) | (None, Unset::Default(value)) => {
                writeln!(out, "{} = {}", key.name, key.kind.toml(value))
            }
            (None, Unset::Note(note)) => writeln!(out, "# {} = {note}", key.name),
        };
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "[parameters]");
    let explicit_as_of = config.parameters.contains_key("as_of")
        || args
            .sets
            .iter()
            .any(|s| s.trim_start().starts_with("as_of="));
    for spec in crate::config::PARAMS {
        if spec.name == "as_of" && !explicit_as_of {
            let _ = writeln!(out, "# as_of = (snapshot.json's as_of, else today)");
            continue;
        }
        let _ = writeln!(out, "{} = {}", spec.name, quoted(&params.text(spec.name)));
    }
    for (table, format) in config.csv_formats()? {
        let char_of = |b: u8| quoted(&(b as char).to_string());
        let _ = writeln!(out);
        let _ = writeln!(out, "[csv.{}]", quoted(&table));
        let _ = writeln!(out, "delimiter = {}", char_of(format.delimiter));
        let _ = writeln!(out, "quote = {}", char_of(format.quote));
        if let Some(encoding) = format.encoding {
            let _ = writeln!(out, "encoding = {}", quoted(encoding.name()));
        }
    }
    for (table, sheet) in config.xlsx_sheets()? {
        let _ = writeln!(out);
        let _ = writeln!(out, "[xlsx.{}]", quoted(&table));
        let _ = writeln!(out, "sheet = {}", quoted(&sheet));
    }
    Ok(out)
}

pub fn format_amount(amount: Decimal) -> String {
    crate::engine::udf::format_money(amount)
}

/// `--explain`: each check's executed physical plan with its metrics.
pub fn render_explain(report: &RunReport) -> String {
    let mut out = String::new();
    for plan in &report.explain {
        let _ = writeln!(
            out,
            "== explain analyze: {} ({} findings, {} ms) ==",
            plan.check_id, plan.rows, plan.millis
        );
        let _ = writeln!(out, "{}", plan.plan.trim_end());
        let _ = writeln!(out);
    }
    out
}

/// Worker threads for the binary's runtime: `--threads`, else `threads` of the
/// configuration (errors there are reported later by the run itself).
pub fn worker_threads(cli: &Cli) -> Option<usize> {
    match &cli.command {
        Command::Run(args) => args.flags.threads.map(|n| n as usize).or_else(|| {
            ConfigFile::load_with_env(args.flags.config.as_deref())
                .ok()
                .and_then(|c| c.threads)
        }),
        _ => None,
    }
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
        if let Some(reason) = &c.failed {
            let _ = writeln!(
                out,
                "{:<26} {:>9} {:>18}  FAILED: {reason}",
                c.check_id, "-", "-"
            );
            continue;
        }
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
    if m.dispositions.applied > 0 {
        let _ = writeln!(
            out,
            "{:<26} {:>9} {:>18}  (dispositions, not in the total below)",
            "with a disposition",
            m.dispositions.applied,
            format_amount(m.dispositions.excluded_leakage)
        );
        let _ = writeln!(
            out,
            "{:<26} {:>9} {:>18}",
            "open",
            m.findings - m.dispositions.applied,
            format_amount(m.open_leakage)
        );
    }
    let l = &m.lifecycle;
    let _ = writeln!(out);
    match l.previous_as_of {
        Some(previous) => {
            let _ = writeln!(
                out,
                "against {previous}: {} new ({}), {} recurring ({}), {} resolved ({}); recovered to date {}",
                l.new,
                format_amount(l.new_leakage),
                l.recurring,
                format_amount(l.recurring_leakage),
                l.resolved,
                format_amount(l.resolved_leakage),
                format_amount(l.recovered_to_date)
            );
        }
        None => {
            let _ = writeln!(out, "first run in this output folder: {} new", l.new);
        }
    }
    let _ = writeln!(out, "alerts: {}", m.alerts);
    if let Some(threshold) = &m.fail_on {
        let _ = writeln!(
            out,
            "--fail-on {threshold}: {} finding(s) at or above it",
            m.failing_findings
        );
    }
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

/// `revleak init [DIR]`: a starter project to adapt, as `dbt init` writes one.
fn init_command(args: InitArgs) -> Result<String> {
    let written = crate::cli::queries::init(&args.dir)?;
    let mut out = String::new();
    for path in &written {
        let _ = writeln!(out, "wrote {}", path.display());
    }
    let _ = writeln!(
        out,
        "\nnext: adapt {}/staging/*.sql to your exports, then from {}:\n  revleak run SNAPSHOT",
        written[0].display(),
        args.dir.display()
    );
    Ok(out)
}

fn checks_command(args: ChecksArgs) -> Result<String> {
    let queries = crate::cli::queries::resolve(args.queries.as_deref())?;
    let all = checks::discover(&queries.join("checks"))?;
    let mut out = String::new();
    for c in all {
        let _ = writeln!(out, "{}  [{}]  {}", c.id, c.default_severity, c.title);
        if !c.description.is_empty() {
            let _ = writeln!(out, "    {}", c.description);
        }
    }
    Ok(out)
}

/// `revleak report DIR`: renders the report of a published run (the latest
/// unless --as-of) from the Parquet under DIR alone and publishes it as the
/// `report/as_of=.../` partition, atomically and under the output lock.
pub fn report_command(args: ReportArgs) -> Result<String> {
    let config = ConfigFile::load_with_env(args.config.as_deref())?;
    let destination = crate::outputs::destination::Destination::locate(&args.dir, &config)?;
    let now = chrono::Utc::now();
    let tmp_id = format!(
        "report-{}-{:08x}",
        now.format("%Y%m%dT%H%M%SZ"),
        std::process::id() ^ now.timestamp_subsec_nanos()
    );
    destination.check()?;
    let claimed = destination.claim(&tmp_id)?;
    let as_of = match args.as_of {
        Some(d) => d,
        None => crate::outputs::publish::partitions(&claimed.root().join("findings"))
            .last()
            .map(|(d, _)| *d)
            .ok_or_else(|| {
                crate::error::Error::NotPublished(format!(
                    "{}: no published run (no findings/as_of=YYYY-MM-DD/ with _SUCCESS)",
                    destination.shown()
                ))
            })?,
    };
    // What the report shows of that day besides the history.
    claimed.fetch(
        &[
            "summary",
            crate::outputs::scorecard::OUTPUT,
            crate::outputs::actions::OUTPUT,
            crate::outputs::actions::STATEMENTS,
        ],
        as_of,
    )?;
    let options = crate::outputs::report::ReportOptions {
        partner_pages: args.partner_reports,
        statements: None,
    };
    // staged from the first page on, so a report that cannot be rendered
    // (before its first page) leaves nothing behind
    let mut unpublished = None;
    let mut files = 0usize;
    crate::outputs::report::build_into(claimed.root(), None, as_of, &options, &mut |file| {
        files += 1;
        let staged = match &mut unpublished {
            Some(staged) => staged,
            None => unpublished.insert(claimed.begin(&tmp_id, as_of)?),
        };
        staged.write_file("report", &file.name, &file.bytes)
    })?;
    let unpublished = unpublished.ok_or_else(|| {
        Error::NotPublished(format!(
            "{}: no report page was rendered",
            destination.shown()
        ))
    })?;
    let published = unpublished.commit()?;
    let mut text = String::new();
    let partner_pages = files.saturating_sub(1);
    for dir in &published {
        let _ = writeln!(
            text,
            "report as of {as_of}: {}{}",
            dir.join("index.html").display(),
            if partner_pages > 0 {
                format!(
                    " and {partner_pages} partner page(s) in {}",
                    dir.join("partners").display()
                )
            } else {
                String::new()
            }
        );
    }
    Ok(text)
}
