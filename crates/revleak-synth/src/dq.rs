//! Planted data_quality cases: one bad row each (a duplicated key counts once),
//! always a row whose exclusion leaves every other check silent.

use super::deals::*;
use super::model::*;
use super::world::*;
use revleak_contract as contract;
use rust_decimal::Decimal;

/// Defect kinds, planted in this order (and again from the start past the end).
/// Kinds on forecasts are planted after the forecasts are written.
const KINDS: [&str; 30] = [
    "dup_activation",
    "payment_currency",
    "invoice_future_deal",
    "forecast_dup",
    "null_activation_customer",
    "report_before_fx",
    "neg_activation",
    "payout_currency",
    "price_unknown_sku",
    "partner_bad_parent",
    "sub_orphan_deal",
    "credit_negative",
    "void_invoice_currency",
    "report_negative_price",
    "deal_unknown_partner",
    "approval_orphan",
    "forecast_unknown_partner",
    "report_chf",
    "credit_orphan",
    "sub_null_status",
    "renewal_unknown_sub",
    "invoice_line_unknown_sku",
    "sub_currency",
    "posting_currency",
    "forecast_no_rate",
    "forecast_negative",
    "payment_orphan",
    "posting_orphan",
    "activation_unknown_sku",
    "deal_null_customer",
];

fn key(table: &str, parts: &[&str]) -> String {
    format!("{table}:{}", parts.join(":"))
}

fn iso(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A row's cells with one column set to null.
fn with_null(table: &str, mut cells: Vec<Cell>, column: &str) -> Vec<Cell> {
    let t = contract::table(table).expect("contract table");
    let i = t
        .columns
        .iter()
        .position(|c| c.name == column)
        .expect("contract column");
    cells[i] = Cell::Null;
    cells
}

impl Gen {
    fn any_partner(&mut self, date: chrono::NaiveDate) -> usize {
        let cands: Vec<usize> = (0..self.partners.len())
            .filter(|&p| self.partners[p].weight > 0.0 && self.partners[p].in_force(date))
            .collect();
        *self.rng.pick(&cands)
    }

    fn other_ccy(&mut self, ccy: &str) -> &'static str {
        let others: Vec<&'static str> = CURRENCIES.into_iter().filter(|c| *c != ccy).collect();
        let i = self.rng.below(others.len() as u64) as usize;
        others[i]
    }

    fn activating_sku(&mut self) -> String {
        let subs: Vec<usize> = (0..self.prods.len())
            .filter(|&p| self.prods[p].activates)
            .collect();
        self.prods[*self.rng.pick(&subs)].sku.to_string()
    }

    /// A clean, fully billed, paid and posted deal (a host for a defective row).
    fn host_deal(&mut self, i: usize) -> DealPlan {
        let close = self.ago(40, 330);
        let partner = self.case_partner(i, close, true, |_, _| true);
        let ccy = CURRENCIES[i % 3];
        let customer = self.pool_customer().id;
        let tier = self.tier_of(partner);
        let lines = self.random_lines(tier, ccy, close, false);
        let spec = DealSpec {
            partner,
            customer,
            currency: ccy.into(),
            stage: "closed_won",
            close: Some(close),
            deal_type: "new",
            renewal_of: None,
            lines,
        };
        let f = self.plain_fulfil();
        self.build_deal(&spec, &f)
    }

    /// A closed_won deal of the clean background that closed after as_of − 300 and
    /// at least 30 days before as_of.
    fn recent_background_deal(&mut self) -> Deal {
        let a = self.a;
        for _ in 0..100_000 {
            let d = &self.snap.deals[self.rng.below(self.snap.deals.len() as u64) as usize];
            if d.stage == "closed_won"
                && d.close_date
                    .is_some_and(|c| c <= add_days(a, -30) && c >= add_days(a, -300))
            {
                return d.clone();
            }
        }
        panic!("no recent closed_won deal");
    }

    fn standalone_subscription(&mut self, deal: &Deal, ccy: &str) -> Subscription {
        let start = add_days(deal.close_date.expect("closed"), self.rng.range(1, 5));
        let sku = self.activating_sku();
        let quantity = self.rng.range(5, 50);
        Subscription {
            subscription_id: self.ids.subscription(),
            deal_id: deal.deal_id.clone(),
            partner_id: deal.partner_id.clone(),
            customer_id: self.fresh_customer(),
            annual_value: r2(dec(quantity) * self.price_at(&sku, ccy, start)),
            sku,
            quantity,
            start_date: start,
            end_date: term_end(start, 12),
            auto_renew: true,
            currency: ccy.into(),
            status: "active".into(),
        }
    }

    fn loose_report(
        &mut self,
        ccy: &str,
        sale: chrono::NaiveDate,
        unit_price: Decimal,
    ) -> ReportLine {
        let p = self.any_partner(self.a);
        let sku = self.activating_sku();
        ReportLine {
            report_line_id: self.ids.report(),
            partner_id: self.partners[p].id.clone(),
            deal_id: None,
            customer_id: self.fresh_customer(),
            sku,
            quantity: self.rng.range(1, 30),
            unit_price,
            currency: ccy.into(),
            sale_date: sale,
            reported_date: add_days(sale, self.rng.range(1, 10)).min(self.a),
        }
    }

    fn loose_activation(&mut self, sku: String, quantity: i64) -> Activation {
        let p = self.any_partner(self.a);
        Activation {
            activation_id: self.ids.activation(),
            customer_id: self.fresh_customer(),
            partner_id: Some(self.partners[p].id.clone()),
            sku,
            quantity,
            activated_date: self.ago(5, 300),
        }
    }

    /// A forecasting partner and a month of the lookback without a forecast row.
    fn free_partner_month(&mut self) -> (String, chrono::NaiveDate) {
        let this = month_start(self.a);
        for _ in 0..100_000 {
            let p = self.rng.below(self.partners.len() as u64) as usize;
            let m = add_months(this, -(self.rng.range(1, 12) as i32));
            let id = self.partners[p].id.clone();
            if !self
                .snap
                .forecasts
                .iter()
                .any(|f| f.partner_id == id && f.period == m)
            {
                return (id, m);
            }
        }
        panic!("no free partner-month");
    }

    /// Plants the data_quality cases whose kind is (`post`) or is not about forecasts.
    pub fn plant_data_quality(&mut self, post: bool) {
        for i in 0..self.cases {
            let kind = KINDS[i % KINDS.len()];
            if kind.starts_with("forecast_") != post {
                continue;
            }
            let entity = self.data_quality_case(kind, i);
            self.record("data_quality", "row", entity, Decimal::ZERO);
        }
    }

    fn data_quality_case(&mut self, kind: &str, i: usize) -> String {
        let a = self.a;
        match kind {
            "dup_activation" => loop {
                let j = self.rng.below(self.background_activations as u64) as usize;
                let act = self.snap.activations[j].clone();
                let k = key("provisioning/activations", &[&act.activation_id]);
                if act.activated_date <= a && !self.truth.iter().any(|t| t.entity_id == k) {
                    self.snap.activations.push(act);
                    return k;
                }
            },
            "payment_currency" => loop {
                let j = self.rng.below(self.snap.payments.len() as u64) as usize;
                let mut p = self.snap.payments[j].clone();
                if p.payment_date > a {
                    continue;
                }
                p.payment_id = self.ids.payment();
                p.currency = self.other_ccy(&p.currency).into();
                let k = key("billing/payments", &[&p.payment_id]);
                self.snap.payments.push(p);
                return k;
            },
            "payout_currency" => loop {
                let j = self.rng.below(self.snap.payouts.len() as u64) as usize;
                let mut p = self.snap.payouts[j].clone();
                if p.payout_date > a {
                    continue;
                }
                p.payout_id = self.ids.payout();
                p.currency = self.other_ccy(&p.currency).into();
                let k = key("commissions/payouts", &[&p.payout_id]);
                self.snap.payouts.push(p);
                return k;
            },
            "posting_currency" => loop {
                let j = self.rng.below(self.snap.postings.len() as u64) as usize;
                let mut p = self.snap.postings[j].clone();
                if p.posting_date > a {
                    continue;
                }
                p.posting_id = self.ids.posting();
                p.currency = self.other_ccy(&p.currency).into();
                let k = key("erp/revenue_postings", &[&p.posting_id]);
                self.snap.postings.push(p);
                return k;
            },
            "invoice_future_deal" => {
                // billed ahead of a deal that closes after as_of
                let close = add_days(a, self.rng.range(10, 40));
                let partner = if i.is_multiple_of(2) {
                    Some(self.any_partner(close))
                } else {
                    None
                };
                let ccy = CURRENCIES[(i + 1) % 3];
                let tier = self.tier_of(partner);
                let sku = *self.rng.pick(&["SVC-ONB", "SVC-HC", "PLT-PERP"]);
                let prod = self.prod_index(sku);
                let line = self.line_spec(prod, tier, ccy, close, false);
                let spec = DealSpec {
                    partner,
                    customer: self.fresh_customer(),
                    currency: ccy.into(),
                    stage: "closed_won",
                    close: Some(close),
                    deal_type: "new",
                    renewal_of: None,
                    lines: vec![line],
                };
                let mut f = self.plain_fulfil();
                f.invoice = false;
                f.subscriptions = false;
                f.approvals = false;
                let plan = self.build_deal(&spec, &f);
                let date = self.ago(5, 20);
                let id = self.ids.invoice();
                for dl in &plan.lines {
                    self.snap.invoice_lines.push(InvoiceLine {
                        invoice_id: id.clone(),
                        line_no: dl.line_no,
                        sku: dl.sku.clone(),
                        quantity: dl.quantity,
                        unit_price: dl.list_price,
                        discount_pct: dl.discount_pct,
                        line_amount: dl.net_amount,
                        service_start: None,
                        service_end: None,
                    });
                }
                self.snap.invoices.push(Invoice {
                    invoice_id: id.clone(),
                    deal_id: Some(plan.id()),
                    partner_id: plan.deal.partner_id.clone(),
                    customer_id: plan.deal.customer_id.clone(),
                    invoice_date: date,
                    due_date: add_days(date, 30),
                    currency: ccy.into(),
                    status: "issued".into(),
                    total_amount: plan.value,
                });
                self.excluded_invoices.insert(id.clone());
                self.commit(plan);
                key("billing/invoices", &[&id])
            }
            "null_activation_customer" => {
                let sku = self.activating_sku();
                let q = self.rng.range(1, 20);
                let act = self.loose_activation(sku, q);
                let k = key("provisioning/activations", &[&act.activation_id]);
                self.snap.extra.push((
                    "provisioning/activations",
                    with_null("provisioning/activations", act.cells(), "customer_id"),
                ));
                k
            }
            "neg_activation" => {
                let sku = self.activating_sku();
                let q = -self.rng.range(1, 10);
                let act = self.loose_activation(sku, q);
                let k = key("provisioning/activations", &[&act.activation_id]);
                self.snap.activations.push(act);
                k
            }
            "activation_unknown_sku" => {
                let q = self.rng.range(1, 20);
                let act = self.loose_activation("PLT-BETA".into(), q);
                let k = key("provisioning/activations", &[&act.activation_id]);
                self.snap.activations.push(act);
                k
            }
            "report_before_fx" => {
                // a sale dated before the first EUR/GBP rate
                let ccy = if i.is_multiple_of(2) { "EUR" } else { "GBP" };
                let sale = add_days(self.fx_start(), -self.rng.range(30, 200));
                let unit = dec(self.rng.range(50, 900));
                let r = self.loose_report(ccy, sale, r2(unit));
                let k = key("prm/partner_sales_reports", &[&r.report_line_id]);
                self.snap.reports.push(r);
                k
            }
            "report_negative_price" => {
                let sale = self.ago(20, 200);
                let unit = -dec(self.rng.range(10, 100));
                let r = self.loose_report("USD", sale, r2(unit));
                let k = key("prm/partner_sales_reports", &[&r.report_line_id]);
                self.snap.reports.push(r);
                k
            }
            "report_chf" => {
                let sale = self.ago(20, 200);
                let unit = dec(self.rng.range(50, 900));
                let r = self.loose_report("CHF", sale, r2(unit));
                let k = key("prm/partner_sales_reports", &[&r.report_line_id]);
                self.snap.reports.push(r);
                k
            }
            "price_unknown_sku" => {
                let n = self
                    .snap
                    .prices
                    .iter()
                    .filter(|p| p.sku.starts_with("PLT-LEGACY"))
                    .count();
                let sku = if n == 0 {
                    "PLT-LEGACY".to_string()
                } else {
                    format!("PLT-LEGACY-{n}")
                };
                let from = self.history_start();
                self.snap.prices.push(Price {
                    sku: sku.clone(),
                    currency: "USD".into(),
                    valid_from: from,
                    list_price: r2(dec(450)),
                    valid_to: None,
                });
                key("contracts/price_list", &[&sku, "USD", &iso(from)])
            }
            "partner_bad_parent" => {
                let id = format!("P{:05}", self.snap.partners.len() + 1);
                let start = self.ago(30, 100);
                self.snap.partners.push(Partner {
                    partner_id: id.clone(),
                    name: format!("Newcomer Reseller {i}"),
                    tier: "registered".into(),
                    parent_partner_id: Some(format!("P{:05}", 99_000 + i)),
                    region: "NA".into(),
                    agreement_start: start,
                    agreement_end: None,
                    status: "active".into(),
                });
                key("prm/partners", &[&id])
            }
            "sub_orphan_deal" => {
                let deal = Deal {
                    deal_id: self.ids.deal(),
                    partner_id: None,
                    customer_id: String::new(),
                    stage: "closed_won".into(),
                    close_date: Some(self.ago(30, 200)),
                    currency: "USD".into(),
                    deal_type: "new".into(),
                    renewal_of_subscription_id: None,
                };
                let s = self.standalone_subscription(&deal, "USD");
                let k = key("billing/subscriptions", &[&s.subscription_id]);
                self.snap.subscriptions.push(s);
                k
            }
            "sub_null_status" | "sub_currency" => {
                let deal = self.recent_background_deal();
                let ccy: &str = if kind == "sub_currency" {
                    self.other_ccy(&deal.currency)
                } else {
                    CURRENCIES
                        .into_iter()
                        .find(|c| *c == deal.currency)
                        .expect("ccy")
                };
                let s = self.standalone_subscription(&deal, ccy);
                let k = key("billing/subscriptions", &[&s.subscription_id]);
                if kind == "sub_currency" {
                    self.snap.subscriptions.push(s);
                } else {
                    self.snap.extra.push((
                        "billing/subscriptions",
                        with_null("billing/subscriptions", s.cells(), "status"),
                    ));
                }
                k
            }
            "credit_negative" => {
                let plan = self.host_deal(i);
                let inv = plan.first_invoice().clone();
                self.commit(plan);
                let cn = CreditNote {
                    credit_note_id: self.ids.credit(),
                    invoice_id: inv.invoice_id.clone(),
                    issued_date: add_days(inv.invoice_date, self.rng.range(3, 15)),
                    amount: -r2(inv.total_amount / dec(10)).max(cents(1)),
                    reason: Some("return".into()),
                };
                self.excluded_credits.insert(cn.credit_note_id.clone());
                let k = key("billing/credit_notes", &[&cn.credit_note_id]);
                self.snap.credit_notes.push(cn);
                k
            }
            "void_invoice_currency" => {
                let plan = self.host_deal(i);
                let inv = plan.first_invoice().clone();
                let lines: Vec<InvoiceLine> = plan
                    .invoice_lines
                    .iter()
                    .filter(|l| l.invoice_id == inv.invoice_id)
                    .cloned()
                    .collect();
                self.commit(plan);
                let id = self.ids.invoice();
                for mut l in lines {
                    l.invoice_id = id.clone();
                    self.snap.invoice_lines.push(l);
                }
                let ccy = self.other_ccy(&inv.currency);
                self.snap.invoices.push(Invoice {
                    invoice_id: id.clone(),
                    currency: ccy.into(),
                    status: "void".into(),
                    ..inv
                });
                self.excluded_invoices.insert(id.clone());
                key("billing/invoices", &[&id])
            }
            "invoice_line_unknown_sku" => {
                let plan = self.host_deal(i);
                let inv = plan.first_invoice().clone();
                let no = plan
                    .invoice_lines
                    .iter()
                    .filter(|l| l.invoice_id == inv.invoice_id)
                    .count() as i64
                    + 1;
                self.commit(plan);
                self.snap.invoice_lines.push(InvoiceLine {
                    invoice_id: inv.invoice_id.clone(),
                    line_no: no,
                    sku: "PROMO-VOUCHER".into(),
                    quantity: 1,
                    unit_price: r2(Decimal::ZERO),
                    discount_pct: r2(Decimal::ZERO),
                    line_amount: r2(Decimal::ZERO),
                    service_start: None,
                    service_end: None,
                });
                key("billing/invoice_lines", &[&inv.invoice_id, &no.to_string()])
            }
            "deal_unknown_partner" | "deal_null_customer" | "renewal_unknown_sub" => {
                let (stage, close) = if kind == "renewal_unknown_sub" {
                    ("closed_lost", Some(self.ago(10, 200)))
                } else {
                    ("open", None)
                };
                let ccy = CURRENCIES[i % 3];
                let lines = self.random_lines("direct", ccy, close.unwrap_or(a), false);
                let spec = DealSpec {
                    partner: None,
                    customer: self.fresh_customer(),
                    currency: ccy.into(),
                    stage,
                    close,
                    deal_type: if kind == "renewal_unknown_sub" {
                        "renewal"
                    } else {
                        "new"
                    },
                    renewal_of: (kind == "renewal_unknown_sub").then(|| self.ids.subscription()),
                    lines,
                };
                let mut f = self.plain_fulfil();
                f.approvals = false;
                let mut plan = self.build_deal(&spec, &f);
                let k = key("crm/deals", &[&plan.id()]);
                if kind == "deal_unknown_partner" {
                    plan.deal.partner_id = Some(format!("P{:05}", 98_000 + i));
                }
                if kind == "deal_null_customer" {
                    let cells = with_null("crm/deals", plan.deal.cells(), "customer_id");
                    self.snap.extra.push(("crm/deals", cells));
                    self.snap.deal_lines.extend(plan.lines);
                } else {
                    self.commit(plan);
                }
                k
            }
            "approval_orphan" => {
                let ap = Approval {
                    approval_id: self.ids.approval(),
                    deal_id: self.ids.deal(),
                    approved_discount_pct: r2(dec(15)),
                    approved_date: self.ago(5, 200),
                    expires_date: None,
                };
                let k = key("contracts/discount_approvals", &[&ap.approval_id]);
                self.snap.approvals.push(ap);
                k
            }
            "credit_orphan" => {
                let cn = CreditNote {
                    credit_note_id: self.ids.credit(),
                    invoice_id: self.ids.invoice(),
                    issued_date: self.ago(5, 200),
                    amount: r2(dec(self.rng.range(50, 2000))),
                    reason: Some("dispute".into()),
                };
                let k = key("billing/credit_notes", &[&cn.credit_note_id]);
                self.snap.credit_notes.push(cn);
                k
            }
            "payment_orphan" => {
                let p = Payment {
                    payment_id: self.ids.payment(),
                    invoice_id: self.ids.invoice(),
                    payment_date: self.ago(5, 200),
                    amount: r2(dec(self.rng.range(100, 5000))),
                    currency: "USD".into(),
                };
                let k = key("billing/payments", &[&p.payment_id]);
                self.snap.payments.push(p);
                k
            }
            "posting_orphan" => {
                let p = Posting {
                    posting_id: self.ids.posting(),
                    invoice_id: self.ids.invoice(),
                    posting_date: self.ago(5, 200),
                    amount: r2(dec(self.rng.range(100, 5000))),
                    currency: "USD".into(),
                };
                let k = key("erp/revenue_postings", &[&p.posting_id]);
                self.snap.postings.push(p);
                k
            }
            "forecast_dup" => {
                let this = month_start(a);
                for _ in 0..100_000 {
                    let f = self.snap.forecasts
                        [self.rng.below(self.snap.forecasts.len() as u64) as usize]
                        .clone();
                    let k = key("crm/forecasts", &[&f.partner_id, &iso(f.period)]);
                    if f.period < this
                        && f.period >= add_months(this, -12)
                        && !self
                            .planted_forecasts
                            .contains(&(f.partner_id.clone(), f.period))
                        && !self.truth.iter().any(|t| t.entity_id == k)
                    {
                        self.snap.forecasts.push(f);
                        return k;
                    }
                }
                panic!("no forecast row to duplicate");
            }
            "forecast_unknown_partner" => {
                let m = add_months(month_start(a), -(self.rng.range(1, 12) as i32));
                let pid = format!("P{:05}", 97_000 + i);
                self.snap.forecasts.push(Forecast {
                    partner_id: pid.clone(),
                    period: m,
                    currency: "USD".into(),
                    forecast_amount: r2(dec(25_000)),
                });
                key("crm/forecasts", &[&pid, &iso(m)])
            }
            "forecast_negative" | "forecast_no_rate" => {
                let (pid, m) = self.free_partner_month();
                let (ccy, amount) = if kind == "forecast_negative" {
                    ("USD", -dec(self.rng.range(100, 5000)))
                } else {
                    ("JPY", dec(self.rng.range(1_000_000, 5_000_000)))
                };
                self.snap.forecasts.push(Forecast {
                    partner_id: pid.clone(),
                    period: m,
                    currency: ccy.into(),
                    forecast_amount: r2(amount),
                });
                key("crm/forecasts", &[&pid, &iso(m)])
            }
            other => unreachable!("data_quality kind {other}"),
        }
    }
}
