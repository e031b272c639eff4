-- title: Partner billed below its committed forecast
-- description: Per partner and complete calendar month of the forecast_lookback_months before as_of's month, forecast minus what was billed through the partner, when the shortfall exceeds both forecast_variance_pct of the forecast and forecast_min_shortfall.
-- owner: channel sales
with months_in_lookback as (
    select f.partner_id, f.period, f.currency, f.forecast_amount
    from clean.forecasts f
    cross join params p
    where (extract(year from f.period) * 12 + extract(month from f.period))
          between (extract(year from p.as_of) * 12 + extract(month from p.as_of)) - p.forecast_lookback_months
              and (extract(year from p.as_of) * 12 + extract(month from p.as_of)) - 1
),

billed_by_partner_month as (
    -- each invoice converted at its own invoice_date, summed, rounded once
    select
        i.partner_id,
        cast(date_trunc('month', i.invoice_date) as date) as period,
        sum(i.billed * fx.rate) as billed_reporting_exact,
        count(*) as invoice_count
    from shared.invoice_balances i
    join shared.fx_daily fx on fx.currency = i.currency and fx.rate_date = i.invoice_date
    where i.status = 'issued' and i.partner_id is not null
    group by i.partner_id, cast(date_trunc('month', i.invoice_date) as date)
),

months_touched_by_flagged_rows as (
    select distinct i.partner_id, cast(date_trunc('month', i.invoice_date) as date) as period
    from existing.invoices i
    join shared.invoices_touched_by_flagged_rows t on t.invoice_id = i.invoice_id
    -- what the month billed: the invoices and their credit notes
    where t.flagged_table in ('invoices', 'credit_notes')
),

compared as (
    select
        m.partner_id,
        m.period,
        m.currency,
        m.forecast_amount,
        cast(m.forecast_amount * fx.rate as decimal(18, 2)) as expected_reporting,
        cast(coalesce(b.billed_reporting_exact, 0) as decimal(18, 2)) as actual_reporting,
        coalesce(b.invoice_count, 0) as invoice_count
    from months_in_lookback m
    join shared.fx_daily fx on fx.currency = m.currency and fx.rate_date = m.period
    left join billed_by_partner_month b on b.partner_id = m.partner_id and b.period = m.period
    where not exists (
        select 1 from months_touched_by_flagged_rows t
        where t.partner_id = m.partner_id and t.period = m.period
    )
)

select
    cast(null as varchar) as severity,
    c.partner_id,
    'partner_period' as entity_type,
    concat(c.partner_id, ':', to_char(c.period, '%Y-%m')) as entity_id,
    c.period,
    c.expected_reporting as expected_amount,
    c.actual_reporting as actual_amount,
    c.expected_reporting - c.actual_reporting as leakage_amount,
    concat(
        'Partner ', c.partner_id, ' (', coalesce(pt.name, 'unknown'), ') committed ', fmt_money(c.forecast_amount), ' ', c.currency,
        ' for ', to_char(c.period, '%Y-%m'), ' (', fmt_money(c.expected_reporting), ' ', p.reporting_currency,
        ') but was billed ', fmt_money(c.actual_reporting), ' ', p.reporting_currency, ' on ', cast(c.invoice_count as varchar),
        ' invoice(s): ', fmt_money(c.expected_reporting - c.actual_reporting), ' ', p.reporting_currency, ' short.'
    ) as detail
from compared c
cross join params p
left join clean.partners pt on pt.partner_id = c.partner_id
where c.expected_reporting - c.actual_reporting
      > greatest(c.expected_reporting * p.forecast_variance_pct * 0.01, p.forecast_min_shortfall)
