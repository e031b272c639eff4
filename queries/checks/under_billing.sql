-- title: Deal billed short
-- description: Closed-won deals with at least one issued invoice whose invoice totals (before credit notes) fall short of the deal value by more than amount_tolerance. The shortfall leaks.
-- owner: billing operations
with short_deals as (
    select d.*
    from shared.deal_values d
    cross join params p
    where d.stage = 'closed_won'
      and d.issued_invoices > 0
      and not exists (
          -- a flagged row this check reads: data_quality reported it
          select 1 from shared.deals_touched_by_flagged_rows t
          where t.deal_id = d.deal_id and t.flagged_table in ('deal_lines', 'invoices')
      )
      and d.invoiced_total < d.deal_value - p.amount_tolerance
),

converted as (
    select
        s.*,
        cast(s.deal_value * fx.rate as decimal(18, 2)) as expected_reporting,
        cast(s.invoiced_total * fx.rate as decimal(18, 2)) as actual_reporting,
        cast((s.deal_value - s.invoiced_total) * fx.rate as decimal(18, 2)) as shortfall_reporting
    from short_deals s
    join shared.fx_daily fx on fx.currency = s.currency and fx.rate_date = s.close_date
)

select
    cast(null as varchar) as severity,
    c.partner_id,
    'deal' as entity_type,
    c.deal_id as entity_id,
    cast(date_trunc('month', c.close_date) as date) as period,
    c.expected_reporting as expected_amount,
    c.actual_reporting as actual_amount,
    c.shortfall_reporting as leakage_amount,
    concat(
        'Deal ', c.deal_id, ' (', c.partner_label, ', ', c.currency, ') closed ', cast(c.close_date as varchar),
        ' for ', fmt_money(c.deal_value), ' was billed ', fmt_money(c.invoiced_total),
        ' on ', cast(c.issued_invoices as varchar), ' issued invoice(s): ',
        fmt_money(c.deal_value - c.invoiced_total), ' ', c.currency, ' short, ',
        fmt_money(c.shortfall_reporting), ' ', p.reporting_currency, '.'
    ) as detail
from converted c
cross join params p
