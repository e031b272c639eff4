-- staging.partners from prm/partners.csv, saved by Excel on Windows (Windows-1252, set in
-- revleak.toml): every column arrives as text. "Legal Name" is not used.
select
    partner_id,
    name,
    tier,
    parent_partner_id,
    region,
    to_date(agreement_start) as agreement_start,
    to_date(agreement_end) as agreement_end,
    status
from prm.partners
