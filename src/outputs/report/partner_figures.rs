//! What the scorecard needs beyond the findings: the partner figures the run
//! published (`partner_figures/as_of=.../`, computed from the canonical tables
//! after staging and data quality by [`crate::outputs::scorecard`]) — partners' tier and
//! region, billed, forecast attainment, days sales outstanding — and each input
//! table's newest row, from the manifest. Nothing here reads the snapshot: an
//! export adapted in staging gives the same page as a canonical one.

use super::data::{self, Layout, Manifest, money, text};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

pub use crate::outputs::scorecard::DSO_DAYS;

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

impl PartnerFigures {
    fn derive(mut self) -> PartnerFigures {
        self.attainment = (!self.forecast_lookback.is_zero()).then(|| {
            (self.billed_lookback * Decimal::from(100) / self.forecast_lookback).round_dp(1)
        });
        self.dso = (self.recent_sales > Decimal::ZERO)
            .then(|| (self.outstanding * Decimal::from(DSO_DAYS) / self.recent_sales).round_dp(0));
        self
    }
}

#[derive(Debug, Clone, Default)]
pub struct PublishedFigures {
    /// The snapshot folder as the manifest names it.
    pub location: String,
    /// Partners could be read: tier, region and names are known.
    pub partners_read: bool,
    /// Billed, attainment and DSO are known.
    pub figures_read: bool,
    /// Why something is not shown, one sentence each.
    pub notes: Vec<String>,
    pub partners: BTreeMap<String, PartnerInfo>,
    pub figures: BTreeMap<String, PartnerFigures>,
    /// Per input table with an event date: the newest one on or before
    /// as_of, and the column it is read from.
    pub freshness: BTreeMap<String, (NaiveDate, String)>,
    /// First and last day of the forecast lookback.
    pub lookback: Option<(NaiveDate, NaiveDate)>,
}

/// Notes about missing fx rates say this (a partner's page leaves them out).
pub const NO_RATE_NOTE: &str = "had no fx rate on or before their date";

impl PublishedFigures {
    pub fn load(layout: &Layout, manifest: &Manifest, as_of: NaiveDate) -> PublishedFigures {
        let meta = &manifest.figures;
        let mut s = PublishedFigures {
            location: manifest.snapshot.clone(),
            lookback: meta.lookback_from.zip(meta.lookback_to),
            freshness: meta
                .freshness
                .iter()
                .filter_map(|f| Some((f.table.clone(), (f.newest?, f.column.clone()))))
                .collect(),
            ..Default::default()
        };
        if let Some(failed) = &meta.failed {
            s.notes.push(format!(
                "The run could not compute the partner figures ({failed}): billed, forecast attainment and DSO are not shown."
            ));
        }
        let Some(dir) = layout.partition(crate::outputs::scorecard::OUTPUT, as_of) else {
            if meta.failed.is_none() {
                s.notes.push(format!(
                    "This run published no partner figures ({}/as_of={as_of}/), so tier, region, billed, forecast attainment and DSO are not shown; every other figure comes from the findings.",
                    crate::outputs::scorecard::OUTPUT
                ));
            }
            return s;
        };
        let files = data::parquet_files(&dir);
        let frame = data::scan(&files).and_then(|lf| lf.collect());
        let df = match frame {
            Ok(df) => df,
            Err(e) => {
                s.notes.push(format!(
                    "{}: the partner figures could not be read ({e}): billed, forecast attainment and DSO are not shown.",
                    dir.display()
                ));
                return s;
            }
        };
        for i in 0..df.height() {
            let Some(id) = text(&df, "partner_id", i) else {
                continue;
            };
            if let Some(name) = text(&df, "name", i) {
                s.partners.insert(
                    id.clone(),
                    PartnerInfo {
                        name,
                        tier: text(&df, "tier", i).unwrap_or_default(),
                        region: text(&df, "region", i).unwrap_or_default(),
                        status: text(&df, "status", i).unwrap_or_default(),
                    },
                );
            }
            if let Some(billed) = money(&df, "billed", i) {
                let amount = |c: &str| money(&df, c, i).unwrap_or_default();
                let figures = PartnerFigures {
                    billed,
                    billed_lookback: amount("billed_lookback"),
                    forecast_lookback: amount("forecast_lookback"),
                    outstanding: amount("outstanding"),
                    recent_sales: amount("recent_sales"),
                    ..Default::default()
                };
                s.figures.insert(id, figures.derive());
            }
        }
        s.partners_read = true;
        s.figures_read = meta.failed.is_none();
        if meta.rows_without_rate > 0 {
            s.notes.push(format!(
                "{} invoice or forecast row(s) {NO_RATE_NOTE} and are left out of billed, attainment and DSO.",
                meta.rows_without_rate
            ));
        }
        s
    }
}
