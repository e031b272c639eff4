-- title: Credit note without a business reason
-- description: Credit notes whose reason is missing or manual_correction, on issued and void invoices alike. The credited amount leaks until someone explains it.
-- owner: billing operations
select
    cast(null as varchar) as severity,
    coalesce(i.partner_id, d.partner_id) as partner_id,
    'credit_note' as entity_type,
    c.credit_note_id as entity_id,
    cast(date_trunc('month', c.issued_date) as date) as period,
    cast(null as decimal(18, 2)) as expected_amount,
    cast(c.amount * fx.rate as decimal(18, 2)) as actual_amount,
    cast(c.amount * fx.rate as decimal(18, 2)) as leakage_amount,
    concat(
        'Credit note ', c.credit_note_id, ' issued ', cast(c.issued_date as varchar), ' against ', i.status, ' invoice ', i.invoice_id,
        ' (customer ', i.customer_id, ', ', i.currency, ') credits ', fmt_money(c.amount), ' ', i.currency,
        case when c.reason is null then ' with no reason given' else ' as a manual correction' end, ': ',
        fmt_money(cast(c.amount * fx.rate as decimal(18, 2))), ' ', p.reporting_currency, '.'
    ) as detail
from clean.credit_notes c
join clean.invoices i on i.invoice_id = c.invoice_id
join shared.fx_daily fx on fx.currency = i.currency and fx.rate_date = c.issued_date
left join clean.deals d on d.deal_id = i.deal_id
cross join params p
where c.reason is null or c.reason = 'manual_correction'
