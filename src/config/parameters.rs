//! Parameters of a run: docs/checks.md's table with its defaults, overridden by
//! `revleak.toml` and then by `--set NAME=VALUE`, each parsed to its type.
//!
//! Checks never see a value pasted into their SQL: the parameters become the
//! typed columns of a one-row table `params` that checks join (`cross join params p`).

use super::ConfigFile;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// A value as TOML: counts and percentages bare, the rest as strings
    /// (an amount written as a float would not be exact).
    pub fn toml(self, value: &str) -> String {
        match self {
            ParamKind::Pct | ParamKind::Days => value.to_string(),
            ParamKind::Date | ParamKind::Currency | ParamKind::Money => format!("{value:?}"),
        }
    }

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

/// docs/checks.md's parameter table.
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

/// The effective parameters of a run, in docs/checks.md's order.
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
