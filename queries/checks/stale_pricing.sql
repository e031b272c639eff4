-- title: Deal quoted below the current price list
-- description: Lines of closed-won deals whose unit list_price is below the price_list price in force at close for the sku and the deal's currency by more than amount_tolerance per unit. Leakage = quantity x (price_list - list_price) x (1 - discount_pct/100).
-- owner: pricing
with won_lines as (
    select d.deal_id, d.partner_id, d.partner_label, d.close_date, d.currency,
           l.line_no, l.sku, l.quantity, l.list_price, l.discount_pct
    from shared.deal_values d
    join clean.deal_lines l on l.deal_id = d.deal_id
    -- per line: a flagged row elsewhere in the deal is not one this line reads
    where d.stage = 'closed_won'
),

close_days as (
    -- deals close on a few hundred distinct days: resolve the price list once per
    -- day rather than once per line (a date-range join per line is the slow part)
    select distinct close_date
    from shared.deal_values
    where stage = 'closed_won'
),

newest_in_force as (
    -- the latest valid_from in force on each day, should validity periods overlap
    select pl.sku, pl.currency, c.close_date, max(pl.valid_from) as valid_from
    from close_days c
    join clean.price_list pl
      on pl.valid_from <= c.close_date
     and (pl.valid_to is null or pl.valid_to >= c.close_date)
    group by pl.sku, pl.currency, c.close_date
),

price_in_force as (
    -- (sku, currency, valid_from) is the price list's key: one price per day;
    -- a line is stale when quoted below stale_below (current price - tolerance)
    select n.sku, n.currency, n.close_date, pl.list_price as current_price,
           pl.list_price - p.amount_tolerance as stale_below
    from newest_in_force n
    join clean.price_list pl
      on pl.sku = n.sku and pl.currency = n.currency and pl.valid_from = n.valid_from
    cross join params p
),

stale_lines as (
    -- the price test sits in the join condition, so lines quoted at the list
    -- price are dropped while joining instead of being joined and then filtered
    select w.*, pf.current_price
    from won_lines w
    join price_in_force pf
      on pf.sku = w.sku and pf.currency = w.currency and pf.close_date = w.close_date
     and w.list_price < pf.stale_below
)

select
    cast(null as varchar) as severity,
    s.partner_id,
    'deal_line' as entity_type,
    concat(s.deal_id, ':', cast(s.line_no as varchar)) as entity_id,
    cast(date_trunc('month', s.close_date) as date) as period,
    cast(s.quantity * s.current_price * (100 - s.discount_pct) * 0.01 * fx.rate as decimal(18, 2)) as expected_amount,
    cast(s.quantity * s.list_price * (100 - s.discount_pct) * 0.01 * fx.rate as decimal(18, 2)) as actual_amount,
    cast(s.quantity * (s.current_price - s.list_price) * (100 - s.discount_pct) * 0.01 * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Line ', cast(s.line_no as varchar), ' of deal ', s.deal_id, ' (', s.partner_label, ', ', s.currency, ') closed ',
        cast(s.close_date as varchar), ' quoted ', s.sku, ' at ', fmt_money(s.list_price), ' a unit while the price list said ',
        fmt_money(s.current_price), ': ', cast(s.quantity as varchar), ' units, ',
        fmt_money(cast(s.quantity * (s.current_price - s.list_price) * (100 - s.discount_pct) * 0.01 * fx.rate as decimal(18, 2))),
        ' ', p.reporting_currency, ' after the line''s ', cast(s.discount_pct as varchar), '% discount.'
    ) as detail
from stale_lines s
join shared.fx_daily fx on fx.currency = s.currency and fx.rate_date = s.close_date
cross join params p
