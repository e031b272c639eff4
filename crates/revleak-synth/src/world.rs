//! The generator's state and the reference data: products, price list, discount
//! policies, commission plans, fx rates, partners and customers, with the lookups
//! ("in force at", "latest rate on or before") the rest of the generator uses.

#![allow(clippy::type_complexity)]

use super::model::*;
use super::rng::Rng;
use chrono::{Datelike, Months, NaiveDate as Date, Weekday};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

pub const CURRENCIES: [&str; 3] = ["USD", "EUR", "GBP"];
pub const TIERS: [&str; 4] = ["platinum", "gold", "silver", "registered"];

pub fn add_days(d: Date, n: i64) -> Date {
    d + chrono::Duration::days(n)
}

pub fn add_months(d: Date, n: i32) -> Date {
    if n >= 0 {
        d.checked_add_months(Months::new(n as u32))
            .expect("date in range")
    } else {
        d.checked_sub_months(Months::new((-n) as u32))
            .expect("date in range")
    }
}

pub fn month_start(d: Date) -> Date {
    d.with_day(1).expect("first of month")
}

/// Last day of a term of `months` starting on `start`.
pub fn term_end(start: Date, months: i64) -> Date {
    add_days(add_months(start, months as i32), -1)
}

/// quantity × list_price × (1 − discount/100), rounded to cents.
pub fn net_amount(quantity: i64, list_price: Decimal, discount: Decimal) -> Decimal {
    r2(
        Decimal::from(quantity) * list_price * (Decimal::ONE_HUNDRED - discount)
            / Decimal::ONE_HUNDRED,
    )
}

#[derive(Debug, Clone)]
pub struct Prod {
    pub sku: &'static str,
    pub family: &'static str,
    pub subscription: bool,
    /// Seats switched on in the product (activations are recorded for it).
    pub activates: bool,
    pub qty: (i64, i64),
}

const PRODUCTS: &[(&str, &str, &str, bool, i64, i64, i64, bool, u8)] = &[
    // sku, name, family, subscription, usd price, qty lo, qty hi, activates, change group
    (
        "PLT-CORE",
        "Platform Core",
        "platform",
        true,
        600,
        5,
        300,
        true,
        0,
    ),
    (
        "PLT-PRO",
        "Platform Professional",
        "platform",
        true,
        1200,
        5,
        250,
        true,
        1,
    ),
    (
        "PLT-ENT",
        "Platform Enterprise",
        "platform",
        true,
        2400,
        10,
        400,
        true,
        2,
    ),
    (
        "PLT-PERP",
        "Platform Perpetual License",
        "platform",
        false,
        9000,
        1,
        3,
        false,
        1,
    ),
    (
        "ADD-SEC",
        "Security Add-on",
        "addon",
        true,
        180,
        5,
        300,
        true,
        0,
    ),
    (
        "ADD-ANL",
        "Analytics Add-on",
        "addon",
        true,
        240,
        5,
        200,
        true,
        1,
    ),
    (
        "ADD-API",
        "API Access Add-on",
        "addon",
        true,
        120,
        5,
        150,
        true,
        2,
    ),
    (
        "ADD-BKP",
        "Backup Add-on",
        "addon",
        true,
        90,
        10,
        400,
        true,
        0,
    ),
    (
        "ADD-SSO",
        "Single Sign-On Add-on",
        "addon",
        true,
        60,
        10,
        500,
        true,
        1,
    ),
    (
        "ADD-HW",
        "Appliance Kit",
        "addon",
        false,
        3500,
        1,
        4,
        false,
        2,
    ),
    (
        "SVC-ONB",
        "Onboarding Package",
        "services",
        false,
        5000,
        1,
        2,
        false,
        0,
    ),
    (
        "SVC-TRN",
        "Training Day",
        "services",
        false,
        1800,
        1,
        8,
        false,
        1,
    ),
    (
        "SVC-MIG",
        "Migration Service",
        "services",
        false,
        12000,
        1,
        1,
        false,
        2,
    ),
    (
        "SVC-HC",
        "Health Check",
        "services",
        false,
        2500,
        1,
        2,
        false,
        0,
    ),
    (
        "SVC-TAM",
        "Technical Account Manager",
        "services",
        true,
        30000,
        1,
        1,
        false,
        2,
    ),
];

#[derive(Debug, Clone)]
pub struct PInfo {
    pub id: String,
    pub tier: &'static str,
    pub parent: Option<usize>,
    pub distributor: bool,
    pub region: &'static str,
    pub ccy: &'static str,
    pub start: Date,
    pub end: Option<Date>,
    pub terminated: bool,
    pub weight: f64,
    pub forecasting: bool,
}

impl PInfo {
    pub fn in_force(&self, d: Date) -> bool {
        self.start <= d && self.end.is_none_or(|e| d <= e)
    }
}

#[derive(Debug, Clone)]
pub struct Cust {
    pub id: String,
    pub ccy: &'static str,
}

/// Latest rate on or before a date, from the fx rates that exist as of as_of.
#[derive(Debug, Default, Clone)]
pub struct Fx {
    by: BTreeMap<String, Vec<(Date, Decimal)>>,
}

impl Fx {
    pub fn from_rates(rates: &[FxRate], as_of: Date) -> Fx {
        let mut by: BTreeMap<String, Vec<(Date, Decimal)>> = BTreeMap::new();
        for r in rates.iter().filter(|r| r.rate_date <= as_of) {
            by.entry(r.currency.clone())
                .or_default()
                .push((r.rate_date, r.rate_to_reporting));
        }
        for v in by.values_mut() {
            v.sort();
        }
        Fx { by }
    }

    pub fn rate(&self, ccy: &str, d: Date) -> Option<Decimal> {
        if ccy == "USD" {
            return Some(Decimal::ONE);
        }
        let v = self.by.get(ccy)?;
        let n = v.partition_point(|(rd, _)| *rd <= d);
        (n > 0).then(|| v[n - 1].1)
    }

    /// An amount converted to USD at the rate for `d`, rounded to cents.
    pub fn conv(&self, amount: Decimal, ccy: &str, d: Date) -> Decimal {
        r2(amount
            * self
                .rate(ccy, d)
                .unwrap_or_else(|| panic!("no {ccy} rate on or before {d}")))
    }

    /// Converted but not rounded (for sums converted document by document).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn conv_raw(&self, amount: Decimal, ccy: &str, d: Date) -> Decimal {
        amount
            * self
                .rate(ccy, d)
                .unwrap_or_else(|| panic!("no {ccy} rate on or before {d}"))
    }
}

type Validity = Vec<(Date, Option<Date>, Decimal)>;

fn in_force(v: &Validity, d: Date) -> Option<Decimal> {
    v.iter()
        .find(|(from, to, _)| *from <= d && to.is_none_or(|t| d <= t))
        .map(|x| x.2)
}

#[derive(Debug, Clone)]
pub struct Truth {
    pub check: &'static str,
    pub entity_type: &'static str,
    pub entity_id: String,
    pub leakage: Decimal,
}

fn scramble(k: u64, modulus: u64) -> u64 {
    if k >= modulus {
        return k;
    }
    ((k as u128 * 7_654_321u128 + 1_234_567u128) % modulus as u128) as u64
}

#[derive(Debug, Default)]
pub struct Ids {
    counters: BTreeMap<&'static str, u64>,
}

impl Ids {
    fn next(&mut self, kind: &'static str) -> u64 {
        let c = self.counters.entry(kind).or_insert(0);
        *c += 1;
        *c
    }
    pub fn deal(&mut self) -> String {
        format!("D{:08}", scramble(self.next("deal"), 100_000_000))
    }
    pub fn invoice(&mut self) -> String {
        format!("INV{:08}", scramble(self.next("invoice"), 100_000_000))
    }
    pub fn customer(&mut self) -> String {
        format!("C{:07}", scramble(self.next("customer"), 10_000_000))
    }
    pub fn subscription(&mut self) -> String {
        format!("S{:08}", scramble(self.next("subscription"), 100_000_000))
    }
    pub fn payment(&mut self) -> String {
        format!("PAY{:09}", self.next("payment"))
    }
    pub fn posting(&mut self) -> String {
        format!("GL{:09}", self.next("posting"))
    }
    pub fn payout(&mut self) -> String {
        format!("PO{:09}", self.next("payout"))
    }
    pub fn activation(&mut self) -> String {
        format!("ACT{:09}", self.next("activation"))
    }
    pub fn report(&mut self) -> String {
        format!("RL{:09}", self.next("report"))
    }
    pub fn approval(&mut self) -> String {
        format!("APR{:07}", self.next("approval"))
    }
    pub fn credit(&mut self) -> String {
        format!("CN{:08}", self.next("credit"))
    }
}

pub struct Gen {
    pub a: Date,
    pub scale: f64,
    pub rng: Rng,
    pub snap: GeneratedSnapshot,
    pub prods: Vec<Prod>,
    pub partners: Vec<PInfo>,
    pub partner_index: BTreeMap<String, usize>,
    pub customers: Vec<Cust>,
    pub fx: Fx,
    pub ids: Ids,
    pub truth: Vec<Truth>,
    prices: BTreeMap<(String, String), Validity>,
    policies: BTreeMap<(String, String), Validity>,
    plans: BTreeMap<(String, i64), Validity>,
    /// Per product: valid_from of its later price versions, on or before as_of.
    pub price_changes: Vec<Vec<Date>>,
    /// Invoices and credit notes that data_quality excludes (forecast actuals skip them).
    pub excluded_invoices: BTreeSet<String>,
    pub excluded_credits: BTreeSet<String>,
    /// Forecast rows planted as forecast_variance cases (never touched by data_quality).
    pub planted_forecasts: BTreeSet<(String, Date)>,
    /// Activations of the clean background (data_quality may duplicate one of them).
    pub background_activations: usize,
    /// Cases to plant per check: max(3, ceil(25 × scale)).
    pub cases: usize,
}

impl Gen {
    pub fn new(as_of: Date, scale: f64, seed: u64) -> Gen {
        let mut g = Gen {
            a: as_of,
            scale,
            rng: Rng::new(seed),
            snap: GeneratedSnapshot::default(),
            prods: Vec::new(),
            partners: Vec::new(),
            partner_index: BTreeMap::new(),
            customers: Vec::new(),
            fx: Fx::default(),
            ids: Ids::default(),
            truth: Vec::new(),
            prices: BTreeMap::new(),
            policies: BTreeMap::new(),
            plans: BTreeMap::new(),
            price_changes: Vec::new(),
            excluded_invoices: BTreeSet::new(),
            excluded_credits: BTreeSet::new(),
            planted_forecasts: BTreeSet::new(),
            background_activations: 0,
            cases: (25.0 * scale).ceil().max(3.0) as usize,
        };
        g.reference_data();
        g
    }

    /// A date `lo..=hi` days before as_of.
    pub fn ago(&mut self, lo: i64, hi: i64) -> Date {
        let n = self.rng.range(lo, hi);
        add_days(self.a, -n)
    }

    /// First valid_from of price list, policies and plans.
    pub fn history_start(&self) -> Date {
        month_start(add_days(self.a, -1100))
    }

    pub fn fx_start(&self) -> Date {
        add_days(self.a, -1150)
    }

    pub fn prod_index(&self, sku: &str) -> usize {
        self.prods
            .iter()
            .position(|p| p.sku == sku)
            .expect("known sku")
    }

    pub fn price_at(&self, sku: &str, ccy: &str, d: Date) -> Decimal {
        self.prices
            .get(&(sku.to_string(), ccy.to_string()))
            .and_then(|v| in_force(v, d))
            .unwrap_or_else(|| panic!("no {sku} {ccy} price at {d}"))
    }

    pub fn policy_max(&self, tier: &str, family: &str, d: Date) -> Decimal {
        self.policies
            .get(&(tier.to_string(), family.to_string()))
            .and_then(|v| in_force(v, d))
            .unwrap_or_else(|| panic!("no {tier}/{family} policy at {d}"))
    }

    pub fn plan_rate(&self, tier: &str, level: i64, d: Date) -> Decimal {
        self.plans
            .get(&(tier.to_string(), level))
            .and_then(|v| in_force(v, d))
            .unwrap_or_else(|| panic!("no {tier} level {level} plan at {d}"))
    }

    pub fn tier_of(&self, partner: Option<usize>) -> &'static str {
        partner.map_or("direct", |p| self.partners[p].tier)
    }

    pub fn record(
        &mut self,
        check: &'static str,
        entity_type: &'static str,
        entity_id: String,
        leakage: Decimal,
    ) {
        self.truth.push(Truth {
            check,
            entity_type,
            entity_id,
            leakage: r2(leakage),
        });
    }

    fn reference_data(&mut self) {
        let a = self.a;
        let start = self.history_start();
        // products
        for &(sku, name, family, sub, _, lo, hi, act, _) in PRODUCTS {
            self.snap.products.push(Product {
                sku: sku.into(),
                name: name.into(),
                family: family.into(),
                billing_model: if sub { "subscription" } else { "one_time" }.into(),
            });
            self.prods.push(Prod {
                sku,
                family,
                subscription: sub,
                activates: act,
                qty: (lo, hi),
            });
        }
        // price list: versions per sku shared by the three currencies
        let change_a = month_start(add_days(a, -420));
        let change_b = month_start(add_days(a, -150));
        let change_c = month_start(add_days(a, -250));
        let future = month_start(add_days(a, 40));
        for &(sku, _, _, _, usd, _, _, _, group) in PRODUCTS {
            let mut froms = vec![start];
            match group {
                0 => froms.extend([change_a, change_b]),
                1 => froms.push(change_c),
                _ => {}
            }
            self.price_changes.push(froms[1..].to_vec());
            if sku == "PLT-PRO" {
                // a price version that comes into force after as_of: it does not exist yet
                froms.push(future);
            }
            let factors: Vec<f64> = (1..froms.len())
                .map(|_| self.rng.uniform(1.04, 1.10))
                .collect();
            for (ccy, fx) in [("USD", 1.0), ("EUR", 0.92), ("GBP", 0.79)] {
                let mut price = (usd as f64 * fx).round() as i64;
                for (k, from) in froms.iter().enumerate() {
                    if k > 0 {
                        price = ((price as f64 * factors[k - 1]).round() as i64).max(price + 2);
                    }
                    let to = froms.get(k + 1).map(|n| add_days(*n, -1));
                    self.snap.prices.push(Price {
                        sku: sku.into(),
                        currency: ccy.into(),
                        valid_from: *from,
                        list_price: r2(dec(price)),
                        valid_to: to,
                    });
                }
            }
        }
        // discount policies (max %, per family platform/addon/services), one history change
        let h = month_start(add_days(a, -270));
        let later = month_start(add_days(a, 60));
        let base: [(&str, [i64; 3]); 5] = [
            ("platinum", [30, 35, 20]),
            ("gold", [25, 30, 15]),
            ("silver", [20, 25, 10]),
            ("registered", [10, 15, 5]),
            ("direct", [15, 20, 10]),
        ];
        let changed: [(&str, &str, i64, Date); 6] = [
            ("platinum", "platform", 25, h),
            ("gold", "addon", 25, h),
            ("silver", "services", 12, h),
            ("direct", "platform", 10, h),
            ("registered", "addon", 18, h),
            ("direct", "services", 8, later),
        ];
        for (tier, maxes) in base {
            for (fi, family) in ["platform", "addon", "services"].into_iter().enumerate() {
                let mut versions = vec![(start, maxes[fi])];
                for (t, f, v, from) in changed {
                    if t == tier && f == family {
                        versions.push((from, v));
                    }
                }
                for (k, (from, pct)) in versions.iter().enumerate() {
                    self.snap.policies.push(Policy {
                        tier: tier.into(),
                        family: family.into(),
                        valid_from: *from,
                        max_discount_pct: r2(dec(*pct)),
                        valid_to: versions.get(k + 1).map(|n| add_days(n.0, -1)),
                    });
                }
            }
        }
        // commission plans, levels 1 and 2, with history and one future version
        let kk = month_start(add_days(a, -330));
        let fut = month_start(add_days(a, 45));
        let pct = |x: &str| x.parse::<Decimal>().expect("pct");
        let plans: [(&str, i64, &str, Option<(Date, &str)>); 8] = [
            ("platinum", 1, "12", None),
            ("gold", 1, "10", Some((kk, "11"))),
            ("silver", 1, "8", None),
            ("registered", 1, "5", Some((fut, "6"))),
            ("platinum", 2, "4", Some((kk, "3.5"))),
            ("gold", 2, "3", None),
            ("silver", 2, "2.5", Some((kk, "2"))),
            ("registered", 2, "1.5", None),
        ];
        for (tier, level, rate, change) in plans {
            let mut versions = vec![(start, pct(rate))];
            if let Some((from, r)) = change {
                versions.push((from, pct(r)));
            }
            for (k, (from, r)) in versions.iter().enumerate() {
                self.snap.plans.push(Plan {
                    tier: tier.into(),
                    level,
                    valid_from: *from,
                    rate_pct: r2(*r),
                    valid_to: versions.get(k + 1).map(|n| add_days(n.0, -1)),
                });
            }
        }
        // fx rates: EUR and GBP on business days, with holidays and an outage gap
        let fx_start = self.fx_start();
        for (ccy, level, gap) in [("EUR", 1.0850f64, (310, 302)), ("GBP", 1.2650f64, (96, 90))] {
            let mut x = level;
            let mut d = fx_start;
            let end = add_days(a, 12);
            while d <= end {
                let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
                let back = (a - d).num_days();
                let in_gap = back <= gap.0 && back >= gap.1;
                if !weekend && !in_gap && !self.rng.chance(0.03) {
                    x *= 1.0 + self.rng.uniform(-0.004, 0.004);
                    x += (level - x) * 0.01;
                    let micro = (x * 1_000_000.0).round() as i64;
                    self.snap.fx_rates.push(FxRate {
                        currency: ccy.into(),
                        rate_date: d,
                        rate_to_reporting: Decimal::new(micro, 6).round_dp(8),
                    });
                }
                d = add_days(d, 1);
            }
        }
        for r in &mut self.snap.fx_rates {
            r.rate_to_reporting.rescale(8);
        }
        self.fx = Fx::from_rates(&self.snap.fx_rates, a);
        self.index();
    }

    fn index(&mut self) {
        for p in &self.snap.prices {
            self.prices
                .entry((p.sku.clone(), p.currency.clone()))
                .or_default()
                .push((p.valid_from, p.valid_to, p.list_price));
        }
        for p in &self.snap.policies {
            self.policies
                .entry((p.tier.clone(), p.family.clone()))
                .or_default()
                .push((p.valid_from, p.valid_to, p.max_discount_pct));
        }
        for p in &self.snap.plans {
            self.plans
                .entry((p.tier.clone(), p.level))
                .or_default()
                .push((p.valid_from, p.valid_to, p.rate_pct));
        }
    }

    pub fn region_ccy(&mut self, region: &str) -> &'static str {
        if region == "EMEA" {
            if self.rng.chance(0.7) { "EUR" } else { "GBP" }
        } else {
            "USD"
        }
    }

    fn partner_name(&mut self, k: usize) -> String {
        const A: [&str; 16] = [
            "Northwind",
            "Bluepeak",
            "Ironbridge",
            "Silverline",
            "Crescent",
            "Redwood",
            "Summit",
            "Harbor",
            "Lakeside",
            "Granite",
            "Orbit",
            "Meridian",
            "Falcon",
            "Evergreen",
            "Cobalt",
            "Pioneer",
        ];
        const B: [&str; 8] = [
            "Systems",
            "Solutions",
            "IT",
            "Networks",
            "Digital",
            "Consulting",
            "Tech",
            "Partners",
        ];
        const C: [&str; 6] = ["Inc", "GmbH", "Ltd", "SAS", "LLC", "BV"];
        format!(
            "{} {} {} {}",
            self.rng.pick(&A),
            self.rng.pick(&B),
            self.rng.pick(&C),
            k
        )
    }

    /// Partners: distributors, resellers under them, resellers selling direct.
    pub fn make_partners(&mut self) {
        let a = self.a;
        let n = ((1000.0 * self.scale).round() as usize).max(16);
        let n_dist = ((n as f64 * 0.07).round() as usize).max(2);
        let regions = ["NA", "EMEA", "APAC", "LATAM"];
        let region_w = [0.4, 0.3, 0.2, 0.1];
        for k in 0..n {
            let id = format!("P{:05}", k + 1);
            let name = self.partner_name(k + 1);
            let distributor = k < n_dist;
            let (tier, parent, region) = if distributor {
                let tier = if self.rng.chance(0.6) {
                    "platinum"
                } else {
                    "gold"
                };
                (tier, None, regions[self.rng.weighted(&region_w)])
            } else {
                let tier = TIERS[self.rng.weighted(&[0.10, 0.25, 0.35, 0.30])];
                // the first reseller sells direct (and is terminated), the second buys through a distributor
                let with_parent = k == n_dist + 1 || (k != n_dist && self.rng.chance(0.6));
                if with_parent {
                    let p = self.rng.below(n_dist as u64) as usize;
                    (tier, Some(p), self.partners[p].region)
                } else {
                    (tier, None, regions[self.rng.weighted(&region_w)])
                }
            };
            let ccy = self.region_ccy(region);
            // the first two resellers are always there: one terminated selling direct,
            // one active under a distributor
            let forced = k == n_dist || k == n_dist + 1;
            let established = distributor || forced || self.rng.chance(0.8);
            let start = if distributor {
                self.ago(900, 1400)
            } else if established {
                self.ago(750, 1300)
            } else {
                self.ago(150, 600)
            };
            let terminated = !distributor
                && established
                && k != n_dist + 1
                && (k == n_dist || self.rng.chance(0.06));
            let end = if terminated {
                Some(self.ago(120, 450))
            } else if !distributor && !forced && self.rng.chance(0.1) {
                Some(add_days(a, self.rng.range(100, 700)))
            } else {
                None
            };
            let base = match tier {
                "platinum" => 4.0,
                "gold" => 2.5,
                "silver" => 1.5,
                _ => 0.7,
            };
            let weight = if !distributor && !forced && self.rng.chance(0.04) {
                0.0
            } else {
                base * self.rng.uniform(0.3, 1.7)
            };
            let forecasting = !terminated
                && weight > 0.0
                && (distributor || (tier != "registered" && self.rng.chance(0.6)));
            self.snap.partners.push(Partner {
                partner_id: id.clone(),
                name,
                tier: tier.into(),
                parent_partner_id: parent.map(|p| self.partners[p].id.clone()),
                region: region.into(),
                agreement_start: start,
                agreement_end: end,
                status: if terminated { "terminated" } else { "active" }.into(),
            });
            self.partner_index.insert(id.clone(), k);
            self.partners.push(PInfo {
                id,
                tier,
                parent,
                distributor,
                region,
                ccy,
                start,
                end,
                terminated,
                weight,
                forecasting,
            });
        }
    }

    pub fn make_customers(&mut self, n: usize) {
        for _ in 0..n {
            self.new_customer();
        }
    }

    /// A new customer, added to the pool background deals draw from.
    pub fn new_customer(&mut self) -> Cust {
        let region = ["NA", "EMEA", "APAC", "LATAM"][self.rng.weighted(&[0.4, 0.3, 0.2, 0.1])];
        let ccy = self.region_ccy(region);
        let c = Cust {
            id: self.ids.customer(),
            ccy,
        };
        self.customers.push(c.clone());
        c
    }

    /// A customer id outside the pool (planted cases keyed by customer use these).
    pub fn fresh_customer(&mut self) -> String {
        let region = ["NA", "EMEA", "APAC", "LATAM"][self.rng.weighted(&[0.4, 0.3, 0.2, 0.1])];
        let _ = self.region_ccy(region);
        self.ids.customer()
    }

    pub fn pool_customer(&mut self) -> Cust {
        let i = self.rng.below(self.customers.len() as u64) as usize;
        self.customers[i].clone()
    }
}
