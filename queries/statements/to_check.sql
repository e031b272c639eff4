-- title: To check on your side
-- description: Per partner, items it can confirm or correct itself, with its own references: sales it reported that match no invoice, seats its customers activated beyond those invoiced, and deals won through it that are not invoiced yet.
with open_findings as (
    select * from run.findings
    where disposition is null or disposition = 'accepted'
),

reported_sales as (
    select r.partner_id, 'a sale you reported matches no invoice' as item,
           r.report_line_id as your_reference, r.sale_date as item_date,
           concat(cast(r.quantity as varchar), ' x ', r.sku, ' for customer ', r.customer_id,
                  coalesce(concat(', deal ', r.deal_id), ''), ', reported ', cast(r.reported_date as varchar)) as description,
           r.quantity * r.unit_price as amount, r.currency
    from open_findings f
    join clean.partner_sales_reports r on r.report_line_id = f.entity_id
    where f.check_id = 'unbilled_partner_sale'
),

seats_beyond_sold as (
    select f.partner_id, 'seats in use beyond those invoiced' as item,
           f.entity_id as your_reference, f.period as item_date,
           concat('customer and sku ', f.entity_id, ': more seats activated than invoiced') as description,
           f.leakage_amount as amount, f.currency
    from open_findings f
    where f.check_id = 'unreported_usage' and f.partner_id is not null
),

won_not_invoiced as (
    -- overdue for an invoice (the vendor's finding) or won recently, no issued invoice yet
    select d.partner_id, 'a deal won through you is not invoiced yet' as item,
           d.deal_id as your_reference, d.close_date as item_date,
           concat('deal ', d.deal_id, ' for customer ', d.customer_id, ', won ', cast(d.close_date as varchar)) as description,
           d.deal_value as amount, d.currency
    from shared.deal_values d
    cross join params p
    where d.stage = 'closed_won'
      and d.partner_id is not null
      and d.deal_value > 0
      and not exists (
          select 1 from shared.invoice_balances i where i.deal_id = d.deal_id and i.status = 'issued'
      )
      -- a deal the vendor has set aside (false positive, explained) is not an item
      and not exists (
          select 1 from run.findings f
          where f.check_id = 'missing_invoice' and f.entity_id = d.deal_id
            and f.disposition in ('false_positive', 'explained')
      )
)

select * from reported_sales
union all
select * from seats_beyond_sold
union all
select * from won_not_invoiced
