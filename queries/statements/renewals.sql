-- title: Your customers' renewals
-- description: Per partner, its customers' subscriptions (sold through it) ending in the next 90 days, and those whose term ended without a renewal (the vendor's missed_renewal findings), with sku, end date, annual value and auto-renew.
with ending_soon as (
    select s.*, 'ending within 90 days' as state
    from clean.subscriptions s
    cross join params p
    where s.partner_id is not null
      and s.status <> 'cancelled'
      and s.end_date > p.as_of
      and s.end_date <= p.as_of + 90
),

lapsed as (
    select s.*, 'ended, not renewed' as state
    from run.findings f
    join clean.subscriptions s on s.subscription_id = f.entity_id
    where f.check_id = 'missed_renewal'
      and s.partner_id is not null
      and (f.disposition is null or f.disposition = 'accepted')
)

select partner_id, subscription_id, customer_id, sku, quantity, end_date, annual_value, currency, auto_renew, state
from ending_soon
union all
select partner_id, subscription_id, customer_id, sku, quantity, end_date, annual_value, currency, auto_renew, state
from lapsed
