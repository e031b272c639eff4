-- staging.payments from the billing system's payments.parquet: the amount arrives as
-- int64 integer cents (divided by 100 in exact decimal arithmetic, then cast to
-- decimal(18,2)), the payment date as a timestamp (cast to date keeps the day).
select
    payment_id,
    invoice_number as invoice_id,
    cast(received_at as date) as payment_date,
    cast(cast(amount_cents as decimal(20,0)) / 100 as decimal(18,2)) as amount,
    currency_code as currency
from billing.payments
