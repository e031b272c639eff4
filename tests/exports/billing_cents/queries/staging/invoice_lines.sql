-- staging.invoice_lines from the billing system's invoice_lines.parquet: money arrives as
-- int64 integer cents (divided by 100 in exact decimal arithmetic, then cast to
-- decimal(18,2)), the service period as timestamps (cast to date keeps the day; null
-- stays null), discount_pct is already pct (decimal(5,2)).
select
    invoice_number as invoice_id,
    line_number as line_no,
    sku,
    quantity,
    cast(cast(unit_price_cents as decimal(20,0)) / 100 as decimal(18,2)) as unit_price,
    discount_pct,
    cast(cast(line_amount_cents as decimal(20,0)) / 100 as decimal(18,2)) as line_amount,
    cast(period_start_at as date) as service_start,
    cast(period_end_at as date) as service_end
from billing.invoice_lines
