//! Shared test helpers: a builder for tiny hand-made snapshots, generated and
//! sample snapshots, a runner that reconciles one with the real pipeline, the
//! one way tests start the `revleak` binary, and a reader for published findings.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Decimal128Type};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use revleak::run::{RunOptions, RunReport};
use revleak_contract::{TABLES, Table};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

pub mod servers;

pub const AS_OF: &str = "2026-11-26";

/// The repository's queries folder.
pub fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")
}

/// A snapshot written row by row: `snap.row("crm/deals", "deal_id=D1 stage=closed_won")`.
/// Columns not named take a per-table default (`revleak::ops::sql_tests::default_cell`) or null.
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
    revleak_contract::table(table).unwrap_or_else(|| panic!("no contract table {table}"))
}

/// A snapshot table's rows as a batch, with the defaults `revleak test` uses
/// (`null` is a null; no generated keys: a row without its key has a null key).
fn batch_of(table: &Table, rows: &[BTreeMap<String, String>]) -> RecordBatch {
    let rows: Vec<BTreeMap<String, Option<String>>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|(k, v)| (k.clone(), (v != "null").then(|| v.clone())))
                .collect()
        })
        .collect();
    revleak::ops::sql_tests::batch_of(table, &rows, false).unwrap()
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
    read_partitions(&published_partitions(out, "findings"))
}

/// The partition folders of `out/<kind>/` (`as_of=...`), sorted, the run's
/// own `_`-prefixed work left out.
pub fn published_partitions(out: &Path, kind: &str) -> Vec<PathBuf> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(out.join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    parts.sort();
    parts
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

/// Copies the sample snapshot to `to`, for a test that alters, moves or hides it.
pub fn copy_sample(to: &Path) {
    copy_tree(&sample_dir(), to);
}

/// Generates a snapshot with planted leaks in `dir` (as of [`AS_OF`], truth file
/// beside it) and returns `dir`.
pub fn generated(dir: &Path, scale: f64, seed: u64) -> PathBuf {
    revleak_synth::generate(&revleak_synth::GenerateOptions {
        out: dir.to_path_buf(),
        scale,
        seed,
        as_of: chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap(),
    })
    .unwrap();
    dir.to_path_buf()
}

/// The run_id column of every published findings partition.
pub fn read_run_ids(out: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for part in published_partitions(out, "findings") {
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

/// What a run of the `revleak` binary printed and returned.
pub struct ProcessOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `revleak` binary cargo built for these tests.
pub const REVLEAK_BIN: &str = env!("CARGO_BIN_EXE_revleak");

/// A command that runs the `revleak` binary, environment inherited, for a test
/// that needs more than [`revleak`]: its own environment or working folder,
/// a child to signal or wait for with a deadline.
pub fn revleak_command() -> Command {
    Command::new(REVLEAK_BIN)
}

/// Runs the `revleak` binary with `args` in `cwd`, logs off.
pub fn revleak(args: &[&str], cwd: &Path) -> ProcessOutput {
    let output = revleak_command()
        .args(args)
        .current_dir(cwd)
        .env("REVLEAK_LOG", "off")
        // where a run from a folder without queries/ writes the built-in ones
        .env("XDG_CACHE_HOME", cwd.join(".cache"))
        .output()
        .expect("the binary runs");
    ProcessOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Checks that the README holds, verbatim, each line of `script` marked
/// `# README` (the reader one-liners the tests run), and that there are `count`.
pub fn assert_readme_holds_marked_lines(script: &Path, count: usize) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let script = std::fs::read_to_string(script).unwrap();
    let lines: Vec<&str> = script
        .lines()
        .filter_map(|l| l.trim().strip_suffix("# README"))
        .map(str::trim)
        .collect();
    assert_eq!(lines.len(), count, "the README lines: {lines:?}");
    for line in lines {
        assert!(readme.contains(line), "README lacks `{line}`");
    }
}
