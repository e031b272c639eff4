-- shared.deals_touched_by_flagged_rows: deals one of whose own rows failed data
-- quality (the deal, a line, an invoice or its lines, a payment, credit note or
-- posting of its invoices, a payout, a discount approval).
--
-- Checks 1-14 read only clean rows; a check about a deal stays silent on these
-- deals, because the row it would need is the one data_quality already reported.
-- One bad row is one finding, never a cascade (a deal whose only invoice has a
-- duplicated key is not also a "missing invoice").
with invoices_of_flagged_rows as (
    select invoice_id from flagged.invoice_lines
    union all
    select invoice_id from flagged.payments
    union all
    select invoice_id from flagged.credit_notes
    union all
    select invoice_id from flagged.revenue_postings
)

select distinct deal_id
from (
    select deal_id from flagged.deals
    union all
    select deal_id from flagged.deal_lines
    union all
    select deal_id from flagged.invoices
    union all
    select i.deal_id
    from invoices_of_flagged_rows f
    join existing.invoices i on i.invoice_id = f.invoice_id
    union all
    select deal_id from flagged.payouts
    union all
    select deal_id from flagged.discount_approvals
) touched
where deal_id is not null
