-- title: Your commissions
-- description: Per partner, deal and level it is paid or owed at: collected on the deal's issued invoices, the plan rate, earned (collected x rate, to the cent), paid, and the difference. A distributor sees its level-2 lines on its resellers' deals, and only those.
select
    g.partner_id,
    g.deal_id,
    g.level,
    g.currency,
    g.collected,
    case when g.is_entitled then coalesce(g.plan_rate_pct, 0) else 0 end as rate_pct,
    cast(g.owed_amount as decimal(18, 2)) as earned,
    g.paid_amount as paid,
    cast(g.owed_amount as decimal(18, 2)) - g.paid_amount as difference,
    fx.rate as rate_to_reporting
from shared.commission_groups g
cross join params p
left join shared.fx_daily fx on fx.currency = g.currency and fx.rate_date = p.as_of
