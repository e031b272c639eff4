-- title: Partner-reported sale never invoiced
-- description: Partner sales report lines with no issued invoice behind them: matched by deal when the line names one, else by the same partner, customer and sku invoiced within sale_match_window_days of the sale. Leakage = quantity x unit_price.
-- owner: channel operations
with issued as (
    select * from shared.invoice_balances where status = 'issued'
),

matched_by_deal as (
    select r.report_line_id
    from clean.partner_sales_reports r
    where r.deal_id is not null
      and exists (select 1 from issued i where i.deal_id = r.deal_id)
),

matched_by_sale as (
    select distinct r.report_line_id
    from clean.partner_sales_reports r
    join issued i on i.partner_id = r.partner_id and i.customer_id = r.customer_id
    join clean.invoice_lines l on l.invoice_id = i.invoice_id and l.sku = r.sku
    cross join params p
    where r.deal_id is null
      and abs(i.invoice_date - r.sale_date) <= p.sale_match_window_days
),

touched_by_flagged_rows as (
    -- an invoice that might have matched, or its line, failed data quality:
    -- the report line is not judged (a bad payment or posting matches nothing).
    -- The few touched invoices first, so that the joins stay small.
    select r.report_line_id
    from shared.invoices_touched_by_flagged_rows t
    join existing.invoices i on i.invoice_id = t.invoice_id
    join clean.partner_sales_reports r on r.deal_id = i.deal_id
    where t.flagged_table = 'invoices'
    union all
    select r.report_line_id
    from shared.invoices_touched_by_flagged_rows t
    join existing.invoices i on i.invoice_id = t.invoice_id
    join clean.partner_sales_reports r on r.partner_id = i.partner_id and r.customer_id = i.customer_id
    cross join params p
    where r.deal_id is null
      and t.flagged_table in ('invoices', 'invoice_lines')
      -- outside the match window the invoice is not one this line reads
      and (i.invoice_date is null or abs(i.invoice_date - r.sale_date) <= p.sale_match_window_days)
),

unbilled as (
    select r.*
    from clean.partner_sales_reports r
    where r.report_line_id not in (select report_line_id from matched_by_deal)
      and r.report_line_id not in (select report_line_id from matched_by_sale)
      and r.report_line_id not in (select report_line_id from touched_by_flagged_rows)
)

select
    cast(null as varchar) as severity,
    u.partner_id,
    'report_line' as entity_type,
    u.report_line_id as entity_id,
    cast(date_trunc('month', u.sale_date) as date) as period,
    cast(u.quantity * u.unit_price * fx.rate as decimal(18, 2)) as expected_amount,
    cast(0 as decimal(18, 2)) as actual_amount,
    cast(u.quantity * u.unit_price * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Partner ', u.partner_id, ' (', coalesce(pt.name, 'unknown'), ') reported selling ', cast(u.quantity as varchar), ' x ', u.sku,
        ' at ', fmt_money(u.unit_price), ' ', u.currency, ' to customer ', u.customer_id, ' on ', cast(u.sale_date as varchar),
        case when u.deal_id is null then '' else concat(' under deal ', u.deal_id) end,
        ' and no issued invoice matches: ', fmt_money(u.quantity * u.unit_price), ' ', u.currency, ', ',
        fmt_money(cast(u.quantity * u.unit_price * fx.rate as decimal(18, 2))), ' ', p.reporting_currency, ' unbilled.'
    ) as detail
from unbilled u
join shared.fx_daily fx on fx.currency = u.currency and fx.rate_date = u.sale_date
left join clean.partners pt on pt.partner_id = u.partner_id
cross join params p
