-- shared.commission_groups: one row per deal, level and paid partner, comparing
-- what the partner was paid with what it was owed (checks.md 7 and 8), in the
-- deal's currency. Read by commission_overpayment and commission_underpayment.
--
-- A group exists for every (deal, level, partner) with a payout, and for every
-- entitled partner of a deal with collections (so a missing payout shows too).
-- Entitled: level 1 = the deal's selling partner, level 2 = that partner's parent
-- distributor, and only when the paid partner's own agreement was in force on
-- the close date. Owed = collected on the deal's issued invoices up to as_of x the
-- plan rate for the paid partner's own tier and the level, in force at close.
with collected_by_deal as (
    select deal_id, sum(collected) as collected
    from shared.invoice_balances
    where status = 'issued' and deal_id is not null
    group by deal_id
),

paid as (
    select deal_id, level, partner_id, sum(amount) as paid_amount, count(*) as payout_count
    from clean.payouts
    group by deal_id, level, partner_id
),

entitled as (
    select d.deal_id, 1 as level, d.partner_id
    from shared.deal_values d
    where d.partner_id is not null
    union all
    select d.deal_id, 2 as level, sp.parent_partner_id as partner_id
    from shared.deal_values d
    join clean.partners sp on sp.partner_id = d.partner_id
    where sp.parent_partner_id is not null
),

groups as (
    select deal_id, level, partner_id from paid
    union
    select e.deal_id, e.level, e.partner_id
    from entitled e
    join collected_by_deal c on c.deal_id = e.deal_id
    where c.collected > 0
)

select
    g.deal_id,
    g.level,
    g.partner_id,
    pp.name as partner_name,
    pp.tier as partner_tier,
    d.partner_id as deal_partner_id,
    d.partner_label,
    d.close_date,
    d.currency,
    coalesce(c.collected, 0) as collected,
    e.deal_id is not null and pp.agreement_start <= d.close_date
        and (pp.agreement_end is null or pp.agreement_end >= d.close_date) as is_entitled,
    plan.rate_pct as plan_rate_pct,
    case
        when e.deal_id is not null and pp.agreement_start <= d.close_date
             and (pp.agreement_end is null or pp.agreement_end >= d.close_date)
        then coalesce(c.collected, 0) * coalesce(plan.rate_pct, 0) * 0.01
        else cast(0 as decimal(18, 2))
    end as owed_amount,
    coalesce(pd.paid_amount, 0) as paid_amount,
    coalesce(pd.payout_count, 0) as payout_count
from groups g
join shared.deal_values d on d.deal_id = g.deal_id
-- the paid partner must be a clean partner row: its tier and agreement decide
join clean.partners pp on pp.partner_id = g.partner_id
left join entitled e on e.deal_id = g.deal_id and e.level = g.level and e.partner_id = g.partner_id
left join collected_by_deal c on c.deal_id = g.deal_id
left join paid pd on pd.deal_id = g.deal_id and pd.level = g.level and pd.partner_id = g.partner_id
left join clean.commission_plans plan
  on plan.tier = pp.tier
 and plan.level = g.level
 and plan.valid_from <= d.close_date
 and (plan.valid_to is null or plan.valid_to >= d.close_date)
where not d.touched_by_flagged_rows
  and d.close_date is not null
