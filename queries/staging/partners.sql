-- staging.partners: the canonical prm/partners table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your prm export names or
-- shapes these columns differently; keep the output column names and types.
select
    partner_id,
    name,
    tier,
    parent_partner_id,
    region,
    agreement_start,
    agreement_end,
    status
from prm.partners
