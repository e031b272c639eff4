-- title: Commission adjustments
-- description: With exactly the columns of commissions/payouts: a claw-back (negative payout) for each commission_overpayment and a top-up for each commission_underpayment, per deal, level and partner, in the payout (deal) currency, paid at as_of, so that paid equals owed.
-- shape: commissions/payouts
with actionable as (
    select finding_id, check_id, entity_id, disposition
    from actions._actionable_findings
    where check_id in ('commission_overpayment', 'commission_underpayment')
),

adjusted_groups as (
    select
        f.finding_id,
        f.check_id,
        f.disposition,
        g.deal_id,
        g.level,
        g.partner_id,
        g.currency,
        case when g.is_entitled then coalesce(g.plan_rate_pct, 0) else 0 end as rate_pct,
        cast(g.owed_amount as decimal(18, 2)) - g.paid_amount as adjustment
    from actionable f
    join shared.commission_groups g
      on concat(g.deal_id, ':', cast(g.level as varchar), ':', g.partner_id) = f.entity_id
)

select
    concat('RL-', to_char(p.as_of, '%Y%m%d'), '-', a.finding_id) as payout_id,
    a.partner_id,
    a.deal_id,
    a.level,
    -- what the plan pays this partner at this level (0 when it is owed nothing)
    a.rate_pct,
    a.adjustment as amount,
    a.currency,
    p.as_of as payout_date,
    a.finding_id,
    a.disposition,
    cast(a.adjustment * fx.rate as decimal(18, 2)) as reporting_amount,
    p.reporting_currency,
    case a.check_id
        when 'commission_overpayment' then 'claw-back: paid above what the plan owes on what was collected'
        else 'top-up: owed on what was collected but not paid'
    end as note
from adjusted_groups a
cross join params p
-- no rate at as_of: the adjustment stays, without its reporting figure
left join shared.fx_daily fx on fx.currency = a.currency and fx.rate_date = p.as_of
