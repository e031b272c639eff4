-- title: Your invoices and payments
-- description: Per partner, its invoices: billed to it, or billed through its own deals. Each with status, total, credited, paid and outstanding in the invoice's currency, and days past due at as_of.
with partner_invoices as (
    -- billed to the partner
    select i.partner_id as statement_partner_id, 'billed to you' as relation, i.*
    from shared.invoice_balances i
    where i.partner_id is not null
    union all
    -- billed to someone else for the partner's own deal
    select d.partner_id as statement_partner_id, 'your deal' as relation, i.*
    from shared.invoice_balances i
    join clean.deals d on d.deal_id = i.deal_id
    where d.partner_id is not null
      and (i.partner_id is null or i.partner_id <> d.partner_id)
)

select
    i.statement_partner_id as partner_id,
    i.invoice_id,
    i.relation,
    i.deal_id,
    i.customer_id,
    i.invoice_date,
    i.due_date,
    i.status,
    i.currency,
    i.total_amount,
    i.credited,
    i.collected as paid,
    case when i.status = 'issued'
         then greatest(i.total_amount - i.credited - i.collected, cast(0 as decimal(18, 2)))
         else cast(0 as decimal(18, 2)) end as outstanding,
    case when i.status = 'issued' and i.total_amount - i.credited - i.collected > 0 and p.as_of > i.due_date
         then p.as_of - i.due_date else 0 end as days_past_due,
    fx.rate as rate_to_reporting
from partner_invoices i
cross join params p
left join shared.fx_daily fx on fx.currency = i.currency and fx.rate_date = p.as_of
