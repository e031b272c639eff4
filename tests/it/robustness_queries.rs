//! Query faults: broken check files are all reported with their path (and line
//! and column where DataFusion gives one) and nothing is published, unless
//! --keep-going, which publishes the other checks and lists the failed ones.

use crate::common;

use crate::common::{copy_tree, queries_dir, run_with_options, sample_dir};
use revleak::run::RunOptions;

const BROKEN: &[(&str, &str)] = &[
    (
        "syntax_error",
        "select severity,\n  from from clean.deals\n",
    ),
    ("unknown_table", "select * from\n  clean.no_such_table\n"),
    ("wrong_shape", "select deal_id from clean.deals\n"),
    (
        "divides_by_zero",
        "select 'info' as severity, cast(null as varchar) as partner_id, 'deal' as entity_type,\n\
         deal_id as entity_id, cast(null as date) as period, cast(null as decimal(18, 2)) as expected_amount,\n\
         cast(null as decimal(18, 2)) as actual_amount, cast(0 as decimal(18, 2)) as leakage_amount,\n\
         cast(1 / (length(deal_id) - length(deal_id)) as varchar) as detail from clean.deals\n",
    ),
    (
        "bad_cast",
        "select 'info' as severity, cast(null as varchar) as partner_id, 'deal' as entity_type,\n\
         deal_id as entity_id, cast(null as date) as period, cast(null as decimal(18, 2)) as expected_amount,\n\
         cast(null as decimal(18, 2)) as actual_amount, cast(0 as decimal(18, 2)) as leakage_amount,\n\
         cast(cast(deal_id as int) as varchar) as detail from clean.deals\n",
    ),
];

fn setup(keep_going: bool) -> (tempfile::TempDir, RunOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    for (name, sql) in BROKEN {
        std::fs::write(queries.join(format!("checks/{name}.sql")), sql).unwrap();
    }
    let mut opts = RunOptions::new(sample_dir(), tmp.path().join("out"));
    opts.queries = queries;
    opts.keep_going = keep_going;
    (tmp, opts)
}

#[test]
fn every_plan_time_fault_is_reported_at_once_and_nothing_is_published() {
    let (_tmp, opts) = setup(false);
    let err = run_with_options(&opts).unwrap_err().to_string();
    let checks = opts.queries.join("checks");
    assert!(
        err.contains(&format!("{}:2:", checks.join("syntax_error.sql").display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:2:3:",
            checks.join("unknown_table.sql").display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:1:1: the check does not return column `severity`",
            checks.join("wrong_shape.sql").display()
        )),
        "{err}"
    );
    assert!(!opts.out.join("findings").exists());
}

#[test]
fn a_runtime_fault_fails_the_run_naming_the_check() {
    let (_tmp, mut opts) = setup(false);
    opts.only = vec!["divides_by_zero".into()];
    let err = run_with_options(&opts).unwrap_err().to_string();
    assert!(
        err.contains("divides_by_zero.sql") && err.to_lowercase().contains("divide by zero"),
        "{err}"
    );
    assert!(!opts.out.join("findings").exists());
    opts.only = vec!["bad_cast".into()];
    let err = run_with_options(&opts).unwrap_err().to_string();
    assert!(
        err.contains("bad_cast.sql") && err.to_lowercase().contains("cast"),
        "{err}"
    );
}

#[test]
fn keep_going_publishes_the_working_checks_and_lists_the_failed_ones() {
    let (_tmp, opts) = setup(true);
    let report = run_with_options(&opts).unwrap();
    let mut failed: Vec<&str> = report
        .failed_checks()
        .iter()
        .map(|c| c.check_id.as_str())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            "bad_cast",
            "divides_by_zero",
            "syntax_error",
            "unknown_table",
            "wrong_shape"
        ]
    );
    let findings = common::read_findings(&opts.out);
    assert_eq!(findings.len(), 45, "the 15 working checks are published");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(opts.out.join("runs/as_of=2026-11-26/manifest.json")).unwrap(),
    )
    .unwrap();
    let failed_in_manifest = manifest["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["failed"].is_null())
        .count();
    assert_eq!(failed_in_manifest, 5);
    let html =
        std::fs::read_to_string(opts.out.join("report/as_of=2026-11-26/index.html")).unwrap();
    assert!(
        html.contains("divides_by_zero"),
        "the report lists the failed checks"
    );
}

/// The sample's queries with `files` (path under queries/, SQL) added.
fn with_files(files: &[(&str, &str)]) -> (tempfile::TempDir, RunOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    for (path, sql) in files {
        std::fs::write(queries.join(path), sql).unwrap();
    }
    let mut opts = RunOptions::new(sample_dir(), tmp.path().join("out"));
    opts.queries = queries;
    (tmp, opts)
}

#[test]
fn a_broken_shared_view_fails_the_run_naming_its_file() {
    let (_tmp, opts) = with_files(&[(
        "shared/broken_view.sql",
        "select deal_id,\n  from from clean.deals\n",
    )]);
    let err = run_with_options(&opts).unwrap_err().to_string();
    let file = opts.queries.join("shared/broken_view.sql");
    assert!(err.contains(&format!("{}:2:", file.display())), "{err}");
    assert!(!opts.out.join("findings").exists());
}

#[test]
fn shared_views_that_read_each_other_in_a_loop_are_an_error_not_a_hang() {
    let (_tmp, opts) = with_files(&[
        ("shared/loop_a.sql", "select deal_id from shared.loop_b\n"),
        ("shared/loop_b.sql", "select deal_id from shared.loop_a\n"),
    ]);
    let err = run_with_options(&opts).unwrap_err().to_string();
    assert!(
        err.contains("loop_a.sql") && err.contains("loop_b.sql"),
        "{err}"
    );
    assert!(!opts.out.join("findings").exists());
}

#[test]
fn a_check_reads_a_new_shared_view_built_on_another_new_one() {
    // chain_b reads chain_a; the check reads chain_b: each waits for what it reads
    let (_tmp, mut opts) = with_files(&[
        (
            "shared/chain_b.sql",
            "select deal_id, deal_value * 2 as doubled from shared.chain_a\n",
        ),
        (
            "shared/chain_a.sql",
            "select deal_id, deal_value from shared.deal_values\n",
        ),
        (
            "checks/doubled_values.sql",
            "select 'info' as severity, cast(null as varchar) as partner_id, 'deal' as entity_type,\n\
             deal_id as entity_id, cast(null as date) as period, cast(null as decimal(18, 2)) as expected_amount,\n\
             cast(null as decimal(18, 2)) as actual_amount, cast(0 as decimal(18, 2)) as leakage_amount,\n\
             cast(doubled as varchar) as detail from shared.chain_b\n",
        ),
    ]);
    opts.only = vec!["doubled_values".into()];
    let report = run_with_options(&opts).unwrap();
    let findings = common::read_findings(&opts.out);
    let deals = report
        .manifest
        .inputs
        .iter()
        .find(|t| t.table == "crm/deals")
        .map(|t| t.rows_passed)
        .unwrap();
    assert!(deals > 0);
    assert_eq!(findings.len() as u64, deals, "one finding per clean deal");
}

/// A check whose SQL leaves the severity to revleak, with the given header lines.
fn null_severity_check(header: &str) -> String {
    format!(
        "{header}select cast(null as varchar) as severity, cast(null as varchar) as partner_id, 'deal' as entity_type,\n\
         deal_id as entity_id, cast(null as date) as period, cast(null as decimal(18, 2)) as expected_amount,\n\
         cast(null as decimal(18, 2)) as actual_amount, cast(20000 as decimal(18, 2)) as leakage_amount,\n\
         'x' as detail from clean.deals where deal_id = (select min(deal_id) from clean.deals)\n"
    )
}

#[test]
fn the_severity_header_is_the_severity_of_findings_whose_sql_leaves_it_null() {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    let checks = queries.join("checks");
    std::fs::write(
        checks.join("with_header.sql"),
        null_severity_check("-- title: t\n-- severity: low\n"),
    )
    .unwrap();
    std::fs::write(
        checks.join("without_header.sql"),
        null_severity_check("-- title: t\n"),
    )
    .unwrap();
    let mut opts = RunOptions::new(sample_dir(), tmp.path().join("out"));
    opts.queries = queries.clone();
    opts.only = vec!["with_header".into(), "without_header".into()];
    run_with_options(&opts).unwrap();
    let findings = common::read_findings(&opts.out);
    let severity = |check: &str| {
        let found = common::of_check(&findings, check);
        assert_eq!(found.len(), 1, "{check}");
        found[0].severity.clone()
    };
    assert_eq!(severity("with_header"), "low");
    // 20,000 of leakage: the `high` band
    assert_eq!(severity("without_header"), "high");

    std::fs::write(
        checks.join("with_header.sql"),
        null_severity_check("-- title: t\n-- severity: urgent\n"),
    )
    .unwrap();
    let err = run_with_options(&opts).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "{}:2:1: severity `urgent` is not one of",
            checks.join("with_header.sql").display()
        )),
        "{err}"
    );
}
