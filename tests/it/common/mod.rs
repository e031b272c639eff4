//! Shared test helpers: a builder for tiny hand-made snapshots, a runner that
//! reconciles one with the real pipeline, and a reader for published findings.
#![allow(dead_code)]

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch,
    StringArray,
};
use datafusion::arrow::datatypes::{Date32Type, Decimal128Type};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use revleak::contract::{ColumnType, TABLES, Table};
use revleak::run::{RunOptions, RunReport};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

pub const AS_OF: &str = "2026-11-26";

/// The repository's queries folder.
pub fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")
}

/// A snapshot written row by row: `snap.row("crm/deals", "deal_id=D1 stage=closed_won")`.
/// Columns not named take a per-table default (see [`default_cell`]) or null.
pub struct Snap {
    rows: BTreeMap<String, Vec<BTreeMap<String, String>>>,
    as_of: String,
}

impl Default for Snap {
    fn default() -> Self {
        Self::new()
    }
}

impl Snap {
    pub fn new() -> Self {
        Snap {
            rows: BTreeMap::new(),
            as_of: AS_OF.into(),
        }
    }

    /// Adds one row; `cells` is whitespace-separated `column=value`, `null` for null.
    pub fn row(&mut self, table: &str, cells: &str) -> &mut Self {
        let t = table_of(table);
        let mut row = BTreeMap::new();
        for cell in cells.split_whitespace() {
            let (column, value) = cell
                .split_once('=')
                .unwrap_or_else(|| panic!("cell `{cell}` is not column=value"));
            assert!(
                t.columns.iter().any(|c| c.name == column),
                "{table} has no column {column}"
            );
            row.insert(column.to_string(), value.to_string());
        }
        self.rows.entry(t.qualified()).or_default().push(row);
        self
    }

    /// Adds one row from (column, value) pairs, for values with spaces, commas,
    /// quotes or newlines; "null" is not special here.
    pub fn row_values(&mut self, table: &str, cells: &[(&str, &str)]) -> &mut Self {
        let t = table_of(table);
        let mut row = BTreeMap::new();
        for (column, value) in cells {
            assert!(
                t.columns.iter().any(|c| c.name == *column),
                "{table} has no column {column}"
            );
            row.insert(column.to_string(), value.to_string());
        }
        self.rows.entry(t.qualified()).or_default().push(row);
        self
    }

    /// Writes every contract table (empty ones too) and snapshot.json.
    pub fn write(&self, dir: &Path) {
        for table in TABLES {
            let rows = self
                .rows
                .get(&table.qualified())
                .cloned()
                .unwrap_or_default();
            let batch = batch_of(table, &rows);
            let path = dir
                .join(table.system)
                .join(format!("{}.parquet", table.name));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let mut writer =
                ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None)
                    .unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
        }
        std::fs::write(
            dir.join("snapshot.json"),
            format!("{{\"as_of\": \"{}\"}}", self.as_of),
        )
        .unwrap();
    }

    /// Writes the snapshot to a temp folder, runs every check and returns the findings.
    pub fn run(&self) -> Vec<Finding> {
        self.run_with(&[])
    }

    pub fn run_with(&self, sets: &[&str]) -> Vec<Finding> {
        let tmp = tempfile::tempdir().unwrap();
        let snapshot = tmp.path().join("snapshot");
        self.write(&snapshot);
        let out = tmp.path().join("out");
        run_pipeline(&snapshot, &out, &queries_dir(), sets).expect("run succeeds");
        read_findings(&out)
    }
}

fn table_of(table: &str) -> &'static Table {
    revleak::contract::table(table).unwrap_or_else(|| panic!("no contract table {table}"))
}

/// Defaults that make a one-line row valid, so a test names only what matters.
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

fn batch_of(table: &Table, rows: &[BTreeMap<String, String>]) -> RecordBatch {
    let q = table.qualified();
    let cell = |row: &BTreeMap<String, String>, column: &str| -> Option<String> {
        match row.get(column) {
            Some(v) if v == "null" => None,
            Some(v) => Some(v.clone()),
            None => default_cell(&q, column).map(str::to_string),
        }
    };
    let columns: Vec<ArrayRef> = table
        .columns
        .iter()
        .map(|c| {
            let values: Vec<Option<String>> = rows.iter().map(|r| cell(r, c.name)).collect();
            let array: ArrayRef = match c.ty {
                ColumnType::String => Arc::new(StringArray::from(values)),
                ColumnType::Date => Arc::new(Date32Array::from(
                    values
                        .iter()
                        .map(|v| v.as_ref().map(|v| date32(v)))
                        .collect::<Vec<_>>(),
                )),
                ColumnType::Int => Arc::new(Int64Array::from(
                    values
                        .iter()
                        .map(|v| v.as_ref().map(|v| v.parse::<i64>().unwrap()))
                        .collect::<Vec<_>>(),
                )),
                ColumnType::Bool => Arc::new(BooleanArray::from(
                    values
                        .iter()
                        .map(|v| v.as_ref().map(|v| v == "true"))
                        .collect::<Vec<_>>(),
                )),
                ColumnType::Money | ColumnType::Pct | ColumnType::Rate => {
                    let (p, s) = match c.ty {
                        ColumnType::Money => (18, 2),
                        ColumnType::Pct => (5, 2),
                        _ => (18, 8),
                    };
                    Arc::new(
                        Decimal128Array::from(
                            values
                                .iter()
                                .map(|v| {
                                    v.as_ref().map(|v| {
                                        let mut d = Decimal::from_str(v).unwrap();
                                        d.rescale(s as u32);
                                        d.mantissa()
                                    })
                                })
                                .collect::<Vec<_>>(),
                        )
                        .with_precision_and_scale(p, s)
                        .unwrap(),
                    )
                }
            };
            array
        })
        .collect();
    RecordBatch::try_new(table.schema(), columns).unwrap()
}

pub fn date32(iso: &str) -> i32 {
    let d = chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("`{iso}` is not a date"));
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

/// Runs the real pipeline, as `revleak run SNAPSHOT --out OUT --queries Q --set ...`.
pub fn run_pipeline(
    snapshot: &Path,
    out: &Path,
    queries: &Path,
    sets: &[&str],
) -> revleak::error::Result<RunReport> {
    let mut opts = RunOptions::new(snapshot, out);
    opts.queries = queries.to_path_buf();
    opts.sets = sets.iter().map(|s| s.to_string()).collect();
    run_with_options(&opts)
}

/// Runs the real pipeline with the given options.
pub fn run_with_options(opts: &RunOptions) -> revleak::error::Result<RunReport> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(revleak::run::run(opts))
}

/// One published finding, as a reader of the Parquet output sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub finding_id: String,
    pub check_id: String,
    pub severity: String,
    pub partner_id: Option<String>,
    pub entity_type: String,
    pub entity_id: String,
    pub period: Option<i32>,
    pub expected: Option<Decimal>,
    pub actual: Option<Decimal>,
    pub leakage: Decimal,
    pub currency: String,
    pub detail: String,
    pub status: String,
    pub first_seen: i32,
    pub disposition: Option<String>,
}

/// Every finding of every published as_of partition under `out/findings/`.
pub fn read_findings(out: &Path) -> Vec<Finding> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(out.join("findings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    parts.sort();
    read_partitions(&parts)
}

/// The rows of one published partition, e.g. `("resolved", "2026-11-27")`.
pub fn read_partition(out: &Path, kind: &str, as_of: &str) -> Vec<Finding> {
    read_partitions(&[out.join(kind).join(format!("as_of={as_of}"))])
}

fn read_partitions(parts: &[PathBuf]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for part in parts {
        let file = std::fs::File::open(part.join("part-0.parquet")).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let text = |name: &str, i: usize| -> Option<String> {
                let c = batch.column_by_name(name).unwrap();
                let c = c.as_string::<i32>();
                c.is_valid(i).then(|| c.value(i).to_string())
            };
            let money = |name: &str, i: usize| -> Option<Decimal> {
                let c = batch.column_by_name(name).unwrap();
                let c = c.as_primitive::<Decimal128Type>();
                c.is_valid(i)
                    .then(|| Decimal::from_i128_with_scale(c.value(i), c.scale() as u32))
            };
            for i in 0..batch.num_rows() {
                let period = batch.column_by_name("period").unwrap();
                let period = period.as_primitive::<Date32Type>();
                findings.push(Finding {
                    finding_id: text("finding_id", i).unwrap(),
                    check_id: text("check_id", i).unwrap(),
                    severity: text("severity", i).unwrap(),
                    partner_id: text("partner_id", i),
                    entity_type: text("entity_type", i).unwrap(),
                    entity_id: text("entity_id", i).unwrap(),
                    period: period.is_valid(i).then(|| period.value(i)),
                    expected: money("expected_amount", i),
                    actual: money("actual_amount", i),
                    leakage: money("leakage_amount", i).unwrap(),
                    currency: text("currency", i).unwrap(),
                    detail: text("detail", i).unwrap(),
                    status: text("status", i).unwrap(),
                    first_seen: batch
                        .column_by_name("first_seen")
                        .unwrap()
                        .as_primitive::<Date32Type>()
                        .value(i),
                    disposition: batch
                        .column_by_name("disposition")
                        .and_then(|_| text("disposition", i)),
                });
            }
        }
    }
    findings
}

/// The findings of one check.
pub fn of_check<'a>(findings: &'a [Finding], check_id: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.check_id == check_id).collect()
}

pub fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// Copies a folder tree (a snapshot or a queries folder) for a test to alter.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Rewrites a Parquet file without one of its columns.
pub fn drop_column(path: &Path, column: &str) {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader
        .map(|b| {
            let b = b.unwrap();
            let keep: Vec<usize> = (0..b.num_columns())
                .filter(|&i| b.schema().field(i).name() != column)
                .collect();
            b.project(&keep).unwrap()
        })
        .collect();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batches[0].schema(),
        None,
    )
    .unwrap();
    for b in &batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}

/// The sample snapshot shipped in `data/`.
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
}

/// The run_id column of every published findings partition.
pub fn read_run_ids(out: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(out.join("findings")).unwrap() {
        let part = entry.unwrap().path();
        if part.file_name().unwrap().to_string_lossy().starts_with('_') {
            continue;
        }
        let file = std::fs::File::open(part.join("part-0.parquet")).unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            let column = batch
                .column_by_name("run_id")
                .unwrap()
                .as_string::<i32>()
                .clone();
            ids.extend(column.iter().map(|v| v.unwrap().to_string()));
        }
    }
    ids
}

/// Entries of `out` a run works in and must remove: `_tmp-*` staging and layer folders.
pub fn temp_entries(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("_tmp"))
        .collect()
}
