-- title: Deal desk review
-- description: For the deal desk: each deal line given an unauthorized discount or quoted below the price list, with what was allowed against what was given (the line's net value, in the reporting currency) and the amount given away.
with actionable as (
    select finding_id, check_id, entity_id, disposition, expected_amount, actual_amount, leakage_amount, detail
    from actions._actionable_findings
    where check_id in ('unauthorized_discount', 'stale_pricing')
),

findings_by_line as (
    -- entity_id is '<deal_id>:<line_no>', and a line number holds no ':': the deal
    -- is what comes before the last ':'. Looked up by deal (a hash of a few hundred
    -- findings) rather than by building every line's entity id
    select *,
           regexp_replace(entity_id, ':[^:]*$', '') as deal_id,
           regexp_replace(entity_id, '^.*:', '') as line_no_text
    from actionable
)

select
    f.check_id as reason,
    l.deal_id,
    l.line_no,
    d.partner_id,
    d.close_date,
    l.sku,
    l.quantity,
    l.list_price,
    l.discount_pct,
    d.currency,
    f.expected_amount as allowed_value,
    f.actual_amount as given_value,
    f.leakage_amount as given_away,
    f.detail,
    f.finding_id,
    f.disposition,
    f.leakage_amount as reporting_amount,
    p.reporting_currency
from findings_by_line f
join clean.deals d on d.deal_id = f.deal_id
join clean.deal_lines l on l.deal_id = f.deal_id and cast(l.line_no as varchar) = f.line_no_text
cross join params p
