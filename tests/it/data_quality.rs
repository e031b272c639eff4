//! The data_quality check in Rust, for what a `queries/tests/data_quality.toml`
//! case cannot say: its rules and edges (duplicate keys, nulls, orphans,
//! currencies, fx rates, negatives, partner loops, no cascade) are cases there.
//! A case's canonical rows are written with the contract's schema, which has no
//! room for a null in a required column; a deal with one is built here.

use crate::worlds::{deal, none_of, only, run_with_nulls_for, world};

#[test]
fn null_in_a_required_column_is_flagged() {
    let mut s = world();
    // written as a null by the source system (the builder refuses a null there)
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-10-01 customer_id=NULL_MARKER",
        "1000.00",
    );
    let findings = run_with_nulls_for(&s, "NULL_MARKER");
    let f = only(&findings, "data_quality");
    assert_eq!(f.entity_id, "crm/deals:D1");
    assert!(f.detail.contains("customer_id"), "{}", f.detail);
    // the deal is left out: no missing_invoice for it
    none_of(&findings, "missing_invoice");
}
