-- staging.deals from the CRM's opportunity export crm/opportunities.csv (`;`-separated,
-- every column arrives as text). CRM column names are renamed, Stage and Type are mapped
-- from the CRM's words to the contract's values (an unmapped value passes through as is,
-- so data quality reports it), "Close Date" is parsed from dd.mm.yyyy, and an empty field
-- is null (nullif guards readers that keep '' for an empty field). "Description" is free
-- text and not used.
select
    "Opportunity ID" as deal_id,
    nullif("Partner Account ID", '') as partner_id,
    "Account ID" as customer_id,
    case "Stage"
        when 'Negotiation' then 'open'
        when 'Closed Won' then 'closed_won'
        when 'Closed Lost' then 'closed_lost'
        else "Stage"
    end as stage,
    to_date(nullif("Close Date", ''), '%d.%m.%Y') as close_date,
    "Currency" as currency,
    case "Type"
        when 'New Business' then 'new'
        when 'Renewal' then 'renewal'
        when 'Upsell' then 'expansion'
        else "Type"
    end as deal_type,
    nullif("Renewal Of Subscription", '') as renewal_of_subscription_id
from crm.opportunities
