-- staging.partner_sales_reports: the canonical prm/partner_sales_reports table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your prm export names or
-- shapes these columns differently; keep the output column names and types.
select
    report_line_id,
    partner_id,
    deal_id,
    customer_id,
    sku,
    quantity,
    unit_price,
    currency,
    sale_date,
    reported_date
from prm.partner_sales_reports
