-- staging.commission_plans: the canonical contracts/commission_plans table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your contracts export names or
-- shapes these columns differently; keep the output column names and types.
select
    tier,
    level,
    valid_from,
    rate_pct,
    valid_to
from contracts.commission_plans
