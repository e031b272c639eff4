-- title: Invoice not posted to the ledger as billed
-- description: Issued invoices dated at least posting_grace_days before as_of whose ERP revenue postings differ from billed (total minus credit notes) by more than amount_tolerance. Under-posting leaks; over-posting is reported with leakage 0.
-- owner: finance / general ledger
with posted_by_invoice as (
    select invoice_id, sum(amount) as posted
    from clean.revenue_postings
    group by invoice_id
),

posted as (
    select i.*, coalesce(g.posted, 0) as posted
    from shared.invoice_balances i
    left join posted_by_invoice g on g.invoice_id = i.invoice_id
),

mismatched as (
    select i.*, i.billed - i.posted as unposted
    from posted i
    cross join params p
    where i.status = 'issued'
      and not exists (
          -- a flagged row this check reads: data_quality reported it
          select 1 from shared.invoices_touched_by_flagged_rows t
          where t.invoice_id = i.invoice_id and t.flagged_table in ('credit_notes', 'revenue_postings')
      )
      and i.invoice_date <= p.as_of - p.posting_grace_days
      and abs(i.billed - i.posted) > p.amount_tolerance
)

select
    cast(null as varchar) as severity,
    coalesce(m.partner_id, d.partner_id) as partner_id,
    'invoice' as entity_type,
    m.invoice_id as entity_id,
    cast(date_trunc('month', m.invoice_date) as date) as period,
    cast(m.billed * fx.rate as decimal(18, 2)) as expected_amount,
    cast(m.posted * fx.rate as decimal(18, 2)) as actual_amount,
    case
        when m.unposted > 0 then cast(m.unposted * fx.rate as decimal(18, 2))
        else cast(0 as decimal(18, 2))
    end as leakage_amount,
    concat(
        'Invoice ', m.invoice_id, ' (customer ', m.customer_id,
        case when m.deal_id is null then '' else concat(', deal ', m.deal_id) end, ', ', m.currency, ') dated ',
        cast(m.invoice_date as varchar), ' billed ', fmt_money(m.billed), ' but the ledger shows ', fmt_money(m.posted), ': ',
        case
            when m.unposted > 0 then concat(fmt_money(m.unposted), ' ', m.currency, ' never posted, ',
                fmt_money(cast(m.unposted * fx.rate as decimal(18, 2))), ' ', p.reporting_currency, '.')
            else concat(fmt_money(-m.unposted), ' ', m.currency, ' posted in excess.')
        end
    ) as detail
from mismatched m
join shared.fx_daily fx on fx.currency = m.currency and fx.rate_date = m.invoice_date
left join clean.deals d on d.deal_id = m.deal_id
cross join params p
