-- shared.invoices_touched_by_flagged_rows: invoices one of whose own rows failed
-- data quality (the invoice, a line, a payment, a credit note, a posting).
-- Invoice-level checks stay silent on them: data_quality has reported the row.
select distinct invoice_id
from (
    select invoice_id from flagged.invoices
    union all
    select invoice_id from flagged.invoice_lines
    union all
    select invoice_id from flagged.payments
    union all
    select invoice_id from flagged.credit_notes
    union all
    select invoice_id from flagged.revenue_postings
) touched
where invoice_id is not null
