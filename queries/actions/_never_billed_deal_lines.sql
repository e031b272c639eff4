-- title: Deal lines never billed
-- description: A step of draft_invoice_lines, computed once and not published (its name starts with _): the lines of each deal billed short (actions._short_deals) whose sku no issued invoice of the deal bills, with the finding and the shortfall.
with billed_skus_of_deals as (
    select distinct i.deal_id, l.sku
    from actions._short_deals s
    join shared.invoice_balances i on i.deal_id = s.deal_id and i.status = 'issued'
    join clean.invoice_lines l on l.invoice_id = i.invoice_id
)

select s.finding_id, s.shortfall, l.*
from actions._short_deals s
join clean.deal_lines l on l.deal_id = s.deal_id
where not exists (
    select 1 from billed_skus_of_deals b where b.deal_id = s.deal_id and b.sku = l.sku
)
