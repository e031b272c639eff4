-- title: Input rows that cannot be reconciled
-- description: One finding per bad input row (duplicate primary key, null in a required column, reference to a row that does not exist as of as_of, currency different from its deal's, no fx rate on or before the date needed, a forbidden negative). The other checks never read these rows.
-- severity: info
-- owner: data engineering
--
-- The rules themselves are derived from the data contract (docs/contract.md) and
-- gathered, per row key, in quality.row_issues before any check runs; this file
-- turns them into findings (docs/checks.md §15). A duplicated key is one finding
-- under its key value.
select
    'info' as severity,
    cast(null as varchar) as partner_id,
    'row' as entity_type,
    q.row_key as entity_id,
    cast(null as date) as period,
    cast(null as decimal(18, 2)) as expected_amount,
    cast(null as decimal(18, 2)) as actual_amount,
    cast(0 as decimal(18, 2)) as leakage_amount,
    concat('Row ', q.row_key, ' cannot be reconciled and was left out of every other check: ', q.problems, '.') as detail
from quality.row_issues q
