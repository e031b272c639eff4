-- title: Renewal opportunities
-- description: For customer success and the partner: each missed_renewal subscription with its customer, partner, sku, annual value, end date and whether it was set to renew automatically.
with actionable as (
    select finding_id, entity_id, disposition, leakage_amount
    from actions._actionable_findings
    where check_id = 'missed_renewal'
)

select
    s.subscription_id,
    s.customer_id,
    s.partner_id,
    s.sku,
    s.quantity,
    s.annual_value,
    s.currency,
    s.end_date,
    s.auto_renew,
    s.status,
    f.finding_id,
    f.disposition,
    f.leakage_amount as reporting_amount,
    p.reporting_currency
from actionable f
join clean.subscriptions s on s.subscription_id = f.entity_id
cross join params p
