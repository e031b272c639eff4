-- staging.invoices: the canonical billing/invoices table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your billing export names or
-- shapes these columns differently; keep the output column names and types.
select
    invoice_id,
    deal_id,
    partner_id,
    customer_id,
    invoice_date,
    due_date,
    currency,
    status,
    total_amount
from billing.invoices
