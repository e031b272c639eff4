//! Finds each contract table of a snapshot (one Parquet file or a folder of part
//! files), validates every file's columns and types against [`crate::contract`]
//! before anything runs, and registers the tables in DataFusion as `system.table`.

use crate::contract::{TABLES, Table};
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A contract table found in the snapshot.
#[derive(Debug, Clone)]
pub struct FoundTable {
    pub table: &'static Table,
    /// `<system>/<table>.parquet` or the folder of part files.
    pub location: PathBuf,
    pub files: Vec<PathBuf>,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub root: PathBuf,
    pub tables: Vec<FoundTable>,
    /// Contract tables with neither a file nor a folder.
    pub missing: Vec<&'static Table>,
    /// From `snapshot.json`, when present.
    pub as_of: Option<NaiveDate>,
}

impl Snapshot {
    /// Finds and validates every table; all problems are reported together.
    pub fn open(root: &Path) -> Result<Snapshot> {
        if !root.is_dir() {
            return Err(Error::Snapshot(vec![format!(
                "{}: snapshot folder does not exist (expected <snapshot>/<system>/<table>.parquet)",
                root.display()
            )]));
        }
        let as_of = read_snapshot_json(root)?;
        let mut problems = Vec::new();
        let mut tables = Vec::new();
        let mut missing = Vec::new();
        for table in TABLES {
            let file = root
                .join(table.system)
                .join(format!("{}.parquet", table.name));
            let folder = root.join(table.system).join(table.name);
            let (location, files) = if file.is_file() {
                (file.clone(), vec![file])
            } else if folder.is_dir() {
                match part_files(&folder) {
                    Ok(files) if files.is_empty() => {
                        problems.push(format!(
                            "{}: folder holds no .parquet part files",
                            folder.display()
                        ));
                        continue;
                    }
                    Ok(files) => (folder, files),
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                }
            } else if file.symlink_metadata().is_ok() || folder.symlink_metadata().is_ok() {
                // something is there (a dangling link, a socket, ...) but cannot be read
                let which = if file.symlink_metadata().is_ok() {
                    &file
                } else {
                    &folder
                };
                let reason = match std::fs::File::open(which) {
                    Err(e) => e.to_string(),
                    Ok(_) => "not a regular file or folder".to_string(),
                };
                problems.push(format!(
                    "{}: cannot read {}: {reason}",
                    which.display(),
                    table.qualified()
                ));
                continue;
            } else {
                missing.push(table);
                continue;
            };
            match validate_files(table, &files) {
                Ok((rows, bytes)) => tables.push(FoundTable {
                    table,
                    location,
                    files,
                    rows,
                    bytes,
                }),
                Err(mut errs) => problems.append(&mut errs),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Snapshot(problems));
        }
        Ok(Snapshot {
            root: root.to_path_buf(),
            tables,
            missing,
            as_of,
        })
    }

    /// Registers every found table as `system.table`, read with the contract's
    /// canonical types (Int32 widened, string encodings unified), and every missing
    /// one as an empty table of that shape so that SQL still plans.
    pub async fn register(&self, ctx: &SessionContext) -> Result<()> {
        let catalog = ctx.catalog("datafusion").expect("default catalog exists");
        for table in TABLES {
            if catalog.schema(table.system).is_none() {
                catalog
                    .register_schema(table.system, Arc::new(MemorySchemaProvider::new()))
                    .map_err(|e| Error::exec("registering schemas", e))?;
            }
        }
        for found in &self.tables {
            let schema = read_schema(found.table);
            let location = found.location.to_string_lossy().to_string();
            let options = ParquetReadOptions {
                schema: Some(&schema),
                ..Default::default()
            };
            ctx.register_parquet(found.table.raw_name(), &location, options)
                .await
                .map_err(|e| {
                    Error::exec(
                        format!("{}: registering {}", location, found.table.raw_name()),
                        e,
                    )
                })?;
        }
        for table in &self.missing {
            // An empty relation in the plan, not an in-memory table: it runs on a
            // cluster too.
            let schema = Arc::new(read_schema(table));
            let empty = crate::run::literal_plan(&RecordBatch::new_empty(schema))
                .map_err(|e| Error::exec(table.raw_name(), e))?;
            ctx.register_table(
                table.raw_name(),
                datafusion::dataframe::DataFrame::new(ctx.state(), empty).into_view(),
            )
            .map_err(|e| Error::exec(table.raw_name(), e))?;
        }
        Ok(())
    }
}

/// The schema a table is read with: canonical types, every column nullable
/// (nulls in required columns are data-quality findings, not load errors).
fn read_schema(table: &Table) -> Schema {
    Schema::new(
        table
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.ty.arrow_type(), true))
            .collect::<Vec<_>>(),
    )
}

fn read_snapshot_json(root: &Path) -> Result<Option<NaiveDate>> {
    let path = root.join("snapshot.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Snapshot(vec![format!("{}: not valid JSON: {e}", path.display())]))?;
    match value.get("as_of") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                Error::Snapshot(vec![format!(
                    "{}: as_of `{s}` is not a date (YYYY-MM-DD)",
                    path.display()
                )])
            }),
        Some(other) => Err(Error::Snapshot(vec![format!(
            "{}: as_of must be a string date (YYYY-MM-DD), found {other}",
            path.display()
        )])),
    }
}

fn part_files(folder: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", folder.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        // Hidden and underscore files are writer bookkeeping (_SUCCESS, .crc), as in Spark and Hive.
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if path.is_file() && name.ends_with(".parquet") {
            files.push(path);
        } else {
            return Err(format!(
                "{}: unexpected entry in a table folder (only .parquet part files are read)",
                path.display()
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// Checks every file of a table against the contract and against each other.
/// Returns rows and bytes, or every problem found.
fn validate_files(
    table: &Table,
    files: &[PathBuf],
) -> std::result::Result<(u64, u64), Vec<String>> {
    let mut problems = Vec::new();
    let mut rows = 0u64;
    let mut bytes = 0u64;
    let mut first: Option<(PathBuf, Vec<(String, DataType)>)> = None;
    for file in files {
        let handle = match std::fs::File::open(file) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!(
                    "{}: cannot open {}: {e}",
                    file.display(),
                    table.qualified()
                ));
                continue;
            }
        };
        let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
        bytes += size;
        if size == 0 {
            problems.push(format!(
                "{}: empty file, not a Parquet file ({})",
                file.display(),
                table.qualified()
            ));
            continue;
        }
        let builder = match ParquetRecordBatchReaderBuilder::try_new(handle) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!(
                    "{}: not a readable Parquet file ({}): {e}",
                    file.display(),
                    table.qualified()
                ));
                continue;
            }
        };
        rows += builder.metadata().file_metadata().num_rows().max(0) as u64;
        let schema = builder.schema().clone();
        for column in table.columns {
            match schema.field_with_name(column.name) {
                Err(_) => problems.push(format!(
                    "{}: {}: missing column `{}` (expected {})",
                    file.display(),
                    table.qualified(),
                    column.name,
                    column.ty.describe()
                )),
                Ok(field) if !column.ty.accepts(field.data_type()) => problems.push(format!(
                    "{}: {}: column `{}` has type {}, expected {}",
                    file.display(),
                    table.qualified(),
                    column.name,
                    field.data_type(),
                    column.ty.describe()
                )),
                Ok(_) => {}
            }
        }
        let contract_types: Vec<(String, DataType)> = table
            .columns
            .iter()
            .filter_map(|c| {
                schema
                    .field_with_name(c.name)
                    .ok()
                    .map(|f| (c.name.to_string(), f.data_type().clone()))
            })
            .collect();
        match &first {
            None => first = Some((file.clone(), contract_types)),
            Some((first_file, first_types)) => {
                for (name, dt) in &contract_types {
                    if let Some((_, first_dt)) = first_types.iter().find(|(n, _)| n == name)
                        && first_dt != dt
                    {
                        problems.push(format!(
                                "{}: {}: column `{name}` is {dt} here but {first_dt} in {} (part files must agree)",
                                file.display(),
                                table.qualified(),
                                first_file.display()
                            ));
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok((rows, bytes))
    } else {
        Err(problems)
    }
}
