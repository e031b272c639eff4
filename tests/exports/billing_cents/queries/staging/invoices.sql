-- staging.invoices from the billing system's invoices.parquet: money arrives as int64
-- integer cents (divided by 100 in exact decimal arithmetic, then cast to decimal(18,2)),
-- dates as timestamps with a time of day (cast to date keeps the day), and a few columns
-- carry the billing system's own names.
select
    invoice_number as invoice_id,
    deal_id,
    bill_to_partner_id as partner_id,
    customer_id,
    cast(created_at as date) as invoice_date,
    cast(due_at as date) as due_date,
    currency_code as currency,
    status,
    cast(cast(total_amount_cents as decimal(20,0)) / 100 as decimal(18,2)) as total_amount
from billing.invoices
