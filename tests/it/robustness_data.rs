//! Data faults: the run completes, and each bad row is a data_quality finding,
//! never a crash or a silent drop.

use crate::common::{Snap, dec, of_check};

fn world() -> Snap {
    let mut snap = Snap::new();
    snap.row("contracts/products", "sku=SKU1").row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2020-01-01 rate_to_reporting=1.10000000",
    );
    snap
}

#[test]
fn awkward_strings_in_names_and_ids_pass_through_untouched() {
    let odd_partner = "P\"1,<b>x</b>\n日本";
    let odd_deal = "D'7; drop table deals;--\tÜ";
    let mut snap = world();
    snap.row_values(
        "prm/partners",
        &[
            ("partner_id", odd_partner),
            ("name", "Ацме, \"Ltd\"\n<script>alert(1)</script>"),
        ],
    )
    .row_values(
        "crm/deals",
        &[
            ("deal_id", odd_deal),
            ("partner_id", odd_partner),
            ("close_date", "2026-09-01"),
        ],
    )
    .row_values(
        "crm/deal_lines",
        &[
            ("deal_id", odd_deal),
            ("list_price", "100.00"),
            ("net_amount", "100.00"),
        ],
    );
    let findings = snap.run();
    let missing = of_check(&findings, "missing_invoice");
    assert_eq!(missing.len(), 1, "{findings:#?}");
    assert_eq!(missing[0].entity_id, odd_deal);
    assert_eq!(missing[0].partner_id.as_deref(), Some(odd_partner));
    assert!(missing[0].detail.contains("Ацме"));
    assert!(of_check(&findings, "data_quality").is_empty());
}

#[test]
fn amounts_at_the_decimal_limit_do_not_overflow() {
    let mut snap = world();
    snap.row("crm/deals", "deal_id=D1 close_date=2026-09-01")
        .row(
            "crm/deal_lines",
            "deal_id=D1 list_price=9999999999999999.99 net_amount=9999999999999999.99",
        )
        .row("crm/deals", "deal_id=D2 close_date=2026-09-01")
        .row(
            "crm/deal_lines",
            "deal_id=D2 list_price=-9999999999999999.99 net_amount=-9999999999999999.99",
        );
    let findings = snap.run();
    let missing = of_check(&findings, "missing_invoice");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].leakage, dec("9999999999999999.99"));
    // the negative line is a data-quality finding, and its deal is not judged
    let dq = of_check(&findings, "data_quality");
    assert_eq!(dq.len(), 1);
    assert_eq!(dq[0].entity_id, "crm/deal_lines:D2:1");
}

#[test]
fn dates_far_in_the_past_and_future_are_flagged_or_not_yet_real() {
    let mut snap = world();
    snap.row(
        "crm/deals",
        "deal_id=OLD close_date=0001-01-01 currency=EUR",
    )
    .row(
        "crm/deal_lines",
        "deal_id=OLD list_price=10.00 net_amount=10.00",
    )
    .row("crm/deals", "deal_id=FUTURE close_date=9999-12-31")
    .row(
        "crm/deal_lines",
        "deal_id=FUTURE list_price=10.00 net_amount=10.00",
    )
    .row(
        "crm/forecasts",
        "partner_id=P1 period=9999-12-01 forecast_amount=5.00",
    )
    .row("prm/partners", "partner_id=P1");
    let findings = snap.run();
    let dq: Vec<&str> = of_check(&findings, "data_quality")
        .iter()
        .map(|f| f.entity_id.as_str())
        .collect();
    assert_eq!(
        dq,
        ["crm/deals:OLD"],
        "no EUR rate exists on or before year 1"
    );
    assert!(of_check(&findings, "missing_invoice").is_empty());
}

#[test]
fn a_snapshot_of_empty_tables_completes_with_no_findings() {
    let findings = Snap::new().run();
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_partner_tree_with_a_cycle_or_a_self_parent_is_flagged() {
    let mut snap = world();
    snap.row("prm/partners", "partner_id=A parent_partner_id=B")
        .row("prm/partners", "partner_id=B parent_partner_id=C")
        .row("prm/partners", "partner_id=C parent_partner_id=A")
        .row("prm/partners", "partner_id=S parent_partner_id=S")
        .row("prm/partners", "partner_id=OK parent_partner_id=TOP")
        .row("prm/partners", "partner_id=TOP");
    let findings = snap.run();
    let mut dq: Vec<&str> = of_check(&findings, "data_quality")
        .iter()
        .map(|f| f.entity_id.as_str())
        .collect();
    dq.sort();
    assert_eq!(
        dq,
        [
            "prm/partners:A",
            "prm/partners:B",
            "prm/partners:C",
            "prm/partners:S"
        ]
    );
    assert!(
        of_check(&findings, "data_quality")[0]
            .detail
            .contains("loops back")
    );
}
