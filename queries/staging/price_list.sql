-- staging.price_list: the canonical contracts/price_list table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your contracts export names or
-- shapes these columns differently; keep the output column names and types.
select
    sku,
    currency,
    valid_from,
    list_price,
    valid_to
from contracts.price_list
