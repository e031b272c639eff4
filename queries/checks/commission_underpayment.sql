-- title: Commission paid below what was earned
-- description: Per deal, level and entitled partner: payouts below collected x plan rate at close by more than amount_tolerance, including no payout at all. The vendor owes it: a partner-trust signal, not leakage.
-- severity: info
-- owner: partner operations
with underpaid as (
    select g.*, g.owed_amount - g.paid_amount as shortfall
    from shared.commission_groups g
    cross join params p
    where g.owed_amount - g.paid_amount > p.amount_tolerance
)

select
    'info' as severity,
    u.partner_id,
    'payout_group' as entity_type,
    concat(u.deal_id, ':', cast(u.level as varchar), ':', u.partner_id) as entity_id,
    cast(date_trunc('month', u.close_date) as date) as period,
    cast(u.owed_amount * fx.rate as decimal(18, 2)) as expected_amount,
    cast(u.paid_amount * fx.rate as decimal(18, 2)) as actual_amount,
    cast(0 as decimal(18, 2)) as leakage_amount,
    concat(
        'Partner ', u.partner_id, ' (', u.partner_name, ', ', u.partner_tier, ') earned ', fmt_money(u.owed_amount), ' ', u.currency,
        ' at level ', cast(u.level as varchar), ' on deal ', u.deal_id, ' (sold by ', u.partner_label, ', closed ',
        cast(u.close_date as varchar), '; ', cast(coalesce(u.plan_rate_pct, 0) as varchar), '% of ', fmt_money(u.collected),
        ' collected) but was paid ', fmt_money(u.paid_amount), ': ', fmt_money(u.shortfall), ' ', u.currency, ' owed to the partner.'
    ) as detail
from underpaid u
join shared.fx_daily fx on fx.currency = u.currency and fx.rate_date = u.close_date
cross join params p
