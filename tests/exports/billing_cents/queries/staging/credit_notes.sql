-- staging.credit_notes from the billing system's credit_notes.parquet: the amount arrives
-- as int64 integer cents (divided by 100 in exact decimal arithmetic, then cast to
-- decimal(18,2)), the issue date as a timestamp (cast to date keeps the day).
select
    credit_note_number as credit_note_id,
    invoice_number as invoice_id,
    cast(issued_at as date) as issued_date,
    cast(cast(amount_cents as decimal(20,0)) / 100 as decimal(18,2)) as amount,
    reason
from billing.credit_notes
