-- staging.deal_lines: the canonical crm/deal_lines table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your crm export names or
-- shapes these columns differently; keep the output column names and types.
select
    deal_id,
    line_no,
    sku,
    quantity,
    list_price,
    discount_pct,
    net_amount,
    term_months
from crm.deal_lines
