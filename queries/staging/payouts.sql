-- staging.payouts: the canonical commissions/payouts table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your commissions export names or
-- shapes these columns differently; keep the output column names and types.
select
    payout_id,
    partner_id,
    deal_id,
    level,
    rate_pct,
    amount,
    currency,
    payout_date
from commissions.payouts
