-- staging.payments: the canonical billing/payments table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your billing export names or
-- shapes these columns differently; keep the output column names and types.
select
    payment_id,
    invoice_id,
    payment_date,
    amount,
    currency
from billing.payments
