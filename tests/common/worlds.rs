//! A small, consistent world the check tests build on: partners, products,
//! policies, plans, prices and an EUR rate, so that a test adds only the rows
//! its behaviour needs and no row fails data quality by accident.
#![allow(dead_code)]

use crate::common::{Finding, Snap, date32, of_check};

/// - partners: distributor `D` (platinum, no parent), reseller `P1` (gold, parent `D`),
///   reseller `P2` (silver, no parent), all with open-ended agreements from 2020-01-01;
/// - products: `SKU1` (family platform), `SKU2` (family addon);
/// - fx: EUR = 1.10 USD from 2020-01-01 (USD is the reporting currency);
/// - price list: SKU1 100.00 USD and 90.00 EUR, SKU2 50.00 USD, open-ended from 2020-01-01;
/// - discount policies (platform): direct 10 %, silver 15 %, gold 20 %, platinum 25 %;
///   (addon): direct 30 %, gold 40 %;
/// - commission plans: gold L1 10 % L2 3 %, platinum L1 12 % L2 5 %, silver L1 8 % L2 2 %.
pub fn world() -> Snap {
    let mut s = Snap::new();
    s.row(
        "prm/partners",
        "partner_id=D name=Distributor tier=platinum",
    )
    .row(
        "prm/partners",
        "partner_id=P1 name=Reseller tier=gold parent_partner_id=D",
    )
    .row("prm/partners", "partner_id=P2 name=Other tier=silver")
    .row("contracts/products", "sku=SKU1 family=platform")
    .row("contracts/products", "sku=SKU2 family=addon")
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2020-01-01 rate_to_reporting=1.10000000",
    )
    .row(
        "contracts/price_list",
        "sku=SKU1 currency=USD list_price=100.00",
    )
    .row(
        "contracts/price_list",
        "sku=SKU1 currency=EUR list_price=90.00",
    )
    .row(
        "contracts/price_list",
        "sku=SKU2 currency=USD list_price=50.00",
    );
    for (tier, family, pct) in [
        ("direct", "platform", "10"),
        ("silver", "platform", "15"),
        ("gold", "platform", "20"),
        ("platinum", "platform", "25"),
        ("direct", "addon", "30"),
        ("gold", "addon", "40"),
    ] {
        s.row(
            "contracts/discount_policies",
            &format!("tier={tier} family={family} max_discount_pct={pct}"),
        );
    }
    for (tier, level, pct) in [
        ("gold", 1, "10"),
        ("gold", 2, "3"),
        ("platinum", 1, "12"),
        ("platinum", 2, "5"),
        ("silver", 1, "8"),
        ("silver", 2, "2"),
    ] {
        s.row(
            "contracts/commission_plans",
            &format!("tier={tier} level={level} rate_pct={pct}"),
        );
    }
    s
}

/// Adds a deal (`deal_id` plus `cells`, e.g. `partner_id=P1 close_date=2026-06-01`;
/// stage closed_won, USD, customer C1 by default) with one line of SKU1: quantity 1
/// at `value`, no discount, so the deal's value is `value`.
pub fn deal(s: &mut Snap, deal_id: &str, cells: &str, value: &str) {
    s.row("crm/deals", &format!("deal_id={deal_id} {cells}"));
    s.row(
        "crm/deal_lines",
        &format!("deal_id={deal_id} line_no=1 quantity=1 list_price={value} net_amount={value}"),
    );
}

/// The single finding of `check_id`; fails, listing what was found, when there
/// is not exactly one.
pub fn only<'a>(findings: &'a [Finding], check_id: &str) -> &'a Finding {
    let found = of_check(findings, check_id);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {check_id} finding, got {found:#?}"
    );
    found[0]
}

/// Asserts that `check_id` found nothing.
pub fn none_of(findings: &[Finding], check_id: &str) {
    let found = of_check(findings, check_id);
    assert!(
        found.is_empty(),
        "expected no {check_id} finding, got {found:#?}"
    );
}

/// The finding of `check_id` about `entity_id`, failing when there is none.
pub fn about<'a>(findings: &'a [Finding], check_id: &str, entity_id: &str) -> &'a Finding {
    let found: Vec<&Finding> = of_check(findings, check_id)
        .into_iter()
        .filter(|f| f.entity_id == entity_id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {check_id} finding about {entity_id}, got {:#?}",
        of_check(findings, check_id)
    );
    found[0]
}

/// The `period` column value for an ISO date.
pub fn period(iso: &str) -> Option<i32> {
    Some(date32(iso))
}
