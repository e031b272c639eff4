//! The published findings as a BI tool reads them: polars, an independent Parquet
//! reader, scans `out/findings/` with its Hive partitions and sees as_of as a
//! date, amounts as Decimal(18,2), ids as strings and every row the run wrote.

use crate::common;

use polars::prelude::*;

#[test]
fn polars_scans_the_hive_partitioned_findings_with_contract_types() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report =
        common::run_pipeline(&common::sample_dir(), &out, &common::queries_dir(), &[]).unwrap();
    // A second as_of partition: the reader must see both, each with its own date.
    common::run_pipeline(
        &common::sample_dir(),
        &out,
        &common::queries_dir(),
        &["as_of=2026-11-20"],
    )
    .unwrap();
    let written = common::read_findings(&out).len();
    assert!(report.manifest.findings > 0);

    let root = format!("{}/", out.join("findings").display());
    let args = ScanArgsParquet {
        hive_options: HiveOptions {
            enabled: Some(true),
            hive_start_idx: 0,
            schema: None,
            try_parse_dates: true,
        },
        ..Default::default()
    };
    let frame = LazyFrame::scan_parquet(PlRefPath::new(root.as_str()), args)
        .unwrap()
        .collect()
        .unwrap();

    assert_eq!(frame.height(), written);
    let schema = frame.schema();
    assert_eq!(schema.get("as_of"), Some(&DataType::Date));
    assert_eq!(schema.get("period"), Some(&DataType::Date));
    for money in ["expected_amount", "actual_amount", "leakage_amount"] {
        assert_eq!(
            schema.get(money),
            Some(&DataType::Decimal(18, 2)),
            "{money}"
        );
    }
    for text in [
        "finding_id",
        "check_id",
        "severity",
        "entity_type",
        "entity_id",
        "currency",
        "detail",
    ] {
        assert_eq!(schema.get(text), Some(&DataType::String), "{text}");
    }
    let dates = frame
        .column("as_of")
        .unwrap()
        .as_materialized_series()
        .n_unique()
        .unwrap();
    assert_eq!(dates, 2, "one as_of per partition");
}
