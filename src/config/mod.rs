//! Parameters of a run: checks.md's table with its defaults, overridden by
//! `revleak.toml` and then by `--set NAME=VALUE`, each parsed to its type.
//!
//! Checks never see a value pasted into their SQL: the parameters become the
//! typed columns of a one-row table `params` that checks join (`cross join params p`).

use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use revleak_contract::Severity;

/// New findings at or above it alert, unless `alert_min_severity` says otherwise.
pub const DEFAULT_ALERT_MIN_SEVERITY: Severity = Severity::High;

/// The type a parameter's value is parsed to, and its column type in `params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Date,
    /// ISO 4217 code, three upper-case letters.
    Currency,
    /// Decimal128(18,2).
    Money,
    /// Decimal128(5,2).
    Pct,
    /// Int64, zero or more.
    Days,
}

impl ParamKind {
    fn describe(self) -> &'static str {
        match self {
            ParamKind::Date => "a date (YYYY-MM-DD)",
            ParamKind::Currency => "a currency code (e.g. USD)",
            ParamKind::Money => "an amount with at most 2 decimals (e.g. 1000.00)",
            ParamKind::Pct => "a percentage with at most 2 decimals (e.g. 10 or 12.5)",
            ParamKind::Days => "a whole number of zero or more",
        }
    }
}

pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// None: computed at run time (as_of).
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

const fn spec(
    name: &'static str,
    kind: ParamKind,
    default: &'static str,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        default: Some(default),
        doc,
    }
}

/// checks.md's parameter table.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "as_of",
        kind: ParamKind::Date,
        default: None,
        doc: "snapshot.json's as_of, else today: nothing dated after it exists for the run",
    },
    spec(
        "reporting_currency",
        ParamKind::Currency,
        "USD",
        "currency findings are reported in",
    ),
    spec(
        "fx_base_currency",
        ParamKind::Currency,
        "USD",
        "currency the fx_rates table converts into (rate 1, needs no row); other reporting currencies are cross rates through it",
    ),
    spec(
        "amount_tolerance",
        ParamKind::Money,
        "1.00",
        "differences up to this are not findings",
    ),
    spec(
        "forecast_variance_pct",
        ParamKind::Pct,
        "10",
        "forecast_variance: shortfall threshold in % of forecast",
    ),
    spec(
        "forecast_min_shortfall",
        ParamKind::Money,
        "1000.00",
        "forecast_variance: minimum shortfall",
    ),
    spec(
        "forecast_lookback_months",
        ParamKind::Days,
        "12",
        "forecast_variance: complete months looked back",
    ),
    spec(
        "invoice_grace_days",
        ParamKind::Days,
        "30",
        "missing_invoice, late_invoice",
    ),
    spec("payment_grace_days", ParamKind::Days, "15", "payment_gap"),
    spec(
        "posting_grace_days",
        ParamKind::Days,
        "5",
        "erp_posting_gap",
    ),
    spec(
        "renewal_grace_days",
        ParamKind::Days,
        "15",
        "missed_renewal",
    ),
    spec(
        "renewal_lookback_days",
        ParamKind::Days,
        "180",
        "missed_renewal",
    ),
    spec(
        "sale_match_window_days",
        ParamKind::Days,
        "30",
        "unbilled_partner_sale",
    ),
    spec(
        "draft_payment_terms_days",
        ParamKind::Days,
        "30",
        "recovery actions: a draft invoice is due this many days after as_of",
    ),
    spec(
        "severity_critical",
        ParamKind::Money,
        "50000.00",
        "leakage from which a finding is critical",
    ),
    spec(
        "severity_high",
        ParamKind::Money,
        "10000.00",
        "leakage from which a finding is high",
    ),
    spec(
        "severity_medium",
        ParamKind::Money,
        "1000.00",
        "leakage from which a finding is medium (low above 0, else info)",
    ),
];

pub fn param_spec(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| p.name == name)
}

/// A parsed parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Date(NaiveDate),
    Text(String),
    Decimal(Decimal),
    Int(i64),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Date(d) => write!(f, "{d}"),
            ParamValue::Text(s) => write!(f, "{s}"),
            ParamValue::Decimal(d) => write!(f, "{d}"),
            ParamValue::Int(i) => write!(f, "{i}"),
        }
    }
}

/// Parses `raw` as the value of parameter `name`; `source` says where it came from.
pub fn parse_param(name: &str, raw: &str, source: &str) -> Result<ParamValue> {
    let spec = param_spec(name).ok_or_else(|| {
        Error::Config(format!(
            "{source}: unknown parameter `{name}` (known: {})",
            PARAMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let raw = raw.trim();
    let bad = || {
        Error::Config(format!(
            "{source}: parameter `{name}` must be {}, got `{raw}`",
            spec.kind.describe()
        ))
    };
    Ok(match spec.kind {
        ParamKind::Date => {
            ParamValue::Date(NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?)
        }
        ParamKind::Currency => {
            if raw.len() == 3 && raw.chars().all(|c| c.is_ascii_uppercase()) {
                ParamValue::Text(raw.to_string())
            } else {
                return Err(bad());
            }
        }
        ParamKind::Money | ParamKind::Pct => {
            let d: Decimal = raw.parse().map_err(|_| bad())?;
            let limit = if spec.kind == ParamKind::Pct {
                Decimal::from(1000)
            } else {
                Decimal::from(10_i64.pow(16))
            };
            if d.scale() > 2 || d.is_sign_negative() || d >= limit {
                return Err(bad());
            }
            ParamValue::Decimal(d)
        }
        ParamKind::Days => {
            let i: i64 = raw.parse().map_err(|_| bad())?;
            if !(0..=100_000).contains(&i) {
                return Err(bad());
            }
            ParamValue::Int(i)
        }
    })
}

/// The effective parameters of a run, in checks.md's order.
#[derive(Debug, Clone)]
pub struct Params {
    pub values: BTreeMap<&'static str, ParamValue>,
}

impl Params {
    /// Defaults, then the config file's `[parameters]`, then `--set` pairs (`NAME=VALUE`),
    /// then an explicit as_of (from `--as-of`), falling back to `snapshot_as_of`, then today.
    pub fn resolve(
        config: &ConfigFile,
        sets: &[String],
        as_of: Option<NaiveDate>,
        snapshot_as_of: Option<NaiveDate>,
    ) -> Result<Params> {
        let mut values = BTreeMap::new();
        for p in PARAMS {
            if let Some(d) = p.default {
                values.insert(p.name, parse_param(p.name, d, "default")?);
            }
        }
        let source = config
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "revleak.toml".into());
        for (k, v) in &config.parameters {
            let spec = param_spec(k).ok_or_else(|| {
                Error::Config(format!("{source}: [parameters]: unknown parameter `{k}`"))
            })?;
            values.insert(
                spec.name,
                parse_param(k, v, &format!("{source}: [parameters]"))?,
            );
        }
        for set in sets {
            let (k, v) = set
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("--set {set}: expected NAME=VALUE")))?;
            let k = k.trim();
            let spec = param_spec(k)
                .ok_or_else(|| Error::Config(format!("--set {set}: unknown parameter `{k}`")))?;
            values.insert(spec.name, parse_param(k, v, &format!("--set {set}"))?);
        }
        if let Some(d) = as_of {
            values.insert("as_of", ParamValue::Date(d));
        }
        values.entry("as_of").or_insert_with(|| {
            ParamValue::Date(snapshot_as_of.unwrap_or_else(|| chrono::Local::now().date_naive()))
        });
        Ok(Params { values })
    }

    pub fn as_of(&self) -> NaiveDate {
        match self.values.get("as_of") {
            Some(ParamValue::Date(d)) => *d,
            _ => unreachable!("as_of is always resolved"),
        }
    }

    pub fn text(&self, name: &str) -> String {
        self.values
            .get(name)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    pub fn reporting_currency(&self) -> String {
        self.text("reporting_currency")
    }

    /// The one-row `params` table the checks join.
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for spec in PARAMS {
            let value = &self.values[spec.name];
            let (dt, array): (DataType, ArrayRef) = match (spec.kind, value) {
                (ParamKind::Date, ParamValue::Date(d)) => (
                    DataType::Date32,
                    Arc::new(Date32Array::from(vec![date32(*d)])),
                ),
                (ParamKind::Currency, ParamValue::Text(s)) => {
                    (DataType::Utf8, Arc::new(StringArray::from(vec![s.clone()])))
                }
                (ParamKind::Money | ParamKind::Pct, ParamValue::Decimal(d)) => {
                    let (p, s) = if spec.kind == ParamKind::Money {
                        (18, 2)
                    } else {
                        (5, 2)
                    };
                    let mut d = *d;
                    d.rescale(2);
                    let array = Decimal128Array::from(vec![d.mantissa()])
                        .with_precision_and_scale(p, s)
                        .map_err(|e| Error::Config(format!("parameter `{}`: {e}", spec.name)))?;
                    (DataType::Decimal128(p, s), Arc::new(array))
                }
                (ParamKind::Days, ParamValue::Int(i)) => {
                    (DataType::Int64, Arc::new(Int64Array::from(vec![*i])))
                }
                _ => unreachable!("values are parsed by their spec"),
            };
            fields.push(Field::new(spec.name, dt, false));
            columns.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| Error::Config(format!("parameters: {e}")))
    }
}

/// Days since 1970-01-01, Arrow's Date32.
pub fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

pub fn from_date32(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days as i64)
}

/// `revleak.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// Parameter overrides, checks.md's names, values as strings or numbers.
    #[serde(default, deserialize_with = "params_as_strings")]
    pub parameters: BTreeMap<String, String>,
    /// Folder of `staging/` and `checks/` SQL (default `queries`).
    pub queries: Option<PathBuf>,
    /// A missing input table is an error, not a skipped check.
    #[serde(default)]
    pub strict: bool,
    /// Also write one report page per partner.
    #[serde(default)]
    pub partner_reports: bool,
    /// Analysts' decisions on findings (default: `dispositions.csv` in the output folder).
    pub dispositions: Option<PathBuf>,
    /// New findings at or above this severity go to alerts.jsonl (default
    /// [`DEFAULT_ALERT_MIN_SEVERITY`]).
    #[serde(skip)]
    pub alert_min_severity: Option<Severity>,
    /// `alert_min_severity` as the file writes it, parsed by [`ConfigFile::parse`].
    #[serde(rename = "alert_min_severity")]
    pub(crate) alert_min_severity_text: Option<String>,
    /// The environment variable that holds the alert webhook's URL (a secret:
    /// never in this file).
    pub alert_webhook_env: Option<String>,
    /// Exit 1 when open findings at or above this severity exist.
    #[serde(skip)]
    pub fail_on: Option<Severity>,
    /// `fail_on` as the file writes it, parsed by [`ConfigFile::parse`].
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
    /// `engine` as the file writes it, parsed by [`ConfigFile::parse`].
    #[serde(rename = "engine")]
    pub(crate) engine_text: Option<String>,
    /// The Ballista scheduler with `engine = "ballista"`, e.g. `df://host:50050`.
    pub scheduler: Option<String>,
    /// How CSV raw tables are written, by `system/name`: `[csv."crm/opportunities"]`.
    #[serde(default)]
    pub csv: BTreeMap<String, CsvTableConfig>,
}

/// How a CSV raw table is written (`[csv."system/name"]` in `revleak.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvFormat {
    pub delimiter: u8,
    pub quote: u8,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat {
            delimiter: b',',
            quote: b'"',
        }
    }
}

/// `[csv."system/name"]`: one CSV raw table's delimiter and quote (default `,` and `"`).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvTableConfig {
    pub delimiter: Option<String>,
    pub quote: Option<String>,
}

impl ConfigFile {
    /// The CSV formats of `[csv."system/name"]`, each checked.
    pub fn csv_formats(&self) -> Result<BTreeMap<String, CsvFormat>> {
        let source = self
            .path
            .as_ref()
            .map_or_else(|| "revleak.toml".to_string(), |p| p.display().to_string());
        let mut formats = BTreeMap::new();
        for (table, config) in &self.csv {
            if table
                .split_once('/')
                .is_none_or(|(s, n)| s.is_empty() || n.is_empty())
            {
                return Err(Error::Config(format!(
                    "{source}: [csv.\"{table}\"]: name the raw table as \"system/name\", e.g. [csv.\"crm/opportunities\"]"
                )));
            }
            let one_byte = |key: &str, value: &Option<String>, default: u8| -> Result<u8> {
                match value.as_deref() {
                    None => Ok(default),
                    Some(v) if v.len() == 1 && v.is_ascii() => Ok(v.as_bytes()[0]),
                    Some(v) => Err(Error::Config(format!(
                        "{source}: [csv.\"{table}\"] {key} = {v:?}: must be one ASCII character (e.g. \";\" or \"\\t\")"
                    ))),
                }
            };
            let format = CsvFormat {
                delimiter: one_byte("delimiter", &config.delimiter, b',')?,
                quote: one_byte("quote", &config.quote, b'"')?,
            };
            if format.delimiter == format.quote {
                return Err(Error::Config(format!(
                    "{source}: [csv.\"{table}\"]: delimiter and quote must differ"
                )));
            }
            formats.insert(table.clone(), format);
        }
        Ok(formats)
    }
}

/// Environment variables revleak reads that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["REVLEAK_LOG"];

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
/// uses is the engine module's `Engine`, which also knows the scheduler.
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

impl ConfigFile {
    /// Reads `path`; when `path` is None, reads `revleak.toml` in the current folder if it exists.
    pub fn load(path: Option<&Path>) -> Result<ConfigFile> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("revleak.toml"), false),
        };
        if !required && !path.exists() {
            return Ok(ConfigFile::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.path = Some(path);
        Ok(config)
    }

    /// Parses revleak.toml text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<ConfigFile> {
        let mut config: ConfigFile = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{source}: {}", e.to_string().trim_end())))?;
        if let Some(s) = config.alert_min_severity_text.take() {
            config.alert_min_severity = Some(parse_severity("alert_min_severity", &s)?);
        }
        if let Some(s) = config.fail_on_text.take() {
            config.fail_on = Some(parse_severity("fail_on", &s)?);
        }
        if let Some(s) = config.engine_text.take() {
            config.engine = Some(parse_engine("engine", &s)?);
        }
        Ok(config)
    }

    /// Reads the file (see [`ConfigFile::load`]), then applies the environment:
    /// `REVLEAK_<KEY>` for a config key, `REVLEAK_<PARAMETER>` for a parameter.
    /// An unknown `REVLEAK_` variable is an error naming it.
    pub fn load_with_env(path: Option<&Path>) -> Result<ConfigFile> {
        let mut config = Self::load(path)?;
        let vars: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("REVLEAK_") && !ENV_NOT_CONFIG.contains(&k.as_str()))
            .collect();
        config.apply_env(&vars)?;
        Ok(config)
    }

    pub fn apply_env(&mut self, vars: &[(String, String)]) -> Result<()> {
        for (name, value) in vars {
            let key = name.trim_start_matches("REVLEAK_").to_ascii_lowercase();
            match key.as_str() {
                "queries" => self.queries = Some(PathBuf::from(value)),
                "strict" => self.strict = parse_bool(name, value)?,
                "partner_reports" => self.partner_reports = parse_bool(name, value)?,
                "dispositions" => self.dispositions = Some(PathBuf::from(value)),
                "alert_min_severity" => {
                    self.alert_min_severity = Some(parse_severity(name, value)?)
                }
                "alert_webhook_env" => self.alert_webhook_env = Some(value.clone()),
                "fail_on" => self.fail_on = Some(parse_severity(name, value)?),
                "fail_on_new" => self.fail_on_new = parse_bool(name, value)?,
                "threads" => self.threads = Some(parse_threads(name, value)?),
                "memory_limit" => {
                    parse_size(name, value)?;
                    self.memory_limit = Some(value.clone());
                }
                "spill_dir" => self.spill_dir = Some(PathBuf::from(value)),
                "engine" => self.engine = Some(parse_engine(name, value)?),
                "scheduler" => self.scheduler = Some(value.clone()),
                _ if param_spec(&key).is_some() => {
                    parse_param(&key, value, name)?;
                    self.parameters.insert(key, value.clone());
                }
                _ => {
                    return Err(Error::Config(format!(
                        "environment variable {name}: unknown configuration key or parameter `{key}`"
                    )));
                }
            }
        }
        if self.threads == Some(0) {
            return Err(Error::Config(
                "threads: expected a whole number of 1 or more".into(),
            ));
        }
        if let Some(s) = &self.memory_limit {
            parse_size("memory_limit", s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_formats_are_one_ascii_character_each_and_name_a_raw_table() {
        let config = ConfigFile::parse(
            "[csv.\"crm/opportunities\"]\ndelimiter = \";\"\n[csv.\"erp/postings\"]\ndelimiter = \"\\t\"\nquote = \"'\"\n",
            "revleak.toml",
        )
        .unwrap();
        let formats = config.csv_formats().unwrap();
        assert_eq!(formats["crm/opportunities"].delimiter, b';');
        assert_eq!(formats["crm/opportunities"].quote, b'"');
        assert_eq!(formats["erp/postings"].delimiter, b'\t');
        assert_eq!(formats["erp/postings"].quote, b'\'');

        let bad = |text: &str| {
            ConfigFile::parse(text, "revleak.toml")
                .unwrap()
                .csv_formats()
                .unwrap_err()
                .to_string()
        };
        assert!(
            bad("[csv.\"crm/x\"]\ndelimiter = \";;\"\n")
                .contains("delimiter = \";;\": must be one ASCII character")
        );
        assert!(
            bad("[csv.\"x\"]\ndelimiter = \";\"\n")
                .contains("name the raw table as \"system/name\"")
        );
        assert!(bad("[csv.\"crm/x\"]\ndelimiter = \"'\"\nquote = \"'\"\n").contains("must differ"));
        assert!(ConfigFile::parse("[csv.\"crm/x\"]\nseparator = \";\"\n", "revleak.toml").is_err());
    }

    #[test]
    fn thresholds_and_engine_are_parsed_once_when_the_file_is_read() {
        let config = ConfigFile::parse(
            "alert_min_severity = \" Medium\"\nfail_on = \"HIGH\"\nengine = \"Ballista\"\n",
            "revleak.toml",
        )
        .unwrap();
        assert_eq!(config.alert_min_severity, Some(Severity::Medium));
        assert_eq!(config.fail_on, Some(Severity::High));
        assert_eq!(config.engine, Some(EngineChoice::Ballista));
        let bad = |text: &str| {
            ConfigFile::parse(text, "revleak.toml")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad("fail_on = \"severe\"\n"),
            "fail_on: severity `severe` is not one of critical, high, medium, low, info"
        );
        assert_eq!(
            bad("engine = \"spark\"\n"),
            "engine: engine `spark` is not one of local, ballista"
        );
    }
}
