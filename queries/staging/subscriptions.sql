-- staging.subscriptions: the canonical billing/subscriptions table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your billing export names or
-- shapes these columns differently; keep the output column names and types.
select
    subscription_id,
    deal_id,
    partner_id,
    customer_id,
    sku,
    quantity,
    start_date,
    end_date,
    auto_renew,
    annual_value,
    currency,
    status
from billing.subscriptions
