-- title: Deals billed short
-- description: A step of draft_invoice_lines, computed once and not published (its name starts with _): each under_billing finding's deal, its currency and the shortfall in it (deal value minus the totals of its issued invoices).
with actionable as (
    select finding_id, entity_id
    from actions._actionable_findings
    where check_id = 'under_billing'
)

-- the totals of its issued invoices are deal_values' invoiced_total, the figure
-- under_billing compared
select f.finding_id, d.deal_id, d.currency, d.deal_value - d.invoiced_total as shortfall
from actionable f
join shared.deal_values d on d.deal_id = f.entity_id
where d.issued_invoices > 0
