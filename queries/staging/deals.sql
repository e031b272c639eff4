-- staging.deals: the canonical crm/deals table of docs/contract.md.
-- Identity mapping by default. Adapt this select when your crm export names or
-- shapes these columns differently; keep the output column names and types.
select
    deal_id,
    partner_id,
    customer_id,
    stage,
    close_date,
    currency,
    deal_type,
    renewal_of_subscription_id
from crm.deals
