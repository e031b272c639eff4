//! Partner forecasts, written last from what was actually billed, so that the clean
//! background stays within tolerance whatever was planted; plus the planted
//! forecast_variance cases (months billed only in USD, or not at all, where no
//! credit note is issued in or against the month).

use super::model::*;
use super::world::*;
use chrono::NaiveDate as Date;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Billed per partner and month, in USD, unrounded, under five readings of where a
/// credit note counts: 0 = total − credits at the invoice's rate in the invoice's
/// month (the reading of docs/checks.md); 1 = credits ignored; 2 = credits in their own
/// month at their own rate; 3 = credits in their own month at the invoice's rate;
/// 4 = credits in the invoice's month at their own rate. Background forecasts stay
/// within tolerance under all five; planted cases have no credit notes near them.
pub type Readings = [Decimal; 5];

impl Gen {
    pub fn billing_readings(&self) -> BTreeMap<(String, Date), Readings> {
        let a = self.a;
        let mut credits: BTreeMap<&str, Vec<&CreditNote>> = BTreeMap::new();
        for c in &self.snap.credit_notes {
            if c.issued_date <= a && !self.excluded_credits.contains(&c.credit_note_id) {
                credits.entry(c.invoice_id.as_str()).or_default().push(c);
            }
        }
        let mut acc: BTreeMap<(String, Date), Readings> = BTreeMap::new();
        for inv in &self.snap.invoices {
            if inv.status != "issued"
                || inv.invoice_date > a
                || self.excluded_invoices.contains(&inv.invoice_id)
            {
                continue;
            }
            let Some(p) = &inv.partner_id else { continue };
            let m = month_start(inv.invoice_date);
            let rate = self
                .fx
                .rate(&inv.currency, inv.invoice_date)
                .expect("invoice rate");
            let cr = credits
                .get(inv.invoice_id.as_str())
                .cloned()
                .unwrap_or_default();
            let credit_total: Decimal = cr.iter().map(|c| c.amount).sum();
            let credit_own: Decimal = cr
                .iter()
                .map(|c| {
                    c.amount
                        * self
                            .fx
                            .rate(&inv.currency, c.issued_date)
                            .expect("credit rate")
                })
                .sum();
            let e = acc.entry((p.clone(), m)).or_default();
            e[0] += (inv.total_amount - credit_total) * rate;
            e[1] += inv.total_amount * rate;
            e[2] += inv.total_amount * rate;
            e[3] += inv.total_amount * rate;
            e[4] += inv.total_amount * rate - credit_own;
            for c in cr {
                let e = acc
                    .entry((p.clone(), month_start(c.issued_date)))
                    .or_default();
                e[2] -= c.amount
                    * self
                        .fx
                        .rate(&inv.currency, c.issued_date)
                        .expect("credit rate");
                e[3] -= c.amount * rate;
            }
        }
        acc
    }

    pub fn forecasts(&mut self) {
        let a = self.a;
        let this = month_start(a);
        let readings = self.billing_readings();
        // partner-months billed in a currency other than USD (their per-invoice
        // conversions are not whole cents)
        let mut foreign: std::collections::BTreeSet<(String, Date)> =
            std::collections::BTreeSet::new();
        for inv in &self.snap.invoices {
            if let Some(p) = &inv.partner_id
                && inv.currency != "USD"
            {
                foreign.insert((p.clone(), month_start(inv.invoice_date)));
            }
        }
        let get = |p: &str, m: Date| {
            readings
                .get(&(p.to_string(), m))
                .copied()
                .unwrap_or_default()
        };
        let forecasting: Vec<usize> = (0..self.partners.len())
            .filter(|&p| self.partners[p].forecasting)
            .collect();
        assert!(!forecasting.is_empty(), "no forecasting partner");

        // planted: partner-months whose forecast far exceeds what was billed
        let mut planted: BTreeMap<(usize, Date), Decimal> = BTreeMap::new();
        let mut attempts = 0;
        while planted.len() < self.cases {
            attempts += 1;
            assert!(attempts < 100_000, "cannot place forecast_variance cases");
            let i = planted.len();
            let tier = TIERS[i % 3];
            let by_tier: Vec<usize> = forecasting
                .iter()
                .copied()
                .filter(|&p| self.partners[p].tier == tier)
                .collect();
            let pool = if by_tier.is_empty() || attempts > 5_000 {
                &forecasting
            } else {
                &by_tier
            };
            let p = *self.rng.pick(pool);
            let m = add_months(this, -(self.rng.range(1, 12) as i32));
            if planted.contains_key(&(p, m)) {
                continue;
            }
            let r = get(&self.partners[p].id, m);
            if r.iter().any(|x| *x != r[0]) || r[0] < Decimal::ZERO {
                continue;
            }
            let actual = r[0];
            let want_zero = i % 3 == 2;
            if want_zero != actual.is_zero() && attempts < 20_000 {
                continue;
            }
            if foreign.contains(&(self.partners[p].id.clone(), m)) && attempts < 40_000 {
                continue;
            }
            let ccy = self.partners[p].ccy;
            let rate = self.fx.rate(ccy, m).expect("forecast rate");
            let target = if actual.is_zero() {
                dec(self.rng.range(3_000, 40_000))
            } else {
                actual * Decimal::new(self.rng.range(130, 200), 2)
                    + dec(self.rng.range(1_500, 20_000))
            };
            let mut amount = r2(target / rate);
            // avoid a cent of difference between rounding expected − actual once and
            // rounding each of them
            while r2(amount * rate - actual) != r2(amount * rate) - r2(actual) {
                amount += cents(1);
            }
            let expected = r2(amount * rate);
            let leak = expected - r2(actual);
            assert!(leak > (expected / dec(10)).max(dec(1000)) + dec(100));
            planted.insert((p, m), amount);
            let id = format!("{}:{}", self.partners[p].id, m.format("%Y-%m"));
            self.record("forecast_variance", "partner_period", id, leak);
            self.planted_forecasts
                .insert((self.partners[p].id.clone(), m));
        }

        // background: within a few percent of the least reading of what was billed
        for &p in &forecasting {
            let ccy = self.partners[p].ccy;
            let pid = self.partners[p].id.clone();
            let mut recent = Vec::new();
            for back in (1..=18).rev() {
                let m = add_months(this, -back);
                let amount = if let Some(x) = planted.get(&(p, m)) {
                    *x
                } else {
                    let r = get(&pid, m);
                    let least = r.iter().copied().min().unwrap_or_default();
                    if least <= Decimal::ZERO {
                        continue;
                    }
                    let rate = self.fx.rate(ccy, m).expect("forecast rate");
                    let amount = r2(least * Decimal::new(self.rng.range(88, 103), 2) / rate);
                    if amount <= Decimal::ZERO {
                        continue;
                    }
                    let expected = r2(amount * rate);
                    for x in r {
                        assert!(
                            expected - r2(x) <= (expected / dec(10)).max(dec(1000)),
                            "background forecast {pid} {m}"
                        );
                    }
                    amount
                };
                recent.push(amount);
                self.snap.forecasts.push(Forecast {
                    partner_id: pid.clone(),
                    period: m,
                    currency: ccy.into(),
                    forecast_amount: amount,
                });
            }
            // the month in progress and the two to come: not complete, never checked
            if !recent.is_empty() {
                let avg = recent.iter().copied().sum::<Decimal>() / dec(recent.len() as i64);
                for fwd in 0..3 {
                    let amount = r2(avg * Decimal::new(self.rng.range(90, 130), 2));
                    self.snap.forecasts.push(Forecast {
                        partner_id: pid.clone(),
                        period: add_months(this, fwd),
                        currency: ccy.into(),
                        forecast_amount: amount,
                    });
                }
            }
        }
    }
}
