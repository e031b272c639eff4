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

/// The starter `revleak.toml`'s opening lines.
const STARTER_HEADER: &str =
    "# revleak.toml: read by `revleak run` from the folder it runs in (or --config FILE).
# Every key is optional; `revleak config` prints the effective values. REVLEAK_<KEY>
# environment variables and --set NAME=VALUE override this file.
";

/// The starter `revleak.toml`'s closing section.
const STARTER_CSV: &str = r#"
# How a CSV raw table of the snapshot is written, one section per table
# (`system/name`, the file <snapshot>/<system>/<name>.csv). Default: "," and "\"".
# [csv."crm/opportunities"]
# delimiter = ";"
# quote = "\""

# Which sheet of an Excel workbook <snapshot>/<system>/<name>.xlsx is the raw table
# `system.name`. Unset: every sheet is a raw table `system."name$Sheet"`.
# [xlsx."prm/pos_q3"]
# sheet = "Sheet1"
"#;

/// The starter `revleak.toml` that `revleak init` writes: every key (of
/// [`crate::config::KEYS`]) and parameter, commented.
pub fn starter_config() -> String {
    use std::fmt::Write;
    let mut out = STARTER_HEADER.to_string();
    for key in crate::config::KEYS {
        if !key.help.is_empty() {
            out.push('\n');
            for line in key.help.lines() {
                let _ = writeln!(out, "# {line}");
            }
        }
        let commented = if key.in_starter { "" } else { "# " };
        let example = key.kind.toml(key.example);
        let _ = writeln!(out, "{commented}{} = {example}", key.name);
    }
    out.push_str("\n[parameters]\n");
    out.push_str(
        "# The checks' parameters (revleak's docs/checks.md), with their defaults. Amounts are strings.\n",
    );
    for spec in crate::config::PARAMS {
        if let Some(default) = spec.default {
            let _ = writeln!(out, "# {} = {}", spec.name, spec.kind.toml(default));
        }
    }
    out.push_str(STARTER_CSV);
    out
}

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
    std::fs::write(&config, starter_config()).map_err(|e| Error::io(&config, e))?;
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
        std::fs::write(&path, starter_config()).unwrap();
        let config = crate::config::ConfigFile::load(Some(&path)).unwrap();
        assert_eq!(config.queries, Some(PathBuf::from("queries")));
    }

    /// Uncommented, the starter sets every key and parameter, each to a value
    /// of its kind.
    #[test]
    fn the_starter_config_uncommented_sets_every_key_and_parameter() {
        let starter = starter_config();
        let (settings, _csv) = starter.split_once("\n# How a CSV").unwrap();
        let text: String = settings
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(setting)
                    if setting.split_once(" = ").is_some_and(|(name, _)| {
                        name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    format!("{setting}\n")
                }
                _ => format!("{line}\n"),
            })
            .collect();
        let mut config = crate::config::ConfigFile::parse(&text, "starter").unwrap();
        config.apply_env(&[]).unwrap();
        for key in crate::config::KEYS {
            assert!(
                (key.get)(&config).is_some(),
                "{} is not in the starter",
                key.name
            );
        }
        let listed: Vec<&str> = config.parameters.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = crate::config::PARAMS
            .iter()
            .filter(|p| p.default.is_some())
            .map(|p| p.name)
            .collect();
        expected.sort();
        assert_eq!(listed, expected);
    }
}
