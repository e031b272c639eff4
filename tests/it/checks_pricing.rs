//! Pricing checks on tiny hand-made snapshots (as_of 2026-11-26, reporting USD):
//! unauthorized_discount and stale_pricing. Every expected amount is worked out by
//! hand from checks.md in the comment above its assertion.

use crate::common::{Snap, dec};
use crate::worlds::{about, none_of, only, period, world};

/// The world plus closed-won deal D1 (`deal_cells`, closed 2026-06-01 unless named)
/// with one line of `line_cells` (line_no 1, SKU1 unless named).
fn with_deal(deal_cells: &str, line_cells: &str) -> Snap {
    let mut s = world();
    s.row(
        "crm/deals",
        &format!("deal_id=D1 close_date=2026-06-01 {deal_cells}"),
    )
    .row("crm/deal_lines", &format!("deal_id=D1 {line_cells}"));
    s
}

// ---------------------------------------------------------------- unauthorized_discount

#[test]
fn unauthorized_discount_ignores_discount_equal_to_the_policy_maximum() {
    // P1 is gold: platform maximum 20 %
    let s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=100.00 discount_pct=20 net_amount=800.00",
    );
    none_of(&s.run(), "unauthorized_discount");
}

#[test]
fn unauthorized_discount_flags_discount_above_the_tier_policy() {
    let s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=100.00 discount_pct=25 net_amount=750.00",
    );
    let findings = s.run();
    let f = only(&findings, "unauthorized_discount");
    assert_eq!(f.entity_type, "deal_line");
    assert_eq!(f.entity_id, "D1:1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // allowed 20 %: leakage = 10 × 100.00 × (25 − 20)/100 = 50.00;
    // expected = 10 × 100.00 × 0.80 = 800.00; actual = 10 × 100.00 × 0.75 = 750.00
    assert_eq!(f.leakage, dec("50.00"));
    assert_eq!(f.expected, Some(dec("800.00")));
    assert_eq!(f.actual, Some(dec("750.00")));
    assert_eq!(f.severity, "low");
    assert_eq!(f.period, period("2026-06-01"));
}

#[test]
fn unauthorized_discount_uses_tier_direct_for_a_deal_without_partner() {
    // 15 % is within gold's 20 % but above direct's 10 %
    let s = with_deal(
        "partner_id=null",
        "quantity=10 list_price=100.00 discount_pct=15 net_amount=850.00",
    );
    let findings = s.run();
    let f = only(&findings, "unauthorized_discount");
    assert_eq!(f.partner_id, None);
    // 10 × 100.00 × (15 − 10)/100 = 50.00
    assert_eq!(f.leakage, dec("50.00"));
}

#[test]
fn unauthorized_discount_uses_the_policy_of_the_sku_family() {
    // SKU2 is an addon: gold may give 40 % on addons
    let s = with_deal(
        "partner_id=P1",
        "sku=SKU2 quantity=10 list_price=100.00 discount_pct=25 net_amount=750.00",
    );
    none_of(&s.run(), "unauthorized_discount");
}

#[test]
fn unauthorized_discount_flags_only_the_line_over_policy() {
    let mut s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=100.00 discount_pct=20 net_amount=800.00",
    );
    s.row(
        "crm/deal_lines",
        "deal_id=D1 line_no=2 quantity=10 list_price=100.00 discount_pct=30 net_amount=700.00",
    );
    let findings = s.run();
    let f = only(&findings, "unauthorized_discount");
    // line 2: 10 × 100.00 × (30 − 20)/100 = 100.00
    assert_eq!(f.entity_id, "D1:2");
    assert_eq!(f.leakage, dec("100.00"));
}

#[test]
fn unauthorized_discount_ignores_lines_of_deals_not_won() {
    let s = with_deal(
        "partner_id=P1 stage=closed_lost",
        "quantity=10 list_price=100.00 discount_pct=25 net_amount=750.00",
    );
    none_of(&s.run(), "unauthorized_discount");
}

/// Deal D1 of P1 (gold, 20 %) closed 2026-06-01 with a 25 % line of 10 × 100.00,
/// and approval A1 given with `approval_cells`.
fn approved(approval_cells: &str) -> Snap {
    let mut s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=100.00 discount_pct=25 net_amount=750.00",
    );
    s.row(
        "contracts/discount_approvals",
        &format!("approval_id=A1 deal_id=D1 {approval_cells}"),
    );
    s
}

#[test]
fn unauthorized_discount_ignores_line_covered_by_an_approval() {
    let s = approved("approved_discount_pct=25 approved_date=2026-05-20 expires_date=null");
    none_of(&s.run(), "unauthorized_discount");
}

#[test]
fn unauthorized_discount_approval_too_low_allows_its_own_percentage() {
    let s = approved("approved_discount_pct=22 approved_date=2026-05-20 expires_date=null");
    let findings = s.run();
    let f = only(&findings, "unauthorized_discount");
    // allowed = max(20, 22) = 22: 10 × 100.00 × (25 − 22)/100 = 30.00;
    // expected = 10 × 100.00 × 0.78 = 780.00
    assert_eq!(f.leakage, dec("30.00"));
    assert_eq!(f.expected, Some(dec("780.00")));
}

#[test]
fn unauthorized_discount_ignores_an_approval_expired_before_close() {
    let s = approved("approved_discount_pct=25 approved_date=2026-05-20 expires_date=2026-05-31");
    let findings = s.run();
    // the policy's 20 % is all that is allowed: 10 × 100.00 × 5/100 = 50.00
    assert_eq!(
        only(&findings, "unauthorized_discount").leakage,
        dec("50.00")
    );
}

#[test]
fn unauthorized_discount_approval_expiring_on_close_date_still_covers() {
    let s = approved("approved_discount_pct=25 approved_date=2026-05-20 expires_date=2026-06-01");
    none_of(&s.run(), "unauthorized_discount");
}

#[test]
fn unauthorized_discount_ignores_an_approval_given_after_close() {
    let s = approved("approved_discount_pct=25 approved_date=2026-06-02 expires_date=null");
    let findings = s.run();
    assert_eq!(
        only(&findings, "unauthorized_discount").leakage,
        dec("50.00")
    );
}

#[test]
fn unauthorized_discount_approval_given_on_close_date_covers() {
    let s = approved("approved_discount_pct=25 approved_date=2026-06-01 expires_date=null");
    none_of(&s.run(), "unauthorized_discount");
}

#[test]
fn unauthorized_discount_uses_the_policy_in_force_at_close() {
    let mut s = world();
    // registered-tier platform policy: 30 % until 2026-05-31, 5 % from 2026-06-01
    s.row("prm/partners", "partner_id=P3 tier=registered")
        .row(
            "contracts/discount_policies",
            "tier=registered family=platform valid_from=2020-01-01 valid_to=2026-05-31 max_discount_pct=30",
        )
        .row(
            "contracts/discount_policies",
            "tier=registered family=platform valid_from=2026-06-01 valid_to=null max_discount_pct=5",
        );
    for (deal, close) in [("D1", "2026-05-31"), ("D2", "2026-06-01")] {
        s.row(
            "crm/deals",
            &format!("deal_id={deal} partner_id=P3 close_date={close}"),
        )
        .row(
            "crm/deal_lines",
            &format!(
                "deal_id={deal} quantity=10 list_price=100.00 discount_pct=25 net_amount=750.00"
            ),
        );
    }
    let findings = s.run();
    // D1 (30 % in force) is fine; D2: 10 × 100.00 × (25 − 5)/100 = 200.00
    let f = only(&findings, "unauthorized_discount");
    assert_eq!(f.entity_id, "D2:1");
    assert_eq!(f.leakage, dec("200.00"));
}

#[test]
fn unauthorized_discount_converts_eur_at_close_date() {
    let mut s = with_deal(
        "partner_id=P1 currency=EUR",
        "quantity=10 list_price=90.00 discount_pct=25 net_amount=675.00",
    );
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-05-15 rate_to_reporting=1.23000000",
    )
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-06-02 rate_to_reporting=1.50000000",
    );
    let findings = s.run();
    // 10 × 90.00 × (25 − 20)/100 = 45.00 EUR; rate at 2026-06-01 = 1.23 → 55.35
    assert_eq!(
        only(&findings, "unauthorized_discount").leakage,
        dec("55.35")
    );
}

// ---------------------------------------------------------------- stale_pricing

#[test]
fn stale_pricing_ignores_price_gap_equal_to_tolerance() {
    // price list 100.00 − 99.00 = 1.00 a unit
    let s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=99.00 discount_pct=0 net_amount=990.00",
    );
    none_of(&s.run(), "stale_pricing");
}

#[test]
fn stale_pricing_flags_price_gap_just_over_tolerance() {
    let s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=98.99 discount_pct=0 net_amount=989.90",
    );
    let findings = s.run();
    let f = only(&findings, "stale_pricing");
    assert_eq!(f.entity_type, "deal_line");
    assert_eq!(f.entity_id, "D1:1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // 10 × (100.00 − 98.99) × 1 = 10.10; expected 10 × 100.00 = 1000.00; actual 989.90
    assert_eq!(f.leakage, dec("10.10"));
    assert_eq!(f.expected, Some(dec("1000.00")));
    assert_eq!(f.actual, Some(dec("989.90")));
    assert_eq!(f.severity, "low");
}

#[test]
fn stale_pricing_applies_the_line_discount_to_the_gap() {
    let s = with_deal(
        "partner_id=P1",
        "quantity=10 list_price=90.00 discount_pct=20 net_amount=720.00",
    );
    let findings = s.run();
    let f = only(&findings, "stale_pricing");
    // 10 × (100.00 − 90.00) × (1 − 0.20) = 80.00; expected 10 × 100 × 0.8 = 800.00
    assert_eq!(f.leakage, dec("80.00"));
    assert_eq!(f.expected, Some(dec("800.00")));
    assert_eq!(f.actual, Some(dec("720.00")));
}

#[test]
fn stale_pricing_uses_the_price_in_force_at_close() {
    let mut s = world();
    // SKU3: 80.00 until 2026-05-31, 100.00 from 2026-06-01
    s.row("contracts/products", "sku=SKU3 family=platform")
        .row(
            "contracts/price_list",
            "sku=SKU3 currency=USD valid_from=2020-01-01 valid_to=2026-05-31 list_price=80.00",
        )
        .row(
            "contracts/price_list",
            "sku=SKU3 currency=USD valid_from=2026-06-01 valid_to=null list_price=100.00",
        );
    for (deal, close) in [("D1", "2026-05-31"), ("D2", "2026-06-01")] {
        s.row(
            "crm/deals",
            &format!("deal_id={deal} partner_id=P1 close_date={close}"),
        )
        .row(
            "crm/deal_lines",
            &format!(
                "deal_id={deal} sku=SKU3 quantity=3 list_price=80.00 discount_pct=0 net_amount=240.00"
            ),
        );
    }
    let findings = s.run();
    // D1 quoted the price then in force; D2: 3 × (100.00 − 80.00) = 60.00
    let f = only(&findings, "stale_pricing");
    assert_eq!(f.entity_id, "D2:1");
    assert_eq!(f.leakage, dec("60.00"));
}

#[test]
fn stale_pricing_compares_with_the_price_in_the_deal_currency() {
    // the EUR price is 90.00; the USD price of 100.00 does not apply
    let s = with_deal(
        "partner_id=P1 currency=EUR",
        "quantity=10 list_price=90.00 discount_pct=0 net_amount=900.00",
    );
    none_of(&s.run(), "stale_pricing");
}

#[test]
fn stale_pricing_converts_eur_leakage_at_close_date() {
    let mut s = with_deal(
        "partner_id=P1 currency=EUR",
        "quantity=10 list_price=85.00 discount_pct=0 net_amount=850.00",
    );
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-06-02 rate_to_reporting=1.50000000",
    );
    let findings = s.run();
    let f = about(&findings, "stale_pricing", "D1:1");
    // 10 × (90.00 − 85.00) = 50.00 EUR × 1.10 (rate at 2026-06-01) = 55.00
    assert_eq!(f.leakage, dec("55.00"));
    assert_eq!(f.expected, Some(dec("990.00")));
}
