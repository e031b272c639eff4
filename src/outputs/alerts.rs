//! Alerts raised once per finding, however often a day is run: the record of
//! what was alerted (each finding id and the severity it was alerted at) is
//! published with every run as `alerts/as_of=.../alerted.jsonl`, atomically with
//! the rest, and read back by the next run of that as_of or a later one. A
//! finding alerts the first time a run sees it at or above `alert_min_severity`
//! without a live disposition, and again only when its severity rises or when
//! it resolves and comes back.

use crate::error::Result;
use chrono::NaiveDate;
use revleak_contract::Severity;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The record's file name in the alerts partition.
pub const RECORD: &str = "alerted.jsonl";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerted {
    pub finding_id: String,
    /// The severity it was last alerted at.
    pub severity: Severity,
    /// The as_of of the run that alerted it.
    pub as_of: NaiveDate,
}

/// What has been alerted, by finding id.
#[derive(Debug, Clone, Default)]
pub struct AlertRecord {
    by_id: BTreeMap<String, Alerted>,
}

impl AlertRecord {
    /// The record of the latest run at or before `as_of`. A run of an earlier
    /// revleak wrote none: its alerts were the new findings at or above the
    /// threshold, so `seed` gives, for that run's as_of, its findings (id and
    /// severity) at or above it without a disposition, which count as alerted:
    /// an upgrade raises nothing twice.
    pub fn load(
        out: &Path,
        as_of: NaiveDate,
        seed: impl FnOnce(NaiveDate) -> Result<Vec<(String, Severity)>>,
    ) -> Result<AlertRecord> {
        let Some((date, dir)) = crate::outputs::publish::partitions(&out.join("alerts"))
            .into_iter()
            .rfind(|(d, _)| *d <= as_of)
        else {
            return Ok(AlertRecord::default());
        };
        let Some(record) = crate::outputs::publish::read_jsonl::<Alerted>(&dir.join(RECORD))?
        else {
            let by_id = seed(date)?
                .into_iter()
                .map(|(finding_id, severity)| {
                    let alerted = Alerted {
                        finding_id: finding_id.clone(),
                        severity,
                        as_of: date,
                    };
                    (finding_id, alerted)
                })
                .collect();
            return Ok(AlertRecord { by_id });
        };
        let by_id = record
            .into_iter()
            .map(|a| (a.finding_id.clone(), a))
            .collect();
        Ok(AlertRecord { by_id })
    }

    /// Whether a finding (at or above the threshold, without a live
    /// disposition) raises an alert now: never alerted, or at a higher severity
    /// than it was. Records it when it does.
    pub fn raise(&mut self, finding_id: &str, severity: Severity, as_of: NaiveDate) -> bool {
        let raised = self
            .by_id
            .get(finding_id)
            .is_none_or(|a| severity > a.severity);
        if raised {
            self.by_id.insert(
                finding_id.to_string(),
                Alerted {
                    finding_id: finding_id.to_string(),
                    severity,
                    as_of,
                },
            );
        }
        raised
    }

    /// Forgets the findings this run no longer reports: one that comes back
    /// alerts again.
    pub fn retain(&mut self, current: &HashSet<String>) {
        self.by_id.retain(|id, _| current.contains(id));
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The record as JSON lines, sorted by finding id.
    pub fn to_jsonl(&self) -> String {
        let mut text = String::new();
        for alerted in self.by_id.values() {
            text.push_str(&serde_json::to_string(alerted).expect("a record serializes"));
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_alerts_once_again_when_its_severity_rises_and_after_it_resolved() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let mut record = AlertRecord::default();
        assert!(record.raise("a", Severity::High, d));
        assert!(
            !record.raise("a", Severity::High, d),
            "the same day's re-run"
        );
        assert!(!record.raise("a", Severity::Medium, d), "lower is no news");
        assert!(
            !record.raise("a", Severity::High, d),
            "back to the alerted severity"
        );
        assert!(record.raise("a", Severity::Critical, d), "it rose");
        record.retain(&HashSet::new());
        assert!(record.is_empty());
        assert!(
            record.raise("a", Severity::Critical, d),
            "resolved, then back"
        );
        assert_eq!(
            record.to_jsonl(),
            "{\"finding_id\":\"a\",\"severity\":\"critical\",\"as_of\":\"2026-11-26\"}\n"
        );
    }
}
