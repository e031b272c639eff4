-- staging.partners from a partners.parquet written by pandas with `category` columns:
-- every text column is dictionary-encoded, which the contract's string type does not
-- accept, so each is cast back to plain text. Dates are already dates.
select
    cast(partner_id as varchar) as partner_id,
    cast(name as varchar) as name,
    cast(tier as varchar) as tier,
    cast(parent_partner_id as varchar) as parent_partner_id,
    cast(region as varchar) as region,
    agreement_start,
    agreement_end,
    cast(status as varchar) as status
from prm.partners
