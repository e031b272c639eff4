-- shared.invoice_balances: each clean invoice with what it bills and what came
-- back against it, all in the invoice's currency (docs/checks.md: "billed" = total
-- minus credit notes; "collected" = sum of payments). Which flagged rows touch
-- it: shared.invoices_touched_by_flagged_rows. (What the ledger posted is
-- erp_posting_gap's alone: it reads clean.revenue_postings itself, so the other
-- checks do not need erp/.)
with credited as (
    select invoice_id, sum(amount) as credited
    from clean.credit_notes
    group by invoice_id
),

collected as (
    select invoice_id, sum(amount) as collected
    from clean.payments
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
    coalesce(p.collected, 0) as collected
from clean.invoices i
left join credited c on c.invoice_id = i.invoice_id
left join collected p on p.invoice_id = i.invoice_id
