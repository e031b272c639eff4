-- shared.deals_touched_by_flagged_rows: each deal one of whose own rows failed
-- data quality, once per table the flagged row is in (flagged_table: deals,
-- deal_lines, invoices, invoice_lines, payments, credit_notes, revenue_postings,
-- payouts, discount_approvals; the rows of an invoice count for its deal).
--
-- Checks 1-14 read only clean rows (docs/checks.md, "Flagged rows"). A check
-- about a deal stays silent on a deal only when the flagged row is in a table
-- that check reads, because that row is the one data_quality already reported:
-- one bad row is one finding, never a cascade (a deal whose only invoice has a
-- duplicated key is not also a "missing invoice"). A flagged row the check does
-- not read (a bad payment, for under_billing) silences nothing, so a real leak
-- is still reported.
with invoices_of_flagged_rows as (
    select invoice_id, 'invoice_lines' as flagged_table from flagged.invoice_lines
    union all
    select invoice_id, 'payments' as flagged_table from flagged.payments
    union all
    select invoice_id, 'credit_notes' as flagged_table from flagged.credit_notes
    union all
    select invoice_id, 'revenue_postings' as flagged_table from flagged.revenue_postings
)

select distinct deal_id, flagged_table
from (
    select deal_id, 'deals' as flagged_table from flagged.deals
    union all
    select deal_id, 'deal_lines' as flagged_table from flagged.deal_lines
    union all
    select deal_id, 'invoices' as flagged_table from flagged.invoices
    union all
    select i.deal_id, f.flagged_table
    from invoices_of_flagged_rows f
    join existing.invoices i on i.invoice_id = f.invoice_id
    union all
    select deal_id, 'payouts' as flagged_table from flagged.payouts
    union all
    select deal_id, 'discount_approvals' as flagged_table from flagged.discount_approvals
) touched
where deal_id is not null
