-- shared.invoice_balances: each clean invoice with what it bills and what came
-- back against it, all in the invoice's currency (checks.md: "billed" = total
-- minus credit notes; "collected" = sum of payments), and whether a flagged row
-- touches it.
with credited as (
    select invoice_id, sum(amount) as credited
    from clean.credit_notes
    group by invoice_id
),

collected as (
    select invoice_id, sum(amount) as collected
    from clean.payments
    group by invoice_id
),

posted as (
    select invoice_id, sum(amount) as posted
    from clean.revenue_postings
    group by invoice_id
)

select
    i.invoice_id,
    i.deal_id,
    i.partner_id,
    i.customer_id,
    i.invoice_date,
    i.due_date,
    i.currency,
    i.status,
    i.total_amount,
    coalesce(c.credited, 0) as credited,
    i.total_amount - coalesce(c.credited, 0) as billed,
    coalesce(p.collected, 0) as collected,
    coalesce(g.posted, 0) as posted,
    t.invoice_id is not null as touched_by_flagged_rows
from clean.invoices i
left join credited c on c.invoice_id = i.invoice_id
left join collected p on p.invoice_id = i.invoice_id
left join posted g on g.invoice_id = i.invoice_id
left join shared.invoices_touched_by_flagged_rows t on t.invoice_id = i.invoice_id
