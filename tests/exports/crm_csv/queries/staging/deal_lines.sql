-- staging.deal_lines from the CRM's opportunity line export crm/deal_lines.parquet: CRM
-- column names are renamed, money arrives as decimal(38,10) and is cast to money
-- (decimal(18,2)), and the discount arrives as a fraction (0.15 = 15 %) in decimal(38,10),
-- so it is multiplied by 100 in exact decimal arithmetic and cast to pct (decimal(5,2)).
select
    "OpportunityId" as deal_id,
    "LineNumber" as line_no,
    "ProductCode" as sku,
    "Qty" as quantity,
    cast("UnitListPrice" as decimal(18,2)) as list_price,
    cast("DiscountFraction" * 100 as decimal(5,2)) as discount_pct,
    cast("NetAmount" as decimal(18,2)) as net_amount,
    "TermMonths" as term_months
from crm.deal_lines
