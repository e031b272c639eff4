//! The data_quality check on tiny hand-made snapshots (as_of 2026-11-26): one
//! `row` finding per bad input row (duplicate key, null required column, orphan
//! reference, currency differing from the deal's, no fx rate, forbidden negative),
//! and no cascade: a bad row keeps the entity it touches out of checks 1–14.

use crate::common::{Finding, Snap, dec, of_check};
use crate::worlds::{about, deal, none_of, only, run_with_nulls_for, world};

/// The entity ids of the data_quality findings, sorted.
fn dq_ids(findings: &[Finding]) -> Vec<String> {
    let mut ids: Vec<String> = of_check(findings, "data_quality")
        .iter()
        .map(|f| f.entity_id.clone())
        .collect();
    ids.sort();
    ids
}

#[test]
fn duplicate_primary_key_is_one_finding_under_its_key() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-10-01",
        "1000.00",
    );
    s.row(
        "crm/deals",
        "deal_id=D1 partner_id=P2 close_date=2026-10-02",
    );
    let findings = s.run();
    let f = only(&findings, "data_quality");
    assert_eq!(f.entity_type, "row");
    assert_eq!(f.entity_id, "crm/deals:D1");
    // a signal: leakage 0, severity info, no partner, no amounts, no period
    assert_eq!(f.leakage, dec("0.00"));
    assert_eq!(f.severity, "info");
    assert_eq!(f.partner_id, None);
    assert_eq!(f.expected, None);
    assert_eq!(f.period, None);
    assert!(f.detail.contains("primary key"), "{}", f.detail);
}

#[test]
fn duplicate_composite_key_joins_its_parts_with_colons() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-10-01",
        "1000.00",
    );
    for _ in 0..2 {
        s.row(
            "crm/deal_lines",
            "deal_id=D1 line_no=2 quantity=1 list_price=500.00 net_amount=500.00",
        );
    }
    assert_eq!(dq_ids(&s.run()), ["crm/deal_lines:D1:2"]);
}

#[test]
fn composite_key_dates_are_written_iso() {
    let mut s = world();
    // the world already has SKU1 / USD / 2020-01-01
    s.row(
        "contracts/price_list",
        "sku=SKU1 currency=USD valid_from=2020-01-01 list_price=120.00",
    );
    assert_eq!(
        dq_ids(&s.run()),
        ["contracts/price_list:SKU1:USD:2020-01-01"]
    );
}

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

#[test]
fn nulls_where_the_contract_allows_them_are_fine() {
    let mut s = world();
    // direct deal (partner null), credit note without reason, approval without expiry,
    // price list and policies without valid_to (the world's)
    deal(
        &mut s,
        "D1",
        "partner_id=null close_date=2026-10-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 partner_id=null invoice_date=2026-10-02 due_date=2026-11-01 total_amount=1000.00",
    )
    .row(
        "billing/credit_notes",
        "credit_note_id=CN1 invoice_id=I1 issued_date=2026-10-05 amount=10.00 reason=null",
    )
    .row(
        "contracts/discount_approvals",
        "approval_id=A1 deal_id=D1 approved_discount_pct=15 approved_date=2026-09-30 expires_date=null",
    );
    none_of(&s.run(), "data_quality");
}

#[test]
fn reference_to_a_missing_row_is_flagged() {
    let mut s = world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D9 invoice_date=2026-10-02 due_date=2026-11-01 total_amount=1000.00",
    );
    let findings = s.run();
    let f = only(&findings, "data_quality");
    assert_eq!(f.entity_id, "billing/invoices:I1");
    assert!(f.detail.contains("D9"), "{}", f.detail);
    // the invoice is left out of the invoice checks
    none_of(&findings, "payment_gap");
    none_of(&findings, "erp_posting_gap");
}

#[test]
fn payment_of_a_missing_invoice_is_flagged() {
    let mut s = world();
    s.row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I9 payment_date=2026-10-02 amount=10.00",
    );
    assert_eq!(dq_ids(&s.run()), ["billing/payments:PAY1"]);
}

#[test]
fn reference_to_a_deal_closing_after_as_of_is_flagged() {
    let mut s = world();
    // D1 closes after as_of, so it does not exist for the run; its invoice does
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-12-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-11-01 due_date=2026-12-01 total_amount=1000.00",
    );
    assert_eq!(dq_ids(&s.run()), ["billing/invoices:I1"]);
}

#[test]
fn rows_dated_after_as_of_are_not_judged() {
    let mut s = world();
    // an orphan invoice dated the day after as_of does not exist for the run
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D9 invoice_date=2026-11-27 due_date=2026-12-27 total_amount=1000.00",
    );
    none_of(&s.run(), "data_quality");
}

#[test]
fn invoice_currency_differing_from_its_deal_is_flagged_and_not_converted() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00 currency=EUR",
    );
    let findings = s.run();
    assert_eq!(dq_ids(&findings), ["billing/invoices:I1"]);
    // neither a missing invoice nor a short or unpaid one: the deal is left out
    none_of(&findings, "missing_invoice");
    none_of(&findings, "under_billing");
    none_of(&findings, "payment_gap");
}

#[test]
fn payment_currency_differing_from_its_deal_is_flagged() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I1 payment_date=2026-06-20 amount=1000.00 currency=EUR",
    );
    assert_eq!(dq_ids(&s.run()), ["billing/payments:PAY1"]);
}

#[test]
fn a_payment_is_held_to_its_deals_currency_and_without_a_deal_to_its_invoices() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    // I1 is billed in EUR against a USD deal; I2's deal D9 does not exist
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00 currency=EUR",
    )
    .row(
        "billing/invoices",
        "invoice_id=I2 deal_id=D9 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00 currency=EUR",
    );
    for (payment, invoice, currency) in [
        ("PAY1", "I1", "USD"),
        ("PAY2", "I1", "EUR"),
        ("PAY3", "I2", "EUR"),
        ("PAY4", "I2", "USD"),
    ] {
        s.row(
            "billing/payments",
            &format!(
                "payment_id={payment} invoice_id={invoice} payment_date=2026-06-20 amount=10.00 currency={currency}"
            ),
        );
    }
    let findings = s.run();
    assert_eq!(
        dq_ids(&findings),
        [
            "billing/invoices:I1",
            "billing/invoices:I2",
            "billing/payments:PAY2",
            "billing/payments:PAY4"
        ]
    );
    let detail_of = |id: &str| {
        of_check(&findings, "data_quality")
            .iter()
            .find(|f| f.entity_id == id)
            .map(|f| f.detail.clone())
            .unwrap_or_default()
    };
    let pay2 = detail_of("billing/payments:PAY2");
    assert!(
        pay2.contains("currency EUR differs from invoice I1 deal D1 currency USD"),
        "{pay2}"
    );
    let pay4 = detail_of("billing/payments:PAY4");
    assert!(
        pay4.contains("currency USD differs from invoice I2 currency EUR"),
        "{pay4}"
    );
}

#[test]
fn payout_currency_differing_from_its_deal_is_flagged() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "commissions/payouts",
        "payout_id=C1 partner_id=P1 deal_id=D1 amount=100.00 currency=EUR payout_date=2026-07-01",
    );
    let findings = s.run();
    assert_eq!(dq_ids(&findings), ["commissions/payouts:C1"]);
    none_of(&findings, "commission_overpayment");
}

#[test]
fn no_fx_rate_on_or_before_the_date_needed_is_flagged() {
    let mut s = world();
    // the first EUR rate is dated 2020-01-01
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2019-12-31 currency=EUR",
        "1000.00",
    );
    deal(
        &mut s,
        "D2",
        "partner_id=P1 close_date=2020-01-01 currency=EUR",
        "1000.00",
    );
    let findings = s.run();
    assert_eq!(dq_ids(&findings), ["crm/deals:D1"]);
    let f = about(&findings, "data_quality", "crm/deals:D1");
    assert!(f.detail.contains("fx rate"), "{}", f.detail);
    // D1 is left out; D2 is an ordinary missing invoice
    assert_eq!(only(&findings, "missing_invoice").entity_id, "D2");
}

#[test]
fn a_currency_without_any_rate_is_flagged() {
    let mut s = world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 invoice_date=2026-10-02 due_date=2026-11-01 total_amount=1000.00 currency=GBP",
    );
    assert_eq!(dq_ids(&s.run()), ["billing/invoices:I1"]);
}

#[test]
fn a_subscription_needs_a_rate_at_the_earlier_of_end_date_and_as_of() {
    let mut s = world();
    // GBP has a rate from as_of only
    s.row(
        "contracts/fx_rates",
        "currency=GBP rate_date=2026-11-26 rate_to_reporting=1.30000000",
    );
    deal(
        &mut s,
        "DS",
        "partner_id=P1 close_date=2026-11-26 currency=GBP",
        "1000.00",
    );
    // S1 ends after as_of: rate needed on as_of (exists); S2 ended 2026-11-25 (none)
    for (id, end) in [("S1", "2027-06-30"), ("S2", "2026-11-25")] {
        s.row(
            "billing/subscriptions",
            &format!(
                "subscription_id={id} deal_id=DS start_date=2025-11-26 end_date={end} annual_value=1000.00 currency=GBP"
            ),
        );
    }
    assert_eq!(dq_ids(&s.run()), ["billing/subscriptions:S2"]);
}

#[test]
fn negative_quantities_prices_and_amounts_are_flagged() {
    let mut s = world();
    s.row(
        "crm/deals",
        "deal_id=D1 partner_id=P1 close_date=2026-06-01",
    )
    .row(
        "crm/deal_lines",
        "deal_id=D1 quantity=-1 list_price=100.00 net_amount=100.00",
    )
    .row(
        "crm/deal_lines",
        "deal_id=D1 line_no=2 quantity=1 list_price=-100.00 net_amount=100.00",
    )
    .row(
        "billing/invoices",
        "invoice_id=I1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=-5.00",
    )
    .row(
        "billing/invoices",
        "invoice_id=I2 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=100.00",
    )
    .row(
        "billing/payments",
        "payment_id=PAY1 invoice_id=I2 payment_date=2026-06-20 amount=-10.00",
    );
    assert_eq!(
        dq_ids(&s.run()),
        [
            "billing/invoices:I1",
            "billing/payments:PAY1",
            "crm/deal_lines:D1:1",
            "crm/deal_lines:D1:2",
        ]
    );
}

#[test]
fn negative_erp_postings_and_payouts_are_not_flagged() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00",
    )
    .row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-06-03 amount=-100.00",
    )
    .row(
        "commissions/payouts",
        "payout_id=C1 partner_id=P1 deal_id=D1 amount=-50.00 payout_date=2026-07-01",
    );
    none_of(&s.run(), "data_quality");
}

#[test]
fn a_row_with_several_problems_is_one_finding() {
    let mut s = world();
    // orphan deal reference and a currency without any rate
    s.row(
        "billing/invoices",
        "invoice_id=I1 deal_id=D9 invoice_date=2026-10-02 due_date=2026-11-01 total_amount=1000.00 currency=GBP",
    );
    let findings = s.run();
    let f = only(&findings, "data_quality");
    assert_eq!(f.entity_id, "billing/invoices:I1");
    assert!(
        f.detail.contains("D9") && f.detail.contains("GBP"),
        "{}",
        f.detail
    );
}

#[test]
fn a_deal_whose_only_invoice_has_a_duplicated_key_yields_only_data_quality() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-06-01",
        "1000.00",
    );
    for _ in 0..2 {
        s.row(
            "billing/invoices",
            "invoice_id=I1 deal_id=D1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00",
        );
    }
    let findings = s.run();
    // both copies are left out, but D1 is not reported as never invoiced
    assert_eq!(
        findings
            .iter()
            .map(|f| (f.check_id.as_str(), f.entity_id.as_str()))
            .collect::<Vec<_>>(),
        [("data_quality", "billing/invoices:I1")]
    );
}

#[test]
fn a_duplicated_payment_does_not_make_its_invoice_unpaid() {
    let mut s = world();
    s.row(
        "billing/invoices",
        "invoice_id=I1 partner_id=P1 invoice_date=2026-06-02 due_date=2026-07-01 total_amount=1000.00",
    )
    .row(
        "erp/revenue_postings",
        "posting_id=G1 invoice_id=I1 posting_date=2026-06-03 amount=1000.00",
    );
    for _ in 0..2 {
        s.row(
            "billing/payments",
            "payment_id=PAY1 invoice_id=I1 payment_date=2026-06-20 amount=1000.00",
        );
    }
    let findings = s.run();
    assert_eq!(
        findings
            .iter()
            .map(|f| (f.check_id.as_str(), f.entity_id.as_str()))
            .collect::<Vec<_>>(),
        [("data_quality", "billing/payments:PAY1")]
    );
}

#[test]
fn an_orphan_payout_is_flagged_and_not_an_overpayment() {
    let mut s: Snap = world();
    s.row(
        "commissions/payouts",
        "payout_id=C1 partner_id=P1 deal_id=D9 amount=100.00 payout_date=2026-07-01",
    );
    let findings = s.run();
    assert_eq!(dq_ids(&findings), ["commissions/payouts:C1"]);
    none_of(&findings, "commission_overpayment");
}
