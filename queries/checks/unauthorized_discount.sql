-- title: Discount above policy without approval
-- description: Lines of closed-won deals discounted beyond the policy maximum for the selling partner's tier (direct when no partner) and the product family, in force at close, with no approval covering it. Leakage = quantity x list_price x (discount - allowed) / 100.
-- owner: deal desk
with won_lines as (
    select
        d.deal_id,
        d.partner_id,
        d.partner_label,
        d.close_date,
        d.currency,
        coalesce(pt.tier, 'direct') as tier,
        l.line_no,
        l.sku,
        pr.family,
        l.quantity,
        l.list_price,
        l.discount_pct
    from shared.deal_values d
    join clean.deal_lines l on l.deal_id = d.deal_id
    join clean.products pr on pr.sku = l.sku
    left join clean.partners pt on pt.partner_id = d.partner_id
    where d.stage = 'closed_won'
      and not exists (
          -- a flagged approval may be the one that covers the line
          select 1 from shared.deals_touched_by_flagged_rows t
          where t.deal_id = d.deal_id and t.flagged_table = 'discount_approvals'
      )
      -- a partner deal whose partner row failed data quality has no known tier
      and (d.partner_id is null or pt.partner_id is not null)
),

close_days as (
    -- deals close on a few hundred distinct days: resolve the policies once per
    -- day rather than once per line (a date-range join per line is the slow part)
    select distinct close_date
    from shared.deal_values
    where stage = 'closed_won'
),

policy_by_day as (
    -- per tier, family and day: the highest maximum among the policies in force
    select dp.tier, dp.family, c.close_date, max(dp.max_discount_pct) as max_discount_pct
    from close_days c
    join clean.discount_policies dp
      on dp.valid_from <= c.close_date
     and (dp.valid_to is null or dp.valid_to >= c.close_date)
    group by dp.tier, dp.family, c.close_date
),

best_approval_at_close as (
    -- approvals are per deal: the highest one valid on the close date
    select d.deal_id, max(a.approved_discount_pct) as approved_pct
    from shared.deal_values d
    join clean.discount_approvals a
      on a.deal_id = d.deal_id
     and a.approved_date <= d.close_date
     and (a.expires_date is null or a.expires_date >= d.close_date)
    group by d.deal_id
),

allowed as (
    -- an approval that falls short of the discount still raises what was allowed
    select
        w.*,
        greatest(pol.max_discount_pct, coalesce(ap.approved_pct, pol.max_discount_pct)) as allowed_pct
    from won_lines w
    -- the discount test sits in the join condition: lines within policy are
    -- dropped while joining instead of being joined and then filtered
    join policy_by_day pol
      on pol.tier = w.tier and pol.family = w.family and pol.close_date = w.close_date
     and w.discount_pct > pol.max_discount_pct
    left join best_approval_at_close ap on ap.deal_id = w.deal_id
    where ap.approved_pct is null or ap.approved_pct < w.discount_pct
)

select
    cast(null as varchar) as severity,
    a.partner_id,
    'deal_line' as entity_type,
    concat(a.deal_id, ':', cast(a.line_no as varchar)) as entity_id,
    cast(date_trunc('month', a.close_date) as date) as period,
    cast(a.quantity * a.list_price * (100 - a.allowed_pct) * 0.01 * fx.rate as decimal(18, 2)) as expected_amount,
    cast(a.quantity * a.list_price * (100 - a.discount_pct) * 0.01 * fx.rate as decimal(18, 2)) as actual_amount,
    cast(a.quantity * a.list_price * (a.discount_pct - a.allowed_pct) * 0.01 * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Line ', cast(a.line_no as varchar), ' of deal ', a.deal_id, ' (', a.partner_label, ', tier ', a.tier, ', ', a.currency,
        ') closed ', cast(a.close_date as varchar), ' gave ', cast(a.discount_pct as varchar), '% off ', a.sku,
        ' (', a.family, ') where ', cast(a.allowed_pct as varchar), '% was allowed without a covering approval: ',
        fmt_money(a.quantity * a.list_price * (a.discount_pct - a.allowed_pct) * 0.01), ' ', a.currency, ' given away, ',
        fmt_money(cast(a.quantity * a.list_price * (a.discount_pct - a.allowed_pct) * 0.01 * fx.rate as decimal(18, 2))),
        ' ', p.reporting_currency, '.'
    ) as detail
from allowed a
join shared.fx_daily fx on fx.currency = a.currency and fx.rate_date = a.close_date
cross join params p
