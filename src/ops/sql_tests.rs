//! `revleak test`: analysts' tests of the SQL, beside it. Each
//! `queries/tests/<name>.toml` holds cases: a few given rows per table (every
//! other column takes a valid default), optional as_of and parameters, and the
//! findings the named checks must return. Each case runs through the real
//! pipeline (staging, data quality, shared views, the checks) on a snapshot
//! written from its rows, and its findings are compared with the expected ones.

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::run::{RunOptions, run};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use futures::StreamExt;
use revleak_contract::{ColumnType, TABLES, Table};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// The as_of of a case that names none.
pub const DEFAULT_AS_OF: &str = "2026-11-26";

/// Cases run at once.
const SIDE_BY_SIDE: usize = 2;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// For every case of the file that sets none.
    as_of: Option<toml::Value>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    case: Vec<CaseSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    name: String,
    as_of: Option<toml::Value>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    /// The checks whose findings are compared (default: the check ids of
    /// `expect`, else the file's name).
    checks: Option<Vec<String>>,
    /// Rows of canonical tables, by `system/table` or table name.
    #[serde(default)]
    given: BTreeMap<String, Vec<BTreeMap<String, toml::Value>>>,
    /// Rows of raw tables (`system/name`), written as CSV for staging to read.
    #[serde(default)]
    raw: BTreeMap<String, Vec<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    expect: Vec<Expected>,
}

/// One finding a case must return; columns left out are not compared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub check_id: String,
    pub entity_id: String,
    pub entity_type: Option<String>,
    pub severity: Option<String>,
    pub partner_id: Option<String>,
    pub period: Option<toml::Value>,
    pub expected_amount: Option<toml::Value>,
    pub actual_amount: Option<toml::Value>,
    pub leakage_amount: Option<toml::Value>,
    /// A substring of the finding's detail.
    pub detail: Option<String>,
}

/// A case ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: PathBuf,
    pub line: usize,
    pub name: String,
    pub as_of: String,
    pub params: Vec<(String, String)>,
    pub checks: Vec<String>,
    /// Canonical rows by contract table, cells as text (`None`: null).
    pub given: BTreeMap<String, Vec<BTreeMap<String, Option<String>>>>,
    /// Raw rows by `system/name`.
    pub raw: BTreeMap<String, Vec<BTreeMap<String, Option<String>>>>,
    pub expect: Vec<Expected>,
}

/// A finding as a case compares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub check_id: String,
    pub entity_type: String,
    pub entity_id: String,
    pub severity: String,
    pub partner_id: Option<String>,
    pub period: Option<String>,
    pub expected_amount: Option<Decimal>,
    pub actual_amount: Option<Decimal>,
    pub leakage_amount: Option<Decimal>,
    pub detail: String,
}

/// What a case gave.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    /// Empty: passed.
    pub problems: Vec<String>,
}

/// A TOML value as the text of a cell: strings as they are, dates ISO,
/// integers and booleans as written. Floats are refused: amounts are exact.
fn cell_text(value: &toml::Value) -> std::result::Result<Option<String>, String> {
    match value {
        toml::Value::String(s) if s == "null" => Ok(None),
        toml::Value::String(s) => Ok(Some(s.clone())),
        toml::Value::Integer(i) => Ok(Some(i.to_string())),
        toml::Value::Boolean(b) => Ok(Some(b.to_string())),
        toml::Value::Datetime(d) => Ok(Some(d.to_string())),
        toml::Value::Float(f) => Err(format!(
            "{f} is a float: write amounts as strings (\"{f}\") so that they stay exact"
        )),
        other => Err(format!("{other} is not a cell value")),
    }
}

/// A case's rows as text cells; an unknown column of `table` (when the rows
/// are a contract table's) or a value that is not a cell is reported through
/// `bad`, named by `label`, the row's index and the column.
fn cells_of(
    rows: &[BTreeMap<String, toml::Value>],
    label: &str,
    table: Option<&Table>,
    bad: &mut dyn FnMut(String),
) -> Vec<BTreeMap<String, Option<String>>> {
    let mut cells_of_rows = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let mut cells = BTreeMap::new();
        for (column, value) in row {
            if let Some(table) = table
                && table.column(column).is_none()
            {
                bad(format!(
                    "{label}[{i}]: {} has no column `{column}`",
                    table.qualified()
                ));
                continue;
            }
            match cell_text(value) {
                Ok(t) => {
                    cells.insert(column.clone(), t);
                }
                Err(e) => bad(format!("{label}[{i}].{column}: {e}")),
            }
        }
        cells_of_rows.push(cells);
    }
    cells_of_rows
}

/// The line of `needle` in `text` (1-based), or 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// Reads every test file under `dir` (sorted); every broken file is reported
/// at once, named with its line.
pub fn load(dir: &Path) -> Result<Vec<Case>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(dir, e)),
    };
    files.sort();
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        match parse(&file, &text) {
            Ok(mut found) => cases.append(&mut found),
            Err(mut errs) => problems.append(&mut errs),
        }
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(Error::SqlTests(problems))
    }
}

/// The cases of one file.
pub fn parse(file: &Path, text: &str) -> std::result::Result<Vec<Case>, Vec<String>> {
    let spec: TestFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
            .unwrap_or(1);
        vec![format!(
            "{}:{line}: {}",
            file.display(),
            e.message().replace('\n', " ")
        )]
    })?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut cases = Vec::new();
    if spec.case.is_empty() {
        problems.push(format!("{}:1: no [[case]] in the file", file.display()));
    }
    let text_of = |v: &toml::Value| cell_text(v).ok().map(|t| t.unwrap_or_default());
    for case in spec.case {
        let line = line_of(text, &format!("\"{}\"", case.name));
        let at = format!("{}:{line}: case \"{}\"", file.display(), case.name);
        let mut bad = |what: String| problems.push(format!("{at}: {what}"));
        let as_of = match case.as_of.as_ref().or(spec.as_of.as_ref()) {
            None => DEFAULT_AS_OF.to_string(),
            Some(v) => match text_of(v) {
                Some(t) if chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d").is_ok() => t,
                _ => {
                    bad(format!("as_of {v} is not a date (YYYY-MM-DD)"));
                    continue;
                }
            },
        };
        let mut params = Vec::new();
        let mut merged = spec.params.clone();
        merged.extend(case.params.clone());
        for (name, value) in &merged {
            match cell_text(value) {
                Ok(t) => params.push((name.clone(), t.unwrap_or_default())),
                Err(e) => bad(format!("params.{name}: {e}")),
            }
        }
        let mut given = BTreeMap::new();
        for (name, rows) in &case.given {
            let Some(table) =
                revleak_contract::table(name).or_else(|| TABLES.iter().find(|t| t.name == name))
            else {
                bad(format!(
                    "given.{name}: not a contract table (use raw.\"system/name\" for a raw table)"
                ));
                continue;
            };
            let cells = cells_of(rows, &format!("given.{name}"), Some(table), &mut bad);
            given.insert(table.qualified(), cells);
        }
        let mut raw = BTreeMap::new();
        for (name, rows) in &case.raw {
            if name
                .split_once('/')
                .is_none_or(|(s, n)| s.is_empty() || n.is_empty())
            {
                bad(format!(
                    "raw.\"{name}\": name a raw table as \"system/name\""
                ));
                continue;
            }
            if given.contains_key(name) {
                bad(format!(
                    "raw.\"{name}\" and given.{name}: one table, given twice"
                ));
                continue;
            }
            let cells = cells_of(rows, &format!("raw.\"{name}\""), None, &mut bad);
            raw.insert(name.clone(), cells);
        }
        for (i, e) in case.expect.iter().enumerate() {
            if let Some(s) = &e.severity
                && s.parse::<revleak_contract::Severity>().is_err()
            {
                bad(format!("expect[{i}]: severity `{s}` is not a severity"));
            }
            for (column, value) in [
                ("expected_amount", &e.expected_amount),
                ("actual_amount", &e.actual_amount),
                ("leakage_amount", &e.leakage_amount),
            ] {
                if let Some(v) = value
                    && !matches!(cell_text(v), Ok(None))
                    && text_of(v).is_none_or(|t| Decimal::from_str(&t).is_err())
                {
                    bad(format!(
                        "expect[{i}].{column}: {v} is not an amount (write it as a string, e.g. \"12.50\")"
                    ));
                }
            }
        }
        let checks = match &case.checks {
            Some(c) => c.clone(),
            None => {
                let mut ids: Vec<String> = case.expect.iter().map(|e| e.check_id.clone()).collect();
                ids.sort();
                ids.dedup();
                if ids.is_empty() {
                    ids.push(stem.clone());
                }
                ids
            }
        };
        cases.push(Case {
            file: file.to_path_buf(),
            line,
            name: case.name,
            as_of,
            params,
            checks,
            given,
            raw,
            expect: case.expect,
        });
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(problems)
    }
}

/// Defaults that make a one-line row valid, so a case names only what matters.
pub fn default_cell(table: &str, column: &str) -> Option<&'static str> {
    Some(match (table, column) {
        ("prm/partners", "name") => "Partner",
        ("prm/partners", "tier") => "gold",
        ("prm/partners", "region") => "NA",
        ("prm/partners", "agreement_start") => "2020-01-01",
        ("prm/partners", "status") => "active",
        ("prm/partner_sales_reports", "customer_id") => "C1",
        ("prm/partner_sales_reports", "sku") => "SKU1",
        ("prm/partner_sales_reports", "quantity") => "1",
        ("prm/partner_sales_reports", "currency") => "USD",
        ("crm/deals", "customer_id") => "C1",
        ("crm/deals", "stage") => "closed_won",
        ("crm/deals", "currency") => "USD",
        ("crm/deals", "deal_type") => "new",
        ("crm/deal_lines", "line_no") => "1",
        ("crm/deal_lines", "sku") => "SKU1",
        ("crm/deal_lines", "quantity") => "1",
        ("crm/deal_lines", "discount_pct") => "0",
        ("crm/forecasts", "currency") => "USD",
        ("contracts/products", "name") => "Product",
        ("contracts/products", "family") => "platform",
        ("contracts/products", "billing_model") => "subscription",
        ("contracts/price_list", "currency") => "USD",
        ("contracts/price_list", "valid_from") => "2020-01-01",
        ("contracts/discount_policies", "valid_from") => "2020-01-01",
        ("contracts/discount_policies", "family") => "platform",
        ("contracts/commission_plans", "valid_from") => "2020-01-01",
        ("billing/invoices", "customer_id") => "C1",
        ("billing/invoices", "currency") => "USD",
        ("billing/invoices", "status") => "issued",
        ("billing/invoice_lines", "line_no") => "1",
        ("billing/invoice_lines", "sku") => "SKU1",
        ("billing/invoice_lines", "quantity") => "1",
        ("billing/invoice_lines", "discount_pct") => "0",
        ("billing/payments", "currency") => "USD",
        ("billing/subscriptions", "customer_id") => "C1",
        ("billing/subscriptions", "sku") => "SKU1",
        ("billing/subscriptions", "quantity") => "1",
        ("billing/subscriptions", "auto_renew") => "false",
        ("billing/subscriptions", "currency") => "USD",
        ("billing/subscriptions", "status") => "expired",
        ("provisioning/activations", "customer_id") => "C1",
        ("provisioning/activations", "sku") => "SKU1",
        ("erp/revenue_postings", "currency") => "USD",
        ("commissions/payouts", "level") => "1",
        ("commissions/payouts", "rate_pct") => "10",
        ("commissions/payouts", "currency") => "USD",
        _ => return None,
    })
}

/// A canonical table's rows as a batch: named cells, else (with
/// `generate_keys`) a generated key for a one-column primary key
/// (`<column>-<n>`), else [`default_cell`], else null. A cell that is not of
/// its column's type is an error naming it.
pub fn batch_of(
    table: &Table,
    rows: &[BTreeMap<String, Option<String>>],
    generate_keys: bool,
) -> std::result::Result<RecordBatch, String> {
    let q = table.qualified();
    let single_key = (generate_keys && table.primary_key.len() == 1).then(|| table.primary_key[0]);
    let cell = |i: usize, row: &BTreeMap<String, Option<String>>, column: &str| -> Option<String> {
        match row.get(column) {
            Some(v) => v.clone(),
            None if Some(column) == single_key => Some(format!("{column}-{}", i + 1)),
            None => default_cell(&q, column).map(str::to_string),
        }
    };
    let mut columns: Vec<ArrayRef> = Vec::new();
    for c in table.columns {
        let values: Vec<Option<String>> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| cell(i, r, c.name))
            .collect();
        let bad = |v: &str| format!("{q}.{}: `{v}` is not {}", c.name, c.ty.describe());
        let array: ArrayRef = match c.ty {
            ColumnType::String => Arc::new(StringArray::from(values)),
            ColumnType::Date => Arc::new(Date32Array::from(
                values
                    .iter()
                    .map(|v| {
                        v.as_ref()
                            .map(|v| {
                                chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                                    .map(crate::config::date32)
                                    .map_err(|_| bad(v))
                            })
                            .transpose()
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            )),
            ColumnType::Int => Arc::new(Int64Array::from(
                values
                    .iter()
                    .map(|v| {
                        v.as_ref()
                            .map(|v| v.parse::<i64>().map_err(|_| bad(v)))
                            .transpose()
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            )),
            ColumnType::Bool => Arc::new(BooleanArray::from(
                values
                    .iter()
                    .map(|v| {
                        v.as_ref()
                            .map(|v| match v.as_str() {
                                "true" => Ok(true),
                                "false" => Ok(false),
                                _ => Err(bad(v)),
                            })
                            .transpose()
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            )),
            ColumnType::Money | ColumnType::Pct | ColumnType::Rate => {
                let DataTypeDecimal(p, s) = decimal_of(c.ty);
                Arc::new(
                    Decimal128Array::from(
                        values
                            .iter()
                            .map(|v| {
                                v.as_ref()
                                    .map(|v| {
                                        let mut d = Decimal::from_str(v).map_err(|_| bad(v))?;
                                        if d.scale() > s as u32 {
                                            return Err(bad(v));
                                        }
                                        d.rescale(s as u32);
                                        Ok(d.mantissa())
                                    })
                                    .transpose()
                            })
                            .collect::<std::result::Result<Vec<_>, _>>()?,
                    )
                    .with_precision_and_scale(p, s)
                    .map_err(|e| format!("{q}.{}: {e}", c.name))?,
                )
            }
        };
        columns.push(array);
    }
    // Every column nullable: a null in a required column is a case of its own
    // (data quality flags it), not a broken case.
    RecordBatch::try_new(table.nullable_schema(), columns).map_err(|e| format!("{q}: {e}"))
}

struct DataTypeDecimal(u8, i8);

fn decimal_of(ty: ColumnType) -> DataTypeDecimal {
    match ty {
        ColumnType::Money => DataTypeDecimal(18, 2),
        ColumnType::Pct => DataTypeDecimal(5, 2),
        _ => DataTypeDecimal(18, 8),
    }
}

/// Writes a case's snapshot: every contract table as Parquet (empty when not
/// given) unless a raw table of the same name is given, raw tables as CSV.
pub fn write_snapshot(
    case: &Case,
    dir: &Path,
    csv: &BTreeMap<String, crate::ingest::snapshot::CsvFormat>,
) -> std::result::Result<(), String> {
    use datafusion::parquet::arrow::ArrowWriter;
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    for table in TABLES {
        let qualified = table.qualified();
        if case.raw.contains_key(&qualified) {
            continue;
        }
        let rows = case.given.get(&qualified).cloned().unwrap_or_default();
        let batch = batch_of(table, &rows, true)?;
        let path = dir
            .join(table.system)
            .join(format!("{}.parquet", table.name));
        std::fs::create_dir_all(path.parent().expect("a system folder"))
            .map_err(|e| io(&path, e))?;
        let file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
        let mut writer =
            ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
        writer.close().map_err(|e| e.to_string())?;
    }
    for (name, rows) in &case.raw {
        let (system, table) = name.split_once('/').expect("checked when parsed");
        let path = dir.join(system).join(format!("{table}.csv"));
        std::fs::create_dir_all(path.parent().expect("a system folder"))
            .map_err(|e| io(&path, e))?;
        let format = csv.get(name).copied().unwrap_or_default();
        let mut columns: Vec<&String> = Vec::new();
        for row in rows {
            for column in row.keys() {
                if !columns.contains(&column) {
                    columns.push(column);
                }
            }
        }
        let mut writer = csv::WriterBuilder::new()
            .delimiter(format.delimiter)
            .quote(format.quote)
            .from_path(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writer
            .write_record(columns.iter().map(|c| c.as_str()))
            .map_err(|e| e.to_string())?;
        for row in rows {
            writer
                .write_record(
                    columns
                        .iter()
                        .map(|c| row.get(*c).cloned().flatten().unwrap_or_default()),
                )
                .map_err(|e| e.to_string())?;
        }
        writer.flush().map_err(|e| io(&path, e))?;
    }
    std::fs::write(
        dir.join("snapshot.json"),
        format!("{{\"as_of\": \"{}\"}}", case.as_of),
    )
    .map_err(|e| io(dir, e))?;
    Ok(())
}

/// A folder of its own under the system's temp folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> std::io::Result<Scratch> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "revleak-test-{}-{}-{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs one case and compares its findings.
pub async fn run_case(case: Case, queries: PathBuf, config: ConfigFile) -> CaseResult {
    let problems = match run_and_compare(&case, &queries, config).await {
        Ok(problems) => problems,
        Err(e) => vec![format!("the run failed: {e}")],
    };
    CaseResult { case, problems }
}

async fn run_and_compare(case: &Case, queries: &Path, config: ConfigFile) -> Result<Vec<String>> {
    let scratch = Scratch::new("case").map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let snapshot = scratch.0.join("snapshot");
    write_snapshot(case, &snapshot, &config.csv_formats()?)
        .map_err(|e| Error::SqlTests(vec![e]))?;
    let out = scratch.0.join("out");
    let mut opts = RunOptions::new(&snapshot, &out);
    opts.queries = queries.to_path_buf();
    opts.sets = case
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    // Only the CSV formats: parameters are the contract's defaults and the case's.
    opts.config = ConfigFile {
        csv: config.csv.clone(),
        ..Default::default()
    };
    opts.only = case.checks.clone();
    opts.threads = Some(1);
    opts.report = false;
    opts.actions = false;
    run(&opts).await?;
    let found = read_findings(&out)?;
    Ok(compare(&case.expect, &found, &case.checks))
}

/// The findings of the run's one partition.
fn read_findings(out: &Path) -> Result<Vec<Found>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut found = Vec::new();
    for (_, dir) in crate::outputs::publish::partitions(&out.join("findings")) {
        let path = dir.join("part-0.parquet");
        let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let fail = |e: String| Error::Output {
            path: path.clone(),
            message: e,
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| fail(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| fail(e.to_string()))?;
            let column = |name: &str| batch.column_by_name(name).expect("findings column");
            let text = |name: &str, i: usize| -> Option<String> {
                let c = datafusion::arrow::compute::cast(column(name), &DataType::Utf8).ok()?;
                let c = c.as_string::<i32>();
                c.is_valid(i).then(|| c.value(i).to_string())
            };
            let money = |name: &str, i: usize| -> Option<Decimal> {
                let c = column(name).as_primitive::<Decimal128Type>();
                c.is_valid(i)
                    .then(|| Decimal::from_i128_with_scale(c.value(i), c.scale() as u32))
            };
            let period = column("period").as_primitive::<Date32Type>();
            for i in 0..batch.num_rows() {
                found.push(Found {
                    check_id: text("check_id", i).unwrap_or_default(),
                    entity_type: text("entity_type", i).unwrap_or_default(),
                    entity_id: text("entity_id", i).unwrap_or_default(),
                    severity: text("severity", i).unwrap_or_default(),
                    partner_id: text("partner_id", i),
                    period: period
                        .is_valid(i)
                        .then(|| crate::config::from_date32(period.value(i)).to_string()),
                    expected_amount: money("expected_amount", i),
                    actual_amount: money("actual_amount", i),
                    leakage_amount: money("leakage_amount", i),
                    detail: text("detail", i).unwrap_or_default(),
                });
            }
        }
    }
    Ok(found)
}

fn describe(f: &Found) -> String {
    let amount = |d: &Option<Decimal>| d.map_or("null".to_string(), |d| d.to_string());
    format!(
        "{} {} {} severity={} partner_id={} period={} expected={} actual={} leakage={} detail=\"{}\"",
        f.check_id,
        f.entity_type,
        f.entity_id,
        f.severity,
        f.partner_id.as_deref().unwrap_or("null"),
        f.period.as_deref().unwrap_or("null"),
        amount(&f.expected_amount),
        amount(&f.actual_amount),
        amount(&f.leakage_amount),
        f.detail
    )
}

/// Missing rows, unexpected rows, and for matched rows the columns that differ.
pub fn compare(expect: &[Expected], found: &[Found], checks: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut unmatched: Vec<&Found> = found
        .iter()
        .filter(|f| checks.contains(&f.check_id))
        .collect();
    for e in expect {
        let position = unmatched.iter().position(|f| {
            f.check_id == e.check_id
                && f.entity_id == e.entity_id
                && e.entity_type.as_ref().is_none_or(|t| *t == f.entity_type)
        });
        let Some(position) = position else {
            problems.push(format!("missing:    {} {}", e.check_id, e.entity_id));
            continue;
        };
        let f = unmatched.remove(position);
        let mut differ = Vec::new();
        // None: the expectation is a null
        let text_of = |v: &toml::Value| cell_text(v).ok().flatten();
        if let Some(s) = &e.severity
            && *s != f.severity
        {
            differ.push(format!("severity expected {s}, found {}", f.severity));
        }
        if let Some(p) = &e.partner_id {
            let want = (p != "null").then_some(p.as_str());
            if want != f.partner_id.as_deref() {
                differ.push(format!(
                    "partner_id expected {p}, found {}",
                    f.partner_id.as_deref().unwrap_or("null")
                ));
            }
        }
        if let Some(p) = &e.period {
            let want = text_of(p);
            if want.as_deref() != f.period.as_deref() {
                differ.push(format!(
                    "period expected {}, found {}",
                    want.as_deref().unwrap_or("null"),
                    f.period.as_deref().unwrap_or("null")
                ));
            }
        }
        for (column, want, have) in [
            ("expected_amount", &e.expected_amount, f.expected_amount),
            ("actual_amount", &e.actual_amount, f.actual_amount),
            ("leakage_amount", &e.leakage_amount, f.leakage_amount),
        ] {
            if let Some(want) = want {
                let want = text_of(want).and_then(|t| Decimal::from_str(&t).ok());
                if want != have {
                    differ.push(format!(
                        "{column} expected {}, found {}",
                        want.map_or("null".into(), |d| d.to_string()),
                        have.map_or("null".into(), |d| d.to_string())
                    ));
                }
            }
        }
        if let Some(d) = &e.detail
            && !f.detail.contains(d.as_str())
        {
            differ.push(format!(
                "detail expected to contain \"{d}\", found \"{}\"",
                f.detail
            ));
        }
        if !differ.is_empty() {
            problems.push(format!(
                "differs:    {} {}: {}",
                e.check_id,
                e.entity_id,
                differ.join("; ")
            ));
        }
    }
    for f in unmatched {
        problems.push(format!("unexpected: {}", describe(f)));
    }
    problems
}

/// Runs `cases` (those whose file or case name contains `filter`), at most
/// [`SIDE_BY_SIDE`] at a time, in their order.
pub async fn run_all(
    cases: Vec<Case>,
    queries: &Path,
    config: &ConfigFile,
    filter: Option<&str>,
) -> Vec<CaseResult> {
    let selected: Vec<Case> = cases
        .into_iter()
        .filter(|c| {
            filter.is_none_or(|f| c.name.contains(f) || c.file.to_string_lossy().contains(f))
        })
        .collect();
    futures::stream::iter(selected.into_iter().map(|case| {
        let (queries, config) = (queries.to_path_buf(), config.clone());
        async move {
            tokio::spawn(run_case(case, queries, config))
                .await
                .expect("a case task")
        }
    }))
    .buffered(SIDE_BY_SIDE)
    .collect()
    .await
}

/// One line per case, the problems of each failed one, and the tally.
pub fn render(results: &[CaseResult]) -> String {
    let mut out = String::new();
    for o in results {
        let state = if o.problems.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        let _ = writeln!(
            out,
            "{}:{}: {} ... {state}",
            o.case.file.display(),
            o.case.line,
            o.case.name
        );
        for p in &o.problems {
            let _ = writeln!(out, "    {p}");
        }
    }
    let failed = results.iter().filter(|o| !o.problems.is_empty()).count();
    let _ = writeln!(out, "{} passed, {failed} failed", results.len() - failed);
    out
}
