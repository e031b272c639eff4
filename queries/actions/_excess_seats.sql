-- title: Seats in use beyond those invoiced
-- description: A step of draft_invoice_lines, computed once and not published (its name starts with _): for each unreported_usage finding, the customer and sku, the seats activated up to as_of and those on issued invoice lines.
with actionable as (
    select finding_id, entity_id
    from actions._actionable_findings
    where check_id = 'unreported_usage'
),

over_used_pairs as (
    select distinct f.finding_id, a.customer_id, a.sku
    from actionable f
    join clean.activations a on concat(a.customer_id, ':', a.sku) = f.entity_id
),

seats as (
    select finding_id, customer_id, sku, sum(activated) as activated_seats, sum(invoiced) as entitled_seats
    from (
        select k.finding_id, a.customer_id, a.sku, a.quantity as activated, 0 as invoiced
        from over_used_pairs k
        join clean.activations a on a.customer_id = k.customer_id and a.sku = k.sku
        union all
        select k.finding_id, i.customer_id, l.sku, 0 as activated, l.quantity as invoiced
        from over_used_pairs k
        join shared.invoice_balances i on i.customer_id = k.customer_id and i.status = 'issued'
        join clean.invoice_lines l on l.invoice_id = i.invoice_id and l.sku = k.sku
    ) s
    group by finding_id, customer_id, sku
)

select * from seats
