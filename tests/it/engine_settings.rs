//! Engine settings (issue 6): `--threads`, `--memory-limit`/`--spill-dir` change how
//! DataFusion executes, never what it finds; `--explain` prints every check's plan;
//! the binary asks glibc's malloc for huge pages unless the caller's tunables say.

use crate::common;

use crate::common::{Finding, queries_dir, read_findings, run_with_options};
use revleak::run::RunOptions;
use std::path::Path;

fn findings_with(snapshot: &Path, out: &Path, tweak: impl FnOnce(&mut RunOptions)) -> Vec<Finding> {
    let mut opts = RunOptions::new(snapshot, out);
    opts.queries = queries_dir();
    tweak(&mut opts);
    let report = run_with_options(&opts).expect("run succeeds");
    assert!(report.failed_checks().is_empty());
    let mut found = read_findings(out);
    found.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
    assert_outcomes_match(&report, &found);
    found
}

/// Checks run side by side: each check's outcome in the manifest (rows, leakage)
/// must still be that check's own findings, whichever check finished first.
fn assert_outcomes_match(report: &revleak::run::RunReport, found: &[Finding]) {
    for outcome in &report.manifest.checks {
        let mine: Vec<&Finding> = found
            .iter()
            .filter(|f| f.check_id == outcome.check_id)
            .collect();
        assert_eq!(outcome.rows, mine.len(), "{}: rows", outcome.check_id);
        let leakage: rust_decimal::Decimal = mine.iter().map(|f| f.leakage).sum();
        assert_eq!(outcome.leakage, leakage, "{}: leakage", outcome.check_id);
    }
}

#[test]
fn findings_do_not_depend_on_threads_or_memory_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    common::generated(&snapshot, 0.05, 7);

    let default = findings_with(&snapshot, &tmp.path().join("out-default"), |_| {});
    assert!(default.len() >= 45, "{} findings", default.len());

    let one_thread = findings_with(&snapshot, &tmp.path().join("out-threads-1"), |o| {
        o.threads = Some(1)
    });
    assert_eq!(default, one_thread, "--threads 1 changed the findings");

    // 32 MiB is a tight pool for this snapshot (16 MiB fails): sorts spill.
    let out = tmp.path().join("out-tight");
    let mut opts = RunOptions::new(&snapshot, &out);
    opts.queries = queries_dir();
    opts.memory_limit = Some(32 * 1024 * 1024);
    opts.threads = Some(2);
    opts.explain = true;
    let report = run_with_options(&opts).expect("run under --memory-limit 32MiB succeeds");
    let spilled = report.explain.iter().any(|p| {
        p.plan.contains("spill_count=")
            && !p
                .plan
                .split("spill_count=")
                .skip(1)
                .all(|rest| rest.starts_with('0'))
    });
    assert!(spilled, "no operator spilled under 32 MiB");
    let mut tight = read_findings(&out);
    tight.sort_by(|a, b| a.finding_id.cmp(&b.finding_id));
    assert_outcomes_match(&report, &tight);
    assert_eq!(default, tight, "--memory-limit 32MiB changed the findings");
    assert!(
        !out.join("_spill").exists(),
        "the default spill folder is removed after the run"
    );
    // Under a limit the layers were Parquet beside the outputs, sorted-merged into
    // the checks' joins; the folder goes with the run.
    assert!(
        report
            .explain
            .iter()
            .any(|p| p.plan.contains("SortMergeJoin")),
        "joins under a memory limit are sort-merge joins (they spill)"
    );
    let leftovers = common::temp_entries(&out);
    assert!(leftovers.is_empty(), "layer folders left: {leftovers:?}");

    let spill = tmp.path().join("spill-here");
    let moved = findings_with(&snapshot, &tmp.path().join("out-spill-dir"), |o| {
        o.memory_limit = Some(32 * 1024 * 1024);
        o.spill_dir = Some(spill.clone());
    });
    assert_eq!(default, moved, "--spill-dir changed the findings");
    assert!(spill.is_dir(), "--spill-dir is created");
    assert!(!tmp.path().join("out-spill-dir").join("_spill").exists());
}

#[test]
fn explain_prints_a_plan_with_metrics_for_every_check() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = common::sample_dir();
    let out = tmp.path().join("out");
    let output = common::revleak_command()
        .arg("-q")
        .arg("run")
        .arg(&snapshot)
        .arg("--out")
        .arg(&out)
        .arg("--queries")
        .arg(queries_dir())
        .args(["--threads", "2", "--explain"])
        .env_remove("REVLEAK_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.code() == Some(0) || output.status.code() == Some(1),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let checks = revleak::reconcile::checks::discover(&queries_dir().join("checks")).unwrap();
    assert_eq!(checks.len(), 15);
    for check in &checks {
        let header = format!("== explain analyze: {} (", check.id);
        let start = stdout
            .find(&header)
            .unwrap_or_else(|| panic!("no plan for {}:\n{stdout}", check.id));
        let section = &stdout[start + header.len()..];
        let section = &section[..section.find("== explain analyze:").unwrap_or(section.len())];
        assert!(
            section.contains("output_rows="),
            "{}: no row counts in\n{section}",
            check.id
        );
        assert!(
            section.contains("elapsed_compute="),
            "{}: no timings in\n{section}",
            check.id
        );
    }
    // The summary still follows the plans.
    assert!(stdout.contains("\ntotal "), "{stdout}");
    assert!(stdout.find("== explain analyze:") < stdout.find("check  "));
}

/// The memory line of a `revleak checks` run's debug log, with `GLIBC_TUNABLES`
/// set to `tunables` (removed when `None`).
fn memory_line(tunables: Option<&str>) -> String {
    let mut command = common::revleak_command();
    command.args(["-v", "checks"]).env_remove("REVLEAK_LOG");
    match tunables {
        Some(value) => command.env("GLIBC_TUNABLES", value),
        None => command.env_remove("GLIBC_TUNABLES"),
    };
    let output = command.output().expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr
        .lines()
        .find(|line| line.contains("memory: "))
        .unwrap_or_else(|| panic!("no memory line in:\n{stderr}"))
        .to_string()
}

#[test]
fn the_binary_asks_for_huge_pages_once_and_keeps_the_callers_tunables() {
    let on_request = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|mode| mode.contains("[madvise]"));
    let asked = cfg!(all(target_os = "linux", target_env = "gnu")) && on_request;
    let line = memory_line(None);
    if asked {
        assert!(
            line.ends_with("GLIBC_TUNABLES=glibc.malloc.hugetlb=1"),
            "{line}"
        );
        // added to the caller's tunables, not in their place
        let line = memory_line(Some("glibc.malloc.arena_max=4"));
        assert!(
            line.ends_with("GLIBC_TUNABLES=glibc.malloc.arena_max=4:glibc.malloc.hugetlb=1"),
            "{line}"
        );
    } else {
        assert!(line.contains("huge pages not asked for"), "{line}");
    }
    // the caller's own setting of the tunable wins, and is not added to
    let line = memory_line(Some("glibc.malloc.hugetlb=0"));
    assert!(
        line.ends_with("GLIBC_TUNABLES=glibc.malloc.hugetlb=0"),
        "{line}"
    );
}
