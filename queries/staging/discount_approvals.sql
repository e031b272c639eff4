-- staging.discount_approvals: the canonical contracts/discount_approvals table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your contracts export names or
-- shapes these columns differently; keep the output column names and types.
select
    approval_id,
    deal_id,
    approved_discount_pct,
    approved_date,
    expires_date
from contracts.discount_approvals
