//! Planted cases of checks 2–14: each one a fresh deal (or report line, or set of
//! activations) built clean and then given exactly one defect, with its expected
//! leakage computed per docs/checks.md.

use super::deals::*;
use super::model::*;
use super::world::*;
use chrono::NaiveDate as Date;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

impl Gen {
    /// A partner for case `i` (cycling platinum, gold, silver, registered, direct when
    /// allowed) in force on `date`, satisfying `pred`.
    pub fn case_partner(
        &mut self,
        i: usize,
        date: Date,
        allow_direct: bool,
        pred: impl Fn(&Gen, usize) -> bool,
    ) -> Option<usize> {
        let slot = i % 5;
        if slot == 4 && allow_direct {
            return None;
        }
        let tier = TIERS[slot % 4];
        let ok = |g: &Gen, p: usize, with_tier: bool| {
            let pi = &g.partners[p];
            pi.weight > 0.0 && pi.in_force(date) && (!with_tier || pi.tier == tier) && pred(g, p)
        };
        let mut cands: Vec<usize> = (0..self.partners.len())
            .filter(|&p| ok(self, p, true))
            .collect();
        if cands.is_empty() {
            cands = (0..self.partners.len())
                .filter(|&p| ok(self, p, false))
                .collect();
        }
        if cands.is_empty() {
            return None;
        }
        Some(*self.rng.pick(&cands))
    }

    pub fn plain_fulfil(&mut self) -> Fulfil {
        Fulfil {
            invoice: true,
            invoice_lag: self.rng.range(0, 5),
            void_first: None,
            split_invoice: false,
            due_days: 30,
            pay: Pay {
                parts: vec![(self.rng.range(8, 20), Decimal::ONE)],
                full: true,
            },
            credit: None,
            adjust: Adjust::None,
            post: true,
            post_lag: self.rng.range(0, 1),
            post_split: false,
            payouts: true,
            dup_clawback: false,
            activations: true,
            reports: Reports::None,
            subscriptions: true,
            sub_start: None,
            approvals: true,
        }
    }

    fn spec(
        &mut self,
        partner: Option<usize>,
        customer: String,
        ccy: &str,
        stage: &'static str,
        close: Option<Date>,
        lines: Vec<LineSpec>,
    ) -> DealSpec {
        DealSpec {
            partner,
            customer,
            currency: ccy.into(),
            stage,
            close,
            deal_type: "new",
            renewal_of: None,
            lines,
        }
    }

    /// Random lines within policy, 12-month or longer terms (planted deals close
    /// after as_of − 330, so their subscriptions end after as_of + 35).
    fn clean_lines(&mut self, partner: Option<usize>, ccy: &str, date: Date) -> Vec<LineSpec> {
        let tier = self.tier_of(partner);
        self.random_lines(tier, ccy, date, false)
    }

    /// Lines whose value is an even number of currency units (quantities in twenties,
    /// discounts 0 or 10 %), so that any commission rate (at most one decimal) gives
    /// exact cents.
    fn exact_lines(&mut self, partner: Option<usize>, ccy: &str, date: Date) -> Vec<LineSpec> {
        let tier = self.tier_of(partner);
        let subs: Vec<usize> = (0..self.prods.len())
            .filter(|&p| self.prods[p].activates)
            .collect();
        let n = self.rng.range(1, 2) as usize;
        let mut lines: Vec<LineSpec> = Vec::new();
        while lines.len() < n {
            let prod = *self.rng.pick(&subs);
            if lines.iter().any(|l| l.prod == prod) {
                continue;
            }
            let max = self.policy_max(tier, self.prods[prod].family, date);
            let discount = if max >= dec(10) && self.rng.chance(0.5) {
                dec(10)
            } else {
                Decimal::ZERO
            };
            lines.push(LineSpec {
                prod,
                quantity: 20 * self.rng.range(1, 8),
                list_price: self.price_at(self.prods[prod].sku, ccy, date),
                discount: r2(discount),
                term: Some(12),
            });
        }
        lines
    }

    pub fn plant_all(&mut self) {
        let n = self.cases;
        for i in 0..n {
            self.plant_missing_invoice(i);
            self.plant_late_invoice(i);
            self.plant_under_billing(i);
            self.plant_unauthorized_discount(i);
            self.plant_stale_pricing(i);
            self.plant_missed_renewal(i);
            self.plant_unreported_usage(i);
            self.plant_unbilled_partner_sale(i);
            self.plant_payment_gap(i);
            self.plant_erp_posting_gap(i);
            self.plant_unexplained_credit(i);
        }
        self.plant_commissions(n);
    }

    fn plant_missing_invoice(&mut self, i: usize) {
        let close = self.ago(45, 330);
        let partner = self.case_partner(i, close, true, |_, _| true);
        let ccy = CURRENCIES[i % 3];
        let customer = self.pool_customer().id;
        let lines = self.clean_lines(partner, ccy, close);
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        f.invoice = false;
        f.subscriptions = false;
        if i % 3 == 1 {
            // invoiced, then the invoice was voided and never reissued
            f.void_first = Some(self.rng.range(1, 10));
        }
        let plan = self.build_deal(&spec, &f);
        let leak = self.fx.conv(plan.value, ccy, close);
        self.record("missing_invoice", "deal", plan.id(), leak);
        self.commit(plan);
    }

    fn plant_late_invoice(&mut self, i: usize) {
        let lag = self.rng.range(40, 110);
        let close = self.ago(lag + 45, 330);
        let partner = self.case_partner(i + 1, close, true, |_, _| true);
        let ccy = CURRENCIES[(i + 1) % 3];
        let customer = self.pool_customer().id;
        let lines = self.clean_lines(partner, ccy, close);
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        f.invoice_lag = lag;
        if i % 3 == 2 {
            // an invoice issued on time but voided; the reissue came late
            f.void_first = Some(self.rng.range(1, 10));
        }
        f.reports = if partner.is_some() && i.is_multiple_of(2) {
            Reports::WithDeal
        } else {
            Reports::None
        };
        let plan = self.build_deal(&spec, &f);
        self.record("late_invoice", "deal", plan.id(), Decimal::ZERO);
        self.commit(plan);
    }

    fn plant_under_billing(&mut self, i: usize) {
        let close = self.ago(40, 330);
        let partner = self.case_partner(i + 2, close, true, |_, _| true);
        let ccy = CURRENCIES[(i + 2) % 3];
        let customer = self.pool_customer().id;
        let tier = self.tier_of(partner);
        let mut lines = self.clean_lines(partner, ccy, close);
        let has_free_service = (0..self.prods.len()).any(|p| {
            self.prods[p].family == "services"
                && !self.prods[p].subscription
                && !lines.iter().any(|l| l.prod == p)
        });
        let variant = if i.is_multiple_of(3) && !has_free_service {
            1
        } else {
            i % 3
        };
        let adjust = match variant {
            0 => {
                // a services line never billed
                let svc: Vec<usize> = (0..self.prods.len())
                    .filter(|&p| self.prods[p].family == "services" && !self.prods[p].subscription)
                    .filter(|&p| !lines.iter().any(|l| l.prod == p))
                    .collect();
                let prod = *self.rng.pick(&svc);
                let l = self.line_spec(prod, tier, ccy, close, false);
                lines.push(l);
                Adjust::OmitLine(lines.len() - 1)
            }
            1 => {
                let k = largest_line(&lines);
                Adjust::ExtraDiscount(k, self.rng.range(5, 15))
            }
            _ => {
                let k = largest_line(&lines);
                let lp = lines[k].list_price.to_f64().unwrap_or(0.0);
                let lower = (lp * self.rng.uniform(0.7, 0.95)).floor() as i64;
                Adjust::UnitPrice(k, r2(dec(lower)))
            }
        };
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        f.adjust = adjust;
        f.reports = if partner.is_some() && i % 2 == 1 {
            Reports::WithDeal
        } else {
            Reports::None
        };
        let plan = self.build_deal(&spec, &f);
        let gap = plan.value - plan.billed();
        assert!(gap > dec(5), "under_billing gap {gap}");
        let leak = self.fx.conv(gap, ccy, close);
        self.record("under_billing", "deal", plan.id(), leak);
        self.commit(plan);
    }

    fn plant_unauthorized_discount(&mut self, i: usize) {
        let close = self.ago(40, 330);
        let partner = self.case_partner(i + 3, close, true, |_, _| true);
        let ccy = CURRENCIES[(i + 1) % 3];
        let customer = self.pool_customer().id;
        let tier = self.tier_of(partner);
        let mut lines = self.clean_lines(partner, ccy, close);
        let k = self.rng.below(lines.len() as u64) as usize;
        let max = self.policy_max(tier, self.prods[lines[k].prod].family, close);
        let over = dec(self.rng.range(3, 12));
        let mut approval: Option<(Decimal, Date, Option<Date>)> = None;
        let (discount, allowed) = match i % 4 {
            0 => (max + over, max),
            1 => {
                // approved, but for less than was given
                let appr = max + dec(self.rng.range(2, 6));
                let expires = if self.rng.chance(0.5) {
                    None
                } else {
                    Some(add_days(close, self.rng.range(30, 90)))
                };
                approval = Some((appr, add_days(close, -self.rng.range(3, 20)), expires));
                (appr + dec(self.rng.range(3, 10)), appr)
            }
            2 => {
                // approved enough, but the approval expired before the close
                let d = max + over;
                let expires = add_days(close, -self.rng.range(10, 40));
                approval = Some((
                    d + dec(self.rng.range(0, 5)),
                    add_days(close, -self.rng.range(60, 120)),
                    Some(expires),
                ));
                (d, max)
            }
            _ => {
                // approved enough, but only after the deal closed
                let d = max + over;
                approval = Some((
                    d + dec(self.rng.range(0, 5)),
                    add_days(close, self.rng.range(3, 15)),
                    None,
                ));
                (d, max)
            }
        };
        lines[k].discount = r2(discount);
        let (q, lp) = (lines[k].quantity, lines[k].list_price);
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        f.approvals = false;
        let mut plan = self.build_deal(&spec, &f);
        if let Some((pct, approved, expires)) = approval {
            plan.approvals.push(Approval {
                approval_id: self.ids.approval(),
                deal_id: plan.id(),
                approved_discount_pct: r2(pct),
                approved_date: approved,
                expires_date: expires,
            });
        }
        let leak_dc = dec(q) * lp * (discount - allowed) / HUNDRED;
        debug_assert!(is_cents(leak_dc));
        let leak = self.fx.conv(leak_dc, ccy, close);
        self.record(
            "unauthorized_discount",
            "deal_line",
            format!("{}:{}", plan.id(), k + 1),
            leak,
        );
        self.commit(plan);
    }

    fn plant_stale_pricing(&mut self, i: usize) {
        let a = self.a;
        let cands: Vec<(usize, Date)> = (0..self.prods.len())
            .filter_map(|p| self.price_changes[p].last().map(|c| (p, *c)))
            .filter(|(_, c)| *c <= add_days(a, -75))
            .collect();
        let (prod, change) = cands[i % cands.len()];
        let span = (add_days(a, -40) - add_days(change, 30)).num_days();
        let close = add_days(change, 30 + self.rng.range(0, span));
        let partner = self.case_partner(i + 4, close, true, |_, _| true);
        let ccy = CURRENCIES[i % 3];
        let customer = self.pool_customer().id;
        let tier = self.tier_of(partner);
        let sku = self.prods[prod].sku;
        let stale = self.price_at(sku, ccy, add_days(change, -1));
        let current = self.price_at(sku, ccy, close);
        let max = self.policy_max(tier, self.prods[prod].family, close);
        let discount = r2(dec(self.rng.range(0, max.floor().to_i64().unwrap_or(0))));
        let mut lines = self.clean_lines(partner, ccy, close);
        lines.retain(|l| l.prod != prod);
        let quantity = self
            .rng
            .log_range(self.prods[prod].qty.0, self.prods[prod].qty.1);
        let term = self.prods[prod].subscription.then_some(12);
        let k = self.rng.range(0, lines.len() as i64) as usize;
        lines.insert(
            k,
            LineSpec {
                prod,
                quantity,
                list_price: stale,
                discount,
                term,
            },
        );
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let f = self.plain_fulfil();
        let plan = self.build_deal(&spec, &f);
        let leak_dc = dec(quantity) * (current - stale) * (HUNDRED - discount) / HUNDRED;
        debug_assert!(is_cents(leak_dc) && current - stale > dec(1));
        let leak = self.fx.conv(leak_dc, ccy, close);
        self.record(
            "stale_pricing",
            "deal_line",
            format!("{}:{}", plan.id(), k + 1),
            leak,
        );
        self.commit(plan);
    }

    /// Expected and actual commission of a payout group of a plan (deal currency).
    fn payout_group(&self, plan: &DealPlan, level: i64, partner: usize) -> (Decimal, Decimal) {
        let close = plan.close();
        let pid = &self.partners[partner].id;
        let actual: Decimal = plan
            .payouts
            .iter()
            .filter(|p| p.level == level && &p.partner_id == pid)
            .map(|p| p.amount)
            .sum();
        let entitled = plan
            .partner
            .map(|dp| self.commission_rates(dp, close))
            .unwrap_or_default()
            .into_iter()
            .find(|(q, l, _)| *q == partner && *l == level);
        let expected = entitled.map_or(Decimal::ZERO, |(_, _, rate)| {
            plan.collected() * rate / HUNDRED
        });
        (expected, actual)
    }

    fn record_over(&mut self, plan: &DealPlan, level: i64, partner: usize) {
        let (expected, actual) = self.payout_group(plan, level, partner);
        assert!(
            is_cents(expected) && actual - expected > dec(2),
            "overpayment {actual} vs {expected}"
        );
        let leak = self.fx.conv(actual - expected, &plan.ccy(), plan.close());
        self.record(
            "commission_overpayment",
            "payout_group",
            format!("{}:{level}:{}", plan.id(), self.partners[partner].id),
            leak,
        );
    }

    fn record_under(&mut self, plan: &DealPlan, level: i64, partner: usize) {
        let (expected, actual) = self.payout_group(plan, level, partner);
        assert!(
            expected - actual > dec(2),
            "underpayment {actual} vs {expected}"
        );
        self.record(
            "commission_underpayment",
            "payout_group",
            format!("{}:{level}:{}", plan.id(), self.partners[partner].id),
            Decimal::ZERO,
        );
    }

    /// A clean, paid partner deal for a commission case (exact-cent commissions).
    fn commission_deal(
        &mut self,
        i: usize,
        close: Date,
        need_parent: bool,
        f: Option<Fulfil>,
    ) -> DealPlan {
        let partner = self.case_partner(i, close, false, move |g, p| {
            !need_parent
                || g.partners[p]
                    .parent
                    .is_some_and(|q| g.partners[q].in_force(close))
        });
        let partner = partner.expect("a partner for a commission case");
        let ccy = CURRENCIES[(i + 2) % 3];
        let customer = self.pool_customer().id;
        let lines = self.exact_lines(Some(partner), ccy, close);
        let spec = self.spec(
            Some(partner),
            customer,
            ccy,
            "closed_won",
            Some(close),
            lines,
        );
        let f = match f {
            Some(f) => f,
            None => self.plain_fulfil(),
        };
        self.build_deal(&spec, &f)
    }

    fn level_payout(plan: &DealPlan, level: i64) -> usize {
        plan.payouts
            .iter()
            .position(|p| p.level == level)
            .expect("payout at level")
    }

    fn other_partner(&mut self, not: &[usize], prefer_distributor: bool) -> usize {
        let mut cands: Vec<usize> = (0..self.partners.len())
            .filter(|p| {
                !not.contains(p)
                    && self.partners[*p].weight > 0.0
                    && (!prefer_distributor || self.partners[*p].distributor)
            })
            .collect();
        if cands.is_empty() {
            cands = (0..self.partners.len())
                .filter(|p| !not.contains(p))
                .collect();
        }
        *self.rng.pick(&cands)
    }

    fn plant_commissions(&mut self, n: usize) {
        const OVER: [&str; 9] = [
            "wrong_rate_1",
            "wrong_partner_1",
            "duplicate_2",
            "unpaid_1",
            "wrong_rate_2",
            "duplicate_1",
            "unbilled_1",
            "wrong_partner_2",
            "terminated_1",
        ];
        let mut wrong_partner = 0;
        for i in 0..n {
            let mut kind = OVER[i % OVER.len()];
            let terminated: Vec<usize> = (0..self.partners.len())
                .filter(|&p| self.partners[p].terminated && self.partners[p].parent.is_none())
                .filter(|&p| {
                    self.partners[p]
                        .end
                        .is_some_and(|e| e <= add_days(self.a, -120))
                })
                .collect();
            if kind == "terminated_1" && terminated.is_empty() {
                kind = "wrong_rate_1";
            }
            match kind {
                "wrong_rate_1" | "wrong_rate_2" | "duplicate_1" | "duplicate_2" => {
                    let level = if kind.ends_with('2') { 2 } else { 1 };
                    let close = self.ago(40, 330);
                    let mut plan = self.commission_deal(i, close, level == 2, None);
                    let j = Self::level_payout(&plan, level);
                    let paid_to = self.partner_index[&plan.payouts[j].partner_id];
                    if kind.starts_with("wrong_rate") {
                        // the commission system applied a higher rate than the plan's
                        let rate = plan.payouts[j].rate_pct + dec(self.rng.range(1, 4));
                        let pay = plan.payments[0].amount;
                        plan.payouts[j].rate_pct = r2(rate);
                        plan.payouts[j].amount = r2(pay * rate / HUNDRED);
                    } else {
                        let mut dup = plan.payouts[j].clone();
                        dup.payout_id = self.ids.payout();
                        dup.payout_date = add_days(
                            dup.payout_date,
                            self.rng
                                .range(0, 10)
                                .min((self.a - dup.payout_date).num_days()),
                        );
                        plan.payouts.push(dup);
                    }
                    self.record_over(&plan, level, paid_to);
                    self.commit(plan);
                }
                "wrong_partner_1" | "wrong_partner_2" => {
                    let level = if kind.ends_with('2') { 2 } else { 1 };
                    let close = self.ago(40, 330);
                    let mut plan = self.commission_deal(i, close, level == 2, None);
                    let j = Self::level_payout(&plan, level);
                    let right = self.partner_index[&plan.payouts[j].partner_id];
                    let deal_partner = plan.partner.expect("partner deal");
                    let mut not = vec![right, deal_partner];
                    not.extend(self.partners[deal_partner].parent);
                    let wrong = self.other_partner(&not, level == 2);
                    plan.payouts[j].partner_id = self.partners[wrong].id.clone();
                    self.record_over(&plan, level, wrong);
                    self.record_under(&plan, level, right);
                    wrong_partner += 1;
                    self.commit(plan);
                }
                "unpaid_1" => {
                    // invoiced recently, not yet due, commission paid on booking
                    let close = self.ago(12, 20);
                    let mut f = self.plain_fulfil();
                    f.invoice_lag = self.rng.range(0, 3);
                    f.pay = Pay {
                        parts: vec![],
                        full: false,
                    };
                    let mut plan = self.commission_deal(i, close, false, Some(f));
                    let p = plan.partner.expect("partner deal");
                    let rate = self.plan_rate(self.partners[p].tier, 1, close);
                    let date = add_days(plan.first_invoice().invoice_date, self.rng.range(1, 4));
                    let po =
                        self.new_payout(&plan, p, 1, rate, r2(plan.value * rate / HUNDRED), date);
                    plan.payouts.push(po);
                    self.record_over(&plan, 1, p);
                    self.commit(plan);
                }
                "unbilled_1" => {
                    // closed a few days ago, not invoiced yet (within grace), commission paid
                    let close = self.ago(8, 20);
                    let mut f = self.plain_fulfil();
                    f.invoice = false;
                    f.subscriptions = false;
                    let mut plan = self.commission_deal(i, close, false, Some(f));
                    let p = plan.partner.expect("partner deal");
                    let rate = self.plan_rate(self.partners[p].tier, 1, close);
                    let date = add_days(close, self.rng.range(1, 4));
                    let po =
                        self.new_payout(&plan, p, 1, rate, r2(plan.value * rate / HUNDRED), date);
                    plan.payouts.push(po);
                    self.record_over(&plan, 1, p);
                    self.commit(plan);
                }
                _ => {
                    // a deal registered to a partner after its agreement ended, commission paid
                    let p = *self.rng.pick(&terminated);
                    let end = self.partners[p].end.expect("terminated");
                    let span = (add_days(self.a, -40) - add_days(end, 30)).num_days();
                    let close = add_days(end, 30 + self.rng.range(0, span));
                    let ccy = CURRENCIES[i % 3];
                    let customer = self.pool_customer().id;
                    let lines = self.exact_lines(Some(p), ccy, close);
                    let spec = self.spec(Some(p), customer, ccy, "closed_won", Some(close), lines);
                    let f = self.plain_fulfil();
                    let mut plan = self.build_deal(&spec, &f);
                    assert!(plan.payouts.is_empty());
                    let rate = self.plan_rate(self.partners[p].tier, 1, close);
                    let pay = plan.payments[0].clone();
                    let po = self.new_payout(
                        &plan,
                        p,
                        1,
                        rate,
                        r2(pay.amount * rate / HUNDRED),
                        pay.payment_date,
                    );
                    plan.payouts.push(po);
                    self.record_over(&plan, 1, p);
                    self.commit(plan);
                }
            }
        }
        const UNDER: [&str; 5] = [
            "missing_1",
            "missing_2",
            "low_rate_1",
            "partial_1",
            "low_rate_2",
        ];
        for i in 0..n.saturating_sub(wrong_partner) {
            let kind = UNDER[i % UNDER.len()];
            let level = if kind.ends_with('2') { 2 } else { 1 };
            let close = self.ago(40, 330);
            let f = if kind == "partial_1" {
                let mut f = self.plain_fulfil();
                f.pay = Pay {
                    parts: vec![
                        (
                            self.rng.range(5, 12),
                            Decimal::new(self.rng.range(40, 60), 2),
                        ),
                        (self.rng.range(15, 28), Decimal::ONE),
                    ],
                    full: true,
                };
                Some(f)
            } else {
                None
            };
            let mut plan = self.commission_deal(i + 1, close, level == 2, f);
            let j = Self::level_payout(&plan, level);
            let right = self.partner_index[&plan.payouts[j].partner_id];
            match kind {
                "missing_1" | "missing_2" => plan.payouts.retain(|p| p.level != level),
                "partial_1" => {
                    let second = plan.payments[1].payment_date;
                    plan.payouts
                        .retain(|p| !(p.level == 1 && p.payout_date == second));
                }
                _ => {
                    let pay = plan.payments[0].amount;
                    let rate = plan.payouts[j].rate_pct - Decimal::ONE;
                    plan.payouts[j].rate_pct = r2(rate);
                    plan.payouts[j].amount = r2(pay * rate / HUNDRED);
                }
            }
            self.record_under(&plan, level, right);
            self.commit(plan);
        }
    }

    fn plant_missed_renewal(&mut self, i: usize) {
        let variant = i % 6;
        let end0 = if variant == 5 {
            self.ago(135, 165)
        } else {
            self.ago(30, 165)
        };
        let start = add_months(add_days(end0, 1), -12);
        let end = term_end(start, 12);
        let close = add_days(start, -self.rng.range(0, 5));
        let partner = self.case_partner(i, close, true, |_, _| true);
        let ccy = CURRENCIES[(i + 1) % 3];
        let customer = self.fresh_customer();
        let tier = self.tier_of(partner);
        let subs: Vec<usize> = (0..self.prods.len())
            .filter(|&p| self.prods[p].activates)
            .collect();
        let prod = subs[i % subs.len()];
        let mut line = self.line_spec(prod, tier, ccy, close, false);
        line.term = Some(12);
        let mut lines = vec![line];
        if i % 2 == 1 {
            let prod = self.prod_index("SVC-ONB");
            lines.push(self.line_spec(prod, tier, ccy, close, false));
        }
        let spec = self.spec(
            partner,
            customer.clone(),
            ccy,
            "closed_won",
            Some(close),
            lines,
        );
        let mut f = self.plain_fulfil();
        f.sub_start = Some(start);
        f.reports = if partner.is_some() {
            Reports::WithDeal
        } else {
            Reports::None
        };
        let mut plan = self.build_deal(&spec, &f);
        let (auto_renew, status) = match variant {
            0 => (true, "expired"),
            1 => (false, "expired"),
            2 => (true, "active"),
            _ => (self.rng.chance(0.5), "expired"),
        };
        let sub = &mut plan.subscriptions[0];
        sub.auto_renew = auto_renew;
        sub.status = status.into();
        assert_eq!(sub.end_date, end);
        let (sub_id, value) = (sub.subscription_id.clone(), sub.annual_value);
        self.commit(plan);
        match variant {
            3 | 4 => {
                // a renewal deal that was lost, or is still open
                let (stage, rclose) = if variant == 3 {
                    ("closed_lost", Some(add_days(end, -self.rng.range(5, 30))))
                } else {
                    ("open", None)
                };
                let date = rclose.unwrap_or(self.a);
                let rpartner = partner.filter(|&p| self.partners[p].in_force(date));
                let tier = self.tier_of(rpartner);
                let mut line = self.line_spec(prod, tier, ccy, date, false);
                line.term = Some(12);
                let mut spec = self.spec(rpartner, customer, ccy, stage, rclose, vec![line]);
                spec.deal_type = "renewal";
                spec.renewal_of = Some(sub_id.clone());
                let f = self.plain_fulfil();
                let plan = self.build_deal(&spec, &f);
                self.commit(plan);
            }
            5 => {
                // the customer bought the sku again, but months after the end
                let start2 = add_days(end, 1 + self.rng.range(60, 90));
                let close2 = add_days(start2, -self.rng.range(0, 5));
                let rpartner = partner.filter(|&p| self.partners[p].in_force(close2));
                let tier = self.tier_of(rpartner);
                let mut line = self.line_spec(prod, tier, ccy, close2, false);
                line.term = Some(12);
                let spec = self.spec(
                    rpartner,
                    customer,
                    ccy,
                    "closed_won",
                    Some(close2),
                    vec![line],
                );
                let mut f = self.plain_fulfil();
                f.sub_start = Some(start2);
                let plan = self.build_deal(&spec, &f);
                self.commit(plan);
            }
            _ => {}
        }
        let leak = self.fx.conv(value, ccy, end);
        self.record("missed_renewal", "subscription", sub_id, leak);
    }

    fn plant_unreported_usage(&mut self, i: usize) {
        let a = self.a;
        let customer = self.fresh_customer();
        let subs: Vec<usize> = (0..self.prods.len())
            .filter(|&p| self.prods[p].activates)
            .collect();
        let prod = subs[(i * 3 + 1) % subs.len()];
        let sku = self.prods[prod].sku.to_string();
        let excess = self.rng.range(3, 40);
        let ccy = CURRENCIES[(i + 2) % 3];
        let mut acts: Vec<(Option<usize>, i64, Date)> = Vec::new();
        match i % 3 {
            1 => {
                // seats switched on by a partner for a customer the vendor never sold to
                let p = self.case_partner(i, a, false, |_, _| true);
                let d1 = self.ago(60, 200);
                if excess >= 6 && self.rng.chance(0.5) {
                    let x = self.rng.range(1, excess - 1);
                    acts.push((p, x, d1));
                    acts.push((p, excess - x, add_days(d1, self.rng.range(5, 50))));
                } else {
                    acts.push((p, excess, d1));
                }
            }
            v => {
                let n_deals = if v == 0 { 1 } else { 2 };
                let mut entitled = 0;
                let mut last_inv = add_days(a, -1000);
                let mut partner = None;
                for d in 0..n_deals {
                    let close = if d == 0 {
                        self.ago(120, 330)
                    } else {
                        self.ago(60, 110)
                    };
                    partner = self.case_partner(i + d, close, true, |_, _| true);
                    let tier = self.tier_of(partner);
                    let mut line = self.line_spec(prod, tier, ccy, close, false);
                    line.quantity = line.quantity.max(10);
                    line.term = Some(12);
                    entitled += line.quantity;
                    let spec = self.spec(
                        partner,
                        customer.clone(),
                        ccy,
                        "closed_won",
                        Some(close),
                        vec![line],
                    );
                    let mut f = self.plain_fulfil();
                    f.activations = false;
                    let plan = self.build_deal(&spec, &f);
                    last_inv = last_inv.max(plan.first_invoice().invoice_date);
                    self.commit(plan);
                }
                let d1 = add_days(last_inv, self.rng.range(1, 10));
                acts.push((partner, entitled, d1));
                acts.push((partner, excess, add_days(d1, self.rng.range(10, 30))));
            }
        }
        for (p, q, d) in acts {
            let activation = Activation {
                activation_id: self.ids.activation(),
                customer_id: customer.clone(),
                partner_id: p.map(|p| self.partners[p].id.clone()),
                sku: sku.clone(),
                quantity: q,
                activated_date: d,
            };
            assert!(d <= a);
            self.snap.activations.push(activation);
        }
        let price = self.price_at(&sku, "USD", a);
        self.record(
            "unreported_usage",
            "customer_sku",
            format!("{customer}:{sku}"),
            dec(excess) * price,
        );
    }

    fn plant_unbilled_partner_sale(&mut self, i: usize) {
        let a = self.a;
        let variant = i % 6;
        let customer = self.fresh_customer();
        let ccy = CURRENCIES[i % 3];
        let (p, deal_id, sku, quantity, unit_price, rccy, sale) = match variant {
            0 | 2 | 4 => {
                // the report names a deal that is open, lost, or closed but not invoiced yet
                let (stage, close) = match variant {
                    0 => ("open", None),
                    2 => ("closed_lost", Some(self.ago(30, 200))),
                    _ => ("closed_won", Some(self.ago(8, 20))),
                };
                let date = close.unwrap_or(a);
                let p = self
                    .case_partner(i, date, false, |_, _| true)
                    .expect("partner");
                let lines = self.clean_lines(Some(p), ccy, date);
                let spec = self.spec(Some(p), customer.clone(), ccy, stage, close, lines);
                let mut f = self.plain_fulfil();
                f.invoice = false;
                f.subscriptions = false;
                f.payouts = false;
                let plan = self.build_deal(&spec, &f);
                let dl = plan.lines[0].clone();
                let sale = close.unwrap_or_else(|| add_days(a, -self.rng.range(20, 90)));
                let out = (
                    p,
                    Some(plan.id()),
                    dl.sku.clone(),
                    dl.quantity,
                    r2(dl.net_amount / dec(dl.quantity)),
                    ccy,
                    sale,
                );
                self.commit(plan);
                out
            }
            1 => {
                // a sale the vendor knows nothing about
                let sale = self.ago(20, 300);
                let p = self
                    .case_partner(i, sale, false, |_, _| true)
                    .expect("partner");
                let prod = self.rng.below(self.prods.len() as u64) as usize;
                let l = self.line_spec(prod, self.partners[p].tier, ccy, sale, false);
                let unit = r2(l.list_price * (HUNDRED - l.discount) / HUNDRED);
                (
                    p,
                    None,
                    self.prods[prod].sku.to_string(),
                    l.quantity,
                    unit,
                    ccy,
                    sale,
                )
            }
            3 | 5 => {
                // the customer was billed for the sku, but far from this sale, or billed
                // to another partner
                let close = if variant == 3 {
                    self.ago(140, 330)
                } else {
                    self.ago(40, 330)
                };
                let q = self
                    .case_partner(i + 1, close, false, |_, _| true)
                    .expect("partner");
                let lines = self.clean_lines(Some(q), ccy, close);
                let spec = self.spec(
                    Some(q),
                    customer.clone(),
                    ccy,
                    "closed_won",
                    Some(close),
                    lines,
                );
                let f = self.plain_fulfil();
                let plan = self.build_deal(&spec, &f);
                let dl = plan.lines[0].clone();
                let inv_date = plan.first_invoice().invoice_date;
                self.commit(plan);
                let (p, sale) = if variant == 3 {
                    (q, add_days(inv_date, self.rng.range(90, 120)))
                } else {
                    let mut not = vec![q];
                    not.extend(self.partners[q].parent);
                    let p = loop {
                        let p = self.other_partner(&not, false);
                        if self.partners[p].parent != Some(q) {
                            break p;
                        }
                        not.push(p);
                    };
                    (p, close)
                };
                (
                    p,
                    None,
                    dl.sku.clone(),
                    dl.quantity,
                    r2(dl.net_amount / dec(dl.quantity)),
                    ccy,
                    sale,
                )
            }
            _ => unreachable!(),
        };
        let reported = add_days(sale, self.rng.range(1, 15)).min(a);
        let report = ReportLine {
            report_line_id: self.ids.report(),
            partner_id: self.partners[p].id.clone(),
            deal_id,
            customer_id: customer,
            sku,
            quantity,
            unit_price,
            currency: rccy.into(),
            sale_date: sale,
            reported_date: reported,
        };
        let leak = self.fx.conv(dec(quantity) * unit_price, rccy, sale);
        self.record(
            "unbilled_partner_sale",
            "report_line",
            report.report_line_id.clone(),
            leak,
        );
        self.snap.reports.push(report);
    }

    fn plant_payment_gap(&mut self, i: usize) {
        let close = self.ago(120, 330);
        let partner = self.case_partner(i + 2, close, true, |_, _| true);
        let ccy = CURRENCIES[(i + 1) % 3];
        let customer = self.pool_customer().id;
        let lines = self.clean_lines(partner, ccy, close);
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        let frac = |g: &mut Gen, lo: i64, hi: i64| Decimal::new(g.rng.range(lo, hi), 2);
        f.pay = match i % 4 {
            0 => Pay {
                parts: vec![],
                full: false,
            },
            1 => Pay {
                parts: vec![(self.rng.range(8, 20), frac(self, 30, 70))],
                full: false,
            },
            2 => {
                f.credit = Some(CreditSpec {
                    frac: frac(self, 10, 30),
                    reason: Some("dispute"),
                    lag: self.rng.range(5, 20),
                    reverse: true,
                });
                Pay {
                    parts: vec![(self.rng.range(8, 20), frac(self, 30, 60))],
                    full: false,
                }
            }
            _ => Pay {
                parts: vec![
                    (self.rng.range(5, 12), frac(self, 20, 40)),
                    (self.rng.range(15, 25), frac(self, 20, 40)),
                ],
                full: false,
            },
        };
        let plan = self.build_deal(&spec, &f);
        let inv = plan.first_invoice().clone();
        let credits: Decimal = plan.credit_notes.iter().map(|c| c.amount).sum();
        let outstanding = inv.total_amount - plan.collected() - credits;
        assert!(outstanding > dec(5));
        let leak = self.fx.conv(outstanding, ccy, inv.invoice_date);
        self.record("payment_gap", "invoice", inv.invoice_id, leak);
        self.commit(plan);
    }

    fn plant_erp_posting_gap(&mut self, i: usize) {
        let close = self.ago(40, 330);
        let partner = self.case_partner(i + 3, close, true, |_, _| true);
        let ccy = CURRENCIES[(i + 2) % 3];
        let customer = self.pool_customer().id;
        let lines = self.clean_lines(partner, ccy, close);
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        let variant = i % 5;
        match variant {
            0 => f.post = false,
            1 => f.post_split = true,
            3 => {
                f.credit = Some(CreditSpec {
                    frac: Decimal::new(self.rng.range(5, 20), 2),
                    reason: Some("return"),
                    lag: self.rng.range(3, 20),
                    reverse: false,
                })
            }
            _ => {}
        }
        let mut plan = self.build_deal(&spec, &f);
        let inv = plan.first_invoice().clone();
        match variant {
            1 => {
                // only part of the invoice reached the ledger
                let last = plan
                    .postings
                    .iter()
                    .rposition(|p| p.invoice_id == inv.invoice_id)
                    .expect("posting");
                plan.postings.remove(last);
            }
            2 => {
                // posted twice
                let mut dup = plan
                    .postings
                    .iter()
                    .find(|p| p.invoice_id == inv.invoice_id)
                    .expect("posting")
                    .clone();
                dup.posting_id = self.ids.posting();
                dup.posting_date = add_days(dup.posting_date, self.rng.range(0, 3));
                plan.postings.push(dup);
            }
            4 => {
                // posted with a lower amount
                let j = plan
                    .postings
                    .iter()
                    .position(|p| p.invoice_id == inv.invoice_id)
                    .expect("posting");
                let cut = dec(self.rng.range(10, 500)).min(r2(inv.total_amount / dec(2)));
                plan.postings[j].amount -= cut;
            }
            _ => {}
        }
        let credits: Decimal = plan.credit_notes.iter().map(|c| c.amount).sum();
        let posted: Decimal = plan
            .postings
            .iter()
            .filter(|p| p.invoice_id == inv.invoice_id)
            .map(|p| p.amount)
            .sum();
        let billed = inv.total_amount - credits;
        assert!((billed - posted).abs() > dec(5));
        let leak = self
            .fx
            .conv((billed - posted).max(Decimal::ZERO), ccy, inv.invoice_date);
        self.record("erp_posting_gap", "invoice", inv.invoice_id, leak);
        self.commit(plan);
    }

    fn plant_unexplained_credit(&mut self, i: usize) {
        let close = self.ago(40, 330);
        let partner = self.case_partner(i + 4, close, true, |_, _| true);
        let ccy = CURRENCIES[i % 3];
        let customer = self.pool_customer().id;
        let lines = self.clean_lines(partner, ccy, close);
        let spec = self.spec(partner, customer, ccy, "closed_won", Some(close), lines);
        let mut f = self.plain_fulfil();
        let variant = i % 3;
        let reason = if variant == 1 || (variant == 2 && i.is_multiple_of(2)) {
            Some("manual_correction")
        } else {
            None
        };
        let frac = Decimal::new(self.rng.range(5, 25), 2);
        if variant == 2 {
            let vl = self.rng.range(0, 3);
            f.void_first = Some(vl);
            f.invoice_lag = vl + self.rng.range(3, 8);
        } else {
            f.credit = Some(CreditSpec {
                frac,
                reason,
                lag: self.rng.range(3, 20),
                reverse: true,
            });
        }
        let mut plan = self.build_deal(&spec, &f);
        if variant == 2 {
            // a credit note against the voided invoice
            let void = plan
                .invoices
                .iter()
                .find(|x| x.status == "void")
                .expect("void invoice")
                .clone();
            plan.credit_notes.push(CreditNote {
                credit_note_id: self.ids.credit(),
                invoice_id: void.invoice_id.clone(),
                issued_date: add_days(void.invoice_date, self.rng.range(1, 5)),
                amount: r2(void.total_amount * frac).max(cents(1)),
                reason: reason.map(str::to_string),
            });
        }
        let cn = plan.credit_notes.last().expect("credit note").clone();
        let leak = self.fx.conv(cn.amount, ccy, cn.issued_date);
        self.record("unexplained_credit", "credit_note", cn.credit_note_id, leak);
        self.commit(plan);
    }
}

fn largest_line(lines: &[LineSpec]) -> usize {
    let mut best = 0;
    for (k, l) in lines.iter().enumerate() {
        if dec(l.quantity) * l.list_price > dec(lines[best].quantity) * lines[best].list_price {
            best = k;
        }
    }
    best
}
