//! Finds the raw tables of a snapshot and registers them in DataFusion.
//!
//! Every entry under `<snapshot>/<system>/` is one raw table, registered as
//! `<system>.<name>` with the types it was written with: a Parquet file, a
//! folder of Parquet part files (Hive-style `key=value/` subfolders read as text
//! columns; `_`- and `.`-prefixed bookkeeping files skipped), or a CSV file with a
//! header row, every column read as text, or an Excel workbook whose sheets are
//! raw tables (`crate::ingest::xlsx`). Nothing here knows the data contract:
//! staging (`crate::ingest::staging`) maps raw tables to the canonical ones, and the
//! contract is checked on what it produces.

use super::csv::{CsvRows, read_csv};
use super::xlsx::{SheetRows, read_workbook};
pub use crate::config::CsvFormat;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use datafusion::sql::TableReference;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    Parquet,
    Csv,
    Xlsx,
}

impl RawFormat {
    pub fn name(self) -> &'static str {
        match self {
            RawFormat::Parquet => "parquet",
            RawFormat::Csv => "csv",
            RawFormat::Xlsx => "xlsx",
        }
    }
}

/// A raw table found in the snapshot.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub system: String,
    pub name: String,
    /// The file, or the folder of part files.
    pub location: PathBuf,
    pub format: RawFormat,
    pub files: Vec<PathBuf>,
    /// Hive partition keys (`key=value/` folders), read as text columns.
    pub partition_columns: Vec<String>,
    /// The columns as written (CSV: every column text).
    pub schema: SchemaRef,
    pub rows: u64,
    pub bytes: u64,
    /// How the files are compressed (`gzip`, `zstd`, `bzip2`); None: not compressed.
    pub compression: Option<String>,
    /// The text encoding the files are decoded from; None: UTF-8 (or not text).
    pub encoding: Option<String>,
    pub(super) csv: Option<Arc<CsvRows>>,
    /// The sheet of a workbook (`.xlsx`) read into text columns.
    pub(super) sheet: Option<Arc<SheetRows>>,
}

impl RawTable {
    /// `system/name`, as used in messages and the manifest.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.system, self.name)
    }

    /// The DataFusion name: `system.name`.
    pub fn sql_name(&self) -> String {
        format!("{}.{}", self.system, self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub root: PathBuf,
    pub raw: Vec<RawTable>,
    /// From `snapshot.json`, when present.
    pub as_of: Option<NaiveDate>,
}

impl Snapshot {
    /// Finds and reads the metadata of every raw table; all problems are reported
    /// together. `csv` holds the format of CSV tables by `system/name`; `sheets`
    /// the one sheet read of a workbook `system/name` (else every sheet is a table).
    pub fn open(
        root: &Path,
        csv: &BTreeMap<String, CsvFormat>,
        sheets: &BTreeMap<String, String>,
    ) -> Result<Snapshot> {
        if !root.is_dir() {
            return Err(Error::Snapshot(vec![format!(
                "{}: snapshot folder does not exist (expected <snapshot>/<system>/<table>.parquet, .csv or a folder of .parquet part files)",
                root.display()
            )]));
        }
        let as_of = read_snapshot_json(root)?;
        let mut problems = Vec::new();
        let mut raw = Vec::new();
        for system_dir in sorted_entries(root, &mut problems) {
            if !system_dir.is_dir() {
                continue; // snapshot.json, a marker file
            }
            let system = file_name(&system_dir);
            let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
            for entry in sorted_entries(&system_dir, &mut problems) {
                let Some((name, format)) = classify(&entry) else {
                    problems.push(format!(
                        "{}: not a raw table (revleak reads <name>.parquet, <name>.csv, <name>.xlsx or a folder of .parquet part files)",
                        entry.display()
                    ));
                    continue;
                };
                if let Some(first) = seen.get(&name) {
                    problems.push(format!(
                        "{system}/{name} is in the snapshot twice: {} and {} (keep one)",
                        first.display(),
                        entry.display()
                    ));
                    continue;
                }
                seen.insert(name.clone(), entry.clone());
                if format == RawFormat::Xlsx {
                    let sheet = sheets.get(&format!("{system}/{name}"));
                    match read_workbook(&system, &name, &entry, sheet.map(String::as_str)) {
                        Ok(mut tables) => raw.append(&mut tables),
                        Err(mut errs) => problems.append(&mut errs),
                    }
                    continue;
                }
                let format_of = csv
                    .get(&format!("{system}/{name}"))
                    .copied()
                    .unwrap_or_default();
                match read_raw(&system, &name, &entry, format, format_of) {
                    Ok(table) => raw.push(table),
                    Err(mut errs) => problems.append(&mut errs),
                }
            }
        }
        // A name seen twice is one problem, not also a table.
        if !problems.is_empty() {
            return Err(Error::Snapshot(problems));
        }
        Ok(Snapshot {
            root: root.to_path_buf(),
            raw,
            as_of,
        })
    }

    /// The raw table `system/name` or `system.name`.
    pub fn table(&self, name: &str) -> Option<&RawTable> {
        let (system, table) = name.split_once(['/', '.'])?;
        self.raw
            .iter()
            .find(|t| t.system == system && t.name == table)
    }

    /// The systems of the snapshot: its folders, and the contract's systems.
    pub fn systems(&self) -> Vec<String> {
        let mut systems: Vec<String> = revleak_contract::TABLES
            .iter()
            .map(|t| t.system.to_string())
            .chain(self.raw.iter().map(|t| t.system.clone()))
            .collect();
        systems.sort();
        systems.dedup();
        systems
    }

    /// Registers every raw table as `system.name`. CSV tables and sheets are kept in
    /// memory, or, when `csv_as_parquet` names a folder every executor reads (a
    /// cluster), written there as Parquet and read from it.
    pub async fn register(
        &self,
        ctx: &SessionContext,
        csv_as_parquet: Option<&Path>,
    ) -> Result<()> {
        let catalog = ctx.catalog("datafusion").expect("default catalog exists");
        for system in self.systems() {
            if catalog.schema(&system).is_none() {
                catalog
                    .register_schema(&system, Arc::new(MemorySchemaProvider::new()))
                    .map_err(|e| Error::exec("registering schemas", e))?;
            }
        }
        for table in &self.raw {
            let location = table.location.to_string_lossy().to_string();
            let failed =
                |e| Error::exec(format!("{}: registering {}", location, table.sql_name()), e);
            if let Some(sheet) = &table.sheet {
                // `pos_q3$Sheet1` as one identifier, case kept: SQL quotes it
                let name = TableReference::partial(table.system.as_str(), table.name.as_str());
                register_text(ctx, table, name, &sheet.batches, csv_as_parquet).await?;
                continue;
            }
            match (&table.csv, csv_as_parquet) {
                (Some(rows), _) => {
                    let name = TableReference::from(table.sql_name());
                    register_text(ctx, table, name, &rows.batches, csv_as_parquet).await?;
                }
                (None, _) if table.partition_columns.is_empty() => {
                    // Read with the types the files were written with (a Parquet
                    // string column stays Utf8, not the engine's view type).
                    let file_schema = table.schema.clone();
                    let options = ParquetReadOptions {
                        schema: Some(&file_schema),
                        ..Default::default()
                    };
                    ctx.register_parquet(table.sql_name(), &location, options)
                        .await
                        .map_err(failed)?;
                }
                (None, _) => {
                    let partition_cols = table
                        .partition_columns
                        .iter()
                        .map(|c| (c.clone(), DataType::Utf8))
                        .collect();
                    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                        .with_file_extension(".parquet")
                        .with_table_partition_cols(partition_cols);
                    let file_schema = Arc::new(Schema::new(
                        table
                            .schema
                            .fields()
                            .iter()
                            .filter(|f| !table.partition_columns.contains(f.name()))
                            .cloned()
                            .collect::<Vec<_>>(),
                    ));
                    ctx.register_listing_table(
                        table.sql_name(),
                        &location,
                        options,
                        Some(file_schema),
                        None,
                    )
                    .await
                    .map_err(failed)?;
                }
            }
        }
        Ok(())
    }
}

/// Registers a table read into text batches: in memory, or written as Parquet
/// into `csv_as_parquet` (a folder every executor of a cluster reads).
async fn register_text(
    ctx: &SessionContext,
    table: &RawTable,
    name: TableReference,
    batches: &[RecordBatch],
    csv_as_parquet: Option<&Path>,
) -> Result<()> {
    let failed = |e| {
        Error::exec(
            format!(
                "{}: registering {}",
                table.location.display(),
                table.sql_name()
            ),
            e,
        )
    };
    match csv_as_parquet {
        None => {
            let mem =
                MemTable::try_new(table.schema.clone(), vec![batches.to_vec()]).map_err(failed)?;
            ctx.register_table(name, Arc::new(mem)).map_err(failed)?;
        }
        Some(dir) => {
            let file = dir.join(format!("raw-{}.{}.parquet", table.system, table.name));
            write_parquet(&file, &table.schema, batches)?;
            let options = ParquetReadOptions {
                schema: Some(&table.schema),
                ..Default::default()
            };
            ctx.register_parquet(name, file.to_string_lossy(), options)
                .await
                .map_err(failed)?;
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Writer bookkeeping (`_SUCCESS`, `.crc`, `.DS_Store`), as in Spark and Hive.
fn is_bookkeeping(path: &Path) -> bool {
    let name = file_name(path);
    name.starts_with('.') || name.starts_with('_')
}

/// A folder's entries, sorted, bookkeeping left out.
fn sorted_entries(dir: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("{}: cannot list: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !is_bookkeeping(p))
        .collect();
    paths.sort();
    paths
}

/// A raw table's name and format, from its path.
fn classify(path: &Path) -> Option<(String, RawFormat)> {
    let name = file_name(path);
    if path.is_dir() {
        return Some((name, RawFormat::Parquet));
    }
    let (stem, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "parquet" => Some((stem.to_string(), RawFormat::Parquet)),
        "csv" => Some((stem.to_string(), RawFormat::Csv)),
        "xlsx" => Some((stem.to_string(), RawFormat::Xlsx)),
        _ => None,
    }
}

fn read_raw(
    system: &str,
    name: &str,
    location: &Path,
    format: RawFormat,
    csv: CsvFormat,
) -> std::result::Result<RawTable, Vec<String>> {
    let qualified = format!("{system}/{name}");
    let mut table = RawTable {
        system: system.to_string(),
        name: name.to_string(),
        location: location.to_path_buf(),
        format,
        files: Vec::new(),
        partition_columns: Vec::new(),
        schema: Arc::new(Schema::empty()),
        rows: 0,
        bytes: 0,
        compression: None,
        encoding: None,
        csv: None,
        sheet: None,
    };
    match format {
        RawFormat::Csv => {
            let rows = read_csv(location, csv).map_err(|e| vec![e])?;
            table.files = vec![location.to_path_buf()];
            table.bytes = std::fs::metadata(location).map(|m| m.len()).unwrap_or(0);
            table.rows = rows.lines.len() as u64;
            table.schema = rows
                .batches
                .first()
                .map(|b| b.schema())
                .expect("read_csv returns a batch at least");
            table.csv = Some(Arc::new(rows));
        }
        RawFormat::Xlsx => unreachable!("a workbook is read by read_workbook"),
        RawFormat::Parquet if location.is_file() => {
            let (schema, rows, bytes) =
                parquet_metadata(location, &qualified).map_err(|e| vec![e])?;
            table.files = vec![location.to_path_buf()];
            table.schema = schema;
            table.rows = rows;
            table.bytes = bytes;
        }
        RawFormat::Parquet => {
            let parts = part_files(location)?;
            if parts.is_empty() {
                return Err(vec![format!(
                    "{}: folder holds no .parquet part files ({qualified})",
                    location.display()
                )]);
            }
            let keys = parts[0].1.clone();
            let mut problems = Vec::new();
            let mut first: Option<(PathBuf, SchemaRef)> = None;
            for (file, file_keys) in &parts {
                if *file_keys != keys {
                    problems.push(format!(
                        "{}: partition folders {:?} differ from {:?} of {} (one layout per table)",
                        file.display(),
                        file_keys,
                        keys,
                        parts[0].0.display()
                    ));
                    continue;
                }
                match parquet_metadata(file, &qualified) {
                    Err(e) => problems.push(e),
                    Ok((schema, rows, bytes)) => {
                        table.rows += rows;
                        table.bytes += bytes;
                        match &first {
                            None => first = Some((file.clone(), schema)),
                            Some((first_file, first_schema)) => {
                                let names = |s: &Schema| -> Vec<String> {
                                    s.fields().iter().map(|f| f.name().clone()).collect()
                                };
                                let (here, there) = (names(&schema), names(first_schema));
                                for missing in there.iter().filter(|n| !here.contains(n)) {
                                    problems.push(format!(
                                        "{}: {qualified}: column `{missing}` is missing here but in {} (part files must agree)",
                                        file.display(),
                                        first_file.display()
                                    ));
                                }
                                for extra in here.iter().filter(|n| !there.contains(n)) {
                                    problems.push(format!(
                                        "{}: {qualified}: column `{extra}` is here but not in {} (part files must agree)",
                                        file.display(),
                                        first_file.display()
                                    ));
                                }
                                for field in schema.fields() {
                                    if let Ok(f) = first_schema.field_with_name(field.name())
                                        && f.data_type() != field.data_type()
                                    {
                                        problems.push(format!(
                                            "{}: {qualified}: column `{}` is {} here but {} in {} (part files must agree)",
                                            file.display(),
                                            field.name(),
                                            field.data_type(),
                                            f.data_type(),
                                            first_file.display()
                                        ));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            let (_, schema) = first.expect("at least one part");
            let mut fields: Vec<Field> =
                schema.fields().iter().map(|f| f.as_ref().clone()).collect();
            for key in &keys {
                fields.push(Field::new(key, DataType::Utf8, true));
            }
            table.files = parts.into_iter().map(|(f, _)| f).collect();
            table.partition_columns = keys.clone();
            table.schema = Arc::new(Schema::new(fields));
        }
    }
    Ok(table)
}

/// Schema, rows and bytes of one Parquet file, from its footer.
fn parquet_metadata(
    file: &Path,
    qualified: &str,
) -> std::result::Result<(SchemaRef, u64, u64), String> {
    let handle = std::fs::File::open(file)
        .map_err(|e| format!("{}: cannot open {qualified}: {e}", file.display()))?;
    let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        return Err(format!(
            "{}: empty file, not a Parquet file ({qualified})",
            file.display()
        ));
    }
    let builder = ParquetRecordBatchReaderBuilder::try_new(handle).map_err(|e| {
        format!(
            "{}: not a readable Parquet file ({qualified}): {e}",
            file.display()
        )
    })?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    // Only the columns: key-value metadata of the writer is not the table's.
    let schema = Arc::new(Schema::new(builder.schema().fields().clone()));
    Ok((schema, rows, size))
}

/// The Parquet part files under a table folder, each with its Hive partition
/// keys (`key=value` folders on the way), sorted.
fn part_files(folder: &Path) -> std::result::Result<Vec<(PathBuf, Vec<String>)>, Vec<String>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut stack = vec![(folder.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, keys)) = stack.pop() {
        for path in sorted_entries(&dir, &mut problems) {
            let name = file_name(&path);
            if path.is_dir() {
                match name.split_once('=') {
                    Some((key, _)) if !key.is_empty() => {
                        let mut keys = keys.clone();
                        keys.push(key.to_string());
                        stack.push((path, keys));
                    }
                    _ => problems.push(format!(
                        "{}: unexpected folder in a table folder (only Hive-style key=value folders are read)",
                        path.display()
                    )),
                }
            } else if name.to_ascii_lowercase().ends_with(".parquet") {
                found.push((path, keys.clone()));
            } else {
                problems.push(format!(
                    "{}: unexpected file in a table folder (only .parquet part files are read)",
                    path.display()
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    found.sort();
    Ok(found)
}

fn write_parquet(file: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    use datafusion::parquet::arrow::ArrowWriter;
    let handle = std::fs::File::create(file).map_err(|e| Error::io(file, e))?;
    let mut writer = ArrowWriter::try_new(handle, schema.clone(), None)
        .map_err(|e| Error::Snapshot(vec![format!("{}: {e}", file.display())]))?;
    for batch in batches {
        writer
            .write(batch)
            .map_err(|e| Error::Snapshot(vec![format!("{}: {e}", file.display())]))?;
    }
    writer
        .close()
        .map_err(|e| Error::Snapshot(vec![format!("{}: {e}", file.display())]))?;
    Ok(())
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
