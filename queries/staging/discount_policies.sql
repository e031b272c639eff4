-- staging.discount_policies: the canonical contracts/discount_policies table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your contracts export names or
-- shapes these columns differently; keep the output column names and types.
select
    tier,
    family,
    valid_from,
    max_discount_pct,
    valid_to
from contracts.discount_policies
