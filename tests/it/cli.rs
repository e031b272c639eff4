//! The `revleak` binary's behaviour, pinned with snapshots: help, the run summary,
//! and the error messages for a missing column, broken check SQL and bad
//! parameters. Run ids, temp paths and the version are filtered out.

use crate::common;

use crate::common::{copy_tree, drop_column, sample_dir};
use std::path::Path;
use std::process::Command;

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn revleak(args: &[&str], cwd: &Path) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_revleak"))
        .args(args)
        .current_dir(cwd)
        .env("REVLEAK_LOG", "off")
        .output()
        .expect("the binary runs");
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn settings(tmp: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&tmp.display().to_string()), "[TMP]");
    settings.add_filter(&regex_escape(env!("CARGO_MANIFEST_DIR")), "[REPO]");
    settings.add_filter(r"\d{8}T\d{6}Z-[0-9a-f]+", "[RUN_ID]");
    settings.add_filter(env!("CARGO_PKG_VERSION"), "[VERSION]");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(&["--help"], tmp.path());
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn run_help_documents_every_option() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(&["run", "--help"], tmp.path());
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn run_on_the_sample_prints_findings_and_leakage_per_check() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let out_dir = tmp.path().join("out");
    let out = revleak(
        &[
            "run",
            sample.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--queries",
            common::queries_dir().to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out_dir
            .join("findings/as_of=2026-11-26/part-0.parquet")
            .exists()
    );
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn a_missing_column_names_file_column_and_type_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    copy_tree(&sample_dir(), &snapshot);
    drop_column(&snapshot.join("crm/deals.parquet"), "currency");
    let out_dir = tmp.path().join("out");
    let out = revleak(
        &[
            "run",
            snapshot.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--queries",
            common::queries_dir().to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 2);
    assert!(!out_dir.join("findings").exists(), "nothing is published");
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stderr));
}

#[test]
fn broken_check_files_are_all_reported_with_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&common::queries_dir(), &queries);
    std::fs::write(
        queries.join("checks/broken_column.sql"),
        "-- title: a typo\nselect\n    severty, partner_id\nfrom clean.deals\n",
    )
    .unwrap();
    std::fs::write(
        queries.join("checks/wrong_shape.sql"),
        "select deal_id from clean.deals\n",
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let out = revleak(
        &[
            "run",
            sample_dir().to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--queries",
            queries.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 2);
    assert!(!out_dir.join("findings").exists(), "nothing is published");
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stderr));
}

#[test]
fn an_unknown_parameter_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(
        &[
            "run",
            sample_dir().to_str().unwrap(),
            "--set",
            "amount_tolerence=2.00",
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 2);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stderr));
}

#[test]
fn a_parameter_of_the_wrong_type_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(
        &[
            "run",
            sample_dir().to_str().unwrap(),
            "--set",
            "invoice_grace_days=thirty",
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 2);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stderr));
}

/// The default build leaves the cluster out (it is a third of a cold build); its
/// commands then say how to get it rather than failing obscurely.
#[cfg(not(feature = "cluster"))]
#[test]
fn without_the_cluster_feature_its_commands_say_how_to_build_it() {
    let tmp = tempfile::tempdir().unwrap();
    let scheduler = revleak(&["cluster", "scheduler"], tmp.path());
    assert_eq!(scheduler.code, 2, "{}", scheduler.stderr);
    assert!(
        scheduler
            .stderr
            .contains("cargo install --path . --features cluster"),
        "{}",
        scheduler.stderr
    );
    let out = tmp.path().join("out");
    let run = revleak(
        &[
            "run",
            sample_dir().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--queries",
            concat!(env!("CARGO_MANIFEST_DIR"), "/queries"),
            "--engine",
            "ballista",
            "--scheduler",
            "df://127.0.0.1:9",
        ],
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--features cluster"), "{}", run.stderr);
    assert!(!out.join("findings").exists(), "nothing published");
}
