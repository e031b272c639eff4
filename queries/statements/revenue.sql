-- title: Your revenue by month
-- description: Per partner and month (the forecast_lookback_months before as_of's month and that month so far): deals won through it and their value, what was billed through it (issued invoices whose partner it is, net of credit notes), and its committed forecast. In each document's currency and in the reporting currency (each at its own date's rate).
with won as (
    select d.partner_id, cast(date_trunc('month', d.close_date) as date) as month, d.currency,
           count(*) as won_deals, sum(d.deal_value) as won_value,
           sum(d.deal_value * fx.rate) as won_value_reporting
    from shared.deal_values d
    join shared.fx_daily fx on fx.currency = d.currency and fx.rate_date = d.close_date
    where d.stage = 'closed_won' and d.partner_id is not null
    group by d.partner_id, cast(date_trunc('month', d.close_date) as date), d.currency
),

billed as (
    select i.partner_id, cast(date_trunc('month', i.invoice_date) as date) as month, i.currency,
           sum(i.billed) as billed, sum(i.billed * fx.rate) as billed_reporting
    from shared.invoice_balances i
    join shared.fx_daily fx on fx.currency = i.currency and fx.rate_date = i.invoice_date
    where i.status = 'issued' and i.partner_id is not null
    group by i.partner_id, cast(date_trunc('month', i.invoice_date) as date), i.currency
),

forecast as (
    select f.partner_id, f.period as month, f.currency,
           sum(f.forecast_amount) as forecast, sum(f.forecast_amount * fx.rate) as forecast_reporting
    from clean.forecasts f
    join shared.fx_daily fx on fx.currency = f.currency and fx.rate_date = f.period
    group by f.partner_id, f.period, f.currency
),

keys as (
    select partner_id, month, currency from won
    union
    select partner_id, month, currency from billed
    union
    select partner_id, month, currency from forecast
)

select
    k.partner_id,
    k.month,
    k.currency,
    coalesce(w.won_deals, 0) as won_deals,
    coalesce(w.won_value, 0) as won_value,
    cast(coalesce(w.won_value_reporting, 0) as decimal(18, 2)) as won_value_reporting,
    coalesce(b.billed, 0) as billed,
    cast(coalesce(b.billed_reporting, 0) as decimal(18, 2)) as billed_reporting,
    f.forecast,
    cast(f.forecast_reporting as decimal(18, 2)) as forecast_reporting
from keys k
cross join params p
left join won w on w.partner_id = k.partner_id and w.month = k.month and w.currency = k.currency
left join billed b on b.partner_id = k.partner_id and b.month = k.month and b.currency = k.currency
left join forecast f on f.partner_id = k.partner_id and f.month = k.month and f.currency = k.currency
-- the lookback months and as_of's month so far (forecasts of later months are not shown)
where (extract(year from k.month) * 12 + extract(month from k.month))
      between (extract(year from p.as_of) * 12 + extract(month from p.as_of)) - p.forecast_lookback_months
          and (extract(year from p.as_of) * 12 + extract(month from p.as_of))
