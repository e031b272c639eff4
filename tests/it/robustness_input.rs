//! Input faults: each one ends in exit status 2 (an error from `run`), a message
//! naming the file, table and column, and nothing published.

use crate::common;

use crate::common::{copy_tree, drop_column, queries_dir, run_pipeline};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Case {
    _tmp: tempfile::TempDir,
    snapshot: PathBuf,
    out: PathBuf,
}

fn sample_copy() -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    common::copy_sample(&snapshot);
    let out = tmp.path().join("out");
    Case {
        snapshot,
        out,
        _tmp: tmp,
    }
}

/// Runs and expects failure; returns the message. Asserts nothing was published.
fn fails(case: &Case, sets: &[&str]) -> String {
    let err = run_pipeline(&case.snapshot, &case.out, &queries_dir(), sets)
        .expect_err("the run must fail")
        .to_string();
    for kind in ["findings", "summary", "runs", "report"] {
        assert!(!case.out.join(kind).exists(), "{kind} was published: {err}");
    }
    err
}

fn write_batch(path: &Path, batch: &RecordBatch) {
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// crm/forecasts rewritten with `forecast_amount` of another type.
fn forecasts_with_amount(case: &Case, amount: ArrayRef) {
    let rows = amount.len();
    let schema = Schema::new(vec![
        Field::new("partner_id", DataType::Utf8, false),
        Field::new("period", DataType::Date32, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("forecast_amount", amount.data_type().clone(), true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(vec!["P00001"; rows])),
            Arc::new(datafusion::arrow::array::Date32Array::from(vec![
                20000;
                rows
            ])),
            Arc::new(StringArray::from(vec!["USD"; rows])),
            amount,
        ],
    )
    .unwrap();
    write_batch(&case.snapshot.join("crm/forecasts.parquet"), &batch);
}

#[test]
fn a_snapshot_path_that_does_not_exist() {
    let case = sample_copy();
    std::fs::remove_dir_all(&case.snapshot).unwrap();
    let err = fails(&case, &[]);
    assert!(
        err.contains(&case.snapshot.display().to_string()) && err.contains("does not exist"),
        "{err}"
    );
}

/// Every file under `dir` with its bytes: what "the outputs are untouched" compares.
fn contents(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn a_missing_export_exits_2_naming_the_staging_file_and_raw_table_and_publishes_nothing() {
    let case = sample_copy();
    let queries = queries_dir();
    let args = |case: &Case| {
        [
            "run".to_string(),
            case.snapshot.display().to_string(),
            "--out".into(),
            case.out.display().to_string(),
            "--queries".into(),
            queries.display().to_string(),
        ]
    };
    let run = |case: &Case| {
        let args = args(case);
        common::revleak(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            case._tmp.path(),
        )
    };
    let first = run(&case);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let published = contents(&case.out);

    // tonight billing's payments and the whole erp system did not land
    std::fs::remove_file(case.snapshot.join("billing/payments.parquet")).unwrap();
    std::fs::remove_dir_all(case.snapshot.join("erp")).unwrap();
    let second = run(&case);
    assert_eq!(second.code, 2, "{}", second.stderr);
    let lines: Vec<&str> = second
        .stderr
        .lines()
        .filter(|l| l.contains("which the snapshot"))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "one line per missing table: {}",
        second.stderr
    );
    let snapshot = case.snapshot.display().to_string();
    for (staging, raw) in [
        ("staging/payments.sql", "billing/payments"),
        ("staging/revenue_postings.sql", "erp/revenue_postings"),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(staging)
                && l.contains(&format!(
                    "reads {raw}, which the snapshot {snapshot} does not hold"
                ))
                && l.contains(&format!("absent_tables = [\"{raw}\"]"))),
            "{staging}: {}",
            second.stderr
        );
    }
    assert_eq!(
        contents(&case.out),
        published,
        "the previous outputs changed"
    );
}

#[test]
fn a_staging_view_naming_a_raw_table_the_snapshot_lacks_is_a_missing_export() {
    // a typo in the staging SQL reads as a missing export, never as an empty table
    let case = sample_copy();
    let queries = case._tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    std::fs::write(
        queries.join("staging/payments.sql"),
        "select * from billing.paymnets\n",
    )
    .unwrap();
    let err = run_pipeline(&case.snapshot, &case.out, &queries, &[])
        .expect_err("the run must fail")
        .to_string();
    assert!(
        err.contains("staging/payments.sql: reads billing/paymnets, which the snapshot")
            && err.contains("so billing/payments cannot be built"),
        "{err}"
    );
    assert!(!case.out.join("findings").exists(), "{err}");
}

#[test]
fn inspect_lists_a_missing_export_as_a_problem_unless_declared_absent() {
    let case = sample_copy();
    std::fs::remove_dir_all(case.snapshot.join("erp")).unwrap();
    let queries = queries_dir();
    let inspect = |extra: &[&str]| {
        let mut args = vec![
            "inspect",
            case.snapshot.to_str().unwrap(),
            "--queries",
            queries.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        common::revleak(&args, case._tmp.path())
    };
    let undeclared = inspect(&[]);
    assert_eq!(undeclared.code, 2, "{}", undeclared.stdout);
    assert!(
        undeclared.stdout.contains("Problems (1):")
            && undeclared.stdout.contains(
                "staging/revenue_postings.sql: reads erp/revenue_postings, which the snapshot"
            ),
        "{}",
        undeclared.stdout
    );
    let config = case._tmp.path().join("revleak.toml");
    std::fs::write(&config, "absent_tables = [\"erp/revenue_postings\"]\n").unwrap();
    let declared = inspect(&["--config", config.to_str().unwrap()]);
    assert_eq!(declared.code, 0, "{}", declared.stdout);
    assert!(
        declared
            .stdout
            .contains("MISSING: erp/revenue_postings not in the snapshot"),
        "{}",
        declared.stdout
    );
}

#[test]
fn declared_absent_tables_skip_the_checks_that_need_them_with_a_warning() {
    let case = sample_copy();
    std::fs::remove_dir_all(case.snapshot.join("erp")).unwrap();
    let mut opts = revleak::run::RunOptions::new(&case.snapshot, &case.out);
    opts.queries = queries_dir();
    opts.config.absent_tables = vec!["erp/revenue_postings".into()];
    // --strict does not undo a declaration: a deployment without erp runs strict too
    opts.strict = true;
    let report = common::run_with_options(&opts).unwrap();
    let skipped: Vec<&str> = report
        .manifest
        .checks
        .iter()
        .filter(|c| c.skipped.is_some())
        .map(|c| c.check_id.as_str())
        .collect();
    assert_eq!(skipped, ["erp_posting_gap"]);
    assert!(
        report
            .manifest
            .warnings
            .iter()
            .any(|w| w.contains("erp/revenue_postings")
                && w.contains("skipped")
                && w.contains("absent_tables")),
        "{:?}",
        report.manifest.warnings
    );
    let input = report
        .manifest
        .inputs
        .iter()
        .find(|i| i.table == "erp/revenue_postings")
        .unwrap();
    assert!(input.missing);
}

#[test]
fn declared_absent_tables_come_from_revleak_toml_through_the_binary() {
    let case = sample_copy();
    std::fs::remove_dir_all(case.snapshot.join("erp")).unwrap();
    let config = case._tmp.path().join("revleak.toml");
    std::fs::write(&config, "absent_tables = [\"erp/revenue_postings\"]\n").unwrap();
    let queries = queries_dir();
    let outcome = common::revleak(
        &[
            "run",
            case.snapshot.to_str().unwrap(),
            "--out",
            case.out.to_str().unwrap(),
            "--queries",
            queries.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        case._tmp.path(),
    );
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(case.out.join("findings").exists());
}

#[test]
fn an_unknown_table_in_absent_tables_is_a_config_error_naming_it() {
    let case = sample_copy();
    let config = case._tmp.path().join("revleak.toml");
    std::fs::write(&config, "absent_tables = [\"erp/postings\"]\n").unwrap();
    let outcome = common::revleak(
        &[
            "run",
            case.snapshot.to_str().unwrap(),
            "--out",
            case.out.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        case._tmp.path(),
    );
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("absent_tables: `erp/postings` is not a canonical table"),
        "{}",
        outcome.stderr
    );
    assert!(!case.out.join("findings").exists());
}

#[test]
fn a_declared_absent_table_the_snapshot_holds_is_read_with_a_warning_and_strict_stops() {
    let case = sample_copy();
    let mut opts = revleak::run::RunOptions::new(&case.snapshot, &case.out);
    opts.queries = queries_dir();
    opts.config.absent_tables = vec!["erp/revenue_postings".into()];
    let report = common::run_with_options(&opts).unwrap();
    assert!(report.manifest.checks.iter().all(|c| c.skipped.is_none()));
    assert!(
        report
            .manifest
            .warnings
            .iter()
            .any(|w| w.contains("erp/revenue_postings is declared in absent_tables")),
        "{:?}",
        report.manifest.warnings
    );

    let strict = sample_copy();
    let mut opts = revleak::run::RunOptions::new(&strict.snapshot, &strict.out);
    opts.queries = queries_dir();
    opts.config.absent_tables = vec!["erp/revenue_postings".into()];
    opts.strict = true;
    let err = common::run_with_options(&opts).unwrap_err().to_string();
    assert!(err.contains("declared in absent_tables"), "{err}");
    assert!(!strict.out.join("findings").exists());
}

#[test]
fn strict_stops_on_a_raw_table_no_staging_view_reads() {
    let case = sample_copy();
    std::fs::write(
        case.snapshot.join("billing/refunds.csv"),
        "refund_id,amount\nR1,10.00\n",
    )
    .unwrap();
    let mut opts = revleak::run::RunOptions::new(&case.snapshot, &case.out);
    opts.queries = queries_dir();
    let report = common::run_with_options(&opts).unwrap();
    assert!(
        report
            .manifest
            .warnings
            .iter()
            .any(|w| w.contains("billing/refunds") && w.contains("read by no staging view"))
    );
    let strict = sample_copy();
    std::fs::copy(
        case.snapshot.join("billing/refunds.csv"),
        strict.snapshot.join("billing/refunds.csv"),
    )
    .unwrap();
    let mut opts = revleak::run::RunOptions::new(&strict.snapshot, &strict.out);
    opts.queries = queries_dir();
    opts.strict = true;
    let err = common::run_with_options(&opts).unwrap_err().to_string();
    assert!(
        err.contains("billing/refunds") && err.contains("read by no staging view"),
        "{err}"
    );
    assert!(!strict.out.join("findings").exists());
}

#[test]
fn an_empty_file() {
    let case = sample_copy();
    std::fs::write(case.snapshot.join("billing/payments.parquet"), b"").unwrap();
    let err = fails(&case, &[]);
    assert!(err.contains("billing/payments.parquet"), "{err}");
}

#[test]
fn a_truncated_parquet_file() {
    let case = sample_copy();
    let path = case.snapshot.join("billing/invoices.parquet");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&case, &[]);
    assert!(err.contains("billing/invoices.parquet"), "{err}");
}

#[test]
fn a_csv_file_renamed_parquet() {
    let case = sample_copy();
    std::fs::write(
        case.snapshot.join("prm/partners.parquet"),
        "partner_id,name\nP1,Acme\n",
    )
    .unwrap();
    let err = fails(&case, &[]);
    assert!(
        err.contains("prm/partners.parquet") && err.to_lowercase().contains("parquet"),
        "{err}"
    );
}

#[test]
fn a_missing_column() {
    let case = sample_copy();
    drop_column(&case.snapshot.join("billing/payments.parquet"), "amount");
    let err = fails(&case, &[]);
    // the identity staging view names the column, and the error its file and raw file
    assert!(
        err.contains("staging/payments.sql:")
            && err.contains("billing/payments.parquet")
            && err.contains("amount"),
        "{err}"
    );
}

#[test]
fn string_amounts() {
    let case = sample_copy();
    forecasts_with_amount(&case, Arc::new(StringArray::from(vec!["100.00"])));
    let err = fails(&case, &[]);
    assert!(
        err.contains("crm/forecasts") && err.contains("forecast_amount"),
        "{err}"
    );
    assert!(
        err.contains("Utf8") || err.contains("string"),
        "names the found type: {err}"
    );
}

#[test]
fn float_amounts() {
    let case = sample_copy();
    forecasts_with_amount(&case, Arc::new(Float64Array::from(vec![100.0])));
    let err = fails(&case, &[]);
    assert!(
        err.contains("forecast_amount") && err.contains("Float64"),
        "{err}"
    );
}

#[test]
fn a_timestamp_instead_of_a_date() {
    let case = sample_copy();
    let schema = Schema::new(vec![
        Field::new("currency", DataType::Utf8, false),
        Field::new(
            "rate_date",
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("rate_to_reporting", DataType::Decimal128(18, 8), false),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(vec!["EUR"])),
            Arc::new(TimestampMicrosecondArray::from(vec![0])),
            Arc::new(
                datafusion::arrow::array::Decimal128Array::from(vec![110000000])
                    .with_precision_and_scale(18, 8)
                    .unwrap(),
            ),
        ],
    )
    .unwrap();
    write_batch(&case.snapshot.join("contracts/fx_rates.parquet"), &batch);
    let err = fails(&case, &[]);
    assert!(
        err.contains("contracts/fx_rates")
            && err.contains("rate_date")
            && err.contains("Timestamp"),
        "{err}"
    );
}

#[test]
fn part_files_that_disagree_on_their_schema() {
    let case = sample_copy();
    let folder = case.snapshot.join("billing/payments");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::rename(
        case.snapshot.join("billing/payments.parquet"),
        folder.join("part-0.parquet"),
    )
    .unwrap();
    std::fs::copy(folder.join("part-0.parquet"), folder.join("part-1.parquet")).unwrap();
    drop_column(&folder.join("part-1.parquet"), "currency");
    let err = fails(&case, &[]);
    assert!(
        err.contains("part-1.parquet") && err.contains("currency"),
        "{err}"
    );
}

#[test]
fn an_unreadable_file() {
    // Root reads through permission bits, so a dangling link stands for a file
    // the run cannot open.
    let case = sample_copy();
    let path = case.snapshot.join("billing/credit_notes.parquet");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(case.snapshot.join("nowhere.parquet"), &path).unwrap();
    let err = fails(&case, &[]);
    assert!(err.contains("billing/credit_notes.parquet"), "{err}");
}
