-- title: Subscription ended without renewal
-- description: Subscriptions not cancelled whose term ended between renewal_lookback_days and renewal_grace_days before as_of, with no closed-won renewal deal naming them and no other subscription of the same customer and sku starting within renewal_grace_days of the day after the end. The annual value leaks.
-- owner: customer success
with ended_in_window as (
    select s.*
    from clean.subscriptions s
    cross join params p
    where s.status <> 'cancelled'
      and s.end_date between p.as_of - p.renewal_lookback_days and p.as_of - p.renewal_grace_days
),

renewed_by_deal as (
    select distinct d.renewal_of_subscription_id as subscription_id
    from clean.deals d
    where d.stage = 'closed_won' and d.renewal_of_subscription_id is not null
),

renewed_by_subscription as (
    select distinct e.subscription_id
    from ended_in_window e
    join clean.subscriptions n
      on n.customer_id = e.customer_id
     and n.sku = e.sku
     and n.subscription_id <> e.subscription_id
    cross join params p
    where abs(n.start_date - (e.end_date + 1)) <= p.renewal_grace_days
),

touched_by_flagged_rows as (
    -- a renewal that failed data quality may be the one that renews it: a deal
    -- naming it, or a subscription of the customer and sku starting within the
    -- grace days (or with no start date to tell); one starting later is not read
    select e.subscription_id
    from ended_in_window e
    cross join params p
    where exists (select 1 from flagged.deals d where d.renewal_of_subscription_id = e.subscription_id)
       or exists (
           select 1 from flagged.subscriptions f
           where f.customer_id = e.customer_id and f.sku = e.sku and f.subscription_id <> e.subscription_id
             and (f.start_date is null or abs(f.start_date - (e.end_date + 1)) <= p.renewal_grace_days)
       )
),

missed as (
    select e.*
    from ended_in_window e
    where e.subscription_id not in (select subscription_id from renewed_by_deal)
      and e.subscription_id not in (select subscription_id from renewed_by_subscription)
      and e.subscription_id not in (select subscription_id from touched_by_flagged_rows)
)

select
    cast(null as varchar) as severity,
    m.partner_id,
    'subscription' as entity_type,
    m.subscription_id as entity_id,
    cast(date_trunc('month', m.end_date) as date) as period,
    cast(m.annual_value * fx.rate as decimal(18, 2)) as expected_amount,
    cast(0 as decimal(18, 2)) as actual_amount,
    cast(m.annual_value * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Subscription ', m.subscription_id, ' of customer ', m.customer_id, ' for ', cast(m.quantity as varchar), ' seat(s) of ', m.sku,
        case when m.partner_id is null then ' (direct' else concat(' (partner ', m.partner_id) end, ', ',
        case when m.auto_renew then 'auto-renew' else 'not auto-renew' end, ', ', m.status,
        ') ended ', cast(m.end_date as varchar), ' and was not renewed: ', fmt_money(m.annual_value), ' ', m.currency, ' a year, ',
        fmt_money(cast(m.annual_value * fx.rate as decimal(18, 2))), ' ', p.reporting_currency, '.'
    ) as detail
from missed m
join shared.fx_daily fx on fx.currency = m.currency and fx.rate_date = m.end_date
cross join params p
