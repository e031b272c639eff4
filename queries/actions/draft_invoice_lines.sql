-- title: Draft invoice lines
-- description: The lines of the draft invoices: for missing_invoice the deal's lines; for under_billing the deal lines of skus no issued invoice bills (or one balancing line of the shortfall); for unreported_usage the excess seats at the price in force at as_of; for unbilled_partner_sale the reported line (a named won deal: its lines). In the document's currency.
-- shape: billing/invoice_lines
with actionable as (
    select finding_id, check_id, entity_id, disposition
    from actions._actionable_findings
    where check_id in ('missing_invoice', 'under_billing', 'unreported_usage', 'unbilled_partner_sale')
),

-- missing_invoice: the whole deal, line by line
lines_of_uninvoiced_deals as (
    select f.finding_id, l.line_no, l.sku, l.quantity, l.list_price as unit_price, l.discount_pct,
           l.net_amount as line_amount, d.currency, cast(null as varchar) as note
    from actionable f
    join clean.deals d on d.deal_id = f.entity_id
    join clean.deal_lines l on l.deal_id = d.deal_id
    where f.check_id = 'missing_invoice'
),

-- under_billing: the deals billed short and their lines of skus no issued
-- invoice bills (actions._short_deals, actions._never_billed_deal_lines: each
-- computed once, and read more than once below)
short_deals as (
    select * from actions._short_deals
),

never_billed_deal_lines as (
    select * from actions._never_billed_deal_lines
),

itemised_shortfalls as (
    -- the shortfall is exactly the lines of skus never billed: bill those lines
    select finding_id
    from never_billed_deal_lines
    group by finding_id, shortfall
    having sum(net_amount) = shortfall
),

lines_of_short_deals as (
    select n.finding_id, n.line_no, n.sku, n.quantity, n.list_price as unit_price, n.discount_pct,
           n.net_amount as line_amount, s.currency, cast(null as varchar) as note
    from never_billed_deal_lines n
    join short_deals s on s.finding_id = n.finding_id
    where n.finding_id in (select finding_id from itemised_shortfalls)
    union all
    -- otherwise one line of the shortfall, under one of the deal's skus (the
    -- first in order), with no quantity so that it entitles no seat
    select s.finding_id, 1 as line_no, deal_sku.sku, 0 as quantity, s.shortfall as unit_price,
           0 as discount_pct, s.shortfall as line_amount, s.currency,
           'balancing line: the shortfall cannot be told apart by sku (deal lines against invoice lines), so it is billed as one amount with quantity 0' as note
    from short_deals s
    join (
        select l.deal_id, min(l.sku) as sku
        from short_deals s
        join clean.deal_lines l on l.deal_id = s.deal_id
        group by l.deal_id
    ) deal_sku on deal_sku.deal_id = s.deal_id
    where s.finding_id not in (select finding_id from itemised_shortfalls)
),

-- unreported_usage: the excess seats of each customer and sku (actions._excess_seats)
price_at_as_of as (
    -- as unreported_usage values the excess: the reporting-currency price in force
    -- at as_of (the latest valid_from, should validity periods overlap); no window
    -- function, so no sort to hold memory for
    select pl.sku, pl.list_price
    from clean.price_list pl
    cross join params p
    join (
        select pl.sku, max(pl.valid_from) as valid_from
        from clean.price_list pl
        cross join params p
        where pl.currency = p.reporting_currency
          and pl.valid_from <= p.as_of
          and (pl.valid_to is null or pl.valid_to >= p.as_of)
        group by pl.sku
    ) newest on newest.sku = pl.sku and newest.valid_from = pl.valid_from
    where pl.currency = p.reporting_currency
),

lines_of_excess_seats as (
    select f.finding_id, 1 as line_no, a.sku, a.activated_seats - a.entitled_seats as quantity,
           pr.list_price as unit_price, 0 as discount_pct,
           (a.activated_seats - a.entitled_seats) * pr.list_price as line_amount,
           p.reporting_currency as currency, cast(null as varchar) as note
    from actionable f
    join actions._excess_seats a on a.finding_id = f.finding_id
    join price_at_as_of pr on pr.sku = a.sku
    cross join params p
    where f.check_id = 'unreported_usage'
      and a.activated_seats > a.entitled_seats
),

-- unbilled_partner_sale: the reported line; a won deal it names is billed whole,
-- once (by the first line naming it), unless its missing_invoice draft bills it
reported_lines as (
    select f.finding_id, r.*, d.stage as deal_stage
    from actionable f
    join clean.partner_sales_reports r on r.report_line_id = f.entity_id
    left join clean.deals d on d.deal_id = r.deal_id
    where f.check_id = 'unbilled_partner_sale'
),

won_deals_billed_whole as (
    select deal_id, min(report_line_id) as report_line_id
    from reported_lines
    where deal_stage = 'closed_won'
      and deal_id not in (
          select entity_id from actionable where check_id = 'missing_invoice'
      )
    group by deal_id
),

lines_of_reported_sales as (
    select r.finding_id, 1 as line_no, r.sku, r.quantity, r.unit_price, 0 as discount_pct,
           r.quantity * r.unit_price as line_amount, r.currency, cast(null as varchar) as note
    from reported_lines r
    where r.deal_stage is null or r.deal_stage <> 'closed_won'
    union all
    select r.finding_id, l.line_no, l.sku, l.quantity, l.list_price as unit_price, l.discount_pct,
           l.net_amount as line_amount, d.currency,
           'the won deal the partner reported, billed in full' as note
    from reported_lines r
    join won_deals_billed_whole w on w.report_line_id = r.report_line_id
    join clean.deals d on d.deal_id = r.deal_id
    join clean.deal_lines l on l.deal_id = r.deal_id
),

draft_lines as (
    select * from lines_of_uninvoiced_deals
    union all
    select * from lines_of_short_deals
    union all
    select * from lines_of_excess_seats
    union all
    select * from lines_of_reported_sales
)

select
    concat('RL-', to_char(p.as_of, '%Y%m%d'), '-', l.finding_id) as invoice_id,
    -- the deal lines' own numbers (unique per deal), else 1: no renumbering sort
    l.line_no,
    l.sku,
    l.quantity,
    l.unit_price,
    l.discount_pct,
    l.line_amount,
    cast(null as date) as service_start,
    cast(null as date) as service_end,
    l.finding_id,
    f.disposition,
    cast(l.line_amount * fx.rate as decimal(18, 2)) as reporting_amount,
    p.reporting_currency,
    l.note
from draft_lines l
join actionable f on f.finding_id = l.finding_id
cross join params p
-- no rate at as_of: the line stays, without its reporting figure
left join shared.fx_daily fx on fx.currency = l.currency and fx.rate_date = p.as_of
