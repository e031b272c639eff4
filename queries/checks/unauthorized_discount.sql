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
      and not d.touched_by_flagged_rows
      -- a partner deal whose partner row failed data quality has no known tier
      and (d.partner_id is null or pt.partner_id is not null)
),

policy_at_close as (
    select w.deal_id, w.line_no, max(dp.max_discount_pct) as max_discount_pct
    from won_lines w
    join clean.discount_policies dp
      on dp.tier = w.tier
     and dp.family = w.family
     and dp.valid_from <= w.close_date
     and (dp.valid_to is null or dp.valid_to >= w.close_date)
    group by w.deal_id, w.line_no
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
    join policy_at_close pol on pol.deal_id = w.deal_id and pol.line_no = w.line_no
    left join best_approval_at_close ap on ap.deal_id = w.deal_id
    where w.discount_pct > pol.max_discount_pct
      and (ap.approved_pct is null or ap.approved_pct < w.discount_pct)
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
