-- shared.commission_groups: one row per deal, level and paid partner, comparing
-- what the partner was paid with what it was owed (docs/checks.md §7 and §8), in the
-- deal's currency. Read by commission_overpayment and commission_underpayment.
--
-- A group exists for every (deal, level, partner) with a payout, and for every
-- entitled partner of a deal with collections (so a missing payout shows too).
-- Entitled: level 1 = the deal's selling partner, level 2 = that partner's parent
-- distributor, and only when the paid partner's own agreement was in force on
-- the close date. Owed = collected on the deal's issued invoices up to as_of
-- (shared.deal_values.collected) x the plan rate for the paid partner's own tier
-- and the level, in force at close.
with paid as (
    select deal_id, level, partner_id, sum(amount) as paid_amount, count(*) as payout_count
    from clean.payouts
    group by deal_id, level, partner_id
),

entitled as (
    select d.deal_id, 1 as level, d.partner_id, d.collected
    from shared.deal_values d
    where d.partner_id is not null
    union all
    select d.deal_id, 2 as level, sp.parent_partner_id as partner_id, d.collected
    from shared.deal_values d
    join clean.partners sp on sp.partner_id = d.partner_id
    where sp.parent_partner_id is not null
),

groups as (
    -- a full join meets each (deal, level, partner) once, whether paid, entitled
    -- or both; an entitled partner nobody paid counts once something was collected
    select
        coalesce(pd.deal_id, e.deal_id) as deal_id,
        coalesce(pd.level, e.level) as level,
        coalesce(pd.partner_id, e.partner_id) as partner_id,
        e.deal_id is not null as listed_as_entitled,
        pd.paid_amount,
        pd.payout_count
    from paid pd
    full join entitled e
      on e.deal_id = pd.deal_id and e.level = pd.level and e.partner_id = pd.partner_id
    where pd.deal_id is not null or e.collected > 0
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
    d.collected,
    g.listed_as_entitled and pp.agreement_start <= d.close_date
        and (pp.agreement_end is null or pp.agreement_end >= d.close_date) as is_entitled,
    plan.rate_pct as plan_rate_pct,
    case
        when g.listed_as_entitled and pp.agreement_start <= d.close_date
             and (pp.agreement_end is null or pp.agreement_end >= d.close_date)
        then d.collected * coalesce(plan.rate_pct, 0) * 0.01
        else cast(0 as decimal(18, 2))
    end as owed_amount,
    coalesce(g.paid_amount, 0) as paid_amount,
    coalesce(g.payout_count, 0) as payout_count
from groups g
join shared.deal_values d on d.deal_id = g.deal_id
-- the paid partner must be a clean partner row: its tier and agreement decide
join clean.partners pp on pp.partner_id = g.partner_id
left join clean.commission_plans plan
  on plan.tier = pp.tier
 and plan.level = g.level
 and plan.valid_from <= d.close_date
 and (plan.valid_to is null or plan.valid_to >= d.close_date)
where not exists (
    -- a flagged row these checks read: data_quality reported it
    select 1 from shared.deals_touched_by_flagged_rows t
    where t.deal_id = d.deal_id and t.flagged_table in ('invoices', 'payments', 'payouts')
)
  and d.close_date is not null
