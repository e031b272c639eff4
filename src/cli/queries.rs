//! Where a run's SQL comes from: a queries folder (`staging/`, `shared/`,
//! `checks/`, `actions/`) that analysts edit, or the queries shipped with revleak, which are
//! built into the binary so that `revleak run SNAPSHOT` works from any folder and
//! `revleak init` can write them out as a starter project.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The shipped `queries/` files: (path relative to `queries/`, text).
pub const BUILT_IN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/built_in_queries.rs"));

/// The folder name a project keeps its queries in, and the default location.
pub const DEFAULT_DIR: &str = "queries";

/// The queries folder a run reads. A folder named by `--queries` or the config
/// must exist. Without one, `./queries` is used when the working directory has
/// it (a project written by `revleak init`, or this repository), else the
/// built-in queries, written once to a folder under the user's cache.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        if dir.join("checks").is_dir() {
            return Ok(dir.to_path_buf());
        }
        let what = if dir.is_dir() {
            "has no checks/ folder"
        } else {
            "does not exist"
        };
        return Err(Error::Config(format!(
            "queries folder {}: {what}. `revleak init DIR` writes a starter project \
             (queries/ and revleak.toml) to adapt; without --queries (or `queries` in \
             revleak.toml) revleak runs the queries built into it",
            dir.display()
        )));
    }
    let local = Path::new(DEFAULT_DIR);
    if local.join("checks").is_dir() {
        return Ok(local.to_path_buf());
    }
    built_in_folder()
}

/// Writes the built-in queries under `dir` (`dir/staging/…`, `dir/checks/…`).
pub fn write_built_in(dir: &Path) -> Result<()> {
    for (relative, text) in BUILT_IN {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The built-in queries as a folder, named by their content's hash so that
/// versions never mix; written by rename, so concurrent runs never see half.
fn built_in_folder() -> Result<PathBuf> {
    let mut all = Vec::new();
    for (relative, text) in BUILT_IN {
        all.extend_from_slice(relative.as_bytes());
        all.push(0);
        all.extend_from_slice(text.as_bytes());
        all.push(0);
    }
    let hash = crate::reconcile::checks::sha256_hex(&all);
    let root = cache_root().join("revleak");
    let dir = root.join(format!("queries-{}", &hash[..16]));
    if dir.join("checks").is_dir() {
        return Ok(dir);
    }
    let partial = root.join(format!("_queries-{}-{}", &hash[..16], std::process::id()));
    write_built_in(&partial)?;
    match std::fs::rename(&partial, &dir) {
        Ok(()) => Ok(dir),
        // Another run put the same files there first.
        Err(_) if dir.join("checks").is_dir() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(dir)
        }
        Err(e) => Err(Error::io(&dir, e)),
    }
}

/// `$XDG_CACHE_HOME`, else `~/.cache`, else the system's temporary folder.
fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}

/// The starter `revleak.toml` that `revleak init` writes: every key, commented.
pub const STARTER_CONFIG: &str = r#"# revleak.toml: read by `revleak run` from the folder it runs in (or --config FILE).
# Every key is optional; `revleak config` prints the effective values. REVLEAK_<KEY>
# environment variables and --set NAME=VALUE override this file.

# The SQL of this project: staging/ maps your exports to the contract's tables,
# shared/ holds views the checks share, checks/ one finding query per file.
queries = "queries"

# A missing input table is an error instead of skipping the checks that read it.
# strict = false

# Also write one report page per partner.
# partner_reports = false

# Analysts' decisions on findings (default: <out>/dispositions.csv when present).
# dispositions = "dispositions.csv"

# Lowest severity of a finding that alerts (once) in alerts.jsonl.
# alert_min_severity = "high"

# POST each run's new alerts to a webhook whose URL (a secret) is in this
# environment variable; a failed delivery is retried on the next run.
# alert_webhook_env = "SLACK_WEBHOOK_URL"

# Exit 1 when open findings at or above this severity exist (new ones only with
# fail_on_new).
# fail_on = "critical"
# fail_on_new = false

# Query engine: threads, a memory limit and where to spill under it.
# threads = 2
# memory_limit = "4GiB"
# spill_dir = "/fast/disk/revleak-spill"

# A Ballista cluster (a revleak built with --features cluster).
# engine = "ballista"
# scheduler = "df://10.0.0.5:50050"

[parameters]
# The checks' parameters (checks.md), with their defaults. Amounts are strings.
# reporting_currency = "USD"
# fx_base_currency = "USD"
# amount_tolerance = "1.00"
# forecast_variance_pct = 10
# forecast_min_shortfall = "1000.00"
# forecast_lookback_months = 12
# invoice_grace_days = 30
# payment_grace_days = 15
# posting_grace_days = 5
# renewal_grace_days = 15
# renewal_lookback_days = 180
# sale_match_window_days = 30
# severity_critical = "50000"
# severity_high = "10000"
# severity_medium = "1000"

# How a CSV raw table of the snapshot is written, one section per table
# (`system/name`, the file <snapshot>/<system>/<name>.csv). Default: "," and "\"".
# [csv."crm/opportunities"]
# delimiter = ";"
# quote = "\""
"#;

/// `revleak init DIR`: a starter project, `DIR/queries/` (the built-in queries)
/// and `DIR/revleak.toml`. Never overwrites: an existing one is an error naming it.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>> {
    let queries = dir.join(DEFAULT_DIR);
    let config = dir.join("revleak.toml");
    let existing: Vec<String> = [&queries, &config]
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Config(format!(
            "revleak init: {} already exist(s); init never overwrites. Choose another \
             folder, or move them aside",
            existing.join(" and ")
        )));
    }
    write_built_in(&queries)?;
    std::fs::write(&config, STARTER_CONFIG).map_err(|e| Error::io(&config, e))?;
    Ok(vec![queries, config])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary carries exactly the repository's queries/, byte for byte.
    #[test]
    fn built_in_queries_are_the_shipped_folder() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut on_disk = Vec::new();
        for sub in [
            "staging",
            "shared",
            "checks",
            "actions",
            "statements",
            "tests",
        ] {
            let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "sql" || e == "toml") {
                    let relative = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                    on_disk.push((relative, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        on_disk.sort();
        let built_in: Vec<(String, String)> = BUILT_IN
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        assert_eq!(built_in, on_disk);
        assert!(BUILT_IN.iter().any(|(p, _)| *p == "checks/payment_gap.sql"));
        assert!(BUILT_IN.iter().any(|(p, _)| *p == "tests/payment_gap.toml"));
    }

    #[test]
    fn the_starter_config_is_a_valid_revleak_toml() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("revleak.toml");
        std::fs::write(&path, STARTER_CONFIG).unwrap();
        let config = crate::config::ConfigFile::load(Some(&path)).unwrap();
        assert_eq!(config.queries, Some(PathBuf::from("queries")));
    }
}
