-- staging.payouts from the commission system's Spark-style export commissions/payouts/
-- (a folder of part files beside _SUCCESS and .crc files, which are not data): the payout
-- date arrives as a millisecond timestamp with a time of day, and cast to date keeps the day.
select
    payout_id,
    partner_id,
    deal_id,
    level,
    rate_pct,
    amount,
    currency,
    cast(paid_at as date) as payout_date
from commissions.payouts
