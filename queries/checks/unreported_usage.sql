-- title: Seats in use beyond what was invoiced
-- description: Per customer and sku, seats activated up to as_of above the seats on issued invoice lines. Leakage = excess seats x the reporting-currency price_list price in force at as_of. How sales that partners never reported show up.
-- owner: revenue assurance
with seats as (
    -- activated and invoiced seats side by side, so that one grouping sums both
    -- (two groupings of half a million keys each, then a join of them, cost more)
    select customer_id, sku, quantity as activated, 0 as invoiced, true as is_activation
    from clean.activations
    union all
    select i.customer_id, l.sku, 0 as activated, l.quantity as invoiced, false as is_activation
    from shared.invoice_balances i
    join clean.invoice_lines l on l.invoice_id = i.invoice_id
    where i.status = 'issued'
),

seats_by_customer_sku as (
    select customer_id, sku, sum(activated) as activated_seats, sum(invoiced) as entitled_seats
    from seats
    group by customer_id, sku
    -- only what was activated: a sku that was only invoiced is never over-used
    having bool_or(is_activation)
),

touched_by_flagged_rows as (
    -- a flagged invoice or invoice line may hold the missing seats (a bad
    -- payment or posting holds none); the few touched invoices first, so that
    -- the joins stay small
    select distinct i.customer_id, l.sku
    from shared.invoices_touched_by_flagged_rows t
    join existing.invoices i on i.invoice_id = t.invoice_id
    join existing.invoice_lines l on l.invoice_id = t.invoice_id
    where t.flagged_table in ('invoices', 'invoice_lines')
),

over_used as (
    select a.customer_id, a.sku, a.activated_seats, a.entitled_seats,
           a.activated_seats - a.entitled_seats as excess_seats
    from seats_by_customer_sku a
    where a.activated_seats > a.entitled_seats
      and not exists (
          select 1 from touched_by_flagged_rows t where t.customer_id = a.customer_id and t.sku = a.sku
      )
),

price_at_as_of as (
    select pl.sku, pl.list_price,
           row_number() over (partition by pl.sku order by pl.valid_from desc) as newest_first
    from clean.price_list pl
    cross join params p
    where pl.currency = p.reporting_currency
      and pl.valid_from <= p.as_of
      and (pl.valid_to is null or pl.valid_to >= p.as_of)
),

latest_activation as (
    -- the partner of the newest activation, looked up for the over-used seats
    -- only: ranking all activations is the slow part, and few are over-used
    select o.*, a.partner_id,
           row_number() over (partition by a.customer_id, a.sku order by a.activated_date desc, a.activation_id desc) as newest_first
    from over_used o
    join clean.activations a on a.customer_id = o.customer_id and a.sku = o.sku
)

select
    cast(null as varchar) as severity,
    o.partner_id,
    'customer_sku' as entity_type,
    concat(o.customer_id, ':', o.sku) as entity_id,
    cast(date_trunc('month', p.as_of) as date) as period,
    o.activated_seats * pr.list_price as expected_amount,
    o.entitled_seats * pr.list_price as actual_amount,
    coalesce(o.excess_seats * pr.list_price, cast(0 as decimal(18, 2))) as leakage_amount,
    concat(
        'Customer ', o.customer_id, ' has ', cast(o.activated_seats as varchar), ' seat(s) of ', o.sku, ' activated',
        case when o.partner_id is null then '' else concat(' (latest by partner ', o.partner_id, ')') end,
        ' but ', cast(o.entitled_seats as varchar), ' invoiced: ', cast(o.excess_seats as varchar), ' unbilled seat(s)',
        case
            when pr.list_price is null then concat(', no ', p.reporting_currency, ' list price in force on ', cast(p.as_of as varchar), ' to value them.')
            else concat(' at ', fmt_money(pr.list_price), ' = ', fmt_money(o.excess_seats * pr.list_price), ' ', p.reporting_currency, '.')
        end
    ) as detail
from latest_activation o
left join price_at_as_of pr on pr.sku = o.sku and pr.newest_first = 1
cross join params p
where o.newest_first = 1
