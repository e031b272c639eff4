//! Real-shaped exports (`tests/exports/*`, see its README): each, adapted in
//! staging SQL alone, gives the findings and report figures of the canonical
//! sample it was made from; and the errors an analyst meets while adapting one
//! name the staging file, the raw file, the line, the column and the value.

use crate::common::{
    copy_sample, copy_tree, queries_dir, read_findings, revleak, run_with_options, sample_dir,
};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use revleak::config::ConfigFile;
use revleak::run::RunOptions;
use std::path::{Path, PathBuf};

const EXPORTS: [&str; 3] = ["crm_csv", "billing_cents", "pos_xlsx"];

/// A snapshot, queries folder and config assembled from a fixture.
pub struct Export {
    pub tmp: tempfile::TempDir,
    pub snapshot: PathBuf,
    pub queries: PathBuf,
    pub config: Option<PathBuf>,
}

impl Export {
    fn options(&self, out: &Path) -> RunOptions {
        let mut opts = RunOptions::new(&self.snapshot, out);
        opts.queries = self.queries.clone();
        opts.config = ConfigFile::load(self.config.as_deref()).unwrap();
        opts
    }

    fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/exports")
        .join(name)
}

/// The sample with the fixture's raw tables in place of the canonical ones it
/// replaces, the repository's queries with its staging files over them.
pub fn assemble(name: &str) -> Export {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    copy_sample(&snapshot);
    let replaces = std::fs::read_to_string(fixture(name).join("replaces.txt")).unwrap();
    for file in replaces.lines().filter(|l| !l.trim().is_empty()) {
        std::fs::remove_file(snapshot.join(file.trim())).unwrap();
    }
    copy_tree(&fixture(name).join("snapshot"), &snapshot);
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    copy_tree(&fixture(name).join("queries"), &queries);
    let config = Some(fixture(name).join("revleak.toml")).filter(|p| p.exists());
    Export {
        tmp,
        snapshot,
        queries,
        config,
    }
}

/// Every row of a published partition, as text, sorted.
fn rows_of(out: &Path, kind: &str) -> Vec<String> {
    rows_of_file(out, kind, "part-0.parquet")
}

/// Every row of one file of a published partition, as text, sorted.
fn rows_of_file(out: &Path, kind: &str, file: &str) -> Vec<String> {
    let dir = std::fs::read_dir(out.join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("as_of=")
        })
        .unwrap_or_else(|| panic!("no {kind} partition in {}", out.display()));
    let file = std::fs::File::open(dir.join(file)).unwrap();
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let mut rows = Vec::new();
    for batch in &batches {
        let columns: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap())
            .collect();
        for i in 0..batch.num_rows() {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| {
                    let c = c.as_string::<i32>();
                    if c.is_null(i) {
                        "∅".to_string()
                    } else {
                        c.value(i).to_string()
                    }
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

#[test]
fn each_adapted_export_gives_the_canonical_findings_and_report_figures() {
    let canonical = tempfile::tempdir().unwrap();
    let canonical_out = canonical.path().join("out");
    let mut canonical_options = RunOptions::new(sample_dir(), &canonical_out);
    canonical_options.partner_reports = true;
    let canonical_report = run_with_options(&canonical_options).unwrap();
    let mut expected = read_findings(&canonical_out);
    expected.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
    assert!(!expected.is_empty());
    for name in EXPORTS {
        let export = assemble(name);
        // the canonical files are gone (or replaced by the export's own shape):
        // the findings come through staging
        for file in std::fs::read_to_string(fixture(name).join("replaces.txt"))
            .unwrap()
            .lines()
        {
            let now = std::fs::read(export.snapshot.join(file.trim())).ok();
            let canonical = std::fs::read(sample_dir().join(file.trim())).unwrap();
            assert!(now.as_ref() != Some(&canonical), "{name}: {file}");
        }
        let mut options = export.options(&export.out());
        options.partner_reports = true;
        let report = run_with_options(&options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut found = read_findings(&export.out());
        found.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
        assert_eq!(
            found, expected,
            "{name}: findings differ from the canonical sample's"
        );
        assert_eq!(
            rows_of(&export.out(), "partner_figures"),
            rows_of(&canonical_out, "partner_figures"),
            "{name}: the report's partner figures differ"
        );
        assert_eq!(
            report.manifest.figures, canonical_report.manifest.figures,
            "{name}"
        );
        // the recovery actions and the partners' statements too
        for (kind, files) in [
            (
                "actions",
                &report
                    .manifest
                    .actions
                    .iter()
                    .map(|a| a.id.clone())
                    .collect::<Vec<_>>(),
            ),
            (
                "statements",
                &revleak::outputs::report::statement::DATASETS
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
            ),
        ] {
            assert!(!files.is_empty(), "{name}: {kind}");
            for id in files {
                let file = format!("{id}.parquet");
                let rows = rows_of_file(&export.out(), kind, &file);
                assert!(!rows.is_empty(), "{name}: {kind}/{file} has rows");
                assert_eq!(
                    rows,
                    rows_of_file(&canonical_out, kind, &file),
                    "{name}: {kind}/{file}"
                );
            }
        }
        // every canonical table has the same rows, passed and flagged
        for (a, b) in report
            .manifest
            .inputs
            .iter()
            .zip(&canonical_report.manifest.inputs)
        {
            assert_eq!(
                (
                    &a.table,
                    a.rows_read,
                    a.rows_passed,
                    a.rows_flagged,
                    a.rows_after_as_of
                ),
                (
                    &b.table,
                    b.rows_read,
                    b.rows_passed,
                    b.rows_flagged,
                    b.rows_after_as_of
                ),
                "{name}"
            );
        }
        assert!(
            report.manifest.warnings.is_empty(),
            "{name}: {:?}",
            report.manifest.warnings
        );
    }
}

#[test]
fn a_hive_partitioned_table_folder_is_one_raw_table() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    copy_sample(&snapshot);
    let folder = snapshot.join("commissions/payouts/paid_year=2025");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::rename(
        snapshot.join("commissions/payouts.parquet"),
        folder.join("part-0.parquet"),
    )
    .unwrap();
    std::fs::write(snapshot.join("commissions/payouts/_SUCCESS"), b"").unwrap();
    let out = tmp.path().join("out");
    let mut opts = RunOptions::new(&snapshot, &out);
    opts.queries = queries_dir();
    let report = run_with_options(&opts).unwrap();
    let canonical = tmp.path().join("canonical");
    let mut opts = RunOptions::new(sample_dir(), &canonical);
    opts.queries = queries_dir();
    run_with_options(&opts).unwrap();
    assert_eq!(read_findings(&out), read_findings(&canonical));
    let payouts = report
        .manifest
        .inputs
        .iter()
        .find(|i| i.table == "commissions/payouts")
        .unwrap();
    assert!(payouts.rows_read > 0 && payouts.files == 1, "{payouts:?}");
}

fn fails(export: &Export) -> String {
    let err = run_with_options(&export.options(&export.out()))
        .expect_err("the run must fail")
        .to_string();
    assert!(!export.out().join("findings").exists(), "published: {err}");
    err
}

#[test]
fn staging_output_of_the_wrong_type_names_the_staging_file_raw_file_and_cast_all_at_once() {
    let export = assemble("crm_csv");
    let deals = export.queries.join("staging/deals.sql");
    let sql = std::fs::read_to_string(&deals).unwrap();
    let sql = sql.replace(
        "to_date(nullif(\"Close Date\", ''), '%d.%m.%Y') as close_date",
        "\"Close Date\" as close_date",
    );
    std::fs::write(&deals, sql).unwrap();
    let lines = export.queries.join("staging/deal_lines.sql");
    let sql = std::fs::read_to_string(&lines).unwrap();
    let sql = sql.replace(
        "cast(\"DiscountFraction\" * 100 as decimal(5,2))",
        "\"DiscountFraction\"",
    );
    assert!(
        sql.contains("\"DiscountFraction\" as discount_pct"),
        "{sql}"
    );
    std::fs::write(&lines, sql).unwrap();
    let err = fails(&export);
    assert!(
        err.contains("staging/deals.sql (reads ")
            && err.contains("crm/opportunities.csv")
            && err.contains("column `close_date` is Utf8, expected date (Date32) — cast it: cast(close_date as date)"),
        "{err}"
    );
    assert!(
        err.contains("staging/deal_lines.sql (reads ")
            && err.contains(
                "column `discount_pct` is Decimal128(38, 10), expected pct (Decimal128(5, 2))"
            ),
        "{err}"
    );
}

#[test]
fn a_value_staging_cannot_convert_fails_the_run_naming_file_line_column_and_value() {
    let export = assemble("crm_csv");
    let csv = export.snapshot.join("crm/opportunities.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    // the first deal's close date (line 2), as an impossible date
    let line2 = text.lines().nth(1).unwrap().to_string();
    let date = line2.split(';').nth(4).unwrap().to_string();
    let broken = line2.replacen(&date, "31.13.2025", 1);
    std::fs::write(&csv, text.replacen(&line2, &broken, 1)).unwrap();
    let err = fails(&export);
    assert!(
        err.contains("staging/deals.sql")
            && err.contains("`31.13.2025`")
            && err.contains("`Close Date`")
            && err.contains("crm/opportunities.csv:2 "),
        "{err}"
    );
}

#[test]
fn a_malformed_csv_line_is_an_error_naming_file_and_line_never_a_dropped_row() {
    let export = assemble("crm_csv");
    let csv = export.snapshot.join("crm/opportunities.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    let line = text.lines().count() + 1;
    text.push_str("D1;P1;C1\r\n");
    std::fs::write(&csv, text).unwrap();
    let err = fails(&export);
    assert!(
        err.contains(&format!(
            "crm/opportunities.csv:{line}: 3 field(s), but the header has 9"
        )),
        "{err}"
    );
}

#[test]
fn a_table_present_twice_is_an_error_naming_both_paths() {
    let export = assemble("crm_csv");
    std::fs::write(export.snapshot.join("crm/deal_lines.csv"), "a\n1\n").unwrap();
    let err = fails(&export);
    assert!(
        err.contains("crm/deal_lines is in the snapshot twice")
            && err.contains("crm/deal_lines.csv")
            && err.contains("crm/deal_lines.parquet"),
        "{err}"
    );
}

pub fn inspect(args: &[&str], cwd: &Path) -> (i32, String) {
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    let out = revleak(&all, cwd);
    (out.code, out.stdout)
}

#[test]
fn inspect_shows_the_mapping_and_every_mismatch_at_once() {
    let export = assemble("crm_csv");
    let config = export
        .config
        .as_ref()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let snapshot = export.snapshot.to_str().unwrap().to_string();
    // with the identity staging: deals cannot be built, deal_lines has other names
    let identity = queries_dir();
    let (code, out) = inspect(
        &[
            &snapshot,
            "--queries",
            identity.to_str().unwrap(),
            "--config",
            &config,
        ],
        export.tmp.path(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("crm/opportunities  csv, uncompressed, utf-8  "),
        "{out}"
    );
    assert!(out.contains("Opportunity ID Utf8"), "{out}");
    assert!(
        out.contains("crm/deals  <- ") && out.contains("MISSING: crm/deals not in the snapshot"),
        "{out}"
    );
    assert!(
        out.contains(
            "Raw tables no staging view reads (their rows are not reconciled): crm/opportunities"
        ),
        "{out}"
    );
    assert!(
        out.contains("staging/deal_lines.sql:") && out.contains("No field named deal_id"),
        "{out}"
    );
    // with the fixture's staging: everything maps
    let (code, out) = inspect(
        &[
            &snapshot,
            "--queries",
            export.queries.to_str().unwrap(),
            "--config",
            &config,
        ],
        export.tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("crm/deals  <- ") && out.contains("from crm/opportunities  1194 rows"),
        "{out}"
    );
    assert!(out.contains("No problems"), "{out}");
}

/// The findings of a run, sorted by id.
fn sorted_findings(out: &Path) -> Vec<crate::common::Finding> {
    let mut findings = read_findings(out);
    findings.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
    findings
}

/// The canonical sample's findings, sorted by id.
fn canonical_findings(tmp: &Path) -> Vec<crate::common::Finding> {
    let out = tmp.join("canonical");
    run_with_options(&RunOptions::new(sample_dir(), &out)).unwrap();
    sorted_findings(&out)
}

#[test]
fn each_sheet_of_a_workbook_is_a_raw_table_file_dollar_sheet_without_a_sheet_setting() {
    let mut export = assemble("pos_xlsx");
    export.config = None;
    let staging = export.queries.join("staging/partner_sales_reports.sql");
    let sql = std::fs::read_to_string(&staging).unwrap();
    assert!(sql.contains("from prm.pos_q3\n"), "{sql}");
    // the sheet's name is part of the table's: a quoted identifier, case kept
    std::fs::write(
        &staging,
        sql.replace("from prm.pos_q3\n", "from prm.\"pos_q3$POS Q3\"\n"),
    )
    .unwrap();
    let report = run_with_options(&export.options(&export.out())).unwrap();
    assert_eq!(
        sorted_findings(&export.out()),
        canonical_findings(export.tmp.path())
    );
    // the notes sheet is a raw table too, which no staging view reads
    assert!(
        report
            .manifest
            .warnings
            .iter()
            .any(|w| w.contains("prm/pos_q3$Read me")),
        "{:?}",
        report.manifest.warnings
    );
}

#[test]
fn an_error_cell_in_a_workbook_exits_2_naming_file_sheet_and_cell_outputs_untouched() {
    let export = assemble("pos_xlsx");
    let out = export.out();
    let args = |snapshot: &Path| -> Vec<String> {
        [
            "run",
            snapshot.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--queries",
            export.queries.to_str().unwrap(),
            "--config",
            export.config.as_ref().unwrap().to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |snapshot: &Path| {
        let args = args(snapshot);
        revleak(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            export.tmp.path(),
        )
    };
    let good = run(&export.snapshot);
    assert_eq!(good.code, 0, "{}", good.stderr);
    let findings = out.join("findings/as_of=2026-11-26/part-0.parquet");
    let before = std::fs::read(&findings).unwrap();
    std::fs::copy(
        fixture("pos_xlsx").join("broken/pos_q3.xlsx"),
        export.snapshot.join("prm/pos_q3.xlsx"),
    )
    .unwrap();
    let bad = run(&export.snapshot);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("prm/pos_q3.xlsx:POS Q3!G7: #DIV/0! (an error cell"),
        "{}",
        bad.stderr
    );
    assert_eq!(std::fs::read(&findings).unwrap(), before);
}

#[test]
fn inspect_lists_format_compression_encoding_and_files_of_each_raw_table() {
    let export = assemble("pos_xlsx");
    let (code, out) = inspect(
        &[
            export.snapshot.to_str().unwrap(),
            "--queries",
            export.queries.to_str().unwrap(),
            "--config",
            export.config.as_ref().unwrap().to_str().unwrap(),
        ],
        export.tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    let workbook = export.snapshot.join("prm/pos_q3.xlsx");
    // a sheet and a Parquet file: the format alone, the one file is the path
    assert!(
        out.contains(&format!(
            "  prm/pos_q3  xlsx  {}  1 file(s)  691 rows\n      Line Ref Utf8, Reseller ID Utf8,",
            workbook.display(),
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  billing/payments  parquet  {}  1 file(s)  ",
            export.snapshot.join("billing/payments.parquet").display()
        )),
        "{out}"
    );
    assert!(
        out.contains("prm/partner_sales_reports  <- ") && out.contains("from prm/pos_q3  691 rows"),
        "{out}"
    );
}
