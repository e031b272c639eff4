//! Synthetic snapshot generator: a realistic, clean two-tier channel business with
//! planted leaks, and the ground truth of what the 15 checks must find.
//!
//! # Background (produces no finding under docs/checks.md)
//! - ~1,000 partners per unit of scale: ~7 % distributors (platinum/gold), resellers
//!   under them (`parent_partner_id`) or selling direct, tiers platinum/gold/silver/
//!   registered, regions NA/EMEA/APAC/LATAM (EMEA bills EUR or GBP), some terminated
//!   (agreement_end in the past; their deals close before it), some with a future end.
//! - ~50,000 deals per unit of scale (about 40,000 drawn, the rest renewals) closing
//!   over the 720 days before as_of: closed_won (most), closed_lost, open (no close
//!   date), a few closing after as_of (they and all their documents do not exist yet),
//!   a few free (100 % discount, approved, value 0, never invoiced); direct deals;
//!   USD/EUR/GBP; 1–4 lines of subscription (12/24/36 months) and one-time products.
//! - Price list, discount policies and commission plans with validity periods and
//!   history changes (and one version each that starts after as_of); lines use the
//!   price in force at close and discounts within the tier policy, or an approval that
//!   covers them (approved before close, not expired at close).
//! - Invoices 0–7 days after close (sometimes a void invoice then a reissue, sometimes
//!   split in two), fully paid by the due date (one or two payments), posted in the
//!   ERP within 2 days (credit notes reversed the day they are issued), explained
//!   credit notes (`return`, `dispute`) with payments of the rest.
//! - Commissions: per payment, on its date, level 1 to the selling partner and level 2
//!   to its distributor at the plan rates in force at close for their own tiers (now
//!   and then paid twice and clawed back the same day).
//! - Subscriptions per subscription line; activations after invoicing within the
//!   invoiced seats; partner sales reports after invoicing, with or without deal_id.
//! - Every subscription ending in [as_of − 200, as_of − 5] is renewed (renewal deal, or
//!   a new subscription of the same customer and sku starting within 7 days of the
//!   day after the end) or cancelled; older ones are renewed, cancelled or lapse.
//! - Forecasts are written last, per forecasting partner and month with billing, at
//!   88–102 % of the least of five readings of what was billed (credit notes in the
//!   invoice's month or their own, at the invoice's rate or their own, or ignored),
//!   for the 18 months before the month of as_of, plus the month in progress and two
//!   months to come (never checked; a shortfall there must produce nothing).
//! - EUR and GBP rates on business days with holidays and an outage gap; no USD rows.
//!
//! # Planted, `max(3, ceil(25 × scale))` cases per check, each one finding
//! - forecast_variance: a complete month of the last 12 whose forecast is far above
//!   billing (a third of them months with no billing at all; the others billed in
//!   USD only, with no credit note issued in or against the month).
//! - missing_invoice: closed_won 45–330 days ago, no invoice, or only a void one.
//! - late_invoice: first issued invoice 40–110 days after close (some after a void one).
//! - under_billing: invoice omits a services line, or gives an extra discount, or a
//!   lower unit price; paid and posted in full as invoiced.
//! - unauthorized_discount: one line above policy with no approval, an approval too
//!   low (allowed = the approval), expired before close, or approved after close.
//! - stale_pricing: a line at the price of the version before the latest change,
//!   closing 30+ days after the change.
//! - commission_overpayment: wrong (higher) rate at level 1 or 2, duplicate payout at
//!   level 1 or 2, payout on an invoiced unpaid deal, payout on a deal not invoiced
//!   yet (within grace), paid to the wrong partner at level 1 or 2 (also one
//!   underpayment of the right partner), payout to a partner whose agreement ended
//!   before close.
//! - commission_underpayment: the wrong-partner cases above, plus no payout at level 1
//!   or 2, a lower rate at level 1 or 2, the payout of a second payment missing.
//! - missed_renewal: ended 30–165 days ago, auto_renew or not, status expired or still
//!   active; some with a lost or open renewal deal, or a re-purchase 60–90 days later.
//! - unreported_usage: activations above invoiced seats, or without any sale (fresh
//!   customers).
//! - unbilled_partner_sale: report lines naming an open, lost, or recently closed
//!   (uninvoiced, within grace) deal, or without deal_id: no invoice at all, an invoice
//!   90+ days away, or an invoice billed to another partner.
//! - payment_gap: unpaid, partly paid, partly paid after a dispute credit note.
//! - erp_posting_gap: not posted, partly posted, posted twice (leakage 0), a credit
//!   note not reversed (over-posted, leakage 0), posted short.
//! - unexplained_credit: reason null or `manual_correction`, some on void invoices.
//! - data_quality: duplicate keys (activations, forecasts), nulls in required columns,
//!   orphan references (payments, postings, payouts, credit notes, approvals,
//!   subscriptions, partners' parents, deals' partners and renewed subscriptions,
//!   unknown skus, an invoice of a deal closing after as_of), currency mismatches
//!   (payments, payouts, subscriptions, a void invoice), missing fx rates (CHF, JPY, a
//!   sale before the first rate), negative quantities, prices and amounts; always on a
//!   row whose exclusion changes nothing else.
//!
//! # Readings of docs/checks.md this generator relies on
//! - Conversions: amount × the latest rate on or before the reference date, rounded
//!   to cents half away from zero, expected/actual/leakage each converted on its own.
//!   Planted amounts in deal currency are exact cents (list prices are whole units,
//!   planted discounts and excesses are whole percents, commission deals have values
//!   in whole units), so rounding before or after conversion gives the same cents.
//! - forecast_variance leakage = round(expected) − round(actual); planted cases are
//!   chosen where this equals round(expected − actual), and where no credit note is
//!   issued in or against the month, so where credit notes count does not matter.
//! - "Within N days" is |Δ| ≤ N; planted dates stay well clear of every window edge.
//! - unauthorized_discount: an approval counts when approved_date ≤ close_date and
//!   (expires_date null or ≥ close_date); an expired or late approval whose percentage
//!   would cover the line does not raise `allowed` (it does not "fall short").
//! - Commission entitlement depends on the paid partner's own agreement only (level 2
//!   cases never involve a terminated reseller); collected = payments up to as_of on
//!   the deal's issued invoices; a terminated partner's overpayment has no parent.
//! - unreported_usage compares all activations up to as_of with all issued invoice
//!   lines (any date up to as_of, any service period) of the customer and sku; the
//!   background never activates more seats than one invoice line of the deal billed.
//! - unbilled_partner_sale: a line naming a deal is matched by any issued invoice of
//!   that deal (background invoices are within 13 days of the sale anyway); a line
//!   without deal_id needs an issued invoice whose partner_id is the reporting
//!   partner, same customer, an invoice line of the sku, invoice_date within 30 days.
//! - Billed for forecast_variance = total − credit notes of issued invoices whose
//!   partner_id is the partner, in the month of invoice_date, at the invoice_date rate.
//! - Rows exist by their event date (docs/checks.md); the generator dates every document
//!   on or after what it depends on (payments, payouts, postings, activations,
//!   reports after their invoice; payouts on their payment's date; credit-note
//!   reversals on the credit note's date), so as_of never splits a consistent set.
//! - Truth ids: deal_line `deal:line_no`, payout_group `deal:level:partner`,
//!   partner_period `partner:YYYY-MM`, customer_sku `customer:sku`, row
//!   `system/table:key` with a composite key joined by `:` and dates ISO.

mod deals;
mod dq;
mod error;
mod forecast;
mod model;
mod plant;
mod rng;
mod world;
mod write;

#[cfg(test)]
mod oracle;

pub use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct GenerateOptions {
    pub out: PathBuf,
    pub scale: f64,
    pub seed: u64,
    pub as_of: chrono::NaiveDate,
}

pub struct GenerateSummary {
    /// (`system/table`, rows) for the 19 tables, in contract order.
    pub tables: Vec<(String, usize)>,
    /// (check_id, planted cases) for the 15 checks, in docs/checks.md order.
    pub planted: Vec<(String, usize)>,
    pub truth_path: PathBuf,
}

/// The 15 checks, in docs/checks.md order.
pub const CHECKS: [&str; 15] = [
    "forecast_variance",
    "missing_invoice",
    "late_invoice",
    "under_billing",
    "unauthorized_discount",
    "stale_pricing",
    "commission_overpayment",
    "commission_underpayment",
    "missed_renewal",
    "unreported_usage",
    "unbilled_partner_sale",
    "payment_gap",
    "erp_posting_gap",
    "unexplained_credit",
    "data_quality",
];

/// The ground-truth file of a snapshot folder: the sibling `<dir>.truth.csv`.
pub fn truth_path_for(snapshot_dir: &Path) -> PathBuf {
    let name = snapshot_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".to_string());
    let parent = snapshot_dir.parent().unwrap_or_else(|| Path::new(""));
    parent.join(format!("{name}.truth.csv"))
}

/// Builds the whole snapshot in memory.
fn build(as_of: chrono::NaiveDate, scale: f64, seed: u64) -> world::Gen {
    let mut g = world::Gen::new(as_of, scale, seed);
    g.make_partners();
    let customers = ((50_000.0 * scale * 0.6).round() as usize).max(60);
    g.make_customers(customers);
    g.background();
    g.plant_all();
    g.plant_data_quality(false);
    g.forecasts();
    g.plant_data_quality(true);
    g
}

/// The truth file's text: header, then one sorted line per planted case.
fn truth_csv(truth: &[world::Truth]) -> String {
    let mut lines: Vec<(String, String, String, String)> = truth
        .iter()
        .map(|t| {
            let mut x = model::r2(t.leakage);
            x.rescale(2);
            (
                t.check.to_string(),
                t.entity_type.to_string(),
                t.entity_id.clone(),
                x.to_string(),
            )
        })
        .collect();
    lines.sort();
    let mut out = String::from("check_id,entity_type,entity_id,leakage_amount\n");
    for (c, e, id, l) in lines {
        out.push_str(&format!("{c},{e},{id},{l}\n"));
    }
    out
}

pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    if !(opts.scale.is_finite() && opts.scale > 0.0) {
        return Err(Error::Invalid(format!(
            "scale must be a positive number, got {}",
            opts.scale
        )));
    }
    let g = build(opts.as_of, opts.scale, opts.seed);
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let tables = write::write_snapshot(&opts.out, &g.snap)?;
    let meta = opts.out.join("snapshot.json");
    let json = serde_json::json!({ "as_of": opts.as_of.format("%Y-%m-%d").to_string() });
    std::fs::write(&meta, format!("{json}\n")).map_err(|e| Error::io(&meta, e))?;
    let truth_path = truth_path_for(&opts.out);
    if let Some(parent) = truth_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(&truth_path, truth_csv(&g.truth)).map_err(|e| Error::io(&truth_path, e))?;
    let planted = CHECKS
        .iter()
        .map(|c| {
            (
                c.to_string(),
                g.truth.iter().filter(|t| t.check == *c).count(),
            )
        })
        .collect();
    Ok(GenerateSummary {
        tables,
        planted,
        truth_path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn truth_path_is_a_sibling() {
        assert_eq!(
            truth_path_for(Path::new("data/sample")),
            PathBuf::from("data/sample.truth.csv")
        );
        assert_eq!(
            truth_path_for(Path::new("data/sample/")),
            PathBuf::from("data/sample.truth.csv")
        );
        assert_eq!(
            truth_path_for(Path::new("snap")),
            PathBuf::from("snap.truth.csv")
        );
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = build(as_of(), 0.02, 7);
        let b = build(as_of(), 0.02, 7);
        assert_eq!(truth_csv(&a.truth), truth_csv(&b.truth));
        for t in revleak_contract::TABLES {
            assert_eq!(
                a.snap.all_cells(&t.qualified()),
                b.snap.all_cells(&t.qualified()),
                "{}",
                t.qualified()
            );
        }
        let c = build(as_of(), 0.02, 8);
        assert_ne!(truth_csv(&a.truth), truth_csv(&c.truth));
    }

    #[test]
    fn every_check_planted_at_least_three_times() {
        let g = build(as_of(), 0.02, 42);
        for c in CHECKS {
            let n = g.truth.iter().filter(|t| t.check == c).count();
            assert!(n >= 3, "{c}: {n}");
        }
        let text = truth_csv(&g.truth);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("check_id,entity_type,entity_id,leakage_amount")
        );
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 4, "{line}");
            assert!(CHECKS.contains(&f[0]), "{line}");
            assert!(revleak_contract::ENTITY_TYPES.contains(&f[1]), "{line}");
            let amount: rust_decimal::Decimal = f[3].parse().expect("amount");
            assert!(
                amount >= rust_decimal::Decimal::ZERO && amount.scale() == 2,
                "{line}"
            );
        }
    }

    #[test]
    fn writes_readable_parquet() {
        let dir = std::env::temp_dir().join(format!("revleak-gen-test-{}", std::process::id()));
        let out = dir.join("snap");
        let summary = generate(&GenerateOptions {
            out: out.clone(),
            scale: 0.02,
            seed: 1,
            as_of: as_of(),
        })
        .unwrap();
        assert_eq!(summary.tables.len(), 19);
        assert_eq!(summary.truth_path, dir.join("snap.truth.csv"));
        let json = std::fs::read_to_string(out.join("snapshot.json")).unwrap();
        assert!(json.contains("\"as_of\":\"2026-11-26\""), "{json}");
        for (table, rows) in &summary.tables {
            let t = revleak_contract::table(table).unwrap();
            let path = out.join(t.system).join(format!("{}.parquet", t.name));
            let file = std::fs::File::open(&path).unwrap();
            let reader =
                datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    file,
                )
                .unwrap()
                .build()
                .unwrap();
            let mut n = 0;
            for batch in reader {
                let batch = batch.unwrap();
                for (field, col) in batch.schema().fields().iter().zip(t.columns) {
                    assert_eq!(field.name(), col.name);
                    assert_eq!(field.data_type(), &col.ty.arrow_type());
                    assert!(field.is_nullable());
                }
                n += batch.num_rows();
            }
            assert_eq!(n, *rows, "{table}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
