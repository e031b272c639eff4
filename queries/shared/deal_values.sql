-- shared.deal_values: each clean deal with its value (the sum of its lines'
-- net_amount, in the deal's currency), its issued invoices (how many, their totals
-- before credit notes, the first one's date, what was collected on them up to as_of:
-- the base of its commissions), the selling partner's name for the detail
-- sentences. (Which flagged rows touch it: shared.deals_touched_by_flagged_rows.)
-- The billing checks read the issued invoices from here, so that they are grouped
-- by deal once, not once per check.
with line_values as (
    select deal_id, sum(net_amount) as deal_value
    from clean.deal_lines
    group by deal_id
),

issued_invoices as (
    select
        deal_id,
        count(*) as issued_invoices,
        sum(total_amount) as invoiced_total,
        min(invoice_date) as first_invoice_date,
        sum(collected) as collected
    from shared.invoice_balances
    where status = 'issued' and deal_id is not null
    group by deal_id
)

select
    d.deal_id,
    d.partner_id,
    coalesce(pt.name, 'direct') as partner_label,
    d.customer_id,
    d.stage,
    d.close_date,
    d.currency,
    d.deal_type,
    d.renewal_of_subscription_id,
    coalesce(v.deal_value, cast(0 as decimal(18, 2))) as deal_value,
    coalesce(i.issued_invoices, 0) as issued_invoices,
    -- null without an issued invoice
    i.invoiced_total,
    i.first_invoice_date,
    coalesce(i.collected, 0) as collected
from clean.deals d
left join line_values v on v.deal_id = d.deal_id
left join issued_invoices i on i.deal_id = d.deal_id
left join clean.partners pt on pt.partner_id = d.partner_id
