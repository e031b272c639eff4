//! Billing checks: the cases of missing_invoice, late_invoice, under_billing,
//! payment_gap, erp_posting_gap and unexplained_credit are analysts' tests beside
//! the SQL, in `queries/tests/<check>.toml` (run by `revleak test` and
//! `tests/it/sql_tests.rs`). What stays here needs Rust: the finding's currency
//! column, which the program fills from the run's reporting_currency, and a null
//! actual_amount, which a test file cannot expect.

use crate::common::dec;
use crate::worlds::{deal, only, world};

#[test]
fn reporting_currency_eur_converts_usd_through_the_inverse_eur_rate() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-05-01 rate_to_reporting=1.25000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    let findings = s.run_with(&["reporting_currency=EUR"]);
    let f = only(&findings, "missing_invoice");
    // rate(USD→EUR) = rate(USD→USD) / rate(EUR→USD) = 1 / 1.25 = 0.8; 1000.00 × 0.8 = 800.00
    assert_eq!(f.leakage, dec("800.00"));
    assert_eq!(f.currency, "EUR");
}

#[test]
fn late_invoice_flags_invoice_one_day_past_grace_as_low() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-07-02 due_date=2026-12-31 total_amount=1000.00",
    );
    let findings = s.run();
    let f = only(&findings, "late_invoice");
    assert_eq!(f.entity_type, "deal");
    assert_eq!(f.entity_id, "D1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // 31 days > 30 but not > 60 → low; expected = deal value, actual null, leakage 0
    assert_eq!(f.severity, "low");
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, None);
    assert_eq!(f.leakage, dec("0.00"));
    assert_eq!(f.currency, "USD");
    assert!(f.detail.contains("31 days"), "{}", f.detail);
}
