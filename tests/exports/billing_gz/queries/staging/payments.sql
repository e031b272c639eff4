-- staging.payments from the billing system's gzip CSV export billing/payments.csv.gz
-- (read as the CSV inside it; every column arrives as text): export column names
-- renamed, the date and the amount converted.
select
    "Payment Ref" as payment_id,
    "Invoice No" as invoice_id,
    to_date("Paid On") as payment_date,
    cast("Amount" as decimal(18, 2)) as amount,
    "Currency" as currency
from billing.payments
