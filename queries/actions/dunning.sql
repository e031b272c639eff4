-- title: Dunning list
-- description: For collections: each payment_gap invoice with its customer, partner, what is outstanding in the invoice's currency and how many days past due it is at as_of.
with actionable as (
    select finding_id, entity_id, disposition, leakage_amount
    from actions._actionable_findings
    where check_id = 'payment_gap'
)

select
    i.invoice_id,
    i.customer_id,
    coalesce(i.partner_id, d.partner_id) as partner_id,
    i.invoice_date,
    i.due_date,
    p.as_of - i.due_date as days_past_due,
    i.total_amount,
    i.collected,
    i.credited,
    i.total_amount - i.collected - i.credited as outstanding,
    i.currency,
    f.finding_id,
    f.disposition,
    f.leakage_amount as reporting_amount,
    p.reporting_currency
from actionable f
join shared.invoice_balances i on i.invoice_id = f.entity_id
left join clean.deals d on d.deal_id = i.deal_id
cross join params p
