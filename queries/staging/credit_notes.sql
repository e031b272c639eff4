-- staging.credit_notes: the canonical billing/credit_notes table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your billing export names or
-- shapes these columns differently; keep the output column names and types.
select
    credit_note_id,
    invoice_id,
    issued_date,
    amount,
    reason
from billing.credit_notes
