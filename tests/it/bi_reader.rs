//! The published outputs as BI tools read them: polars from Rust, and pandas,
//! pyarrow, DuckDB, polars and Spark from Python (tests/readers/read_outputs.py),
//! each reading findings, summary and resolved as one Hive-partitioned table:
//! as_of a date from the path, amounts Decimal(18,2), ids strings, and the rows
//! and leakage each run reported.

use crate::common;

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn polars_scans_the_hive_partitioned_findings_with_contract_types() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report =
        common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &[]).unwrap();
    // A second as_of partition: the reader must see both, each with its own date.
    common::run_pipeline(
        &common::sample_dir(),
        &out,
        &common::queries_dir(),
        &["as_of=2026-11-20"],
    )
    .unwrap();
    let written = common::read_findings(&out).len();
    assert!(report.manifest.findings > 0);

    let root = format!("{}/", out.join("findings").display());
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(true),
            hive_start_idx: 0,
            schema: None,
            try_parse_dates: true,
        },
        ..Default::default()
    };
    let frame = LazyFrame::scan_parquet(PlRefPath::new(root.as_str()), args)
        .unwrap()
        .collect()
        .unwrap();

    assert_eq!(frame.height(), written);
    let schema = frame.schema();
    assert_eq!(schema.get("as_of"), Some(&DataType::Date));
    assert_eq!(schema.get("period"), Some(&DataType::Date));
    for money in ["expected_amount", "actual_amount", "leakage_amount"] {
        assert_eq!(
            schema.get(money),
            Some(&DataType::Decimal(18, 2)),
            "{money}"
        );
    }
    for text in [
        "finding_id",
        "check_id",
        "severity",
        "entity_type",
        "entity_id",
        "currency",
        "detail",
    ] {
        assert_eq!(schema.get(text), Some(&DataType::String), "{text}");
    }
    let dates = frame
        .column("as_of")
        .unwrap()
        .as_materialized_series()
        .n_unique()
        .unwrap();
    assert_eq!(dates, 2, "one as_of per partition");
}

/// The outputs of three runs of the sample in `DIR/out`: findings and summary
/// have three as_of partitions, resolved two. Each later night a grace period
/// is stretched past every finding of one check, so those findings resolve.
fn three_runs(dir: &Path) -> Vec<revleak::run::RunReport> {
    let out = dir.join("out");
    [
        ("2026-11-24", None),
        ("2026-11-25", Some("invoice_grace_days=400")),
        ("2026-11-26", Some("payment_grace_days=400")),
    ]
    .iter()
    .map(|(as_of, set)| {
        let mut sets = vec![format!("as_of={as_of}")];
        sets.extend(set.map(str::to_string));
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &sets).unwrap()
    })
    .collect()
}

/// Rows and billed total of a published partner_figures partition, read here.
fn partner_figures_written(out: &Path, as_of: &str) -> (usize, rust_decimal::Decimal) {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Decimal128Type;
    let path = out.join(format!("partner_figures/as_of={as_of}/part-0.parquet"));
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
    let (mut rows, mut billed) = (0, rust_decimal::Decimal::ZERO);
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let column = batch.column_by_name("billed").unwrap();
        let column = column.as_primitive::<Decimal128Type>();
        for i in (0..column.len()).filter(|&i| column.is_valid(i)) {
            billed += rust_decimal::Decimal::from_i128_with_scale(column.value(i), 2);
        }
    }
    (rows, billed)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readers/read_outputs.py")
}

/// Runs one real reader (tests/readers/read_outputs.py) over `DIR/out`.
fn read_with(reader: &str, dir: &Path) -> serde_json::Value {
    let views = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/duckdb_views.sql");
    let output = Command::new("python3")
        .arg(script())
        .arg(reader)
        .arg(&views)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("python3 does not start ({e}): the reader tests need it"));
    assert!(
        output.status.success(),
        "{reader} could not read the outputs (the reader tests need pandas, pyarrow, duckdb, \
         polars, pyspark and a Java runtime: .ci/run installs them):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{reader}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// What every reader must see: the folder as one table per output, as_of a
/// date from the path, money Decimal(18,2), ids strings, and per as_of the rows
/// and leakage each run reported.
fn assert_reads_as_published(reader: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_runs(tmp.path());
    let seen = read_with(reader, tmp.path());
    let out = tmp.path().join("out");

    let types = |table: &str| seen[table]["types"].clone();
    for table in ["findings", "resolved"] {
        let t = types(table);
        assert_eq!(t["as_of"], "date", "{reader} {table}.as_of: {t}");
        for column in ["period", "first_seen"] {
            assert_eq!(t[column], "date", "{reader} {table}.{column}: {t}");
        }
        for money in ["expected_amount", "actual_amount", "leakage_amount"] {
            assert_eq!(t[money], "decimal(18,2)", "{reader} {table}.{money}: {t}");
        }
        for text in ["finding_id", "check_id", "entity_id", "run_id", "status"] {
            assert_eq!(t[text], "string", "{reader} {table}.{text}: {t}");
        }
    }
    assert_eq!(types("resolved")["last_seen"], "date", "{reader}");
    let summary = types("summary");
    assert_eq!(summary["as_of"], "date", "{reader} summary: {summary}");
    assert_eq!(summary["findings"], "int64", "{reader} summary: {summary}");
    assert_eq!(
        summary["leakage_amount"], "decimal(18,2)",
        "{reader} summary: {summary}"
    );
    assert_eq!(summary["check_id"], "string", "{reader} summary: {summary}");

    let partners = types("partner_figures");
    assert_eq!(
        partners["as_of"], "date",
        "{reader} partner_figures: {partners}"
    );
    assert_eq!(
        partners["partner_id"], "string",
        "{reader} partner_figures: {partners}"
    );
    for money in ["billed", "outstanding", "forecast_lookback"] {
        assert_eq!(
            partners[money], "decimal(18,2)",
            "{reader} partner_figures.{money}: {partners}"
        );
    }

    let mut resolved_partitions = 0;
    for run in &runs {
        let as_of = run.manifest.as_of.to_string();
        let (rows, billed) = partner_figures_written(&out, &as_of);
        let read = &seen["partner_figures"]["as_of"][&as_of];
        assert_eq!(read["rows"], rows, "{reader} partner_figures {as_of}");
        assert_eq!(
            common::dec(read["leakage"].as_str().unwrap()),
            billed,
            "{reader} partner_figures {as_of}: billed"
        );
        let m = &run.manifest;
        let as_of = m.as_of.to_string();
        let findings = &seen["findings"]["as_of"][&as_of];
        assert_eq!(findings["rows"], m.findings, "{reader} findings {as_of}");
        let leakage = common::dec(findings["leakage"].as_str().unwrap());
        assert_eq!(leakage, m.total_leakage, "{reader} findings {as_of}");
        let summary = &seen["summary"]["as_of"][&as_of];
        assert_eq!(summary["findings"], m.findings, "{reader} summary {as_of}");
        let leakage = common::dec(summary["leakage"].as_str().unwrap());
        assert_eq!(leakage, m.total_leakage, "{reader} summary {as_of}");
        if m.previous_as_of.is_some() {
            let written = common::read_partition(&out, "resolved", &as_of).len();
            let read = &seen["resolved"]["as_of"][&as_of]["rows"];
            // A reader sees no group for a partition without rows.
            assert_eq!(
                read.as_u64().unwrap_or(0),
                written as u64,
                "{reader} {as_of}"
            );
            resolved_partitions += usize::from(written > 0);
        }
    }
    for table in ["findings", "summary", "resolved", "partner_figures"] {
        let rows: u64 = seen[table]["as_of"]
            .as_object()
            .unwrap()
            .values()
            .map(|g| g["rows"].as_u64().unwrap())
            .sum();
        // pandas' and pyarrow's plain default call, with no partitioning schema.
        if let Some(plain) = seen[table]["plain_rows"].as_u64() {
            assert_eq!(plain, rows, "{reader} {table}, read with no options");
        }
    }
    assert_eq!(seen["findings"]["as_of"].as_object().unwrap().len(), 3);
    assert_eq!(seen["summary"]["as_of"].as_object().unwrap().len(), 3);
    assert_eq!(
        resolved_partitions, 2,
        "the sample's runs resolve findings on both later days"
    );
}

#[test]
fn pandas_reads_findings_summary_and_resolved_as_published() {
    assert_reads_as_published("pandas");
}

#[test]
fn pyarrow_dataset_reads_findings_summary_and_resolved_as_published() {
    assert_reads_as_published("pyarrow");
}

#[test]
fn duckdb_and_its_views_read_findings_summary_and_resolved_as_published() {
    assert_reads_as_published("duckdb");
}

#[test]
fn python_polars_reads_findings_summary_and_resolved_as_published() {
    assert_reads_as_published("polars");
}

#[test]
fn spark_reads_findings_summary_and_resolved_as_published() {
    assert_reads_as_published("spark");
}

#[test]
fn the_readme_shows_each_readers_line_as_the_tests_run_it() {
    // one line per reader
    crate::common::assert_readme_holds_marked_lines(&script(), 5);
}

/// The files leave as_of to the path and keep it in their metadata, for a file
/// read on its own; a folder published before that is upgraded by the next run,
/// whose lifecycle still reads the earlier findings.
#[test]
fn files_leave_as_of_to_the_path_and_an_older_folder_is_upgraded() {
    use datafusion::arrow::array::{ArrayRef, Date32Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let first = common::run_pipeline(
        &common::sample_dir(),
        &out,
        &common::queries_dir(),
        &["as_of=2026-11-20"],
    )
    .unwrap();
    let open = |kind: &str| {
        let path = out.join(kind).join("as_of=2026-11-20/part-0.parquet");
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap()
    };
    for kind in ["findings", "summary"] {
        let reader = open(kind);
        assert!(reader.schema().index_of("as_of").is_err(), "{kind}");
        assert!(reader.schema().index_of("run_id").is_ok(), "{kind}");
        let meta = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap();
        let as_of = meta.iter().find(|kv| kv.key == "revleak.as_of").unwrap();
        assert_eq!(as_of.value.as_deref(), Some("2026-11-20"), "{kind}");
    }

    let page = out.join("report/as_of=2026-11-20/index.html");
    let rendered = std::fs::read(&page).unwrap();
    let render_again = || {
        let status = common::revleak_command()
            .args(["report", out.to_str().unwrap(), "--as-of", "2026-11-20"])
            .env("REVLEAK_LOG", "off")
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(&page).unwrap()
    };

    // The layout before: the same files with as_of as their last column.
    for kind in ["findings", "summary"] {
        let reader = open(kind);
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        let mut fields: Vec<Field> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("as_of", DataType::Date32, false));
        let schema = Arc::new(Schema::new(fields));
        let path = out.join(kind).join("as_of=2026-11-20/part-0.parquet");
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema.clone(), None)
                .unwrap();
        for b in &batches {
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            columns.push(Arc::new(Date32Array::from(vec![
                common::date32(
                    "2026-11-20"
                );
                b.num_rows()
            ])));
            writer
                .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
                .unwrap();
        }
        writer.close().unwrap();
        assert!(open(kind).schema().index_of("as_of").is_ok());
    }

    assert!(
        render_again() == rendered,
        "revleak report renders the same page from files of the earlier layout"
    );

    let second = common::run_pipeline(
        &common::sample_dir(),
        &out,
        &common::queries_dir(),
        &["as_of=2026-11-23"],
    )
    .unwrap();
    assert_eq!(second.manifest.previous_as_of, Some(first.manifest.as_of));
    assert!(
        second.manifest.lifecycle.recurring > 0,
        "the earlier findings were read: {:?}",
        second.manifest.lifecycle
    );
    for kind in ["findings", "summary"] {
        let reader = open(kind);
        assert!(
            reader.schema().index_of("as_of").is_err(),
            "{kind} upgraded"
        );
        let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        if kind == "findings" {
            assert_eq!(rows, first.manifest.findings, "{kind} keeps its rows");
        }
    }
    assert!(render_again() == rendered, "and from the upgraded files");
}
