-- shared.invoices_touched_by_flagged_rows: each invoice one of whose own rows
-- failed data quality, once per table the flagged row is in (flagged_table:
-- invoices, invoice_lines, payments, credit_notes, revenue_postings).
-- An invoice-level check stays silent on an invoice only when the flagged row is
-- in a table that check reads (data_quality has reported that row): a bad
-- posting does not silence payment_gap, nor a bad payment erp_posting_gap.
select distinct invoice_id, flagged_table
from (
    select invoice_id, 'invoices' as flagged_table from flagged.invoices
    union all
    select invoice_id, 'invoice_lines' as flagged_table from flagged.invoice_lines
    union all
    select invoice_id, 'payments' as flagged_table from flagged.payments
    union all
    select invoice_id, 'credit_notes' as flagged_table from flagged.credit_notes
    union all
    select invoice_id, 'revenue_postings' as flagged_table from flagged.revenue_postings
) touched
where invoice_id is not null
