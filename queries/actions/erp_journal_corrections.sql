-- title: ERP journal corrections
-- description: With exactly the columns of erp/revenue_postings: for each erp_posting_gap, the amount to post (or, when over-posted, to reverse) so that the ledger holds what the invoice billed, in the invoice's currency, posted at as_of.
-- shape: erp/revenue_postings
with actionable as (
    select finding_id, entity_id, disposition
    from actions._actionable_findings
    where check_id = 'erp_posting_gap'
),

posted_by_invoice as (
    -- the postings of the findings' invoices only, picked before they are summed
    select invoice_id, sum(amount) as posted
    from clean.revenue_postings
    where invoice_id in (select entity_id from actionable)
    group by invoice_id
),

corrections as (
    select f.finding_id, f.disposition, i.invoice_id, i.currency,
           i.billed - coalesce(g.posted, 0) as amount
    from actionable f
    join shared.invoice_balances i on i.invoice_id = f.entity_id
    left join posted_by_invoice g on g.invoice_id = i.invoice_id
)

select
    concat('RL-', to_char(p.as_of, '%Y%m%d'), '-', c.finding_id) as posting_id,
    c.invoice_id,
    p.as_of as posting_date,
    c.amount,
    c.currency,
    c.finding_id,
    c.disposition,
    cast(c.amount * fx.rate as decimal(18, 2)) as reporting_amount,
    p.reporting_currency,
    case when c.amount < 0 then 'reversal: the ledger holds more than was billed'
         else 'posting: billed but not in the ledger' end as note
from corrections c
cross join params p
left join shared.fx_daily fx on fx.currency = c.currency and fx.rate_date = p.as_of
