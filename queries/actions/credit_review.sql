-- title: Credit review
-- description: For finance: each credit note with no reason or a manual correction (unexplained_credit), with its invoice, customer, partner and amount, to be justified or reversed.
with actionable as (
    select finding_id, entity_id, partner_id, disposition, leakage_amount
    from actions._actionable_findings
    where check_id = 'unexplained_credit'
)

select
    c.credit_note_id,
    c.invoice_id,
    i.customer_id,
    f.partner_id,
    c.issued_date,
    c.amount,
    i.currency,
    c.reason,
    i.status as invoice_status,
    f.finding_id,
    f.disposition,
    f.leakage_amount as reporting_amount,
    p.reporting_currency
from actionable f
join clean.credit_notes c on c.credit_note_id = f.entity_id
join clean.invoices i on i.invoice_id = c.invoice_id
cross join params p
