-- shared.fx_daily: for every currency and every day, the rate that converts one unit
-- into the reporting currency: the latest rate_date on or before that day (docs/checks.md).
-- Built once per run, before data quality and the checks; a check converts an amount
-- with `join shared.fx_daily fx on fx.currency = ... and fx.rate_date = <reference date>`.
--
-- contracts/fx_rates converts into fx_base_currency (USD by default), which needs no
-- row. Another reporting currency is reached by a cross rate through the base:
-- rate(X -> R) = rate(X -> base) / rate(R -> base), rounded to 18 decimals.
with base_rates as (
    select currency, rate_date, cast(rate_to_reporting as decimal(28, 18)) as rate_to_base
    from clean.fx_rates
    union all
    -- the base currency (and a reporting currency without rows: it is then the base)
    -- converts at 1 on any day
    select u.currency, date '1900-01-01', cast(1 as decimal(28, 18))
    from (
        select p.fx_base_currency as currency from params p
        union
        select p.reporting_currency from params p
    ) u
    where not exists (select 1 from clean.fx_rates r where r.currency = u.currency)
),

last_day_needed as (
    -- forecasts are not filtered by as_of and may name months to come; ten years
    -- ahead is as far as a daily table goes (no check reads a later day). One row:
    -- an aggregate without group by always returns one, so it is cross joined
    -- below (a scalar subquery would be an outer join, which a cluster can get wrong)
    select greatest(p.as_of, least(coalesce(f.last_period, p.as_of), p.as_of + 3660)) as last_day
    from params p
    cross join (select max(period) as last_period from staging.forecasts) f
),

rate_validity as (
    select
        currency,
        rate_date,
        rate_to_base,
        coalesce(
            lead(rate_date) over (partition by currency order by rate_date) - interval '1 day',
            l.last_day
        ) as valid_to
    from base_rates
    cross join last_day_needed l
),

base_daily as (
    select currency, rate_to_base, unnest(generate_series(rate_date, valid_to, interval '1 day')) as rate_date
    from rate_validity
    where rate_date <= valid_to
)

select
    b.currency,
    cast(b.rate_date as date) as rate_date,
    case
        when r.rate_to_base = 1 then b.rate_to_base
        -- divide a 16-decimal numerator by the 8-decimal fx_rates value: the quotient
        -- has 20 decimals and is rounded to 18 here (dividing two decimal(28, 18)
        -- overflows the decimal division kernel)
        else cast(cast(b.rate_to_base as decimal(26, 16)) / cast(r.rate_to_base as decimal(18, 8)) as decimal(28, 18))
    end as rate
from base_daily b
cross join params p
join base_daily r on r.currency = p.reporting_currency and r.rate_date = b.rate_date
