-- staging.partner_sales_reports from a distributor's POS workbook (prm/pos_q3.xlsx,
-- sheet `POS Q3`, chosen in revleak.toml). Every cell arrives as text as Excel
-- shows its value without the number format: prices `152.1`, dates `2025-05-10`.
select
    "Line Ref" as report_line_id,
    "Reseller ID" as partner_id,
    "Deal Reg #" as deal_id,
    "End Customer" as customer_id,
    "Part Number" as sku,
    cast("Qty" as bigint) as quantity,
    cast("Unit Price" as decimal(18, 2)) as unit_price,
    "Currency" as currency,
    cast("Invoice Date" as date) as sale_date,
    cast("Report Date" as date) as reported_date
from prm.pos_q3
