//! `revleak inspect`: the mapping from a snapshot's raw tables to the canonical
//! ones, shown before any check runs — each raw table found, each canonical
//! table with the staging file that builds it and its rows, and every contract
//! mismatch and unconvertible value at once. What an analyst runs while writing
//! staging SQL.

use crate::config::{ConfigFile, Params};
use crate::error::Result;
use crate::ingest::snapshot::{RawFormat, Snapshot};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub snapshot: String,
    pub queries: String,
    pub raw_tables: Vec<RawInfo>,
    pub canonical_tables: Vec<CanonicalInfo>,
    /// Raw tables no staging view reads (`system/name`).
    pub unread: Vec<String>,
    /// Every contract mismatch and unconvertible value.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RawInfo {
    pub table: String,
    pub path: String,
    /// `parquet`, `csv`, `jsonl` or `xlsx`.
    pub format: String,
    /// `none`, `gzip`, `zstd` or `bzip2`.
    pub compression: String,
    /// The text encoding decoded (`utf-8` unless configured); `-` for binary formats.
    pub encoding: String,
    pub files: usize,
    /// The files read, in order.
    pub sources: Vec<String>,
    pub rows: u64,
    pub columns: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CanonicalInfo {
    pub table: String,
    pub staging: String,
    /// Whether the staging file exists (else the view is the identity).
    pub staging_file: bool,
    pub reads: Vec<String>,
    /// Rows the view returns; None when it could not be read.
    pub rows: Option<u64>,
    /// Why the table is empty: raw tables it reads that are absent.
    pub missing: Vec<String>,
}

/// Reads the snapshot, plans every staging view and reads each one through.
/// The snapshot itself failing to open (a malformed CSV line, a table present
/// twice) is an error; everything about staging is in the inspection.
pub async fn inspect(
    snapshot_dir: &Path,
    queries: &Path,
    config: &ConfigFile,
) -> Result<Inspection> {
    let (source, root) = crate::storage::SnapshotSource::locate(snapshot_dir, config)?;
    let snapshot = Snapshot::open_in(
        source,
        &root,
        &config.csv_formats()?,
        &config.xlsx_sheets()?,
    )?;
    let params = Params::resolve(config, &[], None, snapshot.as_of)?;
    let ctx: SessionContext = crate::engine::session::session();
    crate::engine::session::register_params(&ctx, &params)?;
    snapshot.register(&ctx, None).await?;
    let (staging, mut problems) = crate::ingest::staging::plan(
        &ctx,
        &snapshot,
        &queries.join("staging"),
        &config.absent_tables,
    )
    .await?;
    let mut canonical = Vec::new();
    for staged in &staging.tables {
        let rows = if staged.missing() {
            Some(0)
        } else {
            match read_through(&ctx, &format!("staging.{}", staged.table.name)).await {
                Ok(rows) => Some(rows),
                Err(e) => {
                    let error =
                        crate::error::Error::exec(format!("staging.{}", staged.table.name), e);
                    // Not yet registered (a broken view) is already a problem.
                    if !problems
                        .iter()
                        .any(|p| p.starts_with(&staged.file.display().to_string()))
                    {
                        problems.push(staging.explain(&snapshot, error).to_string());
                    }
                    None
                }
            }
        };
        canonical.push(CanonicalInfo {
            table: staged.table.qualified(),
            staging: staged.file.display().to_string(),
            staging_file: staged.from_file,
            reads: staged.reads.clone(),
            rows,
            missing: staged.absent.clone(),
        });
    }
    let raw_tables = snapshot
        .raw
        .iter()
        .map(|t| RawInfo {
            table: t.qualified(),
            path: t.location.display().to_string(),
            format: t.format.name().to_string(),
            compression: t.compression.map_or("none", |c| c.name()).to_string(),
            encoding: match (&t.encoding, t.format) {
                (Some(encoding), _) => encoding.to_string(),
                (None, RawFormat::Parquet | RawFormat::Xlsx) => "-".to_string(),
                (None, _) => "utf-8".to_string(),
            },
            files: t.files.len(),
            sources: t.files.iter().map(|f| f.display().to_string()).collect(),
            rows: t.rows,
            columns: t
                .schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().to_string()))
                .collect(),
        })
        .collect();
    Ok(Inspection {
        snapshot: snapshot_dir.display().to_string(),
        queries: queries.display().to_string(),
        raw_tables,
        unread: staging
            .unread(&snapshot)
            .iter()
            .map(|t| t.qualified())
            .collect(),
        canonical_tables: canonical,
        problems,
    })
}

/// Reads every row of a view (so that a value a cast rejects is found) and
/// counts them.
async fn read_through(ctx: &SessionContext, view: &str) -> datafusion::error::Result<u64> {
    let mut stream = ctx.table(view).await?.execute_stream().await?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        rows += batch?.num_rows() as u64;
    }
    Ok(rows)
}

impl Inspection {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Raw tables in {} ({}):",
            self.snapshot,
            self.raw_tables.len()
        );
        for raw in &self.raw_tables {
            // a text table says how it was read: `csv, gzip, windows-1252`
            let how = match (raw.encoding.as_str(), raw.compression.as_str()) {
                ("-", _) => raw.format.clone(),
                (encoding, "none") => format!("{}, uncompressed, {encoding}", raw.format),
                (encoding, compression) => format!("{}, {compression}, {encoding}", raw.format),
            };
            let _ = writeln!(
                out,
                "  {}  {how}  {}  {} file(s)  {} rows",
                raw.table, raw.path, raw.files, raw.rows
            );
            // a folder's files (of 300 partner files, the first few say what it holds)
            if raw.sources.len() > 1 || raw.sources.first().is_some_and(|s| *s != raw.path) {
                const SOURCES_LISTED: usize = 5;
                let folder = format!("{}/", raw.path);
                let mut sources: Vec<String> = raw
                    .sources
                    .iter()
                    .take(SOURCES_LISTED)
                    .map(|s| s.strip_prefix(&folder).unwrap_or(s).to_string())
                    .collect();
                if raw.sources.len() > SOURCES_LISTED {
                    sources.push(format!("… and {} more", raw.sources.len() - SOURCES_LISTED));
                }
                let _ = writeln!(out, "      files: {}", sources.join(", "));
            }
            let columns: Vec<String> = raw
                .columns
                .iter()
                .map(|(name, ty)| format!("{name} {ty}"))
                .collect();
            let _ = writeln!(out, "      {}", columns.join(", "));
        }
        let _ = writeln!(
            out,
            "\nCanonical tables, built by {}/staging ({}):",
            self.queries,
            self.canonical_tables.len()
        );
        for table in &self.canonical_tables {
            let built = if table.staging_file {
                table.staging.clone()
            } else {
                format!("{} (absent: identity)", table.staging)
            };
            let state = if !table.missing.is_empty() {
                format!("MISSING: {} not in the snapshot", table.missing.join(", "))
            } else {
                match table.rows {
                    Some(rows) => format!("{rows} rows"),
                    None => "NOT READABLE (see problems)".to_string(),
                }
            };
            let reads = if table.reads.is_empty() {
                String::new()
            } else {
                format!(" from {}", table.reads.join(", "))
            };
            let _ = writeln!(out, "  {}  <- {}{}  {}", table.table, built, reads, state);
        }
        if !self.unread.is_empty() {
            let _ = writeln!(
                out,
                "\nRaw tables no staging view reads (their rows are not reconciled): {}",
                self.unread.join(", ")
            );
        }
        if self.problems.is_empty() {
            let _ = writeln!(out, "\nNo problems: every staging view meets the contract.");
        } else {
            let _ = writeln!(out, "\nProblems ({}):", self.problems.len());
            for p in &self.problems {
                let _ = writeln!(out, "  {p}");
            }
        }
        out
    }
}
