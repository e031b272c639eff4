-- staging.invoice_lines: the canonical billing/invoice_lines table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your billing export names or
-- shapes these columns differently; keep the output column names and types.
select
    invoice_id,
    line_no,
    sku,
    quantity,
    unit_price,
    discount_pct,
    line_amount,
    service_start,
    service_end
from billing.invoice_lines
