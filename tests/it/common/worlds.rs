//! A small, consistent world the check tests build on: partners, products,
//! policies, plans, prices and an EUR rate, so that a test adds only the rows
//! its behaviour needs and no row fails data quality by accident.

use crate::common::{Finding, Snap, of_check};

/// - partners: distributor `D` (platinum, no parent), reseller `P1` (gold, parent `D`),
///   reseller `P2` (silver, no parent), all with open-ended agreements from 2020-01-01;
/// - products: `SKU1` (family platform), `SKU2` (family addon);
/// - fx: EUR = 1.10 USD from 2020-01-01 (USD is the reporting currency);
/// - price list: SKU1 100.00 USD and 90.00 EUR, SKU2 50.00 USD, open-ended from 2020-01-01;
/// - discount policies (platform): direct 10 %, silver 15 %, gold 20 %, platinum 25 %;
///   (addon): direct 30 %, gold 40 %;
/// - commission plans: gold L1 10 % L2 3 %, platinum L1 12 % L2 5 %, silver L1 8 % L2 2 %.
pub fn world() -> Snap {
    let mut s = Snap::new();
    s.row(
        "prm/partners",
        "partner_id=D name=Distributor tier=platinum",
    )
    .row(
        "prm/partners",
        "partner_id=P1 name=Reseller tier=gold parent_partner_id=D",
    )
    .row("prm/partners", "partner_id=P2 name=Other tier=silver")
    .row("contracts/products", "sku=SKU1 family=platform")
    .row("contracts/products", "sku=SKU2 family=addon")
    .row(
        "contracts/fx_rates",
        "currency=EUR rate_date=2020-01-01 rate_to_reporting=1.10000000",
    )
    .row(
        "contracts/price_list",
        "sku=SKU1 currency=USD list_price=100.00",
    )
    .row(
        "contracts/price_list",
        "sku=SKU1 currency=EUR list_price=90.00",
    )
    .row(
        "contracts/price_list",
        "sku=SKU2 currency=USD list_price=50.00",
    );
    for (tier, family, pct) in [
        ("direct", "platform", "10"),
        ("silver", "platform", "15"),
        ("gold", "platform", "20"),
        ("platinum", "platform", "25"),
        ("direct", "addon", "30"),
        ("gold", "addon", "40"),
    ] {
        s.row(
            "contracts/discount_policies",
            &format!("tier={tier} family={family} max_discount_pct={pct}"),
        );
    }
    for (tier, level, pct) in [
        ("gold", 1, "10"),
        ("gold", 2, "3"),
        ("platinum", 1, "12"),
        ("platinum", 2, "5"),
        ("silver", 1, "8"),
        ("silver", 2, "2"),
    ] {
        s.row(
            "contracts/commission_plans",
            &format!("tier={tier} level={level} rate_pct={pct}"),
        );
    }
    s
}

/// Adds a deal (`deal_id` plus `cells`, e.g. `partner_id=P1 close_date=2026-06-01`;
/// stage closed_won, USD, customer C1 by default) with one line of SKU1: quantity 1
/// at `value`, no discount, so the deal's value is `value`.
pub fn deal(s: &mut Snap, deal_id: &str, cells: &str, value: &str) {
    s.row("crm/deals", &format!("deal_id={deal_id} {cells}"));
    s.row(
        "crm/deal_lines",
        &format!("deal_id={deal_id} line_no=1 quantity=1 list_price={value} net_amount={value}"),
    );
}

/// The single finding of `check_id`; fails, listing what was found, when there
/// is not exactly one.
pub fn only<'a>(findings: &'a [Finding], check_id: &str) -> &'a Finding {
    let found = of_check(findings, check_id);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {check_id} finding, got {found:#?}"
    );
    found[0]
}

/// Asserts that `check_id` found nothing.
pub fn none_of(findings: &[Finding], check_id: &str) {
    let found = of_check(findings, check_id);
    assert!(
        found.is_empty(),
        "expected no {check_id} finding, got {found:#?}"
    );
}

/// Runs `snap` like [`Snap::run`], but first turns every string cell equal to
/// `marker` into a null, in files whose schema then allows nulls everywhere: the
/// builder cannot write a null into a column the contract requires, and a source
/// system can.
pub fn run_with_nulls_for(snap: &Snap, marker: &str) -> Vec<Finding> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let snapshot = tmp.path().join("snapshot");
    snap.write(&snapshot);
    for system in std::fs::read_dir(&snapshot).unwrap() {
        let system = system.unwrap().path();
        if !system.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&system).unwrap() {
            let path = file.unwrap().path();
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
            let has_marker = batches.iter().any(|b| {
                b.columns().iter().any(|c| {
                    c.data_type() == &DataType::Utf8
                        && c.as_string::<i32>().iter().any(|v| v == Some(marker))
                })
            });
            if !has_marker {
                continue;
            }
            let schema = batches[0].schema();
            let nullable = Arc::new(Schema::new(
                schema
                    .fields()
                    .iter()
                    .map(|f| Field::new(f.name(), f.data_type().clone(), true))
                    .collect::<Vec<_>>(),
            ));
            let mut writer = ArrowWriter::try_new(
                std::fs::File::create(&path).unwrap(),
                nullable.clone(),
                None,
            )
            .unwrap();
            for batch in &batches {
                let columns: Vec<ArrayRef> = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.data_type() != &DataType::Utf8 {
                            return c.clone();
                        }
                        let values: StringArray = c
                            .as_string::<i32>()
                            .iter()
                            .map(|v| v.filter(|v| *v != marker))
                            .collect();
                        Arc::new(values) as ArrayRef
                    })
                    .collect();
                writer
                    .write(&RecordBatch::try_new(nullable.clone(), columns).unwrap())
                    .unwrap();
            }
            writer.close().unwrap();
        }
    }
    let out = tmp.path().join("out");
    crate::common::run_pipeline(&snapshot, &out, &crate::common::queries_dir(), &[])
        .expect("run succeeds");
    crate::common::read_findings(&out)
}
