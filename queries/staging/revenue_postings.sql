-- staging.revenue_postings: the canonical erp/revenue_postings table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your erp export names or
-- shapes these columns differently; keep the output column names and types.
select
    posting_id,
    invoice_id,
    posting_date,
    amount,
    currency
from erp.revenue_postings
