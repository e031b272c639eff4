//! The "Adding your own check" cookbook of the analysts' guide (docs/queries.md),
//! followed to the letter: the SQL block it shows is saved as a new file in a copy
//! of the queries folder, and a run on a tiny snapshot returns that check's
//! findings (and only the right ones); the test it ends with, saved beside it,
//! passes under `revleak test`.

use crate::common::{Snap, copy_tree, of_check, queries_dir, read_findings, revleak, run_pipeline};

/// The analysts' guide, where the cookbook lives.
fn guide() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/queries.md")).unwrap()
}

/// The first ```sql block after the cookbook heading of docs/queries.md.
fn cookbook_sql() -> (String, String) {
    let guide = guide();
    let section = guide
        .split("## Adding your own check")
        .nth(1)
        .expect("docs/queries.md has the cookbook section");
    let file_name = section
        .split("queries/checks/")
        .nth(1)
        .and_then(|rest| rest.split(".sql").next())
        .expect("the cookbook names the file to create")
        .to_string();
    let sql = section
        .split("```sql\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the cookbook shows the SQL")
        .to_string();
    (file_name, sql)
}

#[test]
fn the_cookbook_check_runs_and_finds_what_it_describes() {
    let (check_id, sql) = cookbook_sql();
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    std::fs::write(queries.join(format!("checks/{check_id}.sql")), sql).unwrap();

    let mut snap = Snap::new();
    snap.row("prm/partners", "partner_id=P1")
        .row("contracts/products", "sku=SKU1")
        .row(
            "crm/deals",
            "deal_id=D1 partner_id=P1 close_date=2026-11-01",
        )
        .row(
            "crm/deal_lines",
            "deal_id=D1 line_no=1 list_price=100.00 discount_pct=45 net_amount=55.00",
        )
        .row(
            "crm/deal_lines",
            "deal_id=D1 line_no=2 list_price=100.00 discount_pct=39.99 net_amount=60.01",
        )
        .row(
            "crm/deals",
            "deal_id=D2 close_date=2026-11-02 stage=closed_lost",
        )
        .row(
            "crm/deal_lines",
            "deal_id=D2 line_no=1 list_price=100.00 discount_pct=60 net_amount=40.00",
        );
    let snapshot = tmp.path().join("snapshot");
    snap.write(&snapshot);
    let out = tmp.path().join("out");
    run_pipeline(&snapshot, &out, &queries, &[]).unwrap();

    let findings = read_findings(&out);
    let own = of_check(&findings, &check_id);
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0].entity_type, "deal_line");
    assert_eq!(own[0].entity_id, "D1:1");
    assert_eq!(own[0].partner_id.as_deref(), Some("P1"));
    assert_eq!(own[0].severity, "info");
}

/// The first ```toml block of the cookbook section: the new check's test.
fn cookbook_test() -> String {
    let guide = guide();
    let section = guide
        .split("## Adding your own check")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/queries.md has the cookbook section");
    section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the cookbook ends with a test for the check")
        .to_string()
}

#[test]
fn the_cookbook_test_passes_under_revleak_test() {
    let (check_id, sql) = cookbook_sql();
    let tmp = tempfile::tempdir().unwrap();
    let queries = tmp.path().join("queries");
    copy_tree(&queries_dir(), &queries);
    std::fs::write(queries.join(format!("checks/{check_id}.sql")), sql).unwrap();
    std::fs::write(
        queries.join(format!("tests/{check_id}.toml")),
        cookbook_test(),
    )
    .unwrap();
    let out = revleak(
        &["test", &check_id, "--queries", queries.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.ends_with("2 passed, 0 failed\n"),
        "{}",
        out.stdout
    );
}
