-- staging.forecasts: the canonical crm/forecasts table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your crm export names or
-- shapes these columns differently; keep the output column names and types.
select
    partner_id,
    period,
    currency,
    forecast_amount
from crm.forecasts
