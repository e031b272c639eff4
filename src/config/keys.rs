//! The keys of `revleak.toml`: the struct the file is read into, and the one
//! table, [`KEYS`], that says per key how its value is read from text (a
//! `REVLEAK_<KEY>` environment variable), what applies when it is unset, and
//! how `revleak config` and the starter `revleak.toml` show it. A key is added
//! in both; a test holds them to the same names.

use crate::error::{Error, Result};
pub use revleak_contract::Severity;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// New findings at or above it alert, unless `alert_min_severity` says otherwise.
pub const DEFAULT_ALERT_MIN_SEVERITY: Severity = Severity::High;

/// What a key's value is: how it is read from text and written in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Path,
    Text,
    Bool,
    Severity,
    Threads,
    /// A size in bytes, kept as written (`"4GiB"`).
    Size,
    Engine,
    /// A whole number of seconds, 1 or more.
    Seconds,
    /// A whole number, 0 or more (how many times).
    Count,
    /// Canonical tables of the contract (`system/name`): a TOML array, and
    /// comma-separated in an environment variable.
    Tables,
}

impl KeyKind {
    /// Reads `value` (from `source`, named in errors) as this kind, to the
    /// text the configuration keeps: normalized where the kind has one form.
    pub fn parse(self, source: &str, value: &str) -> Result<String> {
        Ok(match self {
            KeyKind::Path | KeyKind::Text => value.to_string(),
            KeyKind::Bool => parse_bool(source, value)?.to_string(),
            KeyKind::Severity => parse_severity(source, value)?.to_string(),
            KeyKind::Threads => parse_threads(source, value)?.to_string(),
            KeyKind::Seconds => parse_seconds(source, value)?.to_string(),
            KeyKind::Count => value
                .trim()
                .parse::<u64>()
                .map_err(|_| {
                    Error::Config(format!(
                        "{source}: expected a whole number of 0 or more, got `{value}`"
                    ))
                })?
                .to_string(),
            KeyKind::Size => {
                parse_size(source, value)?;
                value.to_string()
            }
            KeyKind::Engine => parse_engine(source, value)?.as_str().to_string(),
            KeyKind::Tables => parse_tables(source, value)?.join(","),
        })
    }

    /// The value as TOML: switches and counts bare, everything else a string.
    pub fn toml(self, value: &str) -> String {
        match self {
            KeyKind::Bool | KeyKind::Threads | KeyKind::Seconds | KeyKind::Count => {
                value.to_string()
            }
            KeyKind::Tables => {
                let names: Vec<String> = split_list(value).map(|n| format!("{n:?}")).collect();
                format!("[{}]", names.join(", "))
            }
            _ => format!("{value:?}"),
        }
    }
}

/// What applies while a key is unset.
#[derive(Debug, Clone, Copy)]
pub enum Unset {
    /// This value, which `revleak config` shows as if set.
    Default(&'static str),
    /// Nothing: `revleak config` shows this note in a commented line.
    Note(&'static str),
}

/// One key of `revleak.toml`.
pub struct ConfigKey {
    pub name: &'static str,
    pub kind: KeyKind,
    pub unset: Unset,
    /// The starter `revleak.toml`'s comment above the key; empty: the key
    /// belongs to the comment of the key before it.
    pub help: &'static str,
    /// The value the starter `revleak.toml` shows.
    pub example: &'static str,
    /// Whether the starter sets the key (else its line is commented out).
    pub in_starter: bool,
    /// The key's value as [`KeyKind::parse`] gives it, None when unset.
    pub get: fn(&ConfigFile) -> Option<String>,
    /// Sets the key to a value [`KeyKind::parse`] gave.
    pub set: fn(&mut ConfigFile, String),
}

impl ConfigKey {
    /// The environment variable that overrides the key.
    pub fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}", self.name.to_ascii_uppercase())
    }
}

/// The prefix of the environment variables that override keys and parameters.
pub const ENV_PREFIX: &str = "REVLEAK_";

/// Every key of `revleak.toml` but the `[parameters]`, `[csv."system/name"]` and
/// `[xlsx."system/name"]` sections, in the order `revleak config` and the starter file list them.
pub const KEYS: &[ConfigKey] = &[
    ConfigKey {
        name: "queries",
        kind: KeyKind::Path,
        unset: Unset::Default("queries"),
        help: "The SQL of this project: staging/ maps your exports to the contract's tables,\nshared/ holds views the checks share, checks/ one finding query per file.",
        example: "queries",
        in_starter: true,
        get: |c| c.queries.as_ref().map(|p| p.display().to_string()),
        set: |c, v| c.queries = Some(PathBuf::from(v)),
    },
    ConfigKey {
        name: "strict",
        kind: KeyKind::Bool,
        unset: Unset::Default("false"),
        help: "Every staging warning stops the run: a raw table no staging view reads, a\ntable of absent_tables the snapshot holds.",
        example: "false",
        in_starter: false,
        get: |c| Some(c.strict.to_string()),
        set: |c, v| c.strict = v == "true",
    },
    ConfigKey {
        name: "absent_tables",
        kind: KeyKind::Tables,
        unset: Unset::Default(""),
        help: "Canonical tables this deployment has no export for: their checks are skipped\nwith a warning. Any other table whose raw input is missing stops the run.",
        example: "provisioning/activations",
        in_starter: false,
        get: |c| (!c.absent_tables.is_empty()).then(|| c.absent_tables.join(",")),
        set: |c, v| c.absent_tables = split_list(&v).map(String::from).collect(),
    },
    ConfigKey {
        name: "partner_reports",
        kind: KeyKind::Bool,
        unset: Unset::Default("false"),
        help: "Also write one report page per partner.",
        example: "false",
        in_starter: false,
        get: |c| Some(c.partner_reports.to_string()),
        set: |c, v| c.partner_reports = v == "true",
    },
    ConfigKey {
        name: "dispositions",
        kind: KeyKind::Path,
        unset: Unset::Note("\"<out>/dispositions.csv\" (when present)"),
        help: "Analysts' decisions on findings (default: <out>/dispositions.csv when present).",
        example: "dispositions.csv",
        in_starter: false,
        get: |c| c.dispositions.as_ref().map(|p| p.display().to_string()),
        set: |c, v| c.dispositions = Some(PathBuf::from(v)),
    },
    ConfigKey {
        name: "alert_min_severity",
        kind: KeyKind::Severity,
        unset: Unset::Default(DEFAULT_ALERT_MIN_SEVERITY.as_str()),
        help: "Lowest severity of a finding that alerts (once) in alerts.jsonl.",
        example: "high",
        in_starter: false,
        get: |c| c.alert_min_severity.map(|s| s.to_string()),
        set: |c, v| c.alert_min_severity = v.parse().ok(),
    },
    ConfigKey {
        name: "alert_webhook_env",
        kind: KeyKind::Text,
        unset: Unset::Note("(no webhook)"),
        help: "POST each run's new alerts to a webhook whose URL (a secret) is in this\nenvironment variable; a failed delivery is retried on the next run.",
        example: "SLACK_WEBHOOK_URL",
        in_starter: false,
        get: |c| c.alert_webhook_env.clone(),
        set: |c, v| c.alert_webhook_env = Some(v),
    },
    ConfigKey {
        name: "fail_on",
        kind: KeyKind::Severity,
        unset: Unset::Note("(unset: exit 1 is never used)"),
        help: "Exit 1 when open findings at or above this severity exist (new ones only with\nfail_on_new).",
        example: "critical",
        in_starter: false,
        get: |c| c.fail_on.map(|s| s.to_string()),
        set: |c, v| c.fail_on = v.parse().ok(),
    },
    ConfigKey {
        name: "fail_on_new",
        kind: KeyKind::Bool,
        unset: Unset::Default("false"),
        help: "",
        example: "false",
        in_starter: false,
        get: |c| Some(c.fail_on_new.to_string()),
        set: |c, v| c.fail_on_new = v == "true",
    },
    ConfigKey {
        name: "threads",
        kind: KeyKind::Threads,
        unset: Unset::Note("(one per core)"),
        help: "Query engine: threads, a memory limit and where to spill under it.",
        example: "2",
        in_starter: false,
        get: |c| c.threads.map(|n| n.to_string()),
        set: |c, v| c.threads = v.parse().ok(),
    },
    ConfigKey {
        name: "memory_limit",
        kind: KeyKind::Size,
        unset: Unset::Note("(unbounded)"),
        help: "",
        example: "4GiB",
        in_starter: false,
        get: |c| c.memory_limit.clone(),
        set: |c, v| c.memory_limit = Some(v),
    },
    ConfigKey {
        name: "spill_dir",
        kind: KeyKind::Path,
        unset: Unset::Note("\"<out>/_spill\" (with memory_limit)"),
        help: "",
        example: "/fast/disk/revleak-spill",
        in_starter: false,
        get: |c| c.spill_dir.as_ref().map(|p| p.display().to_string()),
        set: |c, v| c.spill_dir = Some(PathBuf::from(v)),
    },
    ConfigKey {
        name: "engine",
        kind: KeyKind::Engine,
        unset: Unset::Default("local"),
        help: "A Ballista cluster (a revleak built with --features cluster).",
        example: "ballista",
        in_starter: false,
        get: |c| c.engine.map(|e| e.as_str().to_string()),
        set: |c, v| c.engine = parse_engine("engine", &v).ok(),
    },
    ConfigKey {
        name: "scheduler",
        kind: KeyKind::Text,
        unset: Unset::Note("(needed with engine = \"ballista\")"),
        help: "",
        example: "df://10.0.0.5:50050",
        in_starter: false,
        get: |c| c.scheduler.clone(),
        set: |c, v| c.scheduler = Some(v),
    },
    ConfigKey {
        name: "storage_endpoint",
        kind: KeyKind::Text,
        unset: Unset::Note("(the cloud's own, or AWS_ENDPOINT_URL)"),
        help: "A snapshot in object storage (s3://, gs://, az://): credentials come from the\ncloud's standard environment variables; an S3-compatible store (MinIO, R2,\nCeph) is reached at this endpoint, over plain HTTP only with storage_allow_http.\nRequests are retried (503, 429, lost connections) for at most\nstorage_retry_timeout seconds.",
        example: "https://minio.internal:9000",
        in_starter: false,
        get: |c| c.storage_endpoint.clone(),
        set: |c, v| c.storage_endpoint = Some(v),
    },
    ConfigKey {
        name: "storage_allow_http",
        kind: KeyKind::Bool,
        unset: Unset::Default("false"),
        help: "",
        example: "false",
        in_starter: false,
        get: |c| Some(c.storage_allow_http.to_string()),
        set: |c, v| c.storage_allow_http = v == "true",
    },
    ConfigKey {
        name: "storage_retry_timeout",
        kind: KeyKind::Seconds,
        unset: Unset::Default("30"),
        help: "",
        example: "30",
        in_starter: false,
        get: |c| c.storage_retry_timeout.map(|s| s.to_string()),
        set: |c, v| c.storage_retry_timeout = v.parse().ok(),
    },
    ConfigKey {
        name: "cluster_stall_timeout",
        kind: KeyKind::Seconds,
        unset: Unset::Default("600"),
        help: "On a cluster (--engine ballista), a job (one query: a layer, a check) with no\nresult after this many seconds is given up and run again from its inputs, as is\na job that failed (an executor lost); cluster_job_retries times, then the run\nfails with exit 2 and publishes nothing. Set it above your longest job.",
        example: "600",
        in_starter: false,
        get: |c| c.cluster_stall_timeout.map(|s| s.to_string()),
        set: |c, v| c.cluster_stall_timeout = v.parse().ok(),
    },
    ConfigKey {
        name: "cluster_job_retries",
        kind: KeyKind::Count,
        unset: Unset::Default("1"),
        help: "",
        example: "1",
        in_starter: false,
        get: |c| c.cluster_job_retries.map(|s| s.to_string()),
        set: |c, v| c.cluster_job_retries = v.parse().ok(),
    },
    ConfigKey {
        name: "storage_lock_lease",
        kind: KeyKind::Seconds,
        unset: Unset::Default("60"),
        help: "Outputs in object storage (--out s3://...) are locked by a lease object,\n_revleak.lock, renewed every quarter of this many seconds: a run that died on\nanother machine blocks the next one at most this long (on the same machine,\nnot at all).",
        example: "60",
        in_starter: false,
        get: |c| c.storage_lock_lease.map(|s| s.to_string()),
        set: |c, v| c.storage_lock_lease = v.parse().ok(),
    },
];

/// The key of `name`, if `revleak.toml` has one.
pub fn key(name: &str) -> Option<&'static ConfigKey> {
    KEYS.iter().find(|k| k.name == name)
}

/// `revleak.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// Parameter overrides, docs/checks.md's names, values as strings or numbers.
    #[serde(default, deserialize_with = "params_as_strings")]
    pub parameters: BTreeMap<String, String>,
    /// Folder of `staging/` and `checks/` SQL (default `queries`).
    pub queries: Option<PathBuf>,
    /// Every staging warning is an error (a raw table no view reads, a
    /// declared absent table the snapshot holds).
    #[serde(default)]
    pub strict: bool,
    /// Canonical tables (`system/name`) this deployment has no export for.
    #[serde(default)]
    pub absent_tables: Vec<String>,
    /// Also write one report page per partner.
    #[serde(default)]
    pub partner_reports: bool,
    /// Analysts' decisions on findings (default: `dispositions.csv` in the output folder).
    pub dispositions: Option<PathBuf>,
    /// New findings at or above this severity go to alerts.jsonl (default
    /// [`DEFAULT_ALERT_MIN_SEVERITY`]).
    #[serde(skip)]
    pub alert_min_severity: Option<Severity>,
    /// `alert_min_severity` as the file writes it, parsed by `ConfigFile::parse`.
    #[serde(rename = "alert_min_severity")]
    pub(crate) alert_min_severity_text: Option<String>,
    /// The environment variable that holds the alert webhook's URL (a secret:
    /// never in this file).
    pub alert_webhook_env: Option<String>,
    /// Exit 1 when open findings at or above this severity exist.
    #[serde(skip)]
    pub fail_on: Option<Severity>,
    /// `fail_on` as the file writes it, parsed by `ConfigFile::parse`.
    #[serde(rename = "fail_on")]
    pub(crate) fail_on_text: Option<String>,
    /// With `fail_on`: count new findings only.
    #[serde(default)]
    pub fail_on_new: bool,
    /// Query engine threads, shared by the queries run side by side (default: cores).
    pub threads: Option<usize>,
    /// Memory pool of the query engine, e.g. `"1GiB"` (default: unbounded).
    pub memory_limit: Option<String>,
    /// Where the engine spills under `memory_limit` (default: `<out>/_spill`).
    pub spill_dir: Option<PathBuf>,
    /// `local` (embedded DataFusion, the default) or `ballista` (a cluster).
    #[serde(skip)]
    pub engine: Option<EngineChoice>,
    /// `engine` as the file writes it, parsed by `ConfigFile::parse`.
    #[serde(rename = "engine")]
    pub(crate) engine_text: Option<String>,
    /// The Ballista scheduler with `engine = "ballista"`, e.g. `df://host:50050`.
    pub scheduler: Option<String>,
    /// The endpoint of an S3-compatible store (or a GCS base URL, an Azure
    /// endpoint) for a snapshot in object storage.
    pub storage_endpoint: Option<String>,
    /// Object storage over plain HTTP (a local MinIO).
    #[serde(default)]
    pub storage_allow_http: bool,
    /// Seconds a store request is retried for (default 30).
    pub storage_retry_timeout: Option<u64>,
    /// Seconds a cluster job may go without a result (default 600).
    pub cluster_stall_timeout: Option<u64>,
    /// Times a stalled or failed cluster job is run again (default 1).
    pub cluster_job_retries: Option<u64>,
    /// Seconds the lease on an output prefix in object storage lasts (default 60).
    pub storage_lock_lease: Option<u64>,
    /// How CSV raw tables are written, by `system/name`: `[csv."crm/opportunities"]`.
    #[serde(default)]
    pub csv: BTreeMap<String, CsvTableConfig>,
    /// Which sheet of a workbook is its raw table, by `system/name`: `[xlsx."prm/pos_q3"]`.
    #[serde(default)]
    pub xlsx: BTreeMap<String, XlsxTableConfig>,
}

/// `[csv."system/name"]`: one CSV raw table's delimiter and quote (default `,` and `"`),
/// and the encoding of a CSV or JSON lines raw table (default UTF-8).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvTableConfig {
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub encoding: Option<String>,
}

/// `[xlsx."system/name"]`: the one sheet of the workbook `<system>/<name>.xlsx`
/// read, as the raw table `system.name` (unset: every sheet, as `name$sheet`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XlsxTableConfig {
    pub sheet: Option<String>,
}

/// A switch: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (empty: false).
fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::Config(format!(
            "{name}={value}: expected true or false"
        ))),
    }
}

/// A thread count: a whole number of 1 or more.
pub fn parse_threads(source: &str, value: &str) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Error::Config(format!(
            "{source}: threads must be a whole number of 1 or more, got `{value}`"
        ))),
    }
}

pub fn parse_seconds(source: &str, value: &str) -> Result<u64> {
    match value.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(Error::Config(format!(
            "{source}: expected a whole number of seconds, 1 or more, got `{value}`"
        ))),
    }
}

/// A size in bytes: `1073741824`, `512MiB`, `1GiB`, `1.5GB`, `800m` (binary
/// units; `KB`/`MB`/`GB` are read as powers of 1000).
pub fn parse_size(source: &str, value: &str) -> Result<usize> {
    let bad = || {
        Error::Config(format!(
            "{source}: expected a size such as 512MiB or 1GiB, got `{value}`"
        ))
    };
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0_f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = number * factor;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(bad());
    }
    Ok(bytes as usize)
}

/// The query engine a user names (`--engine`, `engine =`). The engine a run
/// uses is the run's `Engine`, which also knows the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// Embedded DataFusion.
    #[default]
    Local,
    /// A Ballista cluster.
    Ballista,
}

impl EngineChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineChoice::Local => "local",
            EngineChoice::Ballista => "ballista",
        }
    }
}

/// The query engine as written by a user: `local` or `ballista`, any case.
pub fn parse_engine(source: &str, value: &str) -> Result<EngineChoice> {
    match value.trim().to_ascii_lowercase().as_str() {
        "local" => Ok(EngineChoice::Local),
        "ballista" => Ok(EngineChoice::Ballista),
        _ => Err(Error::Config(format!(
            "{source}: engine `{value}` is not one of local, ballista"
        ))),
    }
}

/// A severity threshold as written by a user: any case, spaces around.
pub fn parse_severity(source: &str, value: &str) -> Result<Severity> {
    value.trim().to_ascii_lowercase().parse().map_err(|_| {
        Error::Config(format!(
            "{source}: severity `{value}` is not one of {}",
            Severity::names()
        ))
    })
}

/// The items of a comma-separated list, trimmed, empty ones left out.
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|n| !n.is_empty())
}

/// Canonical table names (`system/name`, comma-separated), each one of the
/// contract's, in the order given, each once.
pub fn parse_tables(source: &str, value: &str) -> Result<Vec<String>> {
    let mut tables: Vec<String> = Vec::new();
    for name in split_list(value) {
        if revleak_contract::table(name).is_none() {
            let known: Vec<String> = revleak_contract::TABLES
                .iter()
                .map(|t| t.qualified())
                .collect();
            return Err(Error::Config(format!(
                "{source}: `{name}` is not a canonical table; name one of {}",
                known.join(", ")
            )));
        }
        if !tables.iter().any(|t| t == name) {
            tables.push(name.to_string());
        }
    }
    Ok(tables)
}

fn params_as_strings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error as _;
    let raw: BTreeMap<String, toml::Value> = serde::Deserialize::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                // A float would lose cents: amounts must be written as strings or integers.
                toml::Value::Float(_) => {
                    return Err(D::Error::custom(format!(
                        "parameter `{k}`: write decimal values as strings (\"{v}\"), floats are not exact"
                    )))
                }
                toml::Value::Datetime(d) => d.to_string(),
                other => {
                    return Err(D::Error::custom(format!("parameter `{k}`: unsupported value {other}")))
                }
            };
            Ok((k, s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file's struct reads exactly the table's keys (and the two sections).
    #[test]
    fn the_file_reads_exactly_the_keys_of_the_table() {
        let error = toml::from_str::<ConfigFile>("no_such_key = 1").unwrap_err();
        let message = error.to_string();
        let (_, expected) = message
            .split_once("expected one of ")
            .expect("serde lists the fields it knows");
        let read: Vec<&str> = expected
            .trim()
            .split(", ")
            .map(|f| f.trim_matches('`'))
            .filter(|f| !matches!(*f, "parameters" | "csv" | "xlsx"))
            .collect();
        let table: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(read, table);
    }
}
