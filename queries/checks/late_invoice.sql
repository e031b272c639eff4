-- title: Deal invoiced late
-- description: Closed-won deals whose first issued invoice came more than invoice_grace_days after close. A cash-flow signal, not a loss: medium when over twice the grace, else low.
-- severity: low
-- owner: billing operations
with late_deals as (
    select
        d.*,
        d.first_invoice_date - d.close_date as days_to_invoice,
        p.invoice_grace_days
    from shared.deal_values d
    cross join params p
    where d.stage = 'closed_won'
      and d.issued_invoices > 0
      and not exists (
          -- a flagged row this check reads: data_quality reported it
          select 1 from shared.deals_touched_by_flagged_rows t
          where t.deal_id = d.deal_id and t.flagged_table in ('deal_lines', 'invoices')
      )
      and d.first_invoice_date - d.close_date > p.invoice_grace_days
)

select
    case when l.days_to_invoice > 2 * l.invoice_grace_days then 'medium' else 'low' end as severity,
    l.partner_id,
    'deal' as entity_type,
    l.deal_id as entity_id,
    cast(date_trunc('month', l.close_date) as date) as period,
    cast(l.deal_value * fx.rate as decimal(18, 2)) as expected_amount,
    cast(null as decimal(18, 2)) as actual_amount,
    cast(0 as decimal(18, 2)) as leakage_amount,
    concat(
        'Deal ', l.deal_id, ' (', l.partner_label, ', ', l.currency, ') closed ', cast(l.close_date as varchar),
        ' for ', fmt_money(l.deal_value), ' ', l.currency, ' was first invoiced ', cast(l.first_invoice_date as varchar),
        ', ', cast(l.days_to_invoice as varchar), ' days after close (grace ', cast(l.invoice_grace_days as varchar), ' days).'
    ) as detail
from late_deals l
join shared.fx_daily fx on fx.currency = l.currency and fx.rate_date = l.close_date
