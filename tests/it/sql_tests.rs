//! `revleak test`: the shipped `queries/tests/` pass (every check has its
//! cases), and what the command says when a case fails or a test file is broken.

use crate::common::{ProcessOutput, copy_tree, queries_dir, revleak};
use std::path::Path;

/// `revleak test [FILTER...] --queries QUERIES`.
fn revleak_test(queries: &Path, filter: &[&str]) -> ProcessOutput {
    let queries = queries.to_str().unwrap();
    let mut args = vec!["test"];
    args.extend_from_slice(filter);
    args.extend(["--queries", queries]);
    revleak(&args, Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn the_shipped_sql_tests_pass_and_every_check_has_some() {
    let queries = queries_dir();
    for entry in std::fs::read_dir(queries.join("checks")).unwrap() {
        let path = entry.unwrap().path();
        let id = path.file_stem().unwrap().to_string_lossy().to_string();
        let tests = queries.join("tests").join(format!("{id}.toml"));
        assert!(tests.exists(), "{id} has no {}", tests.display());
    }
    let out = revleak_test(&queries, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let tally = out.stdout.lines().last().unwrap_or_default().to_string();
    let passed: usize = tally
        .split(" passed")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 45 && tally.ends_with(", 0 failed"), "{tally}");
}

fn queries_with_tests(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    std::fs::remove_dir_all(queries.join("tests")).unwrap();
    std::fs::create_dir_all(queries.join("tests")).unwrap();
    for (name, text) in files {
        std::fs::write(queries.join("tests").join(name), text).unwrap();
    }
    tmp
}

const OVERDUE: &str = r#"
[[case]]
name = "right"
given.invoices = [
  { invoice_id = "I1", total_amount = "1000.00", invoice_date = 2026-10-01, due_date = 2026-11-10 },
]
expect = [ { check_id = "payment_gap", entity_id = "I1", leakage_amount = "1000.00" } ]

[[case]]
name = "wrong"
given.invoices = [
  { invoice_id = "I1", total_amount = "1000.00", invoice_date = 2026-10-01, due_date = 2026-11-10 },
  { invoice_id = "I2", total_amount = "50.00", invoice_date = 2026-10-01, due_date = 2026-11-10 },
]
given.payments = [ { invoice_id = "I1", amount = "400.00", payment_date = 2026-11-01 } ]
expect = [
  { check_id = "payment_gap", entity_id = "I1", leakage_amount = "1000.00", severity = "high" },
  { check_id = "payment_gap", entity_id = "I9" },
]
"#;

#[test]
fn a_failing_case_shows_missing_unexpected_and_differing_rows_and_exits_1() {
    let tmp = queries_with_tests(&[("payment_gap.toml", OVERDUE)]);
    let out = revleak_test(&tmp.path().join("queries"), &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let file = tmp.path().join("queries/tests/payment_gap.toml");
    assert!(
        out.stdout
            .contains(&format!("{}:3: right ... ok", file.display())),
        "{}",
        out.stdout
    );
    for line in [
        "wrong ... FAILED",
        "differs:    payment_gap I1: severity expected high, found low; leakage_amount expected 1000.00, found 600.00",
        "missing:    payment_gap I9",
        "unexpected: payment_gap invoice I2 severity=low",
        "1 passed, 1 failed",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    // a filter runs only the matching cases
    let out = revleak_test(&tmp.path().join("queries"), &["right"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.ends_with("1 passed, 0 failed\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_broken_test_file_is_named_with_its_line_and_exits_2() {
    let tmp = queries_with_tests(&[
        (
            "syntax.toml",
            "[[case]]\nname = \"x\"\ngiven.invoices = [ { invoice_id = } ]\n",
        ),
        (
            "columns.toml",
            "[[case]]\nname = \"unknown column\"\ngiven.invoices = [ { invoice_no = \"I1\" } ]\n\n[[case]]\nname = \"float amount\"\ngiven.invoices = [ { total_amount = 10.5 } ]\n",
        ),
    ]);
    let out = revleak_test(&tmp.path().join("queries"), &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let tests = tmp.path().join("queries/tests");
    for expected in [
        format!("{}:3:", tests.join("syntax.toml").display()),
        format!(
            "{}:2: case \"unknown column\": given.invoices[0]: billing/invoices has no column `invoice_no`",
            tests.join("columns.toml").display()
        ),
        format!(
            "{}:6: case \"float amount\": given.invoices[0].total_amount: 10.5 is a float",
            tests.join("columns.toml").display()
        ),
    ] {
        assert!(out.stderr.contains(&expected), "{expected}\n{}", out.stderr);
    }
}

/// The shipped queries with one line of a check replaced.
fn mutated(check: &str, from: &str, to: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    let path = queries.join("checks").join(format!("{check}.sql"));
    let sql = std::fs::read_to_string(&path).unwrap();
    assert!(sql.contains(from), "{check}.sql has no `{from}`");
    std::fs::write(&path, sql.replacen(from, to, 1)).unwrap();
    tmp
}

#[test]
fn the_shipped_cases_catch_a_mutated_check() {
    // the grace boundary moved by one day: the invoice whose grace ends on as_of
    // becomes a gap
    let tmp = mutated(
        "payment_gap",
        "i.due_date + p.payment_grace_days < p.as_of",
        "i.due_date + p.payment_grace_days <= p.as_of",
    );
    let out = revleak_test(&tmp.path().join("queries"), &["payment_gap"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("an unpaid invoice whose grace ends on as_of is not yet a gap ... FAILED"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("    unexpected: payment_gap invoice "),
        "{}",
        out.stdout
    );

    // the leakage counts the total, not what is still outstanding: the case with
    // partial payments names the column that differs
    let tmp = mutated(
        "payment_gap",
        "cast(o.outstanding * fx.rate as decimal(18, 2)) as leakage_amount",
        "cast(o.total_amount * fx.rate as decimal(18, 2)) as leakage_amount",
    );
    let out = revleak_test(&tmp.path().join("queries"), &["payment_gap"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("partial payments and credit notes are netted from the total ... FAILED"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("differs:") && l.contains("leakage_amount expected")),
        "{}",
        out.stdout
    );
}
