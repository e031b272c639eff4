//! Commission checks on tiny hand-made snapshots (as_of 2026-11-26, reporting USD):
//! commission_overpayment and commission_underpayment. Every expected amount is
//! worked out by hand from checks.md in the comment above its assertion.
//!
//! The usual deal: D1 sold by P1 (gold, parent distributor D, platinum), closed
//! 2026-06-01 for 10000.00, invoiced in full and collected `collected`. Plans:
//! gold L1 10 %, gold L2 3 %, platinum L1 12 %, platinum L2 5 %. So P1 earns
//! 10 % of collected at level 1 and D earns 5 % (its own tier) at level 2.

use crate::common::{Snap, dec, of_check};
use crate::worlds::{about, deal, none_of, only, period, world};

/// D1 (P1, 10000.00 USD, closed 2026-06-01), issued invoice I1 for 10000.00 and
/// one payment of `collected` on 2026-07-01.
fn collected(collected: &str) -> Snap {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 partner_id=P1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00",
    )
    .row(
        "billing/payments",
        &format!("payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount={collected}"),
    );
    s
}

/// Adds payout `id` to `partner` for D1 at `level`.
fn payout(s: &mut Snap, id: &str, partner: &str, level: u8, amount: &str) {
    s.row(
        "commissions/payouts",
        &format!(
            "payout_id={id} partner_id={partner} deal_id=D1 level={level} amount={amount} payout_date=2026-07-15"
        ),
    );
}

/// D1 fully collected, with the level-2 commission of D paid correctly (500.00),
/// so only level 1 is under test.
fn level_2_paid() -> Snap {
    let mut s = collected("10000.00");
    payout(&mut s, "C2", "D", 2, "500.00");
    s
}

// ---------------------------------------------------------------- commission_overpayment

#[test]
fn commissions_paid_as_earned_produce_no_finding() {
    let mut s = level_2_paid();
    // 10 % of 10000.00 = 1000.00
    payout(&mut s, "C1", "P1", 1, "1000.00");
    let findings = s.run();
    none_of(&findings, "commission_overpayment");
    none_of(&findings, "commission_underpayment");
}

#[test]
fn commission_overpayment_ignores_excess_equal_to_tolerance() {
    let mut s = level_2_paid();
    // 1001.00 − 1000.00 = 1.00
    payout(&mut s, "C1", "P1", 1, "1001.00");
    none_of(&s.run(), "commission_overpayment");
}

#[test]
fn commission_overpayment_flags_excess_just_over_tolerance() {
    let mut s = level_2_paid();
    payout(&mut s, "C1", "P1", 1, "1001.01");
    let findings = s.run();
    let f = only(&findings, "commission_overpayment");
    assert_eq!(f.entity_type, "payout_group");
    assert_eq!(f.entity_id, "D1:1:P1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // expected 1000.00, actual 1001.01, leakage 1.01 → low
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("1001.01")));
    assert_eq!(f.leakage, dec("1.01"));
    assert_eq!(f.severity, "low");
    assert_eq!(f.period, period("2026-06-01"));
}

#[test]
fn commission_overpayment_pays_level_2_at_the_distributor_own_tier() {
    let mut s = collected("10000.00");
    payout(&mut s, "C1", "P1", 1, "1000.00");
    payout(&mut s, "C2", "D", 2, "600.00");
    let findings = s.run();
    let f = only(&findings, "commission_overpayment");
    assert_eq!(f.entity_id, "D1:2:D");
    assert_eq!(f.partner_id.as_deref(), Some("D"));
    // D is platinum: level 2 at 5 % → 500.00 (not gold's 3 % = 300.00); 600 − 500 = 100.00
    assert_eq!(f.expected, Some(dec("500.00")));
    assert_eq!(f.leakage, dec("100.00"));
}

#[test]
fn commission_overpayment_counts_duplicate_payouts() {
    let mut s = level_2_paid();
    payout(&mut s, "C1", "P1", 1, "1000.00");
    payout(&mut s, "C1b", "P1", 1, "1000.00");
    let findings = s.run();
    let f = only(&findings, "commission_overpayment");
    // 2 × 1000.00 paid − 1000.00 earned = 1000.00
    assert_eq!(f.actual, Some(dec("2000.00")));
    assert_eq!(f.leakage, dec("1000.00"));
}

#[test]
fn commission_overpayment_nets_claw_backs() {
    let mut s = level_2_paid();
    payout(&mut s, "C1", "P1", 1, "1500.00");
    payout(&mut s, "C1b", "P1", 1, "-500.00");
    let findings = s.run();
    // 1500.00 − 500.00 = 1000.00 = earned; a negative payout is no data-quality problem
    none_of(&findings, "commission_overpayment");
    none_of(&findings, "data_quality");
}

#[test]
fn commission_overpayment_bases_expected_on_collected_not_billed() {
    let mut s = collected("4000.00");
    payout(&mut s, "C1", "P1", 1, "1000.00");
    let findings = s.run();
    let f = about(&findings, "commission_overpayment", "D1:1:P1");
    // 10 % of 4000.00 collected = 400.00; 1000.00 − 400.00 = 600.00
    assert_eq!(f.expected, Some(dec("400.00")));
    assert_eq!(f.leakage, dec("600.00"));
}

#[test]
fn commission_overpayment_ignores_payments_dated_after_as_of() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-11-27 amount=10000.00",
    );
    payout(&mut s, "C1", "P1", 1, "1000.00");
    let findings = s.run();
    // nothing collected up to as_of: earned 0, paid 1000.00
    let f = only(&findings, "commission_overpayment");
    assert_eq!(f.expected, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("1000.00"));
}

#[test]
fn commission_overpayment_flags_payout_on_unbilled_deal() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "10000.00",
    );
    payout(&mut s, "C1", "P1", 1, "1000.00");
    let findings = s.run();
    // no invoice, nothing collected: the whole 1000.00 is overpaid
    assert_eq!(
        only(&findings, "commission_overpayment").leakage,
        dec("1000.00")
    );
}

#[test]
fn commission_overpayment_ignores_payments_on_void_invoices() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00 status=void",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount=10000.00",
    );
    payout(&mut s, "C1", "P1", 1, "1000.00");
    let findings = s.run();
    // collected counts on issued invoices only: earned 0
    assert_eq!(
        only(&findings, "commission_overpayment").leakage,
        dec("1000.00")
    );
}

/// Like [`collected`] with 10000.00, but D1 is sold by P5 (gold, parent D) whose
/// agreement ended on `agreement_end`; P5 is paid 1000.00 and D its 500.00.
fn agreement_ended(agreement_end: &str) -> Snap {
    let mut s = world();
    s.row(
        "prm/partners",
        &format!("partner_id=P5 tier=gold parent_partner_id=D agreement_end={agreement_end}"),
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P5 close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount=10000.00",
    );
    payout(&mut s, "C1", "P5", 1, "1000.00");
    payout(&mut s, "C2", "D", 2, "500.00");
    s
}

#[test]
fn commission_overpayment_partner_whose_agreement_ended_the_day_before_close_earns_nothing() {
    let findings = agreement_ended("2026-05-31").run();
    let f = only(&findings, "commission_overpayment");
    // not entitled: expected 0, the full 1000.00 is overpaid; D (in force) is paid right
    assert_eq!(f.entity_id, "D1:1:P5");
    assert_eq!(f.expected, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("1000.00"));
    none_of(&findings, "commission_underpayment");
}

#[test]
fn commission_agreement_ending_on_the_close_date_still_entitles() {
    let findings = agreement_ended("2026-06-01").run();
    none_of(&findings, "commission_overpayment");
    none_of(&findings, "commission_underpayment");
}

#[test]
fn commission_paid_to_the_wrong_partner_is_one_overpayment_and_one_underpayment() {
    let mut s = level_2_paid();
    payout(&mut s, "C1", "P2", 1, "1000.00");
    let findings = s.run();
    let over = only(&findings, "commission_overpayment");
    // P2 did not sell D1: expected 0, leakage 1000.00
    assert_eq!(over.entity_id, "D1:1:P2");
    assert_eq!(over.expected, Some(dec("0.00")));
    assert_eq!(over.leakage, dec("1000.00"));
    let under = only(&findings, "commission_underpayment");
    // P1 earned 1000.00 and got nothing
    assert_eq!(under.entity_id, "D1:1:P1");
    assert_eq!(under.expected, Some(dec("1000.00")));
    assert_eq!(under.actual, Some(dec("0.00")));
}

#[test]
fn commission_uses_the_plan_in_force_at_close() {
    let mut s = world();
    // registered tier, level 1: 20 % until 2026-05-31, 4 % from 2026-06-01
    s.row("prm/partners", "partner_id=P3 tier=registered")
        .row(
            "contracts/commission_plans",
            "tier=registered level=1 valid_from=2020-01-01 valid_to=2026-05-31 rate_pct=20",
        )
        .row(
            "contracts/commission_plans",
            "tier=registered level=1 valid_from=2026-06-01 valid_to=null rate_pct=4",
        );
    deal(
        &mut s,
        "D1",
        "partner_id=P3 close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount=10000.00",
    );
    payout(&mut s, "C1", "P3", 1, "2000.00");
    let findings = s.run();
    let f = only(&findings, "commission_overpayment");
    // 4 % of 10000.00 = 400.00 earned; 2000.00 − 400.00 = 1600.00
    assert_eq!(f.expected, Some(dec("400.00")));
    assert_eq!(f.leakage, dec("1600.00"));
}

#[test]
fn commission_overpayment_converts_eur_at_close_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-07-01 rate_to_reporting=1.50000000",
    );
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01 currency=EUR",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00 currency=EUR",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount=10000.00 currency=EUR",
    )
    .row(
        "commissions/payouts",
        "payout_id=C1 partner_id=P1 deal_id=D1 level=1 amount=1100.15 currency=EUR payout_date=2026-07-15",
    );
    let findings = s.run();
    let f = only(&findings, "commission_overpayment");
    // rate at close 2026-06-01 = 1.10 (the payout date's 1.50 is not used):
    // expected 1000.00 × 1.1 = 1100.00; actual 1100.15 × 1.1 = 1210.165 → 1210.17;
    // leakage 100.15 × 1.1 = 110.165 → 110.17
    assert_eq!(f.expected, Some(dec("1100.00")));
    assert_eq!(f.actual, Some(dec("1210.17")));
    assert_eq!(f.leakage, dec("110.17"));
}

// ---------------------------------------------------------------- commission_underpayment

#[test]
fn commission_underpayment_flags_entitled_partners_without_payout() {
    let findings = collected("10000.00").run();
    let l1 = about(&findings, "commission_underpayment", "D1:1:P1");
    // P1 earned 10 % of 10000.00 = 1000.00; a signal: leakage 0, severity info
    assert_eq!(l1.entity_type, "payout_group");
    assert_eq!(l1.partner_id.as_deref(), Some("P1"));
    assert_eq!(l1.expected, Some(dec("1000.00")));
    assert_eq!(l1.actual, Some(dec("0.00")));
    assert_eq!(l1.leakage, dec("0.00"));
    assert_eq!(l1.severity, "info");
    // D earned 5 % (platinum, level 2) = 500.00
    let l2 = about(&findings, "commission_underpayment", "D1:2:D");
    assert_eq!(l2.expected, Some(dec("500.00")));
    assert_eq!(of_check(&findings, "commission_underpayment").len(), 2);
}

#[test]
fn commission_underpayment_ignores_shortfall_equal_to_tolerance() {
    let mut s = level_2_paid();
    // 1000.00 − 999.00 = 1.00
    payout(&mut s, "C1", "P1", 1, "999.00");
    none_of(&s.run(), "commission_underpayment");
}

#[test]
fn commission_underpayment_flags_shortfall_just_over_tolerance() {
    let mut s = level_2_paid();
    payout(&mut s, "C1", "P1", 1, "998.99");
    let findings = s.run();
    let f = only(&findings, "commission_underpayment");
    // expected 1000.00, actual 998.99 (1.01 short): leakage 0, info
    assert_eq!(f.entity_id, "D1:1:P1");
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("998.99")));
    assert_eq!(f.leakage, dec("0.00"));
    assert_eq!(f.severity, "info");
    none_of(&findings, "commission_overpayment");
}

#[test]
fn commission_underpayment_ignores_direct_deals() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=null close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount=10000.00",
    );
    none_of(&s.run(), "commission_underpayment");
}

#[test]
fn commission_underpayment_has_no_level_2_for_a_reseller_without_parent() {
    let mut s = world();
    // P2 (silver, L1 8 %) has no parent distributor
    deal(
        &mut s,
        "D1",
        "partner_id=P2 close_date=2026-06-01",
        "10000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-05 due_date=2026-07-05 total_amount=10000.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-07-01 amount=10000.00",
    );
    let findings = s.run();
    let f = only(&findings, "commission_underpayment");
    // 8 % of 10000.00 = 800.00 at level 1 only
    assert_eq!(f.entity_id, "D1:1:P2");
    assert_eq!(f.expected, Some(dec("800.00")));
}
