-- staging.revenue_postings from the ledger's JSON lines export erp/revenue_postings.jsonl.
-- Every value arrives as text: numbers exactly as written, the nested `amount` object as
-- its JSON text, read here with regexp_match (DataFusion has no JSON functions). The
-- `memo` key, on some lines only, is null elsewhere and not used.
select
    id as posting_id,
    invoice as invoice_id,
    to_date(posted_on) as posting_date,
    cast(regexp_match(amount, '"value":\s*(-?[0-9.]+)')[1] as decimal(18, 2)) as amount,
    regexp_match(amount, '"currency":\s*"([^"]*)"')[1] as currency
from erp.revenue_postings
