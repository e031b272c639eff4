//! What the scorecard needs beyond the findings, read with polars from the
//! snapshot the run reconciled (the manifest's `snapshot` and input paths) when
//! it is still readable: partners' tier and region, billed, forecast attainment,
//! days sales outstanding, and each input table's newest row.
//!
//! These figures are read from the tables as exported (before the run's
//! data-quality layer) and converted to the reporting currency at the latest
//! `contracts/fx_rates` rate on or before each document's date.

use super::data::{self, Manifest, date, days, failed, money, text};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Days of sales the DSO is measured over.
pub const DSO_DAYS: i64 = 90;

#[derive(Debug, Clone, Default)]
pub struct PartnerInfo {
    pub name: String,
    pub tier: String,
    pub region: String,
    pub status: String,
}

/// A partner's figures in the reporting currency.
#[derive(Debug, Clone, Default)]
pub struct PartnerFigures {
    /// Net billed (issued invoices dated on or before as_of, less their
    /// credit notes), invoices billed to the partner.
    pub billed: Decimal,
    pub billed_lookback: Decimal,
    pub forecast_lookback: Decimal,
    /// billed_lookback / forecast_lookback, in percent.
    pub attainment: Option<Decimal>,
    /// Still owed on those invoices at as_of.
    pub outstanding: Decimal,
    /// Billed over the last [`DSO_DAYS`] days.
    pub recent_sales: Decimal,
    /// outstanding / recent_sales × DSO_DAYS.
    pub dso: Option<Decimal>,
}

#[derive(Debug, Clone, Default)]
pub struct SnapshotData {
    /// The snapshot folder as the manifest names it.
    pub location: String,
    /// Partners could be read: tier, region and names are known.
    pub partners_read: bool,
    /// Invoices, credit notes, payments, forecasts and rates could be read:
    /// billed, attainment and DSO are known.
    pub figures_read: bool,
    /// Why something could not be read, one sentence each.
    pub notes: Vec<String>,
    pub partners: BTreeMap<String, PartnerInfo>,
    pub figures: BTreeMap<String, PartnerFigures>,
    /// Per input table with an event date: the newest one on or before
    /// as_of, and the column it is read from.
    pub freshness: BTreeMap<String, (NaiveDate, &'static str)>,
    /// First and last day of the forecast lookback.
    pub lookback: Option<(NaiveDate, NaiveDate)>,
}

impl SnapshotData {
    pub fn load(manifest: &Manifest, as_of: NaiveDate) -> SnapshotData {
        let mut s = SnapshotData {
            location: manifest.snapshot.clone(),
            ..Default::default()
        };
        let root = PathBuf::from(&manifest.snapshot);
        if manifest.snapshot.is_empty() || !root.is_dir() {
            s.notes.push(format!(
                "The snapshot `{}` is no longer readable from here, so tier, region, billed, forecast attainment and DSO are not shown; every other figure comes from the findings.",
                manifest.snapshot
            ));
            return s;
        }
        let locate = |table: &str| -> Vec<PathBuf> {
            let recorded = manifest
                .inputs
                .iter()
                .find(|i| i.table == table)
                .and_then(|i| i.path.clone())
                .map(PathBuf::from)
                .filter(|p| p.exists());
            let location = recorded.unwrap_or_else(|| {
                let (system, name) = table.split_once('/').unwrap_or(("", table));
                let file = root.join(system).join(format!("{name}.parquet"));
                if file.exists() {
                    file
                } else {
                    root.join(system).join(name)
                }
            });
            data::parquet_files(&location)
        };

        // The three reads are independent, and each is mostly one thread's work.
        let (freshness, partners, figures) = std::thread::scope(|scope| {
            let freshness = scope.spawn(|| freshness(manifest, as_of, &locate));
            let partners = scope.spawn(|| read_partners(&locate("prm/partners")));
            let figures = figures(manifest, as_of, &locate);
            (joined(freshness.join()), joined(partners.join()), figures)
        });
        s.freshness = freshness;
        match partners {
            Ok(partners) => {
                s.partners = partners;
                s.partners_read = true;
            }
            Err(e) => s.notes.push(format!(
                "prm/partners could not be read ({e}): tier, region and partner names are not shown."
            )),
        }
        match figures {
            Ok((figures, lookback, missing_rates)) => {
                s.figures = figures;
                s.lookback = Some(lookback);
                s.figures_read = true;
                if missing_rates > 0 {
                    s.notes.push(format!(
                        "{missing_rates} invoice or forecast group(s) had no fx rate on or before their date and are left out of billed, attainment and DSO."
                    ));
                }
            }
            Err(e) => s.notes.push(format!(
                "The billing tables could not be read ({e}): billed, forecast attainment and DSO are not shown."
            )),
        }
        s
    }
}

/// A thread's result, its panic passed on.
pub(crate) fn joined<T>(result: std::thread::Result<T>) -> T {
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Per input table with an event date: the newest one on or before `as_of`,
/// and the column it is read from.
fn freshness(
    manifest: &Manifest,
    as_of: NaiveDate,
    locate: &(dyn Fn(&str) -> Vec<PathBuf> + Sync),
) -> BTreeMap<String, (NaiveDate, &'static str)> {
    let mut found = BTreeMap::new();
    for input in &manifest.inputs {
        let Some(table) = crate::contract::table(&input.table) else {
            continue;
        };
        let crate::contract::Existence::EventDate(column) = table.existence else {
            continue;
        };
        let files = locate(&input.table);
        if files.is_empty() {
            continue;
        }
        let newest = data::scan(&files).and_then(|lf| {
            lf.select([col(column)])
                .filter(col(column).cast(DataType::Int32).lt_eq(lit(days(as_of))))
                .select([col(column).cast(DataType::Date).max().alias("newest")])
                .collect()
        });
        if let Ok(df) = newest
            && let Some(d) = date(&df, "newest", 0)
        {
            found.insert(input.table.clone(), (d, column));
        }
    }
    found
}

fn read_partners(files: &[PathBuf]) -> std::result::Result<BTreeMap<String, PartnerInfo>, String> {
    if files.is_empty() {
        return Err("no Parquet file".into());
    }
    let df = data::scan(files)
        .and_then(|lf| {
            lf.select([
                col("partner_id").cast(DataType::String),
                col("name").cast(DataType::String),
                col("tier").cast(DataType::String),
                col("region").cast(DataType::String),
                col("status").cast(DataType::String),
            ])
            .filter(col("partner_id").is_not_null())
            .sort(["partner_id"], SortMultipleOptions::default())
            .collect()
        })
        .map_err(|e| e.to_string())?;
    let mut partners = BTreeMap::new();
    for i in 0..df.height() {
        let Some(id) = text(&df, "partner_id", i) else {
            continue;
        };
        // A duplicated key keeps its first row.
        partners.entry(id).or_insert_with(|| PartnerInfo {
            name: text(&df, "name", i).unwrap_or_default(),
            tier: text(&df, "tier", i).unwrap_or_default(),
            region: text(&df, "region", i).unwrap_or_default(),
            status: text(&df, "status", i).unwrap_or_default(),
        });
    }
    Ok(partners)
}

/// Rates to the fx base currency, per currency, by date.
struct Rates {
    by_currency: HashMap<String, Vec<(i32, Decimal)>>,
    base: String,
    reporting: String,
}

impl Rates {
    fn to_base(&self, currency: &str, day: i32) -> Option<Decimal> {
        if currency == self.base {
            return Some(Decimal::ONE);
        }
        let rates = self.by_currency.get(currency)?;
        let k = rates.partition_point(|(d, _)| *d <= day);
        (k > 0).then(|| rates[k - 1].1)
    }

    /// One unit of `currency` in the reporting currency on `day`.
    fn rate(&self, currency: &str, day: i32) -> Option<Decimal> {
        if currency == self.reporting {
            return Some(Decimal::ONE);
        }
        let from = self.to_base(currency, day)?;
        let to = self.to_base(&self.reporting, day)?;
        if to.is_zero() {
            return None;
        }
        from.checked_div(to)
    }
}

fn read_rates(files: &[PathBuf], base: String, reporting: String) -> PolarsResult<Rates> {
    let df = data::scan(files)?
        .select([
            col("currency").cast(DataType::String),
            col("rate_date").cast(DataType::Date),
            col("rate_to_reporting").cast(DataType::Decimal(18, 8)),
        ])
        .filter(
            col("currency")
                .is_not_null()
                .and(col("rate_date").is_not_null()),
        )
        .sort(["currency", "rate_date"], SortMultipleOptions::default())
        .collect()?;
    let mut by_currency: HashMap<String, Vec<(i32, Decimal)>> = HashMap::new();
    for i in 0..df.height() {
        let (Some(c), Some(d), Some(r)) = (
            text(&df, "currency", i),
            date(&df, "rate_date", i),
            money(&df, "rate_to_reporting", i),
        ) else {
            continue;
        };
        let list = by_currency.entry(c).or_default();
        match list.last_mut() {
            // Duplicated dates: the last row read wins.
            Some(last) if last.0 == days(d) => last.1 = r,
            _ => list.push((days(d), r)),
        }
    }
    Ok(Rates {
        by_currency,
        base,
        reporting,
    })
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1")
}

fn add_months(d: NaiveDate, months: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
        .expect("valid month")
}

fn cents(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

type Figures = (
    BTreeMap<String, PartnerFigures>,
    (NaiveDate, NaiveDate),
    u64,
);

fn figures(
    manifest: &Manifest,
    as_of: NaiveDate,
    locate: &(dyn Fn(&str) -> Vec<PathBuf> + Sync),
) -> std::result::Result<Figures, String> {
    let files = |table: &str| -> std::result::Result<Vec<PathBuf>, String> {
        let f = locate(table);
        if f.is_empty() {
            Err(format!("{table}: no Parquet file"))
        } else {
            Ok(f)
        }
    };
    let lookback_months: i32 = manifest
        .parameter("forecast_lookback_months")
        .parse()
        .unwrap_or(12);
    let this_month = first_of_month(as_of);
    let lookback_from = add_months(this_month, -lookback_months);
    let lookback_to = this_month - chrono::Duration::days(1);
    let recent_from = as_of - chrono::Duration::days(DSO_DAYS - 1);

    let base = match manifest.parameter("fx_base_currency") {
        b if b.is_empty() => "USD".to_string(),
        b => b,
    };
    let rates_files = files("contracts/fx_rates")?;
    let rates = read_rates(&rates_files, base, manifest.currency())
        .map_err(|e| format!("contracts/fx_rates: {e}"))?;

    let as_of_days = lit(days(as_of));
    let money_of = |c: &str| col(c).cast(DataType::Decimal(18, 2));
    let zero = || lit(0).cast(DataType::Decimal(18, 2));
    let invoices_files = files("billing/invoices")?;
    let credits_files = files("billing/credit_notes")?;
    let payments_files = files("billing/payments")?;
    let path = invoices_files[0].clone();
    let invoices = data::scan(&invoices_files)
        .map_err(|e| e.to_string())?
        .select([
            col("invoice_id").cast(DataType::String),
            col("partner_id").cast(DataType::String),
            col("currency").cast(DataType::String),
            col("status").cast(DataType::String),
            col("invoice_date").cast(DataType::Date),
            money_of("total_amount"),
        ])
        .filter(
            col("status")
                .eq(lit("issued"))
                .and(col("partner_id").is_not_null())
                .and(
                    col("invoice_date")
                        .cast(DataType::Int32)
                        .lt_eq(as_of_days.clone()),
                ),
        );
    let credits = data::scan(&credits_files)
        .map_err(|e| e.to_string())?
        .select([
            col("invoice_id").cast(DataType::String),
            col("issued_date").cast(DataType::Date),
            money_of("amount"),
        ])
        .filter(
            col("issued_date")
                .cast(DataType::Int32)
                .lt_eq(as_of_days.clone()),
        )
        .group_by([col("invoice_id")])
        .agg([col("amount").sum().alias("credited")]);
    let payments = data::scan(&payments_files)
        .map_err(|e| e.to_string())?
        .select([
            col("invoice_id").cast(DataType::String),
            col("payment_date").cast(DataType::Date),
            money_of("amount"),
        ])
        .filter(
            col("payment_date")
                .cast(DataType::Int32)
                .lt_eq(as_of_days.clone()),
        )
        .group_by([col("invoice_id")])
        .agg([col("amount").sum().alias("paid")]);
    let billed = invoices
        .left_join(credits, col("invoice_id"), col("invoice_id"))
        .left_join(payments, col("invoice_id"), col("invoice_id"))
        .with_column(
            (col("total_amount") - col("credited").fill_null(zero()))
                .cast(DataType::Decimal(18, 2))
                .alias("billed"),
        )
        .with_column(
            (col("billed") - col("paid").fill_null(zero()))
                .cast(DataType::Decimal(18, 2))
                .alias("owed"),
        )
        .with_column(
            when(col("owed").gt(zero()))
                .then(col("owed"))
                .otherwise(zero())
                .alias("owed"),
        )
        .group_by([col("partner_id"), col("currency"), col("invoice_date")])
        .agg([
            col("billed").sum().alias("billed"),
            col("owed").sum().alias("owed"),
        ])
        // No sort: the sums below are exact whatever the order of the groups.
        .collect()
        .map_err(|e| failed(&path)(e).to_string())?;

    let forecasts_files = files("crm/forecasts")?;
    let forecasts = data::scan(&forecasts_files)
        .map_err(|e| e.to_string())?
        .select([
            col("partner_id").cast(DataType::String),
            col("currency").cast(DataType::String),
            col("period").cast(DataType::Date),
            money_of("forecast_amount"),
        ])
        .filter(
            col("partner_id").is_not_null().and(
                col("period")
                    .cast(DataType::Int32)
                    .gt_eq(lit(days(lookback_from)))
                    .and(
                        col("period")
                            .cast(DataType::Int32)
                            .lt_eq(lit(days(lookback_to))),
                    ),
            ),
        )
        .group_by([col("partner_id"), col("currency"), col("period")])
        .agg([col("forecast_amount").sum().alias("forecast")])
        .collect()
        .map_err(|e| format!("crm/forecasts: {e}"))?;

    // Hundreds of thousands of groups fall on a few thousand (currency, day)
    // pairs and ten thousand partners: each rate is worked out once, and each
    // partner's sums are found by hashing (the map is sorted once at the end).
    let mut exact: HashMap<&str, PartnerFigures> = HashMap::new();
    let mut rate_of: HashMap<(&str, i32), Option<Decimal>> = HashMap::new();
    let mut rate = |currency, day| {
        *rate_of
            .entry((currency, day))
            .or_insert_with(|| rates.rate(currency, day))
    };
    let mut missing_rates = 0u64;
    let billed_columns = GroupColumns::of(&billed, "invoice_date", &["billed", "owed"])
        .map_err(|e| format!("billing/invoices: {e}"))?;
    for row in billed_columns.rows() {
        let Some(rate) = rate(row.currency, row.day) else {
            missing_rates += 1;
            continue;
        };
        let (amount, owed) = (row.amounts[0] * rate, row.amounts[1] * rate);
        let day = data::from_days(row.day);
        let f = exact.entry(row.partner).or_default();
        f.billed += amount;
        f.outstanding += owed;
        if day >= lookback_from && day <= lookback_to {
            f.billed_lookback += amount;
        }
        if day >= recent_from {
            f.recent_sales += amount;
        }
    }
    let forecast_columns = GroupColumns::of(&forecasts, "period", &["forecast"])
        .map_err(|e| format!("crm/forecasts: {e}"))?;
    for row in forecast_columns.rows() {
        let Some(rate) = rate(row.currency, row.day) else {
            missing_rates += 1;
            continue;
        };
        exact.entry(row.partner).or_default().forecast_lookback += row.amounts[0] * rate;
    }
    let figures = exact
        .into_iter()
        .map(|(partner, f)| {
            let billed_lookback = cents(f.billed_lookback);
            let forecast_lookback = cents(f.forecast_lookback);
            let outstanding = cents(f.outstanding);
            let recent_sales = cents(f.recent_sales);
            let attainment = (!forecast_lookback.is_zero())
                .then(|| (billed_lookback * Decimal::from(100) / forecast_lookback).round_dp(1));
            let dso = (recent_sales > Decimal::ZERO)
                .then(|| (outstanding * Decimal::from(DSO_DAYS) / recent_sales).round_dp(0));
            let figures = PartnerFigures {
                billed: cents(f.billed),
                billed_lookback,
                forecast_lookback,
                attainment,
                outstanding,
                recent_sales,
                dso,
            };
            (partner.to_string(), figures)
        })
        .collect();
    Ok((figures, (lookback_from, lookback_to), missing_rates))
}

/// The typed columns of a frame grouped by partner, currency and a day, with
/// money sums: read by iterating, not value by value.
struct GroupColumns<'a> {
    partner: &'a StringChunked,
    currency: &'a StringChunked,
    day: &'a Int32Chunked,
    amounts: Vec<(&'a Int128Chunked, u32)>,
}

/// One group with its partner, currency and day; a null amount counts as zero.
struct GroupRow<'a> {
    partner: &'a str,
    currency: &'a str,
    day: i32,
    /// The money columns in the order asked for; zero past their number.
    amounts: [Decimal; MAX_AMOUNTS],
}

/// The most money columns a [`GroupColumns`] reads.
const MAX_AMOUNTS: usize = 2;

impl<'a> GroupColumns<'a> {
    fn of(df: &'a DataFrame, day: &str, amounts: &[&str]) -> PolarsResult<GroupColumns<'a>> {
        assert!(
            amounts.len() <= MAX_AMOUNTS,
            "at most {MAX_AMOUNTS} money columns"
        );
        Ok(GroupColumns {
            partner: df.column("partner_id")?.str()?,
            currency: df.column("currency")?.str()?,
            day: df.column(day)?.date()?.physical(),
            amounts: amounts
                .iter()
                .map(|name| {
                    let column = df.column(name)?.decimal()?;
                    Ok((column.physical(), column.scale() as u32))
                })
                .collect::<PolarsResult<_>>()?,
        })
    }

    /// Groups with a partner, a currency and a day.
    fn rows(&self) -> impl Iterator<Item = GroupRow<'a>> + '_ {
        let mut amounts: Vec<_> = self
            .amounts
            .iter()
            .map(|(values, scale)| (values.iter(), *scale))
            .collect();
        self.partner
            .iter()
            .zip(self.currency.iter())
            .zip(self.day.iter())
            .filter_map(move |((partner, currency), day)| {
                let mut sums = [Decimal::ZERO; MAX_AMOUNTS];
                for (sum, (values, scale)) in sums.iter_mut().zip(amounts.iter_mut()) {
                    if let Some(v) = values.next().flatten() {
                        *sum = Decimal::from_i128_with_scale(v, *scale);
                    }
                }
                Some(GroupRow {
                    partner: partner?,
                    currency: currency?,
                    day: day?,
                    amounts: sums,
                })
            })
    }
}
