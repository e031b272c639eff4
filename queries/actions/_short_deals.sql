-- title: Deals billed short
-- description: A step of draft_invoice_lines, computed once and not published (its name starts with _): each under_billing finding's deal, its currency and the shortfall in it (deal value minus the totals of its issued invoices).
with actionable as (
    select finding_id, entity_id
    from actions._actionable_findings
    where check_id = 'under_billing'
)

select f.finding_id, d.deal_id, d.currency, d.deal_value - sum(i.total_amount) as shortfall
from actionable f
join shared.deal_values d on d.deal_id = f.entity_id
join shared.invoice_balances i on i.deal_id = d.deal_id and i.status = 'issued'
group by f.finding_id, d.deal_id, d.currency, d.deal_value
