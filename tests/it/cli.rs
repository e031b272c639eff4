//! The `revleak` binary's behaviour, pinned with snapshots: help, the run summary,
//! and the error messages for a missing column, broken check SQL and bad
//! parameters. Run ids, temp paths and the version are filtered out.

use crate::common;

use crate::common::{copy_sample, copy_tree, drop_column, revleak, sample_dir};
use std::path::Path;

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
fn docs_contract_md_is_what_revleak_contract_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(&["contract"], tmp.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract.md"))
            .unwrap();
    assert!(
        written == out.stdout,
        "docs/contract.md differs from `revleak contract`: regenerate it with \
         `cargo run -q -- contract > docs/contract.md`"
    );
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
fn a_missing_column_names_the_staging_file_raw_file_and_column_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    copy_sample(&snapshot);
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

/// `revleak run SNAPSHOT` from a folder with no queries/ runs the queries built
/// into the binary, with the same findings as the repository's queries/.
#[test]
fn run_works_from_any_folder_with_the_built_in_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let sample = sample_dir();
    let run = revleak(
        &["run", sample.to_str().unwrap(), "--out", "out"],
        &elsewhere,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let in_repo = common::run_pipeline(
        &sample,
        &tmp.path().join("repo-out"),
        &common::queries_dir(),
        &[],
    )
    .unwrap();
    let built_in = common::read_findings(&elsewhere.join("out"));
    let mut built_in_ids: Vec<_> = built_in.iter().map(|f| f.finding_id.clone()).collect();
    let mut repo_ids: Vec<_> = common::read_findings(&tmp.path().join("repo-out"))
        .iter()
        .map(|f| f.finding_id.clone())
        .collect();
    built_in_ids.sort();
    repo_ids.sort();
    assert_eq!(built_in_ids.len(), in_repo.manifest.findings);
    assert_eq!(built_in_ids, repo_ids);
}

/// `revleak init DIR` writes the shipped queries and a commented revleak.toml; a
/// run from DIR uses them (an edit there changes the run), and init never
/// overwrites.
#[test]
fn init_writes_a_starter_project_that_a_run_from_it_uses() {
    let tmp = tempfile::tempdir().unwrap();
    let init = revleak(&["init", "project"], tmp.path());
    assert_eq!(init.code, 0, "{}", init.stderr);
    let project = tmp.path().join("project");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    for sub in ["staging", "shared", "checks"] {
        for entry in std::fs::read_dir(repo.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let written = project
                .join("queries")
                .join(sub)
                .join(path.file_name().unwrap());
            assert_eq!(
                std::fs::read_to_string(&written).unwrap(),
                std::fs::read_to_string(&path).unwrap(),
                "{}",
                written.display()
            );
        }
    }
    let config = revleak(&["config"], &project);
    assert_eq!(config.code, 0, "{}", config.stderr);
    assert!(config.stdout.contains("revleak.toml"), "{}", config.stdout);

    // The project's own queries are the ones a run from it reads: without
    // payment_gap.sql, no payment_gap finding.
    std::fs::remove_file(project.join("queries/checks/payment_gap.sql")).unwrap();
    let sample = sample_dir();
    let run = revleak(&["run", sample.to_str().unwrap(), "--out", "out"], &project);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let findings = common::read_findings(&project.join("out"));
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f.check_id != "payment_gap"));

    let again = revleak(&["init", "project"], tmp.path());
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("never overwrites"),
        "{}",
        again.stderr
    );
    assert!(!project.join("queries/checks/payment_gap.sql").exists());
}

#[test]
fn a_missing_queries_folder_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let run = revleak(
        &[
            "run",
            sample.to_str().unwrap(),
            "--out",
            "out",
            "--queries",
            "nowhere",
        ],
        tmp.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("queries folder nowhere: does not exist"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("revleak init"), "{}", run.stderr);
    assert!(!tmp.path().join("out/findings").exists());
}

// The stdout of every subcommand, pinned as uv and datafusion-cli pin theirs: a
// change to what a user reads shows up as a snapshot diff in review.

#[test]
fn revleak_test_prints_each_case_it_runs_and_a_tally() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = common::queries_dir();
    // one check's cases: running them all is tests/it/sql_tests.rs's job, this pins the output
    let out = revleak(
        &[
            "test",
            "late_invoice",
            "--queries",
            queries.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn inspect_of_the_sample_lists_raw_tables_staging_and_no_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = sample_dir();
    let queries = common::queries_dir();
    let out = revleak(
        &[
            "inspect",
            sample.to_str().unwrap(),
            "--queries",
            queries.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn config_without_a_file_prints_the_defaults_as_revleak_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(&["config"], tmp.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn checks_lists_each_shipped_check_with_its_severity_and_description() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = common::queries_dir();
    let out = revleak(
        &["checks", "--queries", queries.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn init_says_what_it_wrote_and_what_to_do_next() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(&["init", "project"], tmp.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}

#[test]
fn contract_prints_the_contract_as_markdown() {
    let tmp = tempfile::tempdir().unwrap();
    let out = revleak(&["contract"], tmp.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    settings(tmp.path()).bind(|| insta::assert_snapshot!(out.stdout));
}
