-- title: Draft invoices
-- description: One draft invoice per missing_invoice, under_billing, unreported_usage and unbilled_partner_sale finding, with exactly the columns of billing/invoices: issued at as_of, due draft_payment_terms_days later, in the document's currency, totalling its lines (draft_invoice_lines).
-- shape: billing/invoices
with lines_by_invoice as (
    select invoice_id, min(finding_id) as finding_id, min(sku) as sku,
           sum(line_amount) as total_amount, sum(reporting_amount) as reporting_amount
    from actions.draft_invoice_lines
    group by invoice_id
),

findings_billed as (
    select l.*, f.check_id, f.entity_id, f.partner_id as finding_partner_id, f.disposition
    from lines_by_invoice l
    join actions._actionable_findings f on f.finding_id = l.finding_id
),

-- who is billed: the deal's parties; for seats in use, the customer through
-- the partner of the latest activation; for a partner's reported sale, that
-- partner and its customer
parties as (
    select b.invoice_id, d.deal_id, d.partner_id, d.customer_id, d.currency
    from findings_billed b
    join clean.deals d on d.deal_id = b.entity_id
    where b.check_id in ('missing_invoice', 'under_billing')
    union all
    select b.invoice_id, cast(null as varchar) as deal_id, b.finding_partner_id as partner_id,
           left(b.entity_id, length(b.entity_id) - length(b.sku) - 1) as customer_id,
           p.reporting_currency as currency
    from findings_billed b
    cross join params p
    where b.check_id = 'unreported_usage'
    union all
    select b.invoice_id, r.deal_id, r.partner_id, r.customer_id,
           -- a won deal billed whole is billed in the deal's currency
           case when d.stage = 'closed_won' then d.currency else r.currency end as currency
    from findings_billed b
    join clean.partner_sales_reports r on r.report_line_id = b.entity_id
    left join clean.deals d on d.deal_id = r.deal_id
    where b.check_id = 'unbilled_partner_sale'
)

select
    b.invoice_id,
    pa.deal_id,
    pa.partner_id,
    pa.customer_id,
    p.as_of as invoice_date,
    p.as_of + p.draft_payment_terms_days as due_date,
    pa.currency,
    'issued' as status,
    b.total_amount,
    b.finding_id,
    b.disposition,
    b.reporting_amount,
    p.reporting_currency,
    case b.check_id
        when 'missing_invoice' then 'the closed deal, never invoiced'
        when 'under_billing' then 'what the deal''s invoices left unbilled'
        when 'unreported_usage' then 'seats in use beyond those invoiced'
        else 'a sale the partner reported, never invoiced'
    end as note
from findings_billed b
join parties pa on pa.invoice_id = b.invoice_id
cross join params p
