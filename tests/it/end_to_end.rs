//! End to end: generate a snapshot with planted leaks, run revleak on it, read the
//! published findings back and compare them with the generator's truth file —
//! every planted case found with its exact leakage, nothing else found.

use crate::common;

use crate::common::{read_findings, run_pipeline};
use revleak_synth::truth_path_for;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

type Key = (String, String, String);

fn truth(path: &std::path::Path) -> BTreeMap<Key, Decimal> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("check_id,entity_type,entity_id,leakage_amount")
    );
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (
                (cells[0].into(), cells[1].into(), cells[2].into()),
                Decimal::from_str(cells[3]).unwrap(),
            )
        })
        .collect()
}

fn check_against_truth(scale: f64, seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = common::generated(&tmp.path().join("snapshot"), scale, seed);
    let expected = truth(&truth_path_for(&snapshot));
    let out = tmp.path().join("out");
    let report = run_pipeline(&snapshot, &out, &common::queries_dir(), &[]).unwrap();
    for input in &report.manifest.inputs {
        assert!(!input.missing && input.rows_read > 0, "{input:?}");
        assert_eq!(
            input.rows_read,
            input.rows_after_as_of + input.rows_passed + input.rows_flagged,
            "every row of {} is accounted for",
            input.table
        );
    }
    let flagged: u64 = report.manifest.inputs.iter().map(|i| i.rows_flagged).sum();
    assert!(
        flagged
            >= expected
                .keys()
                .filter(|(c, _, _)| c == "data_quality")
                .count() as u64
    );
    let found: BTreeMap<Key, Decimal> = read_findings(&out)
        .into_iter()
        .map(|f| ((f.check_id, f.entity_type, f.entity_id), f.leakage))
        .collect();

    let mut problems = Vec::new();
    for (key, leakage) in &expected {
        match found.get(key) {
            None => problems.push(format!("missed planted {key:?} ({leakage})")),
            Some(got) if got != leakage => {
                problems.push(format!("{key:?}: leakage {got}, planted {leakage}"))
            }
            Some(_) => {}
        }
    }
    for (key, leakage) in &found {
        if !expected.contains_key(key) {
            problems.push(format!("unplanted finding {key:?} ({leakage})"));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}, scale {scale}:\n{}",
        problems.join("\n")
    );
    let checks: std::collections::BTreeSet<&str> =
        expected.keys().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(checks.len(), 15, "every check is planted: {checks:?}");
}

#[test]
fn generated_snapshot_matches_its_truth_file() {
    check_against_truth(0.1, 7);
}

#[test]
fn another_seed_matches_its_truth_file() {
    check_against_truth(0.05, 20261126);
}
