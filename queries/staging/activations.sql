-- staging.activations: the canonical provisioning/activations table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your provisioning export names or
-- shapes these columns differently; keep the output column names and types.
select
    activation_id,
    customer_id,
    partner_id,
    sku,
    quantity,
    activated_date
from provisioning.activations
