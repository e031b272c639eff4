-- staging.partner_sales_reports from prm/partner_sales_reports/, one CSV per reporting
-- partner named after it (P00001.csv), read as one table: the partner id is only in the
-- file name, recovered from the `_file` column every row of a folder gets.
select
    report_line_id,
    regexp_replace(_file, '\.csv$', '') as partner_id,
    deal_id,
    customer_id,
    sku,
    cast(quantity as bigint) as quantity,
    cast(unit_price as decimal(18, 2)) as unit_price,
    currency,
    to_date(sale_date) as sale_date,
    to_date(reported_date) as reported_date
from prm.partner_sales_reports
