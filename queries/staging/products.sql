-- staging.products: the canonical contracts/products table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your contracts export names or
-- shapes these columns differently; keep the output column names and types.
select
    sku,
    name,
    family,
    billing_model
from contracts.products
