//! The report's figures beyond the findings, computed in the run from the
//! canonical tables after staging and data quality, so that an adapted export
//! gives the same page as a canonical one: per partner billed, forecast, still
//! owed and recent sales in the reporting currency (billed is
//! `shared.invoice_balances`, the definition the checks read, converted with
//! `shared.fx_daily`), and each input table's newest event date. The partner
//! figures are published as `partner_figures/as_of=.../`, the rest in the
//! manifest; the report reads them from there, on a run and on a re-render.

use crate::config::Params;
use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use revleak_contract::{Existence, TABLES};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The published output of the partner figures.
pub const OUTPUT: &str = "partner_figures";

/// Days of sales the DSO is measured over.
pub const DSO_DAYS: i64 = 90;

/// What the manifest keeps of the figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FiguresMeta {
    /// First and last day of the forecast lookback.
    pub lookback_from: Option<NaiveDate>,
    pub lookback_to: Option<NaiveDate>,
    /// Invoices and forecast rows left out of the figures: no fx rate on or
    /// before their date.
    pub rows_without_rate: u64,
    /// Per input table with an event date: the newest one on or before as_of.
    pub freshness: Vec<Freshness>,
    /// Why the figures could not be computed, when they could not.
    pub failed: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Freshness {
    pub table: String,
    pub column: String,
    pub newest: Option<NaiveDate>,
}

/// The forecast lookback (the `forecast_lookback_months` whole months before
/// as_of's month) and the first day of the DSO window.
pub fn windows(as_of: NaiveDate, lookback_months: i32) -> (NaiveDate, NaiveDate, NaiveDate) {
    let this_month = as_of.with_day(1).expect("day 1");
    let total = this_month.year() * 12 + this_month.month0() as i32 - lookback_months;
    let from = NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
        .expect("valid month");
    let to = this_month - chrono::Duration::days(1);
    (from, to, as_of - chrono::Duration::days(DSO_DAYS - 1))
}

/// The schema of `partner_figures` (as_of is the partition column).
pub fn schema() -> SchemaRef {
    let money = |name: &str| Field::new(name, DataType::Decimal128(18, 2), true);
    Arc::new(Schema::new(vec![
        Field::new("as_of", DataType::Date32, false),
        Field::new("partner_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("tier", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("status", DataType::Utf8, true),
        Field::new("currency", DataType::Utf8, false),
        money("billed"),
        money("billed_lookback"),
        money("forecast_lookback"),
        money("outstanding"),
        money("recent_sales"),
    ]))
}

fn partner_figures_sql(from: NaiveDate, to: NaiveDate, recent: NaiveDate) -> String {
    format!(
        "with invoices_converted as (
    select
        b.partner_id,
        b.invoice_date as day,
        b.billed * fx.rate as billed,
        (case when b.billed > b.collected then b.billed - b.collected else 0 end) * fx.rate as owed
    from shared.invoice_balances b
    join shared.fx_daily fx on fx.currency = b.currency and fx.rate_date = b.invoice_date
    where b.status = 'issued' and b.partner_id is not null
),

billing as (
    select
        partner_id,
        sum(billed) as billed,
        sum(case when day between date '{from}' and date '{to}' then billed else 0 end) as billed_lookback,
        sum(owed) as outstanding,
        sum(case when day >= date '{recent}' then billed else 0 end) as recent_sales
    from invoices_converted
    group by partner_id
),

forecast as (
    select f.partner_id, sum(f.forecast_amount * fx.rate) as forecast_lookback
    from clean.forecasts f
    join shared.fx_daily fx on fx.currency = f.currency and fx.rate_date = f.period
    where f.partner_id is not null and f.period between date '{from}' and date '{to}'
    group by f.partner_id
),

partner_names as (
    -- every existing partner row, flagged ones too: a finding may name them
    select partner_id, min(name) as name, min(tier) as tier, min(region) as region, min(status) as status
    from existing.partners
    where partner_id is not null
    group by partner_id
),

figures as (
    select
        coalesce(b.partner_id, f.partner_id) as partner_id,
        coalesce(b.billed, 0) as billed,
        coalesce(b.billed_lookback, 0) as billed_lookback,
        coalesce(f.forecast_lookback, 0) as forecast_lookback,
        coalesce(b.outstanding, 0) as outstanding,
        coalesce(b.recent_sales, 0) as recent_sales
    from billing b
    full join forecast f on f.partner_id = b.partner_id
)

select
    p.as_of,
    coalesce(n.partner_id, g.partner_id) as partner_id,
    n.name,
    n.tier,
    n.region,
    n.status,
    p.reporting_currency as currency,
    cast(g.billed as decimal(18, 2)) as billed,
    cast(g.billed_lookback as decimal(18, 2)) as billed_lookback,
    cast(g.forecast_lookback as decimal(18, 2)) as forecast_lookback,
    cast(g.outstanding as decimal(18, 2)) as outstanding,
    cast(g.recent_sales as decimal(18, 2)) as recent_sales
from partner_names n
full join figures g on g.partner_id = n.partner_id
cross join params p
order by partner_id"
    )
}

fn without_rate_sql(from: NaiveDate, to: NaiveDate) -> String {
    format!(
        "select
    (select count(*) from shared.invoice_balances b
     left join shared.fx_daily fx on fx.currency = b.currency and fx.rate_date = b.invoice_date
     where b.status = 'issued' and b.partner_id is not null and fx.rate is null)
  + (select count(*) from clean.forecasts f
     left join shared.fx_daily fx on fx.currency = f.currency and fx.rate_date = f.period
     where f.partner_id is not null and f.period between date '{from}' and date '{to}' and fx.rate is null)
  as n"
    )
}

fn freshness_sql() -> String {
    TABLES
        .iter()
        .filter_map(|t| match t.existence {
            Existence::EventDate(column) => Some(format!(
                "select '{}' as table_name, '{column}' as column_name, max({column}) as newest from existing.{}",
                t.qualified(),
                t.name
            )),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" union all ")
}

/// Computes the figures after the checks (they read the shared views the checks
/// built). A failure (a shared view an analyst removed) is kept in the meta, not
/// raised: the report then says why the figures are not shown.
pub async fn compute(ctx: &SessionContext, params: &Params) -> (Vec<RecordBatch>, FiguresMeta) {
    let lookback_months: i32 = params
        .text("forecast_lookback_months")
        .parse()
        .unwrap_or(12);
    let (from, to, recent) = windows(params.as_of(), lookback_months);
    let mut meta = FiguresMeta {
        lookback_from: Some(from),
        lookback_to: Some(to),
        ..Default::default()
    };
    match collect(ctx, &freshness_sql()).await {
        Ok(batches) => meta.freshness = read_freshness(&batches),
        Err(e) => meta.failed = Some(e.to_string()),
    }
    let figures = match collect(ctx, &partner_figures_sql(from, to, recent)).await {
        Ok(batches) => batches,
        Err(e) => {
            meta.failed.get_or_insert(e.to_string());
            return (Vec::new(), meta);
        }
    };
    if let Ok(batches) = collect(ctx, &without_rate_sql(from, to)).await {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::Int64Type;
        meta.rows_without_rate = batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| b.column(0).as_primitive::<Int64Type>().value(0) as u64)
            .sum();
    }
    (figures, meta)
}

async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let failed = |e| Error::exec("the report's partner figures", e);
    ctx.sql(sql)
        .await
        .map_err(failed)?
        .collect()
        .await
        .map_err(failed)
}

fn read_freshness(batches: &[RecordBatch]) -> Vec<Freshness> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Date32Type;
    let mut found = Vec::new();
    for batch in batches {
        let text = |i: usize| datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8);
        let (Ok(tables), Ok(columns)) = (text(0), text(1)) else {
            continue;
        };
        let (tables, columns) = (tables.as_string::<i32>(), columns.as_string::<i32>());
        let newest = batch.column(2).as_primitive::<Date32Type>();
        for row in 0..batch.num_rows() {
            found.push(Freshness {
                table: tables.value(row).to_string(),
                column: columns.value(row).to_string(),
                newest: (!newest.is_null(row))
                    .then(|| crate::config::from_date32(newest.value(row))),
            });
        }
    }
    found.sort_by(|a, b| a.table.cmp(&b.table));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lookback_is_the_whole_months_before_as_of() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            windows(d("2026-01-15"), 12),
            (d("2025-01-01"), d("2025-12-31"), d("2025-10-18"))
        );
        assert_eq!(windows(d("2026-03-01"), 1).0, d("2026-02-01"));
    }
}
