//! Partner and customer checks on tiny hand-made snapshots (as_of 2026-11-26,
//! reporting USD): forecast_variance, missed_renewal, unreported_usage and
//! unbilled_partner_sale. Every expected amount is worked out by hand from
//! checks.md in the comment above its assertion.

use crate::common;

use crate::common::{Snap, dec};
use crate::worlds::{about, deal, none_of, only, period, world};

/// Adds an issued invoice `id` billed to `partner` (no deal), customer C1, USD,
/// unless `cells` say otherwise.
fn invoice(s: &mut Snap, id: &str, partner: &str, date: &str, total: &str, cells: &str) {
    s.row(
        "billing/invoices",
        &format!(
            "invoice_id={id} partner_id={partner} invoice_date={date} due_date=2026-12-31 total_amount={total} {cells}"
        ),
    );
}

/// Adds line 1 of invoice `id`: `quantity` seats of `sku` at 100.00.
fn invoice_line(s: &mut Snap, id: &str, sku: &str, quantity: u32) {
    s.row(
        "billing/invoice_lines",
        &format!(
            "invoice_id={id} sku={sku} quantity={quantity} unit_price=100.00 line_amount={}.00",
            quantity * 100
        ),
    );
}

// ---------------------------------------------------------------- forecast_variance

/// P1 committed 10000.00 USD for 2026-10 and was billed `billed` on one invoice.
fn forecast_billed(billed: &str) -> Snap {
    let mut s = world();
    s.row(
        "crm/forecasts",
        "partner_id=P1 period=2026-10-01 forecast_amount=10000.00",
    );
    invoice(&mut s, "I1", "P1", "2026-10-15", billed, "");
    s
}

#[test]
fn forecast_variance_ignores_shortfall_equal_to_the_minimum() {
    // 10000.00 − 9000.00 = 1000.00, not more than max(10 % = 1000.00, 1000.00)
    none_of(&forecast_billed("9000.00").run(), "forecast_variance");
}

#[test]
fn forecast_variance_flags_shortfall_just_over_the_minimum() {
    let findings = forecast_billed("8999.99").run();
    let f = only(&findings, "forecast_variance");
    assert_eq!(f.entity_type, "partner_period");
    assert_eq!(f.entity_id, "P1:2026-10");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    assert_eq!(f.period, period("2026-10-01"));
    // 10000.00 − 8999.99 = 1000.01 → medium
    assert_eq!(f.expected, Some(dec("10000.00")));
    assert_eq!(f.actual, Some(dec("8999.99")));
    assert_eq!(f.leakage, dec("1000.01"));
    assert_eq!(f.severity, "medium");
}

#[test]
fn forecast_variance_uses_the_percentage_when_above_the_minimum() {
    let mut s = world();
    // 10 % of 50000.00 = 5000.00 > 1000.00: P1 is exactly 5000.00 short, P2 5000.01
    s.row(
        "crm/forecasts",
        "partner_id=P1 period=2026-10-01 forecast_amount=50000.00",
    )
    .row(
        "crm/forecasts",
        "partner_id=P2 period=2026-10-01 forecast_amount=50000.00",
    );
    invoice(&mut s, "I1", "P1", "2026-10-15", "45000.00", "");
    invoice(&mut s, "I2", "P2", "2026-10-15", "44999.99", "");
    let findings = s.run();
    let f = only(&findings, "forecast_variance");
    assert_eq!(f.entity_id, "P2:2026-10");
    assert_eq!(f.leakage, dec("5000.01"));
}

#[test]
fn forecast_variance_looks_back_only_over_complete_months_of_the_lookback() {
    let mut s = world();
    // 12 complete months before 2026-11: 2025-11 … 2026-10; nothing billed in any
    for month in ["2025-10-01", "2025-11-01", "2026-11-01"] {
        s.row(
            "crm/forecasts",
            &format!("partner_id=P1 period={month} forecast_amount=10000.00"),
        );
    }
    let findings = s.run();
    let f = only(&findings, "forecast_variance");
    assert_eq!(f.entity_id, "P1:2025-11");
    assert_eq!(f.leakage, dec("10000.00"));
}

#[test]
fn forecast_variance_counts_issued_invoices_net_of_credit_notes() {
    let mut s = world();
    s.row(
        "crm/forecasts",
        "partner_id=P1 period=2026-10-01 forecast_amount=10000.00",
    );
    invoice(&mut s, "I1", "P1", "2026-10-15", "10000.00", "");
    invoice(&mut s, "I2", "P1", "2026-10-16", "5000.00", "status=void");
    s.row(
        "billing/credit_notes",
        "credit_note_id=CN1 invoice_id=I1 issued_date=2026-10-20 amount=2000.00 reason=return",
    );
    let findings = s.run();
    // billed = 10000.00 − 2000.00 (the void 5000.00 counts for nothing) = 8000.00
    let f = only(&findings, "forecast_variance");
    assert_eq!(f.actual, Some(dec("8000.00")));
    assert_eq!(f.leakage, dec("2000.00"));
}

#[test]
fn forecast_variance_converts_each_invoice_at_its_date_and_rounds_the_sum_once() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-10 rate_to_reporting=1.20000000",
    )
    .row(
        "crm/forecasts",
        "partner_id=P1 period=2026-10-01 currency=EUR forecast_amount=10000.00",
    );
    invoice(&mut s, "I1", "P1", "2026-10-05", "100.05", "currency=EUR");
    invoice(&mut s, "I2", "P1", "2026-10-06", "100.05", "currency=EUR");
    invoice(&mut s, "I3", "P1", "2026-10-12", "1000.00", "currency=EUR");
    let findings = s.run();
    let f = only(&findings, "forecast_variance");
    // expected: 10000.00 EUR at the period's first day (1.10) = 11000.00
    // actual: 100.05 × 1.1 + 100.05 × 1.1 + 1000.00 × 1.2 = 110.055 + 110.055 + 1200
    //         = 1420.11 (rounding each invoice first would give 1420.12)
    // leakage: 11000.00 − 1420.11 = 9579.89
    assert_eq!(f.expected, Some(dec("11000.00")));
    assert_eq!(f.actual, Some(dec("1420.11")));
    assert_eq!(f.leakage, dec("9579.89"));
}

// ---------------------------------------------------------------- missed_renewal

/// Deal DS (P1, closed 2025-01-01, `currency`) and subscription S1 of customer C1
/// for SKU1 sold by it, ending `end_date`, annual value `value`, plus `cells`.
fn subscription(end_date: &str, cells: &str) -> Snap {
    let mut s = world();
    deal(
        &mut s,
        "DS",
        "partner_id=P1 close_date=2025-01-01",
        "1200.00",
    );
    s.row(
        "billing/subscriptions",
        &format!(
            "subscription_id=S1 deal_id=DS partner_id=P1 start_date=2025-01-01 end_date={end_date} annual_value=1200.00 {cells}"
        ),
    );
    s
}

#[test]
fn missed_renewal_flags_subscription_ended_grace_days_before_as_of() {
    // as_of − renewal_grace_days = 2026-11-11
    let findings = subscription("2026-11-11", "").run();
    let f = only(&findings, "missed_renewal");
    assert_eq!(f.entity_type, "subscription");
    assert_eq!(f.entity_id, "S1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    // leakage = annual_value 1200.00 → medium
    assert_eq!(f.expected, Some(dec("1200.00")));
    assert_eq!(f.actual, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("1200.00"));
    assert_eq!(f.severity, "medium");
    assert_eq!(f.period, period("2026-11-01"));
    assert!(f.detail.contains("not auto-renew"), "{}", f.detail);
}

#[test]
fn missed_renewal_ignores_subscription_ended_inside_the_grace() {
    none_of(&subscription("2026-11-12", "").run(), "missed_renewal");
}

#[test]
fn missed_renewal_flags_subscription_ended_lookback_days_before_as_of() {
    // as_of − renewal_lookback_days = 2026-05-30
    let findings = subscription("2026-05-30", "").run();
    assert_eq!(only(&findings, "missed_renewal").leakage, dec("1200.00"));
}

#[test]
fn missed_renewal_ignores_subscription_ended_before_the_lookback() {
    none_of(&subscription("2026-05-29", "").run(), "missed_renewal");
}

#[test]
fn missed_renewal_ignores_cancelled_subscriptions() {
    none_of(
        &subscription("2026-09-30", "status=cancelled").run(),
        "missed_renewal",
    );
}

#[test]
fn missed_renewal_detail_says_when_it_was_auto_renew() {
    let findings = subscription("2026-09-30", "status=active auto_renew=true").run();
    let f = only(&findings, "missed_renewal");
    assert!(
        f.detail.contains("auto-renew") && !f.detail.contains("not auto-renew"),
        "{}",
        f.detail
    );
}

#[test]
fn missed_renewal_ignores_subscription_renewed_by_a_won_deal() {
    let mut s = subscription("2026-09-30", "");
    deal(
        &mut s,
        "DR",
        "partner_id=P1 close_date=2026-09-20 deal_type=renewal renewal_of_subscription_id=S1",
        "1200.00",
    );
    none_of(&s.run(), "missed_renewal");
}

#[test]
fn missed_renewal_an_open_renewal_deal_is_no_renewal() {
    let mut s = subscription("2026-09-30", "");
    deal(
        &mut s,
        "DR",
        "partner_id=P1 stage=open close_date=null deal_type=renewal renewal_of_subscription_id=S1",
        "1200.00",
    );
    assert_eq!(only(&s.run(), "missed_renewal").entity_id, "S1".to_string());
}

/// S1 (customer C1) and S3 (customer C2) both end 2026-09-30 (end + 1 = 2026-10-01);
/// each customer gets a new subscription of SKU1 starting `c1_start` / `c2_start`.
fn renewed_by_subscriptions(c1_start: &str, c2_start: &str) -> Snap {
    let mut s = subscription("2026-09-30", "");
    for (id, customer, start) in [
        ("S3", "C2", "2025-01-01"),
        ("N1", "C1", c1_start),
        ("N2", "C2", c2_start),
    ] {
        let end = if id == "S3" {
            "2026-09-30"
        } else {
            "2027-09-30"
        };
        s.row(
            "billing/subscriptions",
            &format!(
                "subscription_id={id} deal_id=DS partner_id=P1 customer_id={customer} start_date={start} end_date={end} annual_value=1200.00 status=active"
            ),
        );
    }
    s
}

#[test]
fn missed_renewal_a_subscription_starting_within_grace_either_side_renews() {
    // 2026-10-01 + 15 = 2026-10-16; 2026-10-01 − 15 = 2026-09-16
    let findings = renewed_by_subscriptions("2026-10-16", "2026-09-16").run();
    none_of(&findings, "missed_renewal");
}

#[test]
fn missed_renewal_a_subscription_starting_16_days_either_side_does_not_renew() {
    // 2026-10-01 + 16 = 2026-10-17; 2026-10-01 − 16 = 2026-09-15
    let findings = renewed_by_subscriptions("2026-10-17", "2026-09-15").run();
    about(&findings, "missed_renewal", "S1");
    about(&findings, "missed_renewal", "S3");
    assert_eq!(common::of_check(&findings, "missed_renewal").len(), 2);
}

#[test]
fn missed_renewal_a_subscription_of_another_sku_does_not_renew() {
    let mut s = subscription("2026-09-30", "");
    s.row(
        "billing/subscriptions",
        "subscription_id=N1 deal_id=DS partner_id=P1 sku=SKU2 start_date=2026-10-01 end_date=2027-09-30 annual_value=1200.00 status=active",
    );
    assert_eq!(only(&s.run(), "missed_renewal").entity_id, "S1");
}

#[test]
fn missed_renewal_converts_annual_value_at_end_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-10-01 rate_to_reporting=1.50000000",
    );
    deal(
        &mut s,
        "DS",
        "partner_id=P1 close_date=2025-01-01 currency=EUR",
        "1000.15",
    );
    s.row(
        "billing/subscriptions",
        "subscription_id=S1 deal_id=DS partner_id=P1 start_date=2025-01-01 end_date=2026-09-30 annual_value=1000.15 currency=EUR",
    );
    let findings = s.run();
    // rate at end_date 2026-09-30 = 1.10: 1000.15 × 1.1 = 1100.165 → 1100.17
    assert_eq!(only(&findings, "missed_renewal").leakage, dec("1100.17"));
}

// ---------------------------------------------------------------- unreported_usage

/// Activation `id` of `quantity` SKU1 seats for C1 by `partner` on `date`.
fn activation(s: &mut Snap, id: &str, partner: &str, quantity: u32, date: &str) {
    s.row(
        "provisioning/activations",
        &format!(
            "activation_id={id} partner_id={partner} quantity={quantity} activated_date={date}"
        ),
    );
}

#[test]
fn unreported_usage_flags_activated_seats_above_invoiced_seats() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 5, "2026-03-01");
    invoice(&mut s, "I1", "P1", "2026-03-05", "300.00", "");
    invoice_line(&mut s, "I1", "SKU1", 3);
    let findings = s.run();
    let f = only(&findings, "unreported_usage");
    assert_eq!(f.entity_type, "customer_sku");
    assert_eq!(f.entity_id, "C1:SKU1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    assert_eq!(f.period, period("2026-11-01"));
    // (5 − 3) × 100.00 = 200.00; expected 5 × 100.00, actual 3 × 100.00
    assert_eq!(f.leakage, dec("200.00"));
    assert_eq!(f.expected, Some(dec("500.00")));
    assert_eq!(f.actual, Some(dec("300.00")));
}

#[test]
fn unreported_usage_sums_seats_per_customer_and_sku() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 3, "2026-03-01");
    activation(&mut s, "A2", "P1", 4, "2026-04-01");
    invoice(&mut s, "I1", "P1", "2026-03-05", "200.00", "");
    invoice_line(&mut s, "I1", "SKU1", 2);
    invoice(&mut s, "I2", "P1", "2026-04-05", "300.00", "");
    invoice_line(&mut s, "I2", "SKU1", 3);
    // seats of SKU2 invoiced but never activated are no usage, and no entitlement to SKU1
    invoice(&mut s, "I3", "P1", "2026-04-05", "900.00", "");
    invoice_line(&mut s, "I3", "SKU2", 9);
    let findings = s.run();
    let f = only(&findings, "unreported_usage");
    assert_eq!(f.entity_id, "C1:SKU1");
    // (3 + 4) − (2 + 3) = 2 seats × 100.00 = 200.00
    assert_eq!(f.leakage, dec("200.00"));
    assert_eq!(f.expected, Some(dec("700.00")));
    assert_eq!(f.actual, Some(dec("500.00")));
}

#[test]
fn unreported_usage_ignores_seats_all_invoiced() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 5, "2026-03-01");
    invoice(&mut s, "I1", "P1", "2026-03-05", "500.00", "");
    invoice_line(&mut s, "I1", "SKU1", 5);
    none_of(&s.run(), "unreported_usage");
}

#[test]
fn unreported_usage_ignores_lines_of_void_invoices() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 5, "2026-03-01");
    invoice(&mut s, "I1", "P1", "2026-03-05", "500.00", "status=void");
    invoice_line(&mut s, "I1", "SKU1", 5);
    let findings = s.run();
    // nothing entitled: 5 × 100.00 = 500.00
    assert_eq!(only(&findings, "unreported_usage").leakage, dec("500.00"));
}

#[test]
fn unreported_usage_ignores_activations_dated_after_as_of() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 3, "2026-03-01");
    activation(&mut s, "A2", "P1", 4, "2026-11-27");
    invoice(&mut s, "I1", "P1", "2026-03-05", "300.00", "");
    invoice_line(&mut s, "I1", "SKU1", 3);
    none_of(&s.run(), "unreported_usage");
}

#[test]
fn unreported_usage_names_the_partner_of_the_latest_activation() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 3, "2026-03-01");
    activation(&mut s, "A2", "P2", 2, "2026-05-01");
    let findings = s.run();
    let f = only(&findings, "unreported_usage");
    // 5 seats, none invoiced: 5 × 100.00 = 500.00
    assert_eq!(f.partner_id.as_deref(), Some("P2"));
    assert_eq!(f.leakage, dec("500.00"));
}

#[test]
fn unreported_usage_values_seats_at_the_price_in_force_at_as_of() {
    let mut s = world();
    s.row("contracts/products", "sku=SKU3 family=platform")
        .row(
            "contracts/price_list",
            "sku=SKU3 currency=USD valid_from=2020-01-01 valid_to=2026-11-25 list_price=80.00",
        )
        .row(
            "contracts/price_list",
            "sku=SKU3 currency=USD valid_from=2026-11-26 valid_to=null list_price=120.00",
        )
        .row(
            "contracts/price_list",
            "sku=SKU3 currency=USD valid_from=2026-11-27 valid_to=null list_price=999.00",
        )
        .row(
            "provisioning/activations",
            "activation_id=A1 partner_id=P1 sku=SKU3 quantity=2 activated_date=2026-03-01",
        );
    let findings = s.run();
    // 2 × 120.00 (in force on 2026-11-26; the 2026-11-27 price does not exist yet) = 240.00
    assert_eq!(only(&findings, "unreported_usage").leakage, dec("240.00"));
}

#[test]
fn unreported_usage_in_eur_reporting_uses_the_eur_price() {
    let mut s = world();
    activation(&mut s, "A1", "P1", 2, "2026-03-01");
    let findings = s.run_with(&["reporting_currency=EUR"]);
    let f = only(&findings, "unreported_usage");
    // the EUR price list: 2 × 90.00 = 180.00
    assert_eq!(f.leakage, dec("180.00"));
    assert_eq!(f.currency, "EUR");
}

// ---------------------------------------------------------------- unbilled_partner_sale

/// Report line `id` of P1: 3 × SKU1 at 100.00 sold to `customer` on 2026-09-01,
/// reported 2026-09-05, plus `cells`.
fn report_line(s: &mut Snap, id: &str, customer: &str, cells: &str) {
    s.row(
        "prm/partner_sales_reports",
        &format!(
            "report_line_id={id} partner_id=P1 customer_id={customer} quantity=3 unit_price=100.00 sale_date=2026-09-01 reported_date=2026-09-05 {cells}"
        ),
    );
}

/// Adds issued invoice `id` of P1 to `customer` dated `date` with a line of SKU1.
fn sale_invoice(s: &mut Snap, id: &str, customer: &str, date: &str, cells: &str) {
    invoice(
        s,
        id,
        "P1",
        date,
        "300.00",
        &format!("customer_id={customer} {cells}"),
    );
    invoice_line(s, id, "SKU1", 3);
}

#[test]
fn unbilled_partner_sale_flags_report_line_without_invoice() {
    let mut s = world();
    report_line(&mut s, "R1", "C1", "");
    let findings = s.run();
    let f = only(&findings, "unbilled_partner_sale");
    assert_eq!(f.entity_type, "report_line");
    assert_eq!(f.entity_id, "R1");
    assert_eq!(f.partner_id.as_deref(), Some("P1"));
    assert_eq!(f.period, period("2026-09-01"));
    // 3 × 100.00 = 300.00 → low
    assert_eq!(f.expected, Some(dec("300.00")));
    assert_eq!(f.actual, Some(dec("0.00")));
    assert_eq!(f.leakage, dec("300.00"));
    assert_eq!(f.severity, "low");
}

#[test]
fn unbilled_partner_sale_matches_invoices_within_the_window_either_side() {
    let mut s = world();
    // 2026-09-01 + 30 = 2026-10-01; 2026-09-01 − 30 = 2026-08-02
    report_line(&mut s, "R1", "C1", "");
    report_line(&mut s, "R2", "C2", "");
    sale_invoice(&mut s, "I1", "C1", "2026-10-01", "");
    sale_invoice(&mut s, "I2", "C2", "2026-08-02", "");
    none_of(&s.run(), "unbilled_partner_sale");
}

#[test]
fn unbilled_partner_sale_ignores_invoices_outside_the_window() {
    let mut s = world();
    // 2026-09-01 + 31 = 2026-10-02; 2026-09-01 − 31 = 2026-08-01
    report_line(&mut s, "R1", "C1", "");
    report_line(&mut s, "R2", "C2", "");
    sale_invoice(&mut s, "I1", "C1", "2026-10-02", "");
    sale_invoice(&mut s, "I2", "C2", "2026-08-01", "");
    let findings = s.run();
    about(&findings, "unbilled_partner_sale", "R1");
    about(&findings, "unbilled_partner_sale", "R2");
    assert_eq!(
        common::of_check(&findings, "unbilled_partner_sale").len(),
        2
    );
}

#[test]
fn unbilled_partner_sale_needs_an_invoice_line_of_the_same_sku() {
    let mut s = world();
    report_line(&mut s, "R1", "C1", "");
    invoice(&mut s, "I1", "P1", "2026-09-01", "300.00", "");
    invoice_line(&mut s, "I1", "SKU2", 3);
    assert_eq!(only(&s.run(), "unbilled_partner_sale").entity_id, "R1");
}

#[test]
fn unbilled_partner_sale_ignores_void_invoices() {
    let mut s = world();
    report_line(&mut s, "R1", "C1", "");
    sale_invoice(&mut s, "I1", "C1", "2026-09-01", "status=void");
    assert_eq!(only(&s.run(), "unbilled_partner_sale").entity_id, "R1");
}

#[test]
fn unbilled_partner_sale_matches_a_named_deal_by_its_issued_invoice() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-02-01",
        "300.00",
    );
    // the deal's invoice is months away from the sale and has no lines: the deal decides
    invoice(&mut s, "I1", "P1", "2026-03-01", "300.00", "deal_id=D1");
    report_line(&mut s, "R1", "C1", "deal_id=D1");
    none_of(&s.run(), "unbilled_partner_sale");
}

#[test]
fn unbilled_partner_sale_named_deal_without_invoice_is_unbilled_despite_a_matching_sale() {
    let mut s = world();
    deal(
        &mut s,
        "D1",
        "partner_id=P1 close_date=2026-08-20",
        "300.00",
    );
    report_line(&mut s, "R1", "C1", "deal_id=D1");
    // an invoice of the same partner, customer and sku on the sale date, of no deal
    sale_invoice(&mut s, "I1", "C1", "2026-09-01", "");
    let findings = s.run();
    assert_eq!(
        only(&findings, "unbilled_partner_sale").leakage,
        dec("300.00")
    );
}

#[test]
fn unbilled_partner_sale_ignores_lines_reported_after_as_of() {
    let mut s = world();
    report_line(&mut s, "R1", "C1", "reported_date=2026-11-27");
    none_of(&s.run(), "unbilled_partner_sale");
}

#[test]
fn unbilled_partner_sale_converts_at_sale_date() {
    let mut s = world();
    s.row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2026-09-05 rate_to_reporting=1.50000000",
    );
    report_line(&mut s, "R1", "C1", "currency=EUR unit_price=100.05");
    let findings = s.run();
    // 3 × 100.05 = 300.15 EUR at the sale date's 1.10 (not the reported date's 1.50):
    // 330.165 → 330.17
    assert_eq!(
        only(&findings, "unbilled_partner_sale").leakage,
        dec("330.17")
    );
}
