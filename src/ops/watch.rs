//! `revleak watch ROOT`: for teams without a scheduler, a run whenever a
//! snapshot lands. Each folder under ROOT is one snapshot, complete once its
//! `_SUCCESS` marker or `snapshot.json` exists; complete snapshots are run in
//! name order, one at a time, with the same outputs as `revleak run`. A bad
//! snapshot is logged, publishes nothing, and is not retried; SIGTERM or
//! SIGINT stops the watch after the run in progress. What was processed is kept
//! in `<out>/_revleak_watch.jsonl`, so a restarted watch goes on where it was.

use crate::error::{Error, Result};
use crate::outputs::destination::Destination;
use crate::run::{RunOptions, run};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The record of processed snapshots at the top of the output (folder or bucket).
pub const RECORD: &str = "_revleak_watch.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Processed {
    snapshot: String,
    published: bool,
    /// The run's error, when it published nothing.
    error: Option<String>,
}

/// How a watch ended.
#[derive(Debug, Clone, Default)]
pub struct WatchSummary {
    pub published: usize,
    pub failed: usize,
}

fn processed(out: &Destination) -> Result<BTreeSet<String>> {
    Ok(out
        .read_jsonl::<Processed>(RECORD)?
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.snapshot)
        .collect())
}

fn record(out: &Destination, entry: &Processed) -> Result<()> {
    out.append_jsonl(RECORD, entry)
}

/// The complete snapshot folders under `root`, in name order.
fn complete(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| Error::io(root, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string());
            p.is_dir()
                && !name.is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
                && (p.join("_SUCCESS").exists() || p.join("snapshot.json").exists())
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Watches `root` until `stop` is set, running `template` (its snapshot
/// replaced) on each complete snapshot not processed yet.
pub async fn watch(
    root: &Path,
    template: &RunOptions,
    poll: Duration,
    stop: Arc<AtomicBool>,
) -> Result<WatchSummary> {
    if !root.is_dir() {
        return Err(Error::Config(format!(
            "{}: the folder to watch does not exist",
            root.display()
        )));
    }
    let out = Destination::locate(&template.out, &template.config)?;
    let mut done = processed(&out)?;
    let mut summary = WatchSummary::default();
    tracing::info!(
        root = %root.display(),
        processed = done.len(),
        "watching for snapshots"
    );
    while !stop.load(Ordering::SeqCst) {
        for snapshot in complete(root)? {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let name = snapshot.display().to_string();
            if done.contains(&name) {
                continue;
            }
            tracing::info!(snapshot = %name, "snapshot complete: running");
            let mut opts = template.clone();
            opts.snapshot = snapshot.clone();
            let entry = match run(&opts).await {
                Ok(report) => {
                    summary.published += 1;
                    tracing::info!(
                        snapshot = %name,
                        as_of = %report.manifest.as_of,
                        findings = report.manifest.findings,
                        "published"
                    );
                    Processed {
                        snapshot: name.clone(),
                        published: true,
                        error: None,
                    }
                }
                Err(e) => {
                    summary.failed += 1;
                    tracing::error!(snapshot = %name, "nothing published: {e}");
                    Processed {
                        snapshot: name.clone(),
                        published: false,
                        error: Some(e.to_string()),
                    }
                }
            };
            record(&out, &entry)?;
            done.insert(name);
        }
        let mut waited = Duration::ZERO;
        while waited < poll && !stop.load(Ordering::SeqCst) {
            let step = Duration::from_millis(100).min(poll - waited);
            tokio::time::sleep(step).await;
            waited += step;
        }
    }
    tracing::info!(
        published = summary.published,
        failed = summary.failed,
        "watch stopped"
    );
    Ok(summary)
}

/// A flag set on SIGTERM or SIGINT: the watch stops after the run in
/// progress. A second signal ends the process at once (exit 1); the outputs
/// stay whole either way, since a run publishes atomically.
pub fn stop_signal() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let failed =
            |e: std::io::Error| Error::Signal(format!("cannot watch for signal {signal}: {e}"));
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .map_err(failed)?;
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(failed)?;
    }
    Ok(stop)
}
