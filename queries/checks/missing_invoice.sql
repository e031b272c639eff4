-- title: Closed deal never invoiced
-- description: Closed-won deals with a value, closed at least invoice_grace_days before as_of, with no issued invoice. The whole deal value leaks.
-- owner: billing operations
with uninvoiced_deals as (
    select d.*
    from shared.deal_values d
    cross join params p
    where d.stage = 'closed_won'
      and d.close_date <= p.as_of - p.invoice_grace_days
      and d.deal_value > 0
      and not exists (
          -- a flagged row this check reads: data_quality reported it
          select 1 from shared.deals_touched_by_flagged_rows t
          where t.deal_id = d.deal_id and t.flagged_table in ('deal_lines', 'invoices')
      )
      and d.issued_invoices = 0
),

converted as (
    select
        d.*,
        cast(d.deal_value * fx.rate as decimal(18, 2)) as value_reporting
    from uninvoiced_deals d
    join shared.fx_daily fx on fx.currency = d.currency and fx.rate_date = d.close_date
)

select
    cast(null as varchar) as severity,
    c.partner_id,
    'deal' as entity_type,
    c.deal_id as entity_id,
    cast(date_trunc('month', c.close_date) as date) as period,
    c.value_reporting as expected_amount,
    cast(0 as decimal(18, 2)) as actual_amount,
    c.value_reporting as leakage_amount,
    concat(
        'Deal ', c.deal_id, ' (', c.partner_label, ', ', c.currency, ') closed ', cast(c.close_date as varchar),
        ' for ', fmt_money(c.deal_value), ' ', c.currency,
        ' and has no issued invoice ', cast(p.as_of - c.close_date as varchar), ' days later: ',
        fmt_money(c.value_reporting), ' ', p.reporting_currency, ' never billed.'
    ) as detail
from converted c
cross join params p
