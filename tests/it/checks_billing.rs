//! Billing checks on tiny hand-made snapshots (as_of 2026-11-26, reporting USD):
//! missing_invoice, late_invoice, under_billing, payment_gap, erp_posting_gap and
//! unexplained_credit. Every expected amount is worked out by hand from checks.md
//! in the comment above its assertion.

use crate::common;

use crate::common::{dec, of_check};
use crate::worlds::{about, deal, none_of, only, period, world};

// ---------------------------------------------------------------- missing_invoice

#[test]
fn missing_invoice_flags_deal_closed_exactly_grace_days_before_as_of() {
    let mut s = world();
    // as_of − invoice_grace_days = 2026-11-26 − 30 = 2026-10-27
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-10-27",
        "1000.00",
    );
    let findings = s.run();
    let f = only(&findings, "missing_invoice");
    assert_eq!(f.entity_type, "deal");
    assert_eq!(f.entity_id, "D1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // expected = deal value 1000.00, actual 0, leakage = deal value; 1000 ≥ 1000 → medium
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("1000.00"));
    assert_eq!(f.severity, "medium");
    assert_eq!(f.period, period("2026-10-01"));
    assert_eq!(f.currency, "USD");
}

#[test]
fn missing_invoice_ignores_deal_closed_inside_the_grace_period() {
    let mut s = world();
    // 2026-10-28 = as_of − 29: still inside the grace
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-10-28",
        "1000.00",
    );
    none_of(&s.run(), "missing_invoice");
}

#[test]
fn missing_invoice_ignores_deal_with_an_issued_invoice() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=1000.00",
    );
    none_of(&s.run(), "missing_invoice");
}

#[test]
fn missing_invoice_counts_a_void_invoice_as_no_invoice() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=1000.00 status=void",
    );
    let findings = s.run();
    // the void invoice counts for nothing: the whole 1000.00 leaks
    assert_eq!(only(&findings, "missing_invoice").leakage, dec("1000.00"));
}

#[test]
fn missing_invoice_ignores_an_invoice_dated_after_as_of() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    // dated the day after as_of: it does not exist for the run
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-11-27 due_date=2026-12-27 total_amount=1000.00",
    );
    let findings = s.run();
    assert_eq!(only(&findings, "missing_invoice").leakage, dec("1000.00"));
}

#[test]
fn missing_invoice_ignores_zero_value_deal() {
    let mut s = world();
    deal(&mut s, "D1", "partner_id=P1 close_date=2026-06-01", "0.00");
    none_of(&s.run(), "missing_invoice");
}

#[test]
fn missing_invoice_ignores_lost_and_open_deals() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 stage=closed_lost close_date=2026-06-01",
        "1000.00",
    );
    deal(
        &mut s,
        "D2",
        "partner_id=P1 stage=open close_date=null",
        "1000.00",
    );
    none_of(&s.run(), "missing_invoice");
}

#[test]
fn missing_invoice_direct_deal_has_null_partner() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=null close_date=2026-06-01",
        "500.00",
    );
    let findings = s.run();
    let f = only(&findings, "missing_invoice");
    assert_eq!(f.partner_id, None);
    // 500.00: 0 < 500 < 1000 → low
    assert_eq!(f.leakage, dec("500.00"));
    assert_eq!(f.severity, "low");
}

#[test]
fn missing_invoice_and_under_billing_are_never_both_reported() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    let findings = s.run();
    assert_eq!(of_check(&findings, "missing_invoice").len(), 1);
    none_of(&findings, "under_billing");
}

#[test]
fn missing_invoice_converts_eur_at_latest_rate_on_or_before_close_half_away_from_zero() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-20 rate_to_reporting=1.10000000",
    )
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-01 rate_to_reporting=1.40000000",
    )
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-26 rate_to_reporting=1.30000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-10-25 currency=EUR",
        "1000.15",
    );
    let findings = s.run();
    let f = only(&findings, "missing_invoice");
    // rate on 2026-10-25 = the 2026-10-20 rate 1.10 (not 10-01's 1.40, not 10-26's 1.30);
    // 1000.15 × 1.10 = 1100.165 → half away from zero → 1100.17
    assert_eq!(f.leakage, dec("1100.17"));
    assert_eq!(f.expected, Some(dec("1100.17")));
    assert_eq!(f.currency, "USD");
}

#[test]
fn severity_follows_the_leakage_bands() {
    let mut s = world();
    for (id, value) in [
        ("D1", "50000.00"),
        ("D2", "49999.99"),
        ("D3", "10000.00"),
        ("D4", "9999.99"),
        ("D5", "1000.00"),
        ("D6", "999.99"),
    ] {
        deal(&mut s, id, "partner_id=P1 close_date=2026-06-01", value);
    }
    let findings = s.run();
    // critical ≥ 50000, high ≥ 10000, medium ≥ 1000, low > 0
    for (id, severity) in [
        ("D1", "critical"),
        ("D2", "high"),
        ("D3", "high"),
        ("D4", "medium"),
        ("D5", "medium"),
        ("D6", "low"),
    ] {
        assert_eq!(
            about(&findings, "missing_invoice", id).severity,
            severity,
            "{id}"
        );
    }
}

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
fn reporting_currency_eur_converts_gbp_through_a_cross_rate_via_usd() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=GBP rate_date=2020-01-01 rate_to_reporting=1.30000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01 currency=GBP",
        "1000.00",
    );
    let findings = s.run_with(&["reporting_currency=EUR"]);
    let f = only(&findings, "missing_invoice");
    // rate(GBP→EUR) = 1.30 / 1.10 = 1.1818…; 1000.00 × 1.1818… = 1181.818… → 1181.82
    assert_eq!(f.leakage, dec("1181.82"));
    assert_eq!(f.currency, "EUR");
}

#[test]
fn reporting_currency_eur_needs_no_conversion_for_eur_deals() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01 currency=EUR",
        "1234.56",
    );
    let findings = s.run_with(&["reporting_currency=EUR"]);
    // rate(EUR→EUR) = 1.10 / 1.10 = 1
    assert_eq!(only(&findings, "missing_invoice").leakage, dec("1234.56"));
}

// ---------------------------------------------------------------- late_invoice

/// Deal D1 (P1, 1000.00 USD) closed 2026-06-01 with one issued invoice on `invoice_date`.
fn late_world(invoice_date: &str) -> common::Snap {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        &format!(
            "invoice_id=I1 deal_id=D1 invoice_date={invoice_date} due_date=2026-12-31 total_amount=1000.00"
        ),
    );
    s
}

#[test]
fn late_invoice_ignores_invoice_exactly_grace_days_after_close() {
    // 2026-06-01 + 30 = 2026-07-01: not more than the grace
    none_of(&late_world("2026-07-01").run(), "late_invoice");
}

#[test]
fn late_invoice_flags_invoice_one_day_past_grace_as_low() {
    let findings = late_world("2026-07-02").run();
    let f = only(&findings, "late_invoice");
    assert_eq!(f.entity_type, "deal");
    assert_eq!(f.entity_id, "D1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // 31 days > 30 but not > 60 → low; expected = deal value, actual null, leakage 0
    assert_eq!(f.severity, "low");
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, None);
    assert_eq!(f.leakage, dec("0.00"));
    assert!(f.detail.contains("31 days"), "{}", f.detail);
}

#[test]
fn late_invoice_at_exactly_twice_the_grace_is_low() {
    // 2026-06-01 + 60 = 2026-07-31: not over twice the grace
    let findings = late_world("2026-07-31").run();
    assert_eq!(only(&findings, "late_invoice").severity, "low");
}

#[test]
fn late_invoice_over_twice_the_grace_is_medium() {
    // 2026-06-01 + 61 = 2026-08-01
    let findings = late_world("2026-08-01").run();
    let f = only(&findings, "late_invoice");
    assert_eq!(f.severity, "medium");
    assert!(f.detail.contains("61 days"), "{}", f.detail);
}

#[test]
fn late_invoice_ignores_a_void_invoice_when_finding_the_first_invoice() {
    let mut s = late_world("2026-07-15");
    s.row(
        "billing/invoices",
        "invoice_id=I0 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=1000.00 status=void",
    );
    let findings = s.run();
    // first issued invoice 2026-07-15 = close + 44 days
    let f = only(&findings, "late_invoice");
    assert!(f.detail.contains("44 days"), "{}", f.detail);
    assert_eq!(f.severity, "low");
}

#[test]
fn late_invoice_uses_the_first_of_several_issued_invoices() {
    let mut s = late_world("2026-09-01");
    s.row(
        "billing/invoices",
        "invoice_id=I0 deal_id=D1 invoice_date=2026-06-10 due_date=2026-07-10 total_amount=1.00",
    );
    // the first issued invoice came 9 days after close
    none_of(&s.run(), "late_invoice");
}

#[test]
fn late_invoice_expected_amount_is_converted_at_close_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-05-01 rate_to_reporting=1.20000000",
    )
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-07-01 rate_to_reporting=1.30000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01 currency=EUR",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-08-01 due_date=2026-12-31 total_amount=1000.00 currency=EUR",
    );
    let findings = s.run();
    // rate at close 2026-06-01 = 1.20 (not the invoice date's 1.30): 1000.00 × 1.2 = 1200.00
    assert_eq!(
        only(&findings, "late_invoice").expected,
        Some(dec("1200.00"))
    );
}

// ---------------------------------------------------------------- under_billing

/// Deal D1 (P1, 1000.00 USD) closed 2026-06-01.
fn billed_world() -> common::Snap {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s
}

#[test]
fn under_billing_ignores_shortfall_equal_to_tolerance() {
    let mut s = billed_world();
    // 1000.00 − 999.00 = 1.00: not more than amount_tolerance
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=999.00",
    );
    none_of(&s.run(), "under_billing");
}

#[test]
fn under_billing_flags_shortfall_just_over_tolerance() {
    let mut s = billed_world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=998.99",
    );
    let findings = s.run();
    let f = only(&findings, "under_billing");
    assert_eq!(f.entity_type, "deal");
    assert_eq!(f.entity_id, "D1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // 1000.00 − 998.99 = 1.01 → low
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("998.99")));
    assert_eq!(f.leakage, dec("1.01"));
    assert_eq!(f.severity, "low");
}

#[test]
fn under_billing_sums_several_issued_invoices() {
    let mut s = billed_world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=600.00",
    )
    .row(
        "billing/invoices",
        "invoice_id=I2 deal_id=D1 invoice_date=2026-07-05 due_date=2026-08-05 total_amount=300.00",
    );
    let findings = s.run();
    let f = only(&findings, "under_billing");
    // 1000.00 − (600.00 + 300.00) = 100.00
    assert_eq!(f.actual, Some(dec("900.00")));
    assert_eq!(f.leakage, dec("100.00"));
}

#[test]
fn under_billing_ignores_void_invoices() {
    let mut s = billed_world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=500.00",
    )
    .row(
        "billing/invoices",
        "invoice_id=I2 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=500.00 status=void",
    );
    let findings = s.run();
    // only the issued 500.00 counts: 1000.00 − 500.00 = 500.00
    assert_eq!(only(&findings, "under_billing").leakage, dec("500.00"));
}

#[test]
fn under_billing_compares_invoice_totals_before_credit_notes() {
    let mut s = billed_world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=1000.00",
    )
    .row(
        "billing/credit_notes",
        "credit_note_id=CN1 invoice_id=I1 issued_date=2026-06-10 amount=200.00 reason=return",
    );
    none_of(&s.run(), "under_billing");
}

#[test]
fn under_billing_converts_each_amount_on_its_own_at_close_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-07-01 rate_to_reporting=1.50000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01 currency=EUR",
        "2000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-07-15 due_date=2026-08-15 total_amount=999.85 currency=EUR",
    );
    let findings = s.run();
    let f = only(&findings, "under_billing");
    // rate at close 2026-06-01 = 1.10 (the invoice date's 1.50 is not used)
    // expected 2000.00 × 1.1 = 2200.00; actual 999.85 × 1.1 = 1099.835 → 1099.84;
    // leakage (2000.00 − 999.85) × 1.1 = 1000.15 × 1.1 = 1100.165 → 1100.17
    assert_eq!(f.expected, Some(dec("2200.00")));
    assert_eq!(f.actual, Some(dec("1099.84")));
    assert_eq!(f.leakage, dec("1100.17"));
}

// ---------------------------------------------------------------- payment_gap

/// Issued invoice I1 of P1 (no deal) dated 2026-10-01 for 1000.00 USD, due `due_date`.
fn invoice_world(due_date: &str) -> common::Snap {
    let mut s = world();
    s.row(
        "billing/invoices",
        &format!(
            "invoice_id=I1 partner_id=P1 invoice_date=2026-10-01 due_date={due_date} total_amount=1000.00"
        ),
    );
    s
}

#[test]
fn payment_gap_flags_invoice_whose_grace_ended_before_as_of() {
    // 2026-11-10 + 15 = 2026-11-25 < 2026-11-26
    let findings = invoice_world("2026-11-10").run();
    let f = only(&findings, "payment_gap");
    assert_eq!(f.entity_type, "invoice");
    assert_eq!(f.entity_id, "I1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // nothing collected: outstanding = 1000.00
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("1000.00"));
    assert_eq!(f.period, period("2026-10-01"));
}

#[test]
fn payment_gap_ignores_invoice_whose_grace_ends_on_as_of() {
    // 2026-11-11 + 15 = 2026-11-26, not before as_of
    none_of(&invoice_world("2026-11-11").run(), "payment_gap");
}

#[test]
fn payment_gap_nets_partial_payments_and_credit_notes() {
    let mut s = invoice_world("2026-10-15");
    s.row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-10-20 amount=400.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY2 invoice_id=I1 payment_date=2026-11-01 amount=300.00",
    )
    .row(
        "billing/credit_notes",
        "credit_note_id=CN1 invoice_id=I1 issued_date=2026-10-25 amount=100.00 reason=dispute",
    );
    let findings = s.run();
    let f = only(&findings, "payment_gap");
    // 1000.00 − (400.00 + 300.00) − 100.00 = 200.00 outstanding
    assert_eq!(f.actual, Some(dec("800.00")));
    assert_eq!(f.leakage, dec("200.00"));
}

#[test]
fn payment_gap_ignores_outstanding_equal_to_tolerance() {
    let mut s = invoice_world("2026-10-15");
    s.row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-10-20 amount=999.00",
    );
    // 1000.00 − 999.00 = 1.00
    none_of(&s.run(), "payment_gap");
}

#[test]
fn payment_gap_flags_outstanding_just_over_tolerance() {
    let mut s = invoice_world("2026-10-15");
    s.row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-10-20 amount=998.99",
    );
    let findings = s.run();
    // 1000.00 − 998.99 = 1.01
    assert_eq!(only(&findings, "payment_gap").leakage, dec("1.01"));
}

#[test]
fn payment_gap_ignores_void_invoices() {
    let mut s = world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 partner_id=P1 invoice_date=2026-10-01 due_date=2026-10-15 total_amount=1000.00 status=void",
    );
    none_of(&s.run(), "payment_gap");
}

#[test]
fn payment_gap_ignores_payments_dated_after_as_of() {
    let mut s = invoice_world("2026-10-15");
    s.row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-11-27 amount=1000.00",
    );
    let findings = s.run();
    assert_eq!(only(&findings, "payment_gap").leakage, dec("1000.00"));
}

#[test]
fn payment_gap_takes_the_partner_from_the_deal_when_the_invoice_names_none() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 partner_id=null invoice_date=2026-06-05 due_date=2026-07-05 total_amount=1000.00",
    );
    let findings = s.run();
    assert_eq!(
        only(&findings, "payment_gap").partner_id.as_deref(),
        Some("P1")
    );
}

#[test]
fn payment_gap_converts_outstanding_at_invoice_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-07-02 rate_to_reporting=1.50000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01 currency=EUR",
        "2000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-07-01 due_date=2026-07-31 total_amount=2000.00 currency=EUR",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-08-01 amount=999.85 currency=EUR",
    );
    let findings = s.run();
    let f = only(&findings, "payment_gap");
    // rate at invoice_date 2026-07-01 = 1.10; outstanding 2000.00 − 999.85 = 1000.15;
    // 1000.15 × 1.1 = 1100.165 → 1100.17
    assert_eq!(f.leakage, dec("1100.17"));
    assert_eq!(f.expected, Some(dec("2200.00")));
}

// ---------------------------------------------------------------- erp_posting_gap

/// Issued invoice I1 of P1 (no deal) for 1000.00 USD dated `invoice_date`.
fn posting_world(invoice_date: &str) -> common::Snap {
    let mut s = world();
    s.row(
        "billing/invoices",
        &format!(
            "invoice_id=I1 partner_id=P1 invoice_date={invoice_date} due_date=2026-12-31 total_amount=1000.00"
        ),
    );
    s
}

#[test]
fn erp_posting_gap_flags_unposted_invoice_dated_grace_days_before_as_of() {
    // as_of − posting_grace_days = 2026-11-21
    let findings = posting_world("2026-11-21").run();
    let f = only(&findings, "erp_posting_gap");
    assert_eq!(f.entity_type, "invoice");
    assert_eq!(f.entity_id, "I1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // billed 1000.00, posted 0 → leakage 1000.00
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("1000.00"));
    assert_eq!(f.period, period("2026-11-01"));
}

#[test]
fn erp_posting_gap_ignores_invoice_inside_the_posting_grace() {
    none_of(&posting_world("2026-11-22").run(), "erp_posting_gap");
}

#[test]
fn erp_posting_gap_compares_postings_with_billed_after_credit_notes() {
    let mut s = posting_world("2026-10-01");
    s.row(
        "billing/credit_notes",
        "credit_note_id=CN1 invoice_id=I1 issued_date=2026-10-10 amount=200.00 reason=return",
    )
    .row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-10-02 amount=800.00",
    );
    // billed = 1000.00 − 200.00 = 800.00 = posted
    none_of(&s.run(), "erp_posting_gap");
}

#[test]
fn erp_posting_gap_ignores_difference_equal_to_tolerance() {
    let mut s = posting_world("2026-10-01");
    s.row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-10-02 amount=999.00",
    );
    none_of(&s.run(), "erp_posting_gap");
}

#[test]
fn erp_posting_gap_flags_under_posting_just_over_tolerance() {
    let mut s = posting_world("2026-10-01");
    s.row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-10-02 amount=998.99",
    );
    let findings = s.run();
    let f = only(&findings, "erp_posting_gap");
    // 1000.00 − 998.99 = 1.01
    assert_eq!(f.leakage, dec("1.01"));
    assert_eq!(f.actual, Some(dec("998.99")));
}

#[test]
fn erp_posting_gap_reports_over_posting_with_zero_leakage() {
    let mut s = posting_world("2026-10-01");
    s.row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-10-02 amount=1100.00",
    );
    let findings = s.run();
    let f = only(&findings, "erp_posting_gap");
    // billed − posted = −100.00 < 0 → leakage 0, severity info
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("1100.00")));
    assert_eq!(f.leakage, dec("0.00"));
    assert_eq!(f.severity, "info");
}

#[test]
fn erp_posting_gap_counts_negative_reversal_postings() {
    let mut s = posting_world("2026-10-01");
    s.row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-10-02 amount=1000.00",
    )
    .row(
        "erp/revenue_postings",
        "posting_id=G2 invoice_id=I1 posting_date=2026-10-03 amount=-1000.00",
    );
    let findings = s.run();
    // posted 1000.00 − 1000.00 = 0 → 1000.00 unposted; the reversal is no data-quality problem
    assert_eq!(only(&findings, "erp_posting_gap").leakage, dec("1000.00"));
    none_of(&findings, "data_quality");
}

#[test]
fn erp_posting_gap_ignores_postings_dated_after_as_of() {
    let mut s = posting_world("2026-10-01");
    s.row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-11-27 amount=1000.00",
    );
    let findings = s.run();
    assert_eq!(only(&findings, "erp_posting_gap").leakage, dec("1000.00"));
}

#[test]
fn erp_posting_gap_ignores_void_invoices() {
    let mut s = world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 partner_id=P1 invoice_date=2026-10-01 due_date=2026-12-31 total_amount=1000.00 status=void",
    );
    none_of(&s.run(), "erp_posting_gap");
}

#[test]
fn erp_posting_gap_converts_at_invoice_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-01 rate_to_reporting=1.20000000",
    )
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-02 rate_to_reporting=1.50000000",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 partner_id=P1 invoice_date=2026-10-01 due_date=2026-12-31 total_amount=1000.05 currency=EUR",
    );
    let findings = s.run();
    // rate at 2026-10-01 = 1.20: 1000.05 × 1.2 = 1200.06
    assert_eq!(only(&findings, "erp_posting_gap").leakage, dec("1200.06"));
}

// ---------------------------------------------------------------- unexplained_credit

/// Invoice I1 of P1 (no deal, `status`) for 1000.00 USD with credit note CN1 of 250.00
/// and the given `reason` cell.
fn credit_world(status: &str, reason: &str) -> common::Snap {
    let mut s = world();
    s.row(
        "billing/invoices",
        &format!(
            "invoice_id=I1 partner_id=P1 invoice_date=2026-10-01 due_date=2026-12-31 total_amount=1000.00 status={status}"
        ),
    )
    .row(
        "billing/credit_notes",
        &format!(
            "credit_note_id=CN1 invoice_id=I1 issued_date=2026-10-10 amount=250.00 reason={reason}"
        ),
    );
    s
}

#[test]
fn unexplained_credit_flags_credit_note_with_null_reason() {
    let findings = credit_world("issued", "null").run();
    let f = only(&findings, "unexplained_credit");
    assert_eq!(f.entity_type, "credit_note");
    assert_eq!(f.entity_id, "CN1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // leakage = amount 250.00 → low
    assert_eq!(f.leakage, dec("250.00"));
    assert_eq!(f.severity, "low");
    assert_eq!(f.period, period("2026-10-01"));
}

#[test]
fn unexplained_credit_flags_manual_correction() {
    let findings = credit_world("issued", "manual_correction").run();
    assert_eq!(only(&findings, "unexplained_credit").leakage, dec("250.00"));
}

#[test]
fn unexplained_credit_ignores_returns_and_disputes() {
    none_of(
        &credit_world("issued", "return").run(),
        "unexplained_credit",
    );
    none_of(
        &credit_world("issued", "dispute").run(),
        "unexplained_credit",
    );
}

#[test]
fn unexplained_credit_includes_credit_notes_of_void_invoices() {
    let findings = credit_world("void", "null").run();
    assert_eq!(only(&findings, "unexplained_credit").leakage, dec("250.00"));
}

#[test]
fn unexplained_credit_converts_at_issued_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-09-01 rate_to_reporting=1.60000000",
    )
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-10 rate_to_reporting=1.10000000",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 partner_id=P1 invoice_date=2026-09-15 due_date=2026-12-31 total_amount=1000.00 currency=EUR",
    )
    .row(
        "billing/credit_notes",
        "credit_note_id=CN1 invoice_id=I1 issued_date=2026-10-12 amount=100.15 reason=null",
    );
    let findings = s.run();
    // rate at 2026-10-12 = the 2026-10-10 rate 1.10 (not the invoice date's 1.60):
    // 100.15 × 1.1 = 110.165 → half away from zero → 110.17
    assert_eq!(only(&findings, "unexplained_credit").leakage, dec("110.17"));
}
