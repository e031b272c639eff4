//! Analysts' decisions on findings (`dispositions.csv`): a finding marked
//! `accepted`, `false_positive` or `explained` keeps its row and carries the
//! decision, but leaves the headline totals, the alerts and `--fail-on` while the
//! decision is live (no `until`, or `until` on or after the run's as_of).

use crate::error::{Error, Result};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const DISPOSITIONS: &[&str] = &["accepted", "false_positive", "explained"];
pub const COLUMNS: &[&str] = &["finding_id", "disposition", "note", "owner", "until"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    pub finding_id: String,
    pub disposition: String,
    pub note: Option<String>,
    pub owner: Option<String>,
    pub until: Option<NaiveDate>,
    /// `path:line` the decision came from, for messages.
    pub source: String,
}

impl Disposition {
    pub fn is_live(&self, as_of: NaiveDate) -> bool {
        self.until.is_none_or(|until| until >= as_of)
    }
}

/// The dispositions file to read: the configured path, else
/// `dispositions.csv` in the output folder when it exists.
pub fn locate(configured: Option<&Path>, out: &Path) -> Option<PathBuf> {
    match configured {
        Some(path) => Some(path.to_path_buf()),
        None => {
            let default = out.join("dispositions.csv");
            default.exists().then_some(default)
        }
    }
}

/// Reads a dispositions CSV (header `finding_id,disposition,note,owner,until`;
/// note, owner and until may be empty). Every malformed line is reported, each
/// as `path:line: message`. A later line for the same finding_id replaces an
/// earlier one.
pub fn load(path: &Path) -> Result<HashMap<String, Disposition>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text, &path.display().to_string())
}

pub fn parse(text: &str, source: &str) -> Result<HashMap<String, Disposition>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::Config(format!("{source}:1: {e}")))?
        .clone();
    let header: Vec<&str> = headers.iter().collect();
    let position = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let mut problems = Vec::new();
    for required in ["finding_id", "disposition"] {
        if position(required).is_none() {
            problems.push(format!(
                "{source}:1: the header has no `{required}` column (expected {})",
                COLUMNS.join(",")
            ));
        }
    }
    for name in &header {
        if !COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            problems.push(format!(
                "{source}:1: unknown column `{name}` (expected {})",
                COLUMNS.join(",")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Config(problems.join("\n")));
    }
    let mut found = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                problems.push(format!("{source}:{line}: {e}"));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|cell| cell.is_empty()) {
            continue;
        }
        if record.len() > header.len() {
            problems.push(format!(
                "{source}:{line}: {} fields, the header has {}",
                record.len(),
                header.len()
            ));
            continue;
        }
        let cell = |name: &str| -> Option<String> {
            position(name)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let Some(finding_id) = cell("finding_id") else {
            problems.push(format!("{source}:{line}: finding_id is empty"));
            continue;
        };
        let disposition = cell("disposition").unwrap_or_default();
        if !DISPOSITIONS.contains(&disposition.as_str()) {
            problems.push(format!(
                "{source}:{line}: disposition `{disposition}` is not one of {}",
                DISPOSITIONS.join(", ")
            ));
            continue;
        }
        let until = match cell("until") {
            None => None,
            Some(text) => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    problems.push(format!(
                        "{source}:{line}: until `{text}` is not a date (YYYY-MM-DD)"
                    ));
                    continue;
                }
            },
        };
        found.insert(
            finding_id.clone(),
            Disposition {
                finding_id,
                disposition,
                note: cell("note"),
                owner: cell("owner"),
                until,
                source: format!("{source}:{line}"),
            },
        );
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(Error::Config(problems.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_decisions_with_optional_fields_and_quoted_commas() {
        let text = "finding_id,disposition,note,owner,until\n\
                    a1,accepted,\"credit, rebilled\",ana,2026-12-31\n\
                    b2,explained,,,\n";
        let found = parse(text, "d.csv").unwrap();
        assert_eq!(found["a1"].note.as_deref(), Some("credit, rebilled"));
        assert_eq!(found["a1"].until, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(found["b2"].owner, None);
        assert!(found["b2"].is_live(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()));
        assert!(!found["a1"].is_live(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()));
        assert!(found["a1"].is_live(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()));
    }

    #[test]
    fn every_malformed_line_is_reported_with_its_line_number() {
        let text = "finding_id,disposition,note,owner,until\n\
                    a1,acepted,,,\n\
                    b2,explained,,,31/12/2026\n\
                    ,accepted,,,\n\
                    c3,accepted,,,\n";
        let err = parse(text, "d.csv").unwrap_err().to_string();
        assert!(err.contains("d.csv:2: disposition `acepted`"), "{err}");
        assert!(err.contains("d.csv:3: until `31/12/2026`"), "{err}");
        assert!(err.contains("d.csv:4: finding_id is empty"), "{err}");
        assert!(!err.contains("d.csv:5"), "{err}");
    }

    #[test]
    fn a_header_without_the_required_columns_is_an_error() {
        let err = parse("id,decision\nx,accepted\n", "d.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `finding_id` column"), "{err}");
    }
}
