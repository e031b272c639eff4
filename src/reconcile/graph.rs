//! The graph of a run's shared views and checks: each shared view is built
//! and each check runs once the shared views it names exist, side by side up to
//! the engine's width, the costliest first; a check whose input table is
//! missing is skipped with the reason, a broken one reported with the others.

use crate::engine::session::{Job, concurrency, joined};
use crate::error::{Error, Result};
use crate::reconcile::checks::{self, CheckFile};
use crate::reconcile::layers::{Layers, SharedDeps, input_tables, keep, plan_file, rows_scanned};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

/// What became of one check in [`build_and_check`].
pub(crate) enum CheckRun {
    /// Its SQL does not plan or lacks a column: the problems, located.
    Broken(Vec<String>),
    /// Not run: a table it reads is missing from the snapshot (the reason).
    Skipped(String),
    /// Run: its findings (and plan with `--explain`) or its error, and its milliseconds.
    Ran(Result<(Vec<RecordBatch>, Option<String>)>, u128),
}

/// A shared view or a check, once the shared views it reads are built.
pub(crate) enum Task {
    Shared { name: String, path: PathBuf },
    Check(usize),
}

/// What a finished [`Task`] hands back.
pub(crate) enum Finished {
    Shared(String, Result<()>),
    Check(usize, Result<(Vec<RecordBatch>, Option<String>)>, u128),
}

/// The `shared.*` tables `sql` names (none when it does not parse: planning
/// reports that).
pub(crate) fn shared_tables_named(ctx: &SessionContext, sql: &str) -> BTreeSet<String> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(statement) = state.sql_to_statement(sql, &dialect) else {
        return BTreeSet::new();
    };
    state
        .resolve_table_references(&statement)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.schema() == Some("shared"))
        .map(|t| format!("shared.{}", t.table()))
        .collect()
}

/// Builds the `shared` view files not built yet and runs `checks`, as one graph:
/// each starts once the shared views it names are built, at most
/// [`concurrency`] at a time. Shared views go first (checks wait on them), then
/// the checks that scan the most rows, so that no long check is left to run
/// alone at the end; a check never waits for a view it does not read.
/// A broken check is reported with the others; once one is found (without
/// `--keep-going`) the remaining checks are only planned, not run.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn build_and_check(
    ctx: &SessionContext,
    layers: &Layers,
    shared: Vec<PathBuf>,
    deps: &mut SharedDeps,
    checks: &[CheckFile],
    missing: &BTreeSet<String>,
    keep_going: bool,
    explain: bool,
    bar: &indicatif::ProgressBar,
    clock: Instant,
) -> Result<Vec<CheckRun>> {
    let width = concurrency(ctx);
    let mut unbuilt: BTreeSet<String> = BTreeSet::new();
    // (task, the shared views it names)
    let mut waiting: Vec<(Task, BTreeSet<String>)> = Vec::new();
    for path in shared {
        let sql = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let name = format!("shared.{stem}");
        let mut names = shared_tables_named(ctx, &sql);
        names.remove(&name);
        unbuilt.insert(name.clone());
        waiting.push((Task::Shared { name, path }, names));
    }
    for (index, check) in checks.iter().enumerate() {
        waiting.push((Task::Check(index), shared_tables_named(ctx, &check.sql)));
    }
    let mut runs: Vec<Option<CheckRun>> = checks.iter().map(|_| None).collect();
    // (priority, job): shared views above every check
    let mut queued: Vec<(usize, Job<Finished>)> = Vec::new();
    let mut running = tokio::task::JoinSet::new();
    let mut failure: Option<Error> = None;
    let mut broken = false;
    loop {
        let (ready, blocked): (Vec<_>, Vec<_>) = std::mem::take(&mut waiting)
            .into_iter()
            .partition(|(_, names)| names.is_disjoint(&unbuilt));
        waiting = blocked;
        for (task, _) in ready {
            match task {
                Task::Shared { name, path } => match plan_file(ctx, &name, &path, deps).await {
                    Ok(df) => {
                        let (ctx, layers) = (ctx.clone(), layers.clone());
                        queued.push((
                            usize::MAX,
                            Box::pin(async move {
                                let context = path.display().to_string();
                                let built = keep(&ctx, &name, df, &context, &layers).await;
                                Finished::Shared(name, built)
                            }),
                        ));
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                },
                Task::Check(index) => {
                    let check = &checks[index];
                    let df = match checks::plan(ctx, check).await {
                        Ok(df) => df,
                        Err(problems) => {
                            broken = true;
                            bar.inc(1);
                            runs[index] = Some(CheckRun::Broken(problems));
                            continue;
                        }
                    };
                    let needs = input_tables(&checks::scanned_tables(df.logical_plan()), deps);
                    let absent: Vec<&str> =
                        needs.intersection(missing).map(|s| s.as_str()).collect();
                    if !absent.is_empty() && check.id != checks::DATA_QUALITY {
                        bar.inc(1);
                        runs[index] = Some(CheckRun::Skipped(format!(
                            "missing input table(s): {}",
                            absent.join(", ")
                        )));
                        continue;
                    }
                    let cost = rows_scanned(df.logical_plan());
                    let (ctx, check, bar, explain) =
                        (ctx.clone(), check.clone(), bar.clone(), explain);
                    queued.push((
                        cost,
                        Box::pin(async move {
                            bar.set_message(check.id.clone());
                            let t = Instant::now();
                            let result = checks::execute_explained(&ctx, &check, df, explain).await;
                            bar.inc(1);
                            Finished::Check(index, result, t.elapsed().as_millis())
                        }),
                    ));
                }
            }
        }
        // Stable: equal priorities start in file order.
        queued.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
        if failure.is_none() {
            let mut kept = Vec::new();
            for (priority, job) in std::mem::take(&mut queued) {
                let is_check = priority != usize::MAX;
                if running.len() >= width.max(1) || (is_check && broken && !keep_going) {
                    kept.push((priority, job));
                } else {
                    running.spawn(job);
                }
            }
            queued = kept;
        }
        let Some(finished) = running.join_next().await else {
            break;
        };
        match joined(finished) {
            Finished::Shared(name, Ok(())) => {
                unbuilt.remove(&name);
                if unbuilt.is_empty() {
                    tracing::debug!(
                        ms = clock.elapsed().as_millis() as u64,
                        "shared views built"
                    );
                }
            }
            Finished::Shared(_, Err(e)) => {
                failure.get_or_insert(e);
            }
            Finished::Check(index, result, millis) => {
                runs[index] = Some(CheckRun::Ran(result, millis));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !waiting.is_empty() {
        // Nothing runs and these still wait: shared views that name one another
        // in a loop. Planning them says which tables are missing.
        let mut errors = Vec::new();
        for (task, _) in waiting {
            if let Task::Shared { name, path } = task
                && let Err(e) = plan_file(ctx, &name, &path, deps).await
            {
                match e {
                    Error::Queries(messages) => errors.extend(messages),
                    other => return Err(other),
                }
            }
        }
        return Err(Error::Queries(errors));
    }
    // A check left without a run was held back because another one is broken:
    // the run stops on that one's problems and publishes nothing.
    Ok(runs
        .into_iter()
        .map(|run| {
            run.unwrap_or_else(|| CheckRun::Skipped("not run: another check file is broken".into()))
        })
        .collect())
}
