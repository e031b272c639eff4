//! A deal and everything that follows from it (lines, approvals, invoices, credit
//! notes, payments, postings, payouts, subscriptions, activations, partner reports),
//! built consistently from a [`DealSpec`] and a [`Fulfil`]; the clean background;
//! renewals of subscriptions that end.

#![allow(clippy::needless_range_loop)]

use super::model::*;
use super::world::*;
use chrono::NaiveDate as Date;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct LineSpec {
    pub prod: usize,
    pub quantity: i64,
    pub list_price: Decimal,
    pub discount: Decimal,
    pub term: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DealSpec {
    pub partner: Option<usize>,
    pub customer: String,
    pub currency: String,
    pub stage: &'static str,
    pub close: Option<Date>,
    pub deal_type: &'static str,
    pub renewal_of: Option<String>,
    pub lines: Vec<LineSpec>,
}

/// Payments of each issued invoice: (days after the invoice, fraction of billed).
/// With `full`, the last part is whatever remains of billed.
#[derive(Debug, Clone)]
pub struct Pay {
    pub parts: Vec<(i64, Decimal)>,
    pub full: bool,
}

#[derive(Debug, Clone)]
pub struct CreditSpec {
    pub frac: Decimal,
    pub reason: Option<&'static str>,
    pub lag: i64,
    /// Reverse it in the ERP on its issued date.
    pub reverse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reports {
    None,
    WithDeal,
    Mixed,
}

/// How the invoice departs from the deal (under_billing cases).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Adjust {
    None,
    OmitLine(usize),
    ExtraDiscount(usize, i64),
    UnitPrice(usize, Decimal),
}

#[derive(Debug, Clone)]
pub struct Fulfil {
    pub invoice: bool,
    pub invoice_lag: i64,
    pub void_first: Option<i64>,
    pub split_invoice: bool,
    pub due_days: i64,
    pub pay: Pay,
    pub credit: Option<CreditSpec>,
    pub adjust: Adjust,
    pub post: bool,
    pub post_lag: i64,
    pub post_split: bool,
    pub payouts: bool,
    pub dup_clawback: bool,
    pub activations: bool,
    pub reports: Reports,
    pub subscriptions: bool,
    pub sub_start: Option<Date>,
    pub approvals: bool,
}

#[derive(Debug, Clone)]
pub struct DealPlan {
    pub deal: Deal,
    pub partner: Option<usize>,
    pub value: Decimal,
    pub lines: Vec<DealLine>,
    pub approvals: Vec<Approval>,
    pub invoices: Vec<Invoice>,
    pub invoice_lines: Vec<InvoiceLine>,
    pub credit_notes: Vec<CreditNote>,
    pub payments: Vec<Payment>,
    pub postings: Vec<Posting>,
    pub payouts: Vec<Payout>,
    pub subscriptions: Vec<Subscription>,
    pub activations: Vec<Activation>,
    pub reports: Vec<ReportLine>,
}

impl DealPlan {
    pub fn id(&self) -> String {
        self.deal.deal_id.clone()
    }
    pub fn close(&self) -> Date {
        self.deal.close_date.expect("closed deal")
    }
    pub fn ccy(&self) -> String {
        self.deal.currency.clone()
    }
    pub fn issued(&self) -> impl Iterator<Item = &Invoice> {
        self.invoices.iter().filter(|i| i.status == "issued")
    }
    pub fn billed(&self) -> Decimal {
        self.issued().map(|i| i.total_amount).sum()
    }
    pub fn collected(&self) -> Decimal {
        self.payments.iter().map(|p| p.amount).sum()
    }
    pub fn first_invoice(&self) -> &Invoice {
        self.issued().next().expect("issued invoice")
    }
}

impl Gen {
    /// Commission entitlements of a deal's partner at close: (partner, level, rate).
    pub fn commission_rates(&self, p: usize, close: Date) -> Vec<(usize, i64, Decimal)> {
        let mut v = Vec::new();
        let pi = &self.partners[p];
        if pi.in_force(close) {
            v.push((p, 1, self.plan_rate(pi.tier, 1, close)));
        }
        if let Some(q) = pi.parent
            && self.partners[q].in_force(close)
        {
            v.push((q, 2, self.plan_rate(self.partners[q].tier, 2, close)));
        }
        v
    }

    pub fn new_payout(
        &mut self,
        plan: &DealPlan,
        partner: usize,
        level: i64,
        rate: Decimal,
        amount: Decimal,
        date: Date,
    ) -> Payout {
        Payout {
            payout_id: self.ids.payout(),
            partner_id: self.partners[partner].id.clone(),
            deal_id: plan.id(),
            level,
            rate_pct: rate,
            amount,
            currency: plan.ccy(),
            payout_date: date,
        }
    }

    fn auto_approvals(&mut self, plan: &mut DealPlan, spec: &DealSpec) {
        let date = match spec.close {
            Some(c) if c <= self.a => c,
            None => self.a,
            Some(_) => return,
        };
        let tier = self.tier_of(spec.partner);
        let mut need = Decimal::ZERO;
        for l in &spec.lines {
            let max = self.policy_max(tier, self.prods[l.prod].family, date);
            if l.discount > max {
                need = need.max(l.discount);
            }
        }
        if need > Decimal::ZERO {
            let pct = (need.ceil() + dec(self.rng.range(0, 3))).min(Decimal::ONE_HUNDRED);
            let approved = if spec.close.is_some() {
                add_days(date, -self.rng.range(1, 20))
            } else {
                add_days(self.a, -self.rng.range(1, 30))
            };
            let expires = if self.rng.chance(0.5) {
                None
            } else {
                Some(add_days(date, self.rng.range(10, 120)))
            };
            plan.approvals.push(Approval {
                approval_id: self.ids.approval(),
                deal_id: plan.id(),
                approved_discount_pct: r2(pct),
                approved_date: approved,
                expires_date: expires,
            });
        }
    }

    pub fn build_deal(&mut self, spec: &DealSpec, f: &Fulfil) -> DealPlan {
        let a = self.a;
        let deal_id = self.ids.deal();
        let partner_id = spec.partner.map(|p| self.partners[p].id.clone());
        let mut plan = DealPlan {
            deal: Deal {
                deal_id: deal_id.clone(),
                partner_id: partner_id.clone(),
                customer_id: spec.customer.clone(),
                stage: spec.stage.into(),
                close_date: spec.close,
                currency: spec.currency.clone(),
                deal_type: spec.deal_type.into(),
                renewal_of_subscription_id: spec.renewal_of.clone(),
            },
            partner: spec.partner,
            value: Decimal::ZERO,
            lines: Vec::new(),
            approvals: Vec::new(),
            invoices: Vec::new(),
            invoice_lines: Vec::new(),
            credit_notes: Vec::new(),
            payments: Vec::new(),
            postings: Vec::new(),
            payouts: Vec::new(),
            subscriptions: Vec::new(),
            activations: Vec::new(),
            reports: Vec::new(),
        };
        for (k, l) in spec.lines.iter().enumerate() {
            let net = net_amount(l.quantity, l.list_price, l.discount);
            plan.lines.push(DealLine {
                deal_id: deal_id.clone(),
                line_no: k as i64 + 1,
                sku: self.prods[l.prod].sku.into(),
                quantity: l.quantity,
                list_price: l.list_price,
                discount_pct: l.discount,
                net_amount: net,
                term_months: l.term,
            });
            plan.value += net;
        }
        if f.approvals {
            self.auto_approvals(&mut plan, spec);
        }
        if spec.stage != "closed_won" {
            return plan;
        }
        let close = spec.close.expect("closed_won deal has a close date");
        let n = plan.lines.len();
        let ccy = spec.currency.clone();

        // service periods and subscriptions
        let start = f
            .sub_start
            .unwrap_or_else(|| add_days(close, self.rng.range(0, 3)));
        let mut service: Vec<Option<(Date, Date)>> = vec![None; n];
        for k in 0..n {
            let Some(term) = plan.lines[k].term_months else {
                continue;
            };
            let end = term_end(start, term);
            service[k] = Some((start, end));
            if f.subscriptions {
                let dl = plan.lines[k].clone();
                let auto_renew = self.rng.chance(0.6);
                plan.subscriptions.push(Subscription {
                    subscription_id: self.ids.subscription(),
                    deal_id: deal_id.clone(),
                    partner_id: partner_id.clone(),
                    customer_id: spec.customer.clone(),
                    sku: dl.sku,
                    quantity: dl.quantity,
                    start_date: start,
                    end_date: end,
                    auto_renew,
                    annual_value: r2(dl.net_amount * dec(12) / dec(term)),
                    currency: ccy.clone(),
                    status: if end < a { "expired" } else { "active" }.into(),
                });
            }
        }

        // a voided first invoice
        if let Some(vl) = f.void_first {
            let date = add_days(close, vl);
            let id = self.ids.invoice();
            let mut total = Decimal::ZERO;
            for (k, dl) in plan.lines.iter().enumerate() {
                plan.invoice_lines.push(InvoiceLine {
                    invoice_id: id.clone(),
                    line_no: k as i64 + 1,
                    sku: dl.sku.clone(),
                    quantity: dl.quantity,
                    unit_price: dl.list_price,
                    discount_pct: dl.discount_pct,
                    line_amount: dl.net_amount,
                    service_start: service[k].map(|s| s.0),
                    service_end: service[k].map(|s| s.1),
                });
                total += dl.net_amount;
            }
            plan.invoices.push(Invoice {
                invoice_id: id.clone(),
                deal_id: Some(deal_id.clone()),
                partner_id: partner_id.clone(),
                customer_id: spec.customer.clone(),
                invoice_date: date,
                due_date: add_days(date, f.due_days),
                currency: ccy.clone(),
                status: "void".into(),
                total_amount: total,
            });
            if f.post {
                for amount in [total, -total] {
                    plan.postings.push(Posting {
                        posting_id: self.ids.posting(),
                        invoice_id: id.clone(),
                        posting_date: date,
                        amount,
                        currency: ccy.clone(),
                    });
                }
            }
        }
        if !f.invoice {
            return plan;
        }

        // issued invoices (one, or two when split)
        let first = add_days(close, f.invoice_lag);
        let groups: Vec<Vec<usize>> = if f.split_invoice && n >= 2 {
            let k = self.rng.range(1, n as i64 - 1) as usize;
            vec![(0..k).collect(), (k..n).collect()]
        } else {
            vec![(0..n).collect()]
        };
        let mut line_invoiced: Vec<Option<Date>> = vec![None; n];
        let mut issued: Vec<(String, Date, Decimal)> = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let date = if g == 0 {
                first
            } else {
                add_days(first, self.rng.range(1, 5))
            };
            let id = self.ids.invoice();
            let mut total = Decimal::ZERO;
            let mut no = 0;
            for &k in group {
                let dl = &plan.lines[k];
                let (unit, disc, amount) = match f.adjust {
                    Adjust::OmitLine(j) if j == k => continue,
                    Adjust::ExtraDiscount(j, extra) if j == k => {
                        let d = dl.discount_pct + dec(extra);
                        (
                            dl.list_price,
                            r2(d),
                            net_amount(dl.quantity, dl.list_price, d),
                        )
                    }
                    Adjust::UnitPrice(j, p) if j == k => (
                        p,
                        dl.discount_pct,
                        net_amount(dl.quantity, p, dl.discount_pct),
                    ),
                    _ => (dl.list_price, dl.discount_pct, dl.net_amount),
                };
                no += 1;
                plan.invoice_lines.push(InvoiceLine {
                    invoice_id: id.clone(),
                    line_no: no,
                    sku: dl.sku.clone(),
                    quantity: dl.quantity,
                    unit_price: unit,
                    discount_pct: disc,
                    line_amount: amount,
                    service_start: service[k].map(|s| s.0),
                    service_end: service[k].map(|s| s.1),
                });
                total += amount;
                line_invoiced[k] = Some(date);
            }
            if no == 0 {
                continue;
            }
            plan.invoices.push(Invoice {
                invoice_id: id.clone(),
                deal_id: Some(deal_id.clone()),
                partner_id: partner_id.clone(),
                customer_id: spec.customer.clone(),
                invoice_date: date,
                due_date: add_days(date, f.due_days),
                currency: ccy.clone(),
                status: "issued".into(),
                total_amount: total,
            });
            issued.push((id, date, total));
        }

        // credit note, payments, postings
        let last = issued.len().saturating_sub(1);
        for (j, (id, date, total)) in issued.iter().enumerate() {
            let mut credit = Decimal::ZERO;
            if j == last
                && let Some(c) = &f.credit
            {
                credit = r2(*total * c.frac).max(cents(1));
                let cd = add_days(*date, c.lag);
                plan.credit_notes.push(CreditNote {
                    credit_note_id: self.ids.credit(),
                    invoice_id: id.clone(),
                    issued_date: cd,
                    amount: credit,
                    reason: c.reason.map(str::to_string),
                });
                if c.reverse && f.post {
                    plan.postings.push(Posting {
                        posting_id: self.ids.posting(),
                        invoice_id: id.clone(),
                        posting_date: cd,
                        amount: -credit,
                        currency: ccy.clone(),
                    });
                }
            }
            let billed = *total - credit;
            let mut paid = Decimal::ZERO;
            let np = f.pay.parts.len();
            for (pi, (lag, frac)) in f.pay.parts.iter().enumerate() {
                let amount = if f.pay.full && pi + 1 == np {
                    billed - paid
                } else {
                    r2(billed * *frac)
                };
                if amount <= Decimal::ZERO {
                    continue;
                }
                paid += amount;
                plan.payments.push(Payment {
                    payment_id: self.ids.payment(),
                    invoice_id: id.clone(),
                    payment_date: add_days(*date, *lag),
                    amount,
                    currency: ccy.clone(),
                });
            }
            if f.post {
                let pd = add_days(*date, f.post_lag);
                let parts = if f.post_split && *total > dec(10) {
                    let x = r2(*total
                        * Decimal::from_f64_retain(self.rng.uniform(0.3, 0.7))
                            .unwrap_or(Decimal::ONE));
                    vec![x, *total - x]
                } else {
                    vec![*total]
                };
                for amount in parts {
                    plan.postings.push(Posting {
                        posting_id: self.ids.posting(),
                        invoice_id: id.clone(),
                        posting_date: pd,
                        amount,
                        currency: ccy.clone(),
                    });
                }
            }
        }

        // commissions on collections, dated with the payment
        if f.payouts
            && let Some(p) = spec.partner
        {
            let rates = self.commission_rates(p, close);
            for pay in plan.payments.clone() {
                for &(q, level, rate) in &rates {
                    let po = self.new_payout(
                        &plan,
                        q,
                        level,
                        rate,
                        r2(pay.amount * rate / Decimal::ONE_HUNDRED),
                        pay.payment_date,
                    );
                    plan.payouts.push(po);
                }
            }
            if f.dup_clawback && !plan.payouts.is_empty() {
                // a payout paid twice and clawed back the same day: nets to the right amount
                let x = plan.payouts[0].clone();
                let date = add_days(x.payout_date, self.rng.range(0, 20));
                for amount in [x.amount, -x.amount] {
                    plan.payouts.push(Payout {
                        payout_id: self.ids.payout(),
                        amount,
                        payout_date: date,
                        ..x.clone()
                    });
                }
            }
        }

        // seats switched on after invoicing, within what was invoiced
        if f.activations {
            for k in 0..n {
                let prod = self.prod_index(&plan.lines[k].sku);
                let Some(inv_date) = line_invoiced[k] else {
                    continue;
                };
                if !self.prods[prod].activates {
                    continue;
                }
                let q = plan.lines[k].quantity;
                let total = ((q as f64 * self.rng.uniform(0.5, 1.0)).floor() as i64)
                    .max(1)
                    .min(q);
                let parts = if total >= 4 && self.rng.chance(0.3) {
                    let x = self.rng.range(1, total - 1);
                    vec![x, total - x]
                } else {
                    vec![total]
                };
                let mut d = inv_date;
                for x in parts {
                    d = add_days(d, self.rng.range(1, 30));
                    plan.activations.push(Activation {
                        activation_id: self.ids.activation(),
                        customer_id: spec.customer.clone(),
                        partner_id: partner_id.clone(),
                        sku: plan.lines[k].sku.clone(),
                        quantity: x,
                        activated_date: d,
                    });
                }
            }
        }

        // what the partner reports it sold, after the vendor invoiced it
        if let Some(p) = spec.partner
            && f.reports != Reports::None
            && let Some(first_issued) = issued.iter().map(|x| x.1).min()
        {
            for k in 0..n {
                let Some(inv_date) = line_invoiced[k] else {
                    continue;
                };
                let with_deal = match f.reports {
                    Reports::WithDeal => true,
                    _ => self.rng.chance(0.6),
                };
                let basis = if with_deal { first_issued } else { inv_date };
                let dl = plan.lines[k].clone();
                let report = ReportLine {
                    report_line_id: self.ids.report(),
                    partner_id: self.partners[p].id.clone(),
                    deal_id: with_deal.then(|| deal_id.clone()),
                    customer_id: spec.customer.clone(),
                    sku: dl.sku,
                    quantity: dl.quantity,
                    unit_price: r2(dl.net_amount / dec(dl.quantity)),
                    currency: ccy.clone(),
                    sale_date: close,
                    reported_date: add_days(basis.max(close), self.rng.range(1, 20)),
                };
                plan.reports.push(report);
            }
        }
        plan
    }

    /// Adds a plan's rows to the snapshot; returns the range of its subscriptions.
    pub fn commit(&mut self, plan: DealPlan) -> std::ops::Range<usize> {
        let s = &mut self.snap;
        s.deals.push(plan.deal);
        s.deal_lines.extend(plan.lines);
        s.approvals.extend(plan.approvals);
        s.invoices.extend(plan.invoices);
        s.invoice_lines.extend(plan.invoice_lines);
        s.credit_notes.extend(plan.credit_notes);
        s.payments.extend(plan.payments);
        s.postings.extend(plan.postings);
        s.payouts.extend(plan.payouts);
        let from = s.subscriptions.len();
        s.subscriptions.extend(plan.subscriptions);
        s.activations.extend(plan.activations);
        s.reports.extend(plan.reports);
        from..s.subscriptions.len()
    }

    /// A discount (in steps of 0.5 %) within a policy maximum; 0 a third of the time.
    pub fn discount_within(&mut self, max: Decimal) -> Decimal {
        if self.rng.chance(0.35) {
            return r2(Decimal::ZERO);
        }
        let m = max.to_f64().unwrap_or(0.0);
        let steps = (m * self.rng.uniform(0.2, 1.0) * 2.0).floor() as i64;
        r2(Decimal::new(steps * 5, 1)).min(max)
    }

    pub fn line_spec(
        &mut self,
        prod: usize,
        tier: &str,
        ccy: &str,
        date: Date,
        allow_over: bool,
    ) -> LineSpec {
        let p = self.prods[prod].clone();
        let quantity = self.rng.log_range(p.qty.0, p.qty.1);
        let list_price = self.price_at(p.sku, ccy, date);
        let term = p
            .subscription
            .then(|| *self.rng.pick(&[12, 12, 12, 12, 12, 12, 12, 24, 36, 36]));
        let max = self.policy_max(tier, p.family, date);
        let mut discount = self.discount_within(max);
        if allow_over && self.rng.chance(0.05) {
            discount = r2(max + dec(self.rng.range(1, 8)));
        }
        LineSpec {
            prod,
            quantity,
            list_price,
            discount,
            term,
        }
    }

    fn prod_weights(&self) -> Vec<f64> {
        self.prods
            .iter()
            .map(|p| match (p.family, p.subscription) {
                ("platform", true) => 3.0,
                ("addon", true) => 2.0,
                ("services", true) => 0.3,
                _ => 1.0,
            })
            .collect()
    }

    /// 1–4 lines of distinct products, priced at `date`, discounts within policy
    /// (with `allow_over`, now and then above it: such a deal gets an approval).
    pub fn random_lines(
        &mut self,
        tier: &str,
        ccy: &str,
        date: Date,
        allow_over: bool,
    ) -> Vec<LineSpec> {
        let n = 1 + self.rng.weighted(&[0.45, 0.30, 0.17, 0.08]);
        let weights = self.prod_weights();
        let mut used = BTreeSet::new();
        let mut lines = Vec::new();
        for _ in 0..n {
            let mut prod = self.rng.weighted(&weights);
            let mut tries = 0;
            while used.contains(&prod) && tries < 20 {
                prod = self.rng.weighted(&weights);
                tries += 1;
            }
            if !used.insert(prod) {
                continue;
            }
            lines.push(self.line_spec(prod, tier, ccy, date, allow_over));
        }
        lines
    }

    pub fn background_fulfil(&mut self, close: Date, n_lines: usize, partner: bool) -> Fulfil {
        let void = close <= add_days(self.a, -60) && self.rng.chance(0.04);
        let vl = self.rng.range(0, 3);
        let invoice_lag = if void {
            vl + self.rng.range(2, 8)
        } else {
            self.rng.range(0, 7)
        };
        let due_days = *self.rng.pick(&[30, 30, 45, 60]);
        let pay = if self.rng.chance(0.15) {
            let l1 = self.rng.range(5, due_days / 2);
            let l2 = self.rng.range(l1 + 1, due_days - 1);
            Pay {
                parts: vec![
                    (l1, Decimal::new(self.rng.range(30, 70), 2)),
                    (l2, Decimal::ONE),
                ],
                full: true,
            }
        } else {
            Pay {
                parts: vec![(self.rng.range(5, due_days - 1), Decimal::ONE)],
                full: true,
            }
        };
        let credit = if self.rng.chance(0.06) {
            Some(CreditSpec {
                frac: Decimal::new(self.rng.range(5, 20), 2),
                reason: Some(*self.rng.pick(&["return", "dispute"])),
                lag: self.rng.range(3, 25.min(due_days - 1)),
                reverse: true,
            })
        } else {
            None
        };
        Fulfil {
            invoice: true,
            invoice_lag,
            void_first: void.then_some(vl),
            // both halves must exist, or neither: split only deals closed well before as_of
            split_invoice: n_lines >= 2 && close <= add_days(self.a, -20) && self.rng.chance(0.04),
            due_days,
            pay,
            credit,
            adjust: Adjust::None,
            post: true,
            post_lag: self.rng.range(0, 2),
            post_split: self.rng.chance(0.1),
            payouts: true,
            dup_clawback: self.rng.chance(0.03),
            activations: true,
            reports: if partner && self.rng.chance(0.55) {
                Reports::Mixed
            } else {
                Reports::None
            },
            subscriptions: true,
            sub_start: None,
            approvals: true,
        }
    }

    /// A partner (by weight) whose agreement allows a close date in `[lo, hi]`,
    /// and such a date; None when the draw gives none.
    fn partner_and_close(&mut self, weights: &[f64], lo: Date, hi: Date) -> Option<(usize, Date)> {
        let p = self.rng.weighted(weights);
        let pi = &self.partners[p];
        let from = lo.max(pi.start);
        let to = pi.end.map_or(hi, |e| e.min(hi));
        if from > to {
            return None;
        }
        let span = (to - from).num_days();
        Some((p, add_days(from, self.rng.range(0, span))))
    }

    /// The clean background: deals of the last two years and all that follows them.
    pub fn background(&mut self) {
        let a = self.a;
        let n_deals = ((50_000.0 * self.scale * 0.8).round() as usize).max(150);
        let weights: Vec<f64> = self.partners.iter().map(|p| p.weight).collect();
        let (lo, hi) = (add_days(a, -720), add_days(a, -1));
        let mut queue = Vec::new();
        for _ in 0..n_deals {
            let roll = self.rng.unit();
            let (stage, kind) = match roll {
                x if x < 0.80 => ("closed_won", "past"),
                x if x < 0.87 => ("closed_lost", "past"),
                x if x < 0.95 => ("open", "open"),
                x if x < 0.96 => ("closed_won", "future"),
                x if x < 0.963 => ("closed_won", "free"),
                _ => ("closed_won", "past"),
            };
            let cust = self.pool_customer();
            let (partner, close) = match kind {
                "open" => {
                    let p = self.rng.weighted(&weights);
                    let p = (self.rng.chance(0.75) && self.partners[p].in_force(a)).then_some(p);
                    (p, None)
                }
                "future" => {
                    let d = add_days(a, self.rng.range(1, 30));
                    let p = self.rng.weighted(&weights);
                    let p = (self.rng.chance(0.75) && self.partners[p].in_force(d)).then_some(p);
                    (p, Some(d))
                }
                _ => {
                    let found = if self.rng.chance(0.75) {
                        self.partner_and_close(&weights, lo, hi)
                    } else {
                        None
                    };
                    match found {
                        Some((p, d)) => (Some(p), Some(d)),
                        None => (
                            None,
                            Some(add_days(lo, self.rng.range(0, (hi - lo).num_days()))),
                        ),
                    }
                }
            };
            let ccy = match partner {
                Some(p) if self.rng.chance(0.8) => self.partners[p].ccy.to_string(),
                _ => cust.ccy.to_string(),
            };
            let tier = self.tier_of(partner);
            let price_date = close.unwrap_or(a);
            let lines = if kind == "free" {
                // a free health check: fully discounted and approved, nothing to invoice
                let prod = self.prod_index("SVC-HC");
                let mut l = self.line_spec(prod, tier, &ccy, price_date, false);
                l.discount = r2(Decimal::ONE_HUNDRED);
                l.quantity = 1;
                vec![l]
            } else {
                self.random_lines(
                    tier,
                    &ccy,
                    price_date,
                    stage == "closed_won" || stage == "open",
                )
            };
            let spec = DealSpec {
                partner,
                customer: cust.id.clone(),
                currency: ccy,
                stage,
                close,
                deal_type: if self.rng.chance(0.8) {
                    "new"
                } else {
                    "expansion"
                },
                renewal_of: None,
                lines,
            };
            let mut f =
                self.background_fulfil(close.unwrap_or(a), spec.lines.len(), partner.is_some());
            if kind == "free" {
                f.invoice = false;
                f.void_first = None;
            }
            if kind == "future" {
                f.approvals = false;
            }
            let plan = self.build_deal(&spec, &f);
            let subs = self.commit(plan);
            queue.extend(subs);
        }
        self.renewals(queue);
        self.background_activations = self.snap.activations.len();
    }

    /// A deal that renews (or re-buys) a subscription, closing on `close`, its new
    /// subscription starting on `start`.
    fn renewal_deal(
        &mut self,
        sub: &Subscription,
        close: Date,
        renewal: bool,
        start: Date,
    ) -> std::ops::Range<usize> {
        let orig = sub.partner_id.as_ref().map(|id| self.partner_index[id]);
        let partner = orig.filter(|&p| self.partners[p].in_force(close));
        let tier = self.tier_of(partner);
        let prod = self.prod_index(&sub.sku);
        let mut line = self.line_spec(prod, tier, &sub.currency, close, false);
        line.quantity = if self.rng.chance(0.8) {
            sub.quantity
        } else {
            sub.quantity + (sub.quantity / 10).max(1)
        };
        line.term = Some(12);
        let spec = DealSpec {
            partner,
            customer: sub.customer_id.clone(),
            currency: sub.currency.clone(),
            stage: "closed_won",
            close: Some(close),
            deal_type: if renewal { "renewal" } else { "new" },
            renewal_of: renewal.then(|| sub.subscription_id.clone()),
            lines: vec![line],
        };
        let mut f = self.background_fulfil(close, 1, partner.is_some());
        f.sub_start = Some(start);
        f.activations = false;
        let plan = self.build_deal(&spec, &f);
        self.commit(plan)
    }

    /// Subscriptions that end are renewed (by a renewal deal or a new subscription of
    /// the same customer and sku), cancelled, or left to lapse; every one ending in
    /// [as_of − 200, as_of − 5] is renewed or cancelled, so missed_renewal stays quiet.
    fn renewals(&mut self, mut queue: Vec<usize>) {
        let a = self.a;
        let (lo, hi) = (add_days(a, -200), add_days(a, -5));
        let mut i = 0;
        while i < queue.len() {
            let si = queue[i];
            i += 1;
            let sub = self.snap.subscriptions[si].clone();
            let end = sub.end_date;
            if sub.start_date > a || end > add_days(a, 60) {
                continue;
            }
            let must = end >= lo && end <= hi;
            let roll = self.rng.unit();
            let action = if must {
                if roll < 0.10 {
                    "cancel"
                } else if roll < 0.62 || end > add_days(a, -25) {
                    "renewal"
                } else {
                    "new"
                }
            } else if end < lo {
                match roll {
                    x if x < 0.20 => "lapse",
                    x if x < 0.27 => "cancel",
                    x if x < 0.75 => "renewal",
                    _ => "new",
                }
            } else if roll < 0.5 {
                "renewal"
            } else {
                "lapse"
            };
            match action {
                "cancel" => {
                    self.snap.subscriptions[si].status = "cancelled".into();
                    if self.rng.chance(0.3) {
                        // the renewal the customer turned down
                        let close = add_days(end, -self.rng.range(5, 30));
                        let orig = sub.partner_id.as_ref().map(|id| self.partner_index[id]);
                        let partner = orig.filter(|&p| self.partners[p].in_force(close));
                        let tier = self.tier_of(partner);
                        let prod = self.prod_index(&sub.sku);
                        let mut line = self.line_spec(prod, tier, &sub.currency, close, false);
                        line.term = Some(12);
                        let spec = DealSpec {
                            partner,
                            customer: sub.customer_id.clone(),
                            currency: sub.currency.clone(),
                            stage: "closed_lost",
                            close: Some(close),
                            deal_type: "renewal",
                            renewal_of: Some(sub.subscription_id.clone()),
                            lines: vec![line],
                        };
                        let f = self.background_fulfil(close, 1, false);
                        let plan = self.build_deal(&spec, &f);
                        self.commit(plan);
                    }
                }
                "renewal" => {
                    let close = add_days(end, -self.rng.range(5, 45));
                    let start = if self.rng.chance(0.85) {
                        add_days(end, 1)
                    } else {
                        add_days(end, self.rng.range(30, 60))
                    };
                    let subs = self.renewal_deal(&sub, close, true, start);
                    queue.extend(subs);
                }
                "new" => {
                    let start = add_days(end, 1 + self.rng.range(-7, 7));
                    let close = add_days(start.min(add_days(end, 1)), -self.rng.range(3, 20));
                    let subs = self.renewal_deal(&sub, close, false, start);
                    queue.extend(subs);
                }
                _ => {}
            }
        }
    }
}
