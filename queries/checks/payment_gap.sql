-- title: Invoice not collected
-- description: Issued invoices past due_date + payment_grace_days where payments plus credit notes fall short of the total by more than amount_tolerance. The outstanding amount leaks.
-- owner: collections
with overdue as (
    select i.*, i.total_amount - i.collected - i.credited as outstanding
    from shared.invoice_balances i
    cross join params p
    where i.status = 'issued'
      and not exists (
          -- a flagged row this check reads: data_quality reported it
          select 1 from shared.invoices_touched_by_flagged_rows t
          where t.invoice_id = i.invoice_id and t.flagged_table in ('payments', 'credit_notes')
      )
      and i.due_date + p.payment_grace_days < p.as_of
      and i.collected + i.credited < i.total_amount - p.amount_tolerance
)

select
    cast(null as varchar) as severity,
    coalesce(o.partner_id, d.partner_id) as partner_id,
    'invoice' as entity_type,
    o.invoice_id as entity_id,
    cast(date_trunc('month', o.invoice_date) as date) as period,
    cast(o.total_amount * fx.rate as decimal(18, 2)) as expected_amount,
    cast((o.collected + o.credited) * fx.rate as decimal(18, 2)) as actual_amount,
    cast(o.outstanding * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Invoice ', o.invoice_id, ' (customer ', o.customer_id,
        case when o.deal_id is null then '' else concat(', deal ', o.deal_id) end, ', ', o.currency, ') dated ',
        cast(o.invoice_date as varchar), ' for ', fmt_money(o.total_amount), ' was due ', cast(o.due_date as varchar),
        '; ', fmt_money(o.collected), ' collected and ', fmt_money(o.credited), ' credited leave ',
        fmt_money(o.outstanding), ' ', o.currency, ' outstanding, ',
        fmt_money(cast(o.outstanding * fx.rate as decimal(18, 2))), ' ', p.reporting_currency, '.'
    ) as detail
from overdue o
join shared.fx_daily fx on fx.currency = o.currency and fx.rate_date = o.invoice_date
left join clean.deals d on d.deal_id = o.deal_id
cross join params p
