-- title: Commission paid above what was earned
-- description: Per deal, level and paid partner: payouts (claw-backs included) above collected x plan rate at close by more than amount_tolerance. Covers payouts on unbilled or unpaid deals, wrong rates, duplicate payouts and partners not entitled.
-- owner: partner operations
with overpaid as (
    select g.*, g.paid_amount - g.owed_amount as excess
    from shared.commission_groups g
    cross join params p
    where g.paid_amount - g.owed_amount > p.amount_tolerance
)

select
    cast(null as varchar) as severity,
    o.partner_id,
    'payout_group' as entity_type,
    concat(o.deal_id, ':', cast(o.level as varchar), ':', o.partner_id) as entity_id,
    cast(date_trunc('month', o.close_date) as date) as period,
    cast(o.owed_amount * fx.rate as decimal(18, 2)) as expected_amount,
    cast(o.paid_amount * fx.rate as decimal(18, 2)) as actual_amount,
    cast(o.excess * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Partner ', o.partner_id, ' (', o.partner_name, ', ', o.partner_tier, ') was paid ', fmt_money(o.paid_amount), ' ', o.currency,
        ' in ', cast(o.payout_count as varchar), ' level-', cast(o.level as varchar), ' payout(s) on deal ', o.deal_id,
        ' (sold by ', o.partner_label, ', closed ', cast(o.close_date as varchar), ') but earned ', fmt_money(o.owed_amount),
        case
            when not o.is_entitled then ' (not entitled at that level)'
            else concat(' (', cast(coalesce(o.plan_rate_pct, 0) as varchar), '% of ', fmt_money(o.collected), ' collected)')
        end,
        ': ', fmt_money(o.excess), ' ', o.currency, ' overpaid, ',
        fmt_money(cast(o.excess * fx.rate as decimal(18, 2))), ' ', p.reporting_currency, '.'
    ) as detail
from overpaid o
join shared.fx_daily fx on fx.currency = o.currency and fx.rate_date = o.close_date
cross join params p
