-- staging.fx_rates: the canonical contracts/fx_rates table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your contracts export names or
-- shapes these columns differently; keep the output column names and types.
select
    currency,
    rate_date,
    rate_to_reporting
from contracts.fx_rates
