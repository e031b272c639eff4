//! The raw formats beside Parquet (issue 32): compressed CSV, other encodings,
//! JSON lines and folders of files, each adapted in staging to the canonical
//! sample's findings; and what is refused (a FIFO, a malformed line, folders
//! whose files disagree), each with exit status 2 naming the place and
//! nothing published.

use crate::common::{copy_tree, queries_dir, read_findings, revleak, run_with_options, sample_dir};
use crate::exports::{Export, assemble};
use revleak::config::ConfigFile;
use revleak::run::RunOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

struct Case {
    tmp: tempfile::TempDir,
    snapshot: PathBuf,
}

impl Case {
    fn sample() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let snapshot = tmp.path().join("snapshot");
        copy_tree(&sample_dir(), &snapshot);
        Case { tmp, snapshot }
    }

    fn out(&self) -> PathBuf {
        self.tmp.path().join("out")
    }

    /// Runs the binary on the snapshot; expects exit 2 and nothing published.
    fn fails(&self, extra: &[&str]) -> String {
        fails(
            &self.snapshot,
            &self.out(),
            &queries_dir(),
            self.tmp.path(),
            extra,
        )
    }
}

/// Runs the binary; expects exit 2, nothing published, and returns stderr.
fn fails(snapshot: &Path, out: &Path, queries: &Path, cwd: &Path, extra: &[&str]) -> String {
    let (snapshot, out_arg, queries) = (
        snapshot.display().to_string(),
        out.display().to_string(),
        queries.display().to_string(),
    );
    let mut args = vec!["run", &snapshot, "--out", &out_arg, "--queries", &queries];
    args.extend_from_slice(extra);
    let outcome = revleak(&args, cwd);
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
    for kind in ["findings", "summary", "runs", "report"] {
        assert!(!out.join(kind).exists(), "{kind} was published");
    }
    outcome.stderr
}

/// Runs an assembled fixture in-process and returns its findings, sorted.
fn findings_of(export: &Export) -> Vec<crate::common::Finding> {
    let out = export.tmp.path().join("out");
    let mut options = RunOptions::new(&export.snapshot, &out);
    options.queries = export.queries.clone();
    options.config = ConfigFile::load(export.config.as_deref()).unwrap();
    run_with_options(&options).unwrap_or_else(|e| panic!("{}: {e}", export.snapshot.display()));
    let mut found = read_findings(&out);
    found.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
    found
}

fn canonical_findings() -> Vec<crate::common::Finding> {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_with_options(&RunOptions::new(sample_dir(), &out)).unwrap();
    let mut expected = read_findings(&out);
    expected.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
    assert!(!expected.is_empty());
    expected
}

/// Fails the assembled fixture through the binary, with its queries and config.
fn export_fails(export: &Export) -> String {
    let config = export.config.as_ref().map(|c| c.display().to_string());
    let mut extra = Vec::new();
    if let Some(config) = &config {
        extra = vec!["--config", config.as_str()];
    }
    fails(
        &export.snapshot,
        &export.tmp.path().join("out"),
        &export.queries,
        export.tmp.path(),
        &extra,
    )
}

/// The text inside the gzip fixture, decompressed.
fn payments_csv(export: &Export) -> Vec<u8> {
    use std::io::Read;
    let file = std::fs::File::open(export.snapshot.join("billing/payments.csv.gz")).unwrap();
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(file)
        .read_to_end(&mut text)
        .unwrap();
    text
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn each_text_format_adapted_in_staging_gives_the_canonical_findings() {
    let expected = canonical_findings();
    for name in ["billing_gz", "erp_jsonl", "prm_folder", "prm_cp1252"] {
        let export = assemble(name);
        assert_eq!(findings_of(&export), expected, "{name}");
    }
    // the same payments compressed with zstd, bzip2, and as two gzip members
    // (how `cat a.gz b.gz` appends), and not compressed
    let export = assemble("billing_gz");
    let text = payments_csv(&export);
    std::fs::remove_file(export.snapshot.join("billing/payments.csv.gz")).unwrap();
    let billing = export.snapshot.join("billing");
    let split = text.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut two_members = gzip(&text[..split]);
    two_members.extend(gzip(&text[split..]));
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&text).unwrap();
    for (file, bytes) in [
        ("payments.csv.zst", zstd::encode_all(&text[..], 3).unwrap()),
        ("payments.csv.bz2", bz.finish().unwrap()),
        ("payments.csv.gz", two_members),
        ("payments.csv", text.clone()),
    ] {
        std::fs::write(billing.join(file), bytes).unwrap();
        let _ = std::fs::remove_dir_all(export.tmp.path().join("out"));
        assert_eq!(findings_of(&export), expected, "{file}");
        std::fs::remove_file(billing.join(file)).unwrap();
    }
}

#[test]
fn inspect_names_each_text_tables_compression_encoding_and_files() {
    let inspect_of = |export: &Export| {
        let mut args = vec![
            export.snapshot.to_str().unwrap(),
            "--queries",
            export.queries.to_str().unwrap(),
        ];
        if let Some(config) = &export.config {
            args.extend(["--config", config.to_str().unwrap()]);
        }
        let (code, out) = crate::exports::inspect(&args, export.tmp.path());
        assert_eq!(code, 0, "{out}");
        out
    };
    let gz = assemble("billing_gz");
    let out = inspect_of(&gz);
    let file = gz.snapshot.join("billing/payments.csv.gz");
    assert!(
        out.contains(&format!(
            "  billing/payments  csv, gzip, utf-8  {}  1 file(s)  ",
            file.display()
        )),
        "{out}"
    );
    let cp1252 = assemble("prm_cp1252");
    let out = inspect_of(&cp1252);
    assert!(
        out.contains("  prm/partners  csv, uncompressed, windows-1252  "),
        "{out}"
    );
    let folder = assemble("prm_folder");
    let out = inspect_of(&folder);
    let path = folder.snapshot.join("prm/partner_sales_reports");
    assert!(
        out.contains(&format!(
            "  prm/partner_sales_reports  csv, uncompressed, utf-8  {}  19 file(s)  ",
            path.display()
        )) && out.contains(
            "      files: P00001.csv, P00002.csv, P00003.csv, P00004.csv, P00005.csv, … and 14 more\n"
        ),
        "{out}"
    );
}

#[test]
fn a_folder_whose_files_disagree_on_the_header_is_one_error_naming_them() {
    let export = assemble("prm_folder");
    let folder = export.snapshot.join("prm/partner_sales_reports");
    let header =
        "report_line_id,deal_id,customer,sku,quantity,unit_price,currency,sale_date,reported_date";
    for (partner, header) in [
        ("P00003", format!("{header},region")),
        ("P00007", header.to_string()),
    ] {
        let file = folder.join(format!("{partner}.csv"));
        let text = std::fs::read_to_string(&file).unwrap();
        let body = text.split_once('\n').unwrap().1;
        std::fs::write(&file, format!("{header}\n{body}")).unwrap();
    }
    let err = export_fails(&export);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("partner_sales_reports"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("2 of 19 files differ")
            && lines[0].contains("P00003.csv lacks `customer_id` and has `customer`, `region`")
            && lines[0].contains("P00007.csv lacks `customer_id` and has `customer`"),
        "{err}"
    );
}

#[test]
fn a_malformed_json_line_names_its_line() {
    let export = assemble("erp_jsonl");
    let file = export.snapshot.join("erp/revenue_postings.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[4] = r#"{"id": "GL000000005", "amount": {"value": 12.00,}"#;
    std::fs::write(&file, lines.join("\n")).unwrap();
    let err = export_fails(&export);
    assert!(
        err.contains("erp/revenue_postings.jsonl:5: not a JSON object"),
        "{err}"
    );
}

#[test]
fn a_windows_1252_file_without_its_encoding_set_names_the_line_and_the_setting() {
    let mut export = assemble("prm_cp1252");
    export.config = None;
    let err = export_fails(&export);
    assert!(
        err.contains("prm/partners.csv:2: field 9 (`Legal Name`) is not valid UTF-8")
            && err.contains("[csv.\"prm/partners\"] encoding = \"windows-1252\""),
        "{err}"
    );
}

#[test]
fn a_value_staging_cannot_convert_names_its_file_and_line_in_a_compressed_file() {
    let export = assemble("billing_gz");
    let text = String::from_utf8(payments_csv(&export)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let fields: Vec<&str> = lines[3].split(',').collect();
    lines[3] = format!(
        "{},{},{},12.3.4,{}",
        fields[0], fields[1], fields[2], fields[4]
    );
    let bytes = gzip((lines.join("\n") + "\n").as_bytes());
    std::fs::write(export.snapshot.join("billing/payments.csv.gz"), bytes).unwrap();
    let err = export_fails(&export);
    assert!(err.contains("billing/payments.csv.gz:4"), "{err}");
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_among_the_raw_files_is_refused_not_waited_on() {
    let case = Case::sample();
    mkfifo(&case.snapshot.join("billing/payments_feed.csv"));
    let err = case.fails(&[]);
    assert!(
        err.contains("billing/payments_feed.csv: a named pipe (FIFO), not a regular file"),
        "{err}"
    );
}

#[test]
fn a_fifo_inside_a_table_folder_is_refused_too() {
    let case = Case::sample();
    let folder = case.snapshot.join("billing/extra");
    std::fs::create_dir_all(&folder).unwrap();
    mkfifo(&folder.join("part-0.parquet"));
    let err = case.fails(&[]);
    assert!(
        err.contains("extra/part-0.parquet: a named pipe (FIFO)"),
        "{err}"
    );
}

#[test]
fn a_symlink_is_followed_once_and_a_loop_of_links_is_refused_naming_it() {
    let case = Case::sample();
    // the payments export kept elsewhere and linked in: read as if it were here
    let elsewhere = case.tmp.path().join("payments.parquet");
    let linked = case.snapshot.join("billing/payments.parquet");
    std::fs::rename(&linked, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
    let out = case.out().display().to_string();
    let snapshot = case.snapshot.display().to_string();
    let queries = queries_dir().display().to_string();
    let ran = revleak(
        &["run", &snapshot, "--out", &out, "--queries", &queries],
        case.tmp.path(),
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    std::fs::remove_dir_all(case.out()).unwrap();
    // two links pointing at each other: an error, not a hang
    let (a, b) = (
        case.snapshot.join("billing/refunds.csv"),
        case.snapshot.join("billing/refunds_old.csv"),
    );
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let err = case.fails(&[]);
    assert!(
        err.contains("billing/refunds.csv: cannot read:")
            && err.contains("billing/refunds_old.csv: cannot read:"),
        "{err}"
    );
}

#[test]
fn the_work_folder_of_a_killed_run_is_removed_by_the_next_and_a_run_leaves_none() {
    let export = assemble("billing_gz");
    let temp = export.tmp.path().join("temp");
    std::fs::create_dir(&temp).unwrap();
    // a process that has ended: its pid names a folder no live run owns
    let mut ended = std::process::Command::new("true").spawn().unwrap();
    let dead = ended.id();
    ended.wait().unwrap();
    let abandoned = temp.join(format!("revleak-raw-{dead}-0badc0de"));
    std::fs::create_dir(&abandoned).unwrap();
    std::fs::write(
        abandoned.join("raw-billing.payments.parquet"),
        b"left by a SIGKILL",
    )
    .unwrap();
    // a live process's folder (this test's) stays
    let live = temp.join(format!("revleak-raw-{}-00000001", std::process::id()));
    std::fs::create_dir(&live).unwrap();

    let (snapshot, out, queries) = (
        export.snapshot.display().to_string(),
        export.tmp.path().join("out").display().to_string(),
        export.queries.display().to_string(),
    );
    let outcome = crate::common::revleak_command()
        .args(["run", &snapshot, "--out", &out, "--queries", &queries])
        .current_dir(export.tmp.path())
        .env("REVLEAK_LOG", "off")
        .env("TMPDIR", &temp)
        .output()
        .unwrap();
    assert_eq!(
        outcome.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    let left: Vec<String> = std::fs::read_dir(&temp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        [live.file_name().unwrap().to_string_lossy().into_owned()]
    );
}
