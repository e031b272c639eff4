//! Partner statements (`--partner-reports`): every partner's page states its
//! own invoices, payments and commissions as an independent reading of the
//! snapshot gives them, names no other partner, says so plainly when there is
//! no business, and is linked from the vendor's scorecard.

use crate::common::{self, Finding};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use revleak::outputs::findings::read_parquet;
use revleak::run::RunOptions;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

const AS_OF: &str = "2026-11-26";

/// A snapshot table as rows of text cells by column name.
fn table(snapshot: &Path, name: &str) -> Vec<BTreeMap<String, Option<String>>> {
    let batches: Vec<RecordBatch> =
        read_parquet(&snapshot.join(format!("{name}.parquet"))).unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        let text: Vec<_> = b
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap())
            .collect();
        for r in 0..b.num_rows() {
            rows.push(
                b.schema()
                    .fields()
                    .iter()
                    .zip(&text)
                    .map(|(f, c)| {
                        let c = c.as_string::<i32>();
                        (
                            f.name().clone(),
                            c.is_valid(r).then(|| c.value(r).to_string()),
                        )
                    })
                    .collect(),
            );
        }
    }
    rows
}

fn cell<'a>(row: &'a BTreeMap<String, Option<String>>, column: &str) -> Option<&'a str> {
    row.get(column).and_then(|v| v.as_deref())
}

fn money(row: &BTreeMap<String, Option<String>>, column: &str) -> Decimal {
    cell(row, column)
        .map(|v| Decimal::from_str(v).unwrap())
        .unwrap_or_default()
}

fn exists(row: &BTreeMap<String, Option<String>>, date_column: &str) -> bool {
    cell(row, date_column).is_none_or(|d| d <= AS_OF)
}

/// The rows of a table of the page: per row, each cell's text and its
/// `data-v` (the exact figure of a numeric cell).
fn page_rows(html: &str, table_id: &str) -> Vec<Vec<(String, Option<String>)>> {
    let Some(start) = html.find(&format!("id=\"{table_id}\"")) else {
        return Vec::new();
    };
    let body = &html[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| {
                    let open_end = c.find('>').unwrap();
                    let attrs = &c[..open_end];
                    let text = &c[open_end + 1..c.find("</td>").unwrap()];
                    let data_v = attrs
                        .find("data-v=\"")
                        .map(|i| attrs[i + 8..].split('"').next().unwrap().to_string());
                    (text.to_string(), data_v)
                })
                .collect()
        })
        .collect()
}

/// The rows flagged by data quality, as `system/table:key`.
fn flagged(findings: &[Finding]) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|f| f.check_id == "data_quality")
        .map(|f| f.entity_id.clone())
        .collect()
}

fn run_with_statements(snapshot: &Path, out: &Path) -> Vec<Finding> {
    let mut opts = RunOptions::new(snapshot, out);
    opts.queries = common::queries_dir();
    opts.partner_reports = true;
    common::run_with_options(&opts).unwrap();
    common::read_partition(out, "findings", AS_OF)
}

#[test]
fn each_statement_states_the_partners_invoices_payments_and_commissions_as_the_snapshot_does() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = common::generated(&tmp.path().join("snapshot"), 0.05, 11);
    let out = tmp.path().join("out");
    let findings = run_with_statements(&snapshot, &out);
    let bad = flagged(&findings);

    // the snapshot, read independently: rows that exist as of as_of
    let deals: BTreeMap<String, BTreeMap<String, Option<String>>> = table(&snapshot, "crm/deals")
        .into_iter()
        .map(|d| (cell(&d, "deal_id").unwrap().to_string(), d))
        .collect();
    let invoices: Vec<_> = table(&snapshot, "billing/invoices")
        .into_iter()
        .filter(|i| exists(i, "invoice_date"))
        .collect();
    let invoice_deal: BTreeMap<String, Option<String>> = invoices
        .iter()
        .map(|i| {
            (
                cell(i, "invoice_id").unwrap().to_string(),
                cell(i, "deal_id").map(String::from),
            )
        })
        .collect();
    // an invoice or deal one of whose rows data quality flagged is not compared
    let mut touched_invoices: BTreeSet<String> = BTreeSet::new();
    let mut touched_deals: BTreeSet<String> = BTreeSet::new();
    let mut paid: BTreeMap<String, Decimal> = BTreeMap::new();
    for p in table(&snapshot, "billing/payments")
        .iter()
        .filter(|p| exists(p, "payment_date"))
    {
        let invoice = cell(p, "invoice_id").unwrap_or_default().to_string();
        if bad.contains(&format!(
            "billing/payments:{}",
            cell(p, "payment_id").unwrap_or_default()
        )) {
            touched_invoices.insert(invoice.clone());
        }
        *paid.entry(invoice).or_default() += money(p, "amount");
    }
    let mut credited: BTreeMap<String, Decimal> = BTreeMap::new();
    for c in table(&snapshot, "billing/credit_notes")
        .iter()
        .filter(|c| exists(c, "issued_date"))
    {
        let invoice = cell(c, "invoice_id").unwrap_or_default().to_string();
        if bad.contains(&format!(
            "billing/credit_notes:{}",
            cell(c, "credit_note_id").unwrap_or_default()
        )) {
            touched_invoices.insert(invoice.clone());
        }
        *credited.entry(invoice).or_default() += money(c, "amount");
    }
    // an invoice of a flagged deal is the deal's partner's only through clean deals
    for i in &invoices {
        if let Some(deal) = cell(i, "deal_id")
            && bad.contains(&format!("crm/deals:{deal}"))
        {
            touched_invoices.insert(cell(i, "invoice_id").unwrap().to_string());
        }
    }
    for i in &touched_invoices {
        if let Some(Some(deal)) = invoice_deal.get(i) {
            touched_deals.insert(deal.clone());
        }
    }
    let mut payouts: BTreeMap<(String, String, String), Decimal> = BTreeMap::new();
    for p in table(&snapshot, "commissions/payouts")
        .iter()
        .filter(|p| exists(p, "payout_date"))
    {
        let deal = cell(p, "deal_id").unwrap_or_default().to_string();
        if bad.contains(&format!(
            "commissions/payouts:{}",
            cell(p, "payout_id").unwrap_or_default()
        )) {
            touched_deals.insert(deal.clone());
        }
        let key = (
            deal,
            cell(p, "level").unwrap_or_default().to_string(),
            cell(p, "partner_id").unwrap_or_default().to_string(),
        );
        *payouts.entry(key).or_default() += money(p, "amount");
    }
    let pages = out.join(format!("report/as_of={AS_OF}/partners"));
    let partners: Vec<String> = table(&snapshot, "prm/partners")
        .iter()
        .filter(|p| !bad.contains(&format!("prm/partners:{}", cell(p, "partner_id").unwrap())))
        .map(|p| cell(p, "partner_id").unwrap().to_string())
        .collect();
    let (mut invoices_compared, mut commissions_compared) = (0, 0);
    for partner in &partners {
        let html = std::fs::read_to_string(pages.join(format!("{partner}.html")))
            .unwrap_or_else(|_| panic!("{partner} has a statement"));

        // invoices: billed to the partner, or for the partner's own deals
        let expected: BTreeSet<String> = invoices
            .iter()
            .filter(|i| {
                !bad.contains(&format!(
                    "billing/invoices:{}",
                    cell(i, "invoice_id").unwrap()
                ))
            })
            .filter(|i| {
                cell(i, "partner_id") == Some(partner.as_str())
                    || cell(i, "deal_id")
                        .and_then(|d| deals.get(d))
                        .is_some_and(|d| cell(d, "partner_id") == Some(partner.as_str()))
            })
            .map(|i| cell(i, "invoice_id").unwrap().to_string())
            .collect();
        let shown = page_rows(&html, "invoices-table");
        let shown_ids: BTreeSet<String> = shown.iter().map(|r| r[0].0.clone()).collect();
        assert!(
            shown.len() < 200,
            "the page lists every invoice at this scale"
        );
        let missing: Vec<&String> = expected
            .iter()
            .filter(|i| !shown_ids.contains(*i))
            .filter(|i| !touched_invoices.contains(*i))
            .collect();
        assert!(
            missing.is_empty(),
            "{partner}: invoices not on the page: {missing:?}"
        );
        for row in &shown {
            let id = &row[0].0;
            assert!(
                expected.contains(id),
                "{partner}: {id} is not the partner's invoice"
            );
            if touched_invoices.contains(id) {
                continue;
            }
            let invoice = invoices
                .iter()
                .find(|i| cell(i, "invoice_id") == Some(id))
                .unwrap();
            let figure = |i: usize| Decimal::from_str(row[i].1.as_deref().unwrap()).unwrap();
            assert_eq!(
                figure(8),
                money(invoice, "total_amount"),
                "{partner} {id}: total"
            );
            assert_eq!(
                figure(9),
                credited.get(id).copied().unwrap_or_default(),
                "{partner} {id}: credited"
            );
            assert_eq!(
                figure(10),
                paid.get(id).copied().unwrap_or_default(),
                "{partner} {id}: paid"
            );
            invoices_compared += 1;
        }

        // commissions paid per deal and level (earned is owed on what was collected)
        for row in page_rows(&html, "commissions-table") {
            let (deal, level) = (row[0].0.clone(), row[1].0.clone());
            if touched_deals.contains(&deal) {
                continue;
            }
            let paid_on_page = Decimal::from_str(row[6].1.as_deref().unwrap()).unwrap();
            let key = (deal.clone(), level.clone(), partner.clone());
            assert_eq!(
                paid_on_page,
                payouts.get(&key).copied().unwrap_or_default(),
                "{partner}: paid on {deal} level {level}"
            );
            let collected = Decimal::from_str(row[3].1.as_deref().unwrap()).unwrap();
            let deal_collected: Decimal = invoices
                .iter()
                .filter(|i| {
                    cell(i, "deal_id") == Some(deal.as_str()) && cell(i, "status") == Some("issued")
                })
                .map(|i| {
                    paid.get(cell(i, "invoice_id").unwrap())
                        .copied()
                        .unwrap_or_default()
                })
                .sum();
            assert_eq!(collected, deal_collected, "{partner}: collected on {deal}");
            let rate = Decimal::from_str(&row[4].0).unwrap();
            let earned = Decimal::from_str(row[5].1.as_deref().unwrap()).unwrap();
            assert_eq!(
                earned,
                (collected * rate / Decimal::from(100)).round_dp_with_strategy(
                    2,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero
                ),
                "{partner}: earned on {deal} level {level}"
            );
            commissions_compared += 1;
        }
    }
    // a distributor sees its level-2 lines on its resellers' deals and no other
    // line of theirs: a line on a deal not its own is level 2 as the deal
    // partner's parent, or a payout it received itself
    let parents: BTreeMap<String, Option<String>> = table(&snapshot, "prm/partners")
        .iter()
        .map(|p| {
            (
                cell(p, "partner_id").unwrap().to_string(),
                cell(p, "parent_partner_id").map(String::from),
            )
        })
        .collect();
    let mut level_two_lines = 0;
    for partner in &partners {
        let html = std::fs::read_to_string(pages.join(format!("{partner}.html"))).unwrap();
        for row in page_rows(&html, "commissions-table") {
            let (deal, level) = (row[0].0.as_str(), row[1].0.as_str());
            let seller = deals.get(deal).and_then(|d| cell(d, "partner_id"));
            if seller == Some(partner.as_str()) {
                continue;
            }
            let is_parent = seller
                .and_then(|s| parents.get(s))
                .is_some_and(|p| p.as_deref() == Some(partner.as_str()));
            let paid_to_it = row[6].1.as_deref() != Some("0.00");
            assert!(
                (level == "2" && is_parent) || paid_to_it,
                "{partner}'s page shows line {level} of {deal}, sold by {seller:?}"
            );
            level_two_lines += usize::from(level == "2" && is_parent);
        }
    }
    assert!(level_two_lines > 0, "distributors see their level-2 lines");
    assert!(
        invoices_compared > 100,
        "{invoices_compared} invoices compared"
    );
    assert!(
        commissions_compared > 50,
        "{commissions_compared} commission lines compared"
    );
}

#[test]
fn a_partner_with_no_business_is_told_so_plainly_and_the_scorecard_links_every_statement() {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    let mut snap = common::Snap::new();
    snap.row("prm/partners", "partner_id=P1 name=Busy")
        .row("prm/partners", "partner_id=P2 name=Quiet")
        .row("contracts/products", "sku=SKU1")
        .row(
            "crm/deals",
            "deal_id=D1 partner_id=P1 close_date=2026-06-01",
        )
        .row(
            "crm/deal_lines",
            "deal_id=D1 list_price=1000.00 net_amount=1000.00",
        );
    snap.write(&snapshot);
    let out = tmp.path().join("out");
    run_with_statements(&snapshot, &out);
    let dir = out.join(format!("report/as_of={AS_OF}"));
    let quiet = std::fs::read_to_string(dir.join("partners/P2.html")).unwrap();
    assert!(quiet.contains("We have no business recorded with you as of 2026-11-26"));
    let busy = std::fs::read_to_string(dir.join("partners/P1.html")).unwrap();
    assert!(!busy.contains("We have no business recorded"));
    let items = page_rows(&busy, "to-check-table");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0][0].0, "a deal won through you is not invoiced yet");
    assert_eq!(items[0][1].0, "D1");
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for partner in ["P1", "P2"] {
        assert!(
            index.contains(&format!("<a href=\"partners/{partner}.html\"")),
            "the scorecard links {partner}'s statement"
        );
    }
}
