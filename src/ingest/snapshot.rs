//! Finds the raw tables of a snapshot and registers them in DataFusion.
//!
//! Every entry under `<snapshot>/<system>/` is one raw table, registered as
//! `<system>.<name>` with the types it was written with: a Parquet file, a
//! folder of Parquet part files (Hive-style `key=value/` subfolders read as text
//! columns; `_`- and `.`-prefixed bookkeeping files skipped), or text: a CSV file
//! with a header row or a JSON lines file (`.jsonl`, `.ndjson`), each maybe
//! compressed (`.gz`, `.zst`, `.bz2`; the name drops both extensions), or a
//! folder of such files of one format (one table, with a `_file` column), every
//! column read as text, or an Excel workbook whose sheets are raw tables
//! ([`super::xlsx`]). Text tables and sheets are written once into Parquet in a
//! work folder ([`super::text`]) and read from there. Only regular files and
//! folders are read. The snapshot is a local folder or a prefix in object
//! storage: every listing and read goes through its
//! [`SnapshotSource`](crate::storage::SnapshotSource), and Parquet on a store
//! is registered by URL, read by DataFusion with ranged GETs. Nothing here knows the data contract:
//! staging (`crate::ingest::staging`) maps raw tables to the canonical ones, and the
//! contract is checked on what it produces.

use super::source::split_name;
pub use super::source::{Compression, RawFormat};
use super::text::{TextSource, convert, text_source};
use super::xlsx::{SheetCells, read_workbook};
pub use crate::config::CsvFormat;
use crate::error::{Error, Result};
use crate::storage::work::WorkFolder;
use crate::storage::{Entry, Kind, SnapshotSource};
use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A raw table found in the snapshot.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub system: String,
    pub name: String,
    /// The file, or the folder of part files.
    pub location: PathBuf,
    pub format: RawFormat,
    /// A text file's compression (a folder's: its first file's).
    pub compression: Option<Compression>,
    /// A text table's encoding when not UTF-8 (`windows-1252`, `UTF-16LE`).
    pub encoding: Option<&'static str>,
    pub files: Vec<PathBuf>,
    /// Hive partition keys (`key=value/` folders), read as text columns.
    pub partition_columns: Vec<String>,
    /// The columns as written (text formats: every column text).
    pub schema: SchemaRef,
    pub rows: u64,
    /// The size of the files as they are in the snapshot (compressed).
    pub bytes: u64,
    /// A text table: how to read it again (to name the line of a bad value).
    pub(super) text: Option<Arc<TextSource>>,
    /// A workbook's sheet: where each value came from (to name its cell).
    pub(super) sheet: Option<Arc<SheetCells>>,
    /// A text table or sheet: the Parquet file it was converted to, which the
    /// engine reads.
    pub(super) converted: Option<PathBuf>,
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
    /// The folder, or on a store its URL (as entries are named).
    pub root: PathBuf,
    /// Where its files are read from.
    pub source: SnapshotSource,
    pub raw: Vec<RawTable>,
    /// From `snapshot.json`, when present.
    pub as_of: Option<NaiveDate>,
    /// Where text tables were converted to Parquet (when there are any):
    /// held so that it lives as long as the snapshot.
    _converted_in: Option<Arc<WorkFolder>>,
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
        Snapshot::open_in(SnapshotSource::Local, root, csv, sheets)
    }

    /// [`Snapshot::open`] from `source`: a local folder or, on a store, the
    /// URL `root` ([`SnapshotSource::locate`]).
    pub fn open_in(
        source: SnapshotSource,
        root: &Path,
        csv: &BTreeMap<String, CsvFormat>,
        sheets: &BTreeMap<String, String>,
    ) -> Result<Snapshot> {
        if !source.check_root(root)? {
            let what = match source.is_store() {
                true => "snapshot prefix holds no objects (is the URL right?)",
                false => "snapshot folder does not exist",
            };
            return Err(Error::Snapshot(vec![format!(
                "{}: {what} (expected <snapshot>/<system>/<table>.parquet, .csv, .jsonl, .xlsx or a folder of part files)",
                root.display()
            )]));
        }
        let mut problems = Vec::new();
        let top = sorted_entries(&source, root, &mut problems);
        let as_of = read_snapshot_json(&source, &top)?;
        let mut raw = Vec::new();
        let mut work = None;
        for system_dir in top {
            if !system_dir.is_dir() {
                continue; // snapshot.json, a marker file
            }
            let system = system_dir.name();
            let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
            for entry in sorted_entries(&source, &system_dir.path, &mut problems) {
                if let Some(problem) = not_a_file_or_folder(&entry) {
                    problems.push(problem);
                    continue;
                }
                let Some((name, format, compression)) = classify(&source, &entry) else {
                    problems.push(format!(
                        "{}: not a raw table (revleak reads <name>.parquet, <name>.csv, <name>.jsonl or .ndjson, each text file maybe .gz, .zst or .bz2, <name>.xlsx, or a folder of such files)",
                        entry.path.display()
                    ));
                    continue;
                };
                if let Some(first) = seen.get(&name) {
                    problems.push(format!(
                        "{system}/{name} is in the snapshot twice: {} and {} (keep one)",
                        first.display(),
                        entry.path.display()
                    ));
                    continue;
                }
                seen.insert(name.clone(), entry.path.clone());
                if format == RawFormat::Xlsx {
                    let sheet = sheets.get(&format!("{system}/{name}"));
                    let read = work_folder(&mut work).map_err(|e| vec![e]).and_then(|dir| {
                        read_workbook(
                            &source,
                            (system.as_str(), name.as_str()),
                            &entry.path,
                            sheet.map(String::as_str),
                            &dir,
                        )
                    });
                    match read {
                        Ok(sheets) => raw.extend(sheets.into_iter().map(|sheet| {
                            RawTable {
                                system: system.clone(),
                                name: sheet.name,
                                location: entry.path.clone(),
                                format: RawFormat::Xlsx,
                                compression: None,
                                encoding: None,
                                files: vec![entry.path.clone()],
                                partition_columns: Vec::new(),
                                schema: sheet.schema,
                                rows: sheet.cells.rows.len() as u64,
                                // the workbook's size, on each of its sheets
                                bytes: entry.size(),
                                text: None,
                                sheet: Some(Arc::new(sheet.cells)),
                                converted: Some(sheet.converted),
                            }
                        })),
                        Err(mut errs) => problems.append(&mut errs),
                    }
                    continue;
                }
                let format_of = csv
                    .get(&format!("{system}/{name}"))
                    .copied()
                    .unwrap_or_default();
                match read_raw(
                    &source,
                    &system,
                    &name,
                    &entry,
                    (format, compression, format_of),
                    &mut work,
                ) {
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
            source,
            raw,
            as_of,
            _converted_in: work,
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

    /// Registers every raw table as `system.name`. Text tables and sheets are
    /// read from the Parquet file they were converted to, copied first, when
    /// `csv_as_parquet` names a folder every executor reads (a cluster), there.
    pub async fn register(
        &self,
        ctx: &SessionContext,
        csv_as_parquet: Option<&Path>,
    ) -> Result<()> {
        self.source.register_with(ctx)?;
        let catalog = ctx.catalog("datafusion").expect("default catalog exists");
        for system in self.systems() {
            if catalog.schema(&system).is_none() {
                catalog
                    .register_schema(&system, Arc::new(MemorySchemaProvider::new()))
                    .map_err(|e| Error::exec("registering schemas", e))?;
            }
        }
        for table in &self.raw {
            // a folder of part files (on a store its URL ends with `/`)
            let folder = table.files.first() != Some(&table.location);
            let location = self.source.table_url(&table.location, folder);
            let failed =
                |e| Error::exec(format!("{}: registering {}", location, table.sql_name()), e);
            match &table.converted {
                Some(converted) => {
                    let file = match csv_as_parquet {
                        None => converted.clone(),
                        Some(dir) => {
                            let file = dir.join(converted.file_name().expect("a file name"));
                            crate::storage::work::put_work_file(
                                ctx,
                                &file,
                                crate::storage::work::WorkFile::CopyOf(converted),
                            )
                            .await?;
                            file
                        }
                    };
                    // Utf8 as written, not the engine's view type
                    let options = ParquetReadOptions {
                        schema: Some(&table.schema),
                        ..Default::default()
                    };
                    // a sheet's `pos_q3$Sheet1` is one identifier, case kept
                    let name = match table.sheet {
                        Some(_) => {
                            TableReference::partial(table.system.as_str(), table.name.as_str())
                        }
                        None => TableReference::from(table.sql_name()),
                    };
                    ctx.register_parquet(name, file.to_string_lossy(), options)
                        .await
                        .map_err(failed)?;
                }
                None if table.partition_columns.is_empty() => {
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
                None => {
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

/// Writer bookkeeping (`_SUCCESS`, `.crc`, `.DS_Store`), as in Spark and Hive.
fn is_bookkeeping(entry: &Entry) -> bool {
    let name = entry.name();
    name.starts_with('.') || name.starts_with('_')
}

/// A folder's entries, sorted, bookkeeping left out.
fn sorted_entries(source: &SnapshotSource, dir: &Path, problems: &mut Vec<String>) -> Vec<Entry> {
    match source.list(dir) {
        Ok(entries) => entries.into_iter().filter(|e| !is_bookkeeping(e)).collect(),
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    }
}

/// Why an entry is not read, when it is neither a regular file nor a folder:
/// opening a FIFO waits for a writer forever, and a socket or device is no
/// export. Symlinks are followed (once: a loop is an error of `metadata`).
fn not_a_file_or_folder(entry: &Entry) -> Option<String> {
    let kind = match &entry.kind {
        Kind::Unreadable(e) => return Some(format!("{}: cannot read: {e}", entry.path.display())),
        Kind::File { .. } | Kind::Folder => return None,
        Kind::Special(kind) => kind,
    };
    Some(format!(
        "{}: {kind}, not a regular file or folder (revleak reads only those; move it out of the snapshot)",
        entry.path.display()
    ))
}

/// A raw table's name, format and compression, from its path.
fn classify(
    source: &SnapshotSource,
    entry: &Entry,
) -> Option<(String, RawFormat, Option<Compression>)> {
    let name = entry.name();
    if entry.is_dir() {
        return Some((name, folder_format(source, &entry.path), None));
    }
    let (stem, ext, compression) = split_name(&name)?;
    match (text_format(&ext), ext.as_str(), compression) {
        (Some(format), _, _) => Some((stem.to_string(), format, compression)),
        (None, "parquet", None) => Some((stem.to_string(), RawFormat::Parquet, None)),
        (None, "xlsx", None) => Some((stem.to_string(), RawFormat::Xlsx, None)),
        _ => None,
    }
}

fn text_format(ext: &str) -> Option<RawFormat> {
    match ext {
        "csv" => Some(RawFormat::Csv),
        "jsonl" | "ndjson" => Some(RawFormat::JsonLines),
        _ => None,
    }
}

/// A folder whose files are all CSV, or all JSON lines, is one text table;
/// any other folder is read as Parquet part files (whose reading names what
/// does not belong).
fn folder_format(source: &SnapshotSource, folder: &Path) -> RawFormat {
    let mut ignored = Vec::new();
    let formats: Vec<Option<RawFormat>> = sorted_entries(source, folder, &mut ignored)
        .iter()
        .map(|e| {
            if e.is_dir() {
                return None;
            }
            split_name(&e.name()).and_then(|(_, ext, _)| text_format(&ext))
        })
        .collect();
    match formats.first() {
        Some(Some(first)) if formats.iter().all(|f| *f == Some(*first)) => *first,
        _ => RawFormat::Parquet,
    }
}

/// The folder text tables and sheets are converted in, created on the first one.
fn work_folder(work: &mut Option<Arc<WorkFolder>>) -> std::result::Result<PathBuf, String> {
    if work.is_none() {
        *work = Some(Arc::new(WorkFolder::create(
            "revleak-raw-",
            "the folder text tables are converted in",
        )?));
    }
    Ok(work.as_ref().expect("just created").path().to_path_buf())
}

/// A text table (a file or a folder of files): its header or keys checked,
/// then streamed into Parquet in the work folder.
fn read_text(
    origin: &SnapshotSource,
    table: &mut RawTable,
    entry: &Entry,
    (format, compression, options): (RawFormat, Option<Compression>, CsvFormat),
    work: &mut Option<Arc<WorkFolder>>,
) -> std::result::Result<(), Vec<String>> {
    let location = table.location.clone();
    let mut bytes = entry.size();
    let files = if entry.is_dir() {
        let mut problems = Vec::new();
        let mut files = Vec::new();
        bytes = 0;
        for file in sorted_entries(origin, &location, &mut problems) {
            if let Some(problem) = not_a_file_or_folder(&file) {
                problems.push(problem);
                continue;
            }
            let name = file.name();
            let compression = split_name(&name).and_then(|(_, _, c)| c);
            bytes += file.size();
            files.push((file.path, compression, Some(name)));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        files
    } else {
        vec![(location.clone(), compression, None)]
    };
    let source = text_source(
        origin,
        format,
        &table.qualified(),
        options,
        &location,
        files,
    )
    .map_err(|e| vec![e])?;
    let target = work_folder(work)
        .map_err(|e| vec![e])?
        .join(format!("raw-{}.{}.parquet", table.system, table.name));
    table.rows = convert(&source, &target).map_err(|e| vec![e])?;
    table.files = source.files.iter().map(|f| f.0.clone()).collect();
    table.bytes = bytes;
    table.compression = source.files.first().and_then(|f| f.1);
    table.encoding = options.encoding.map(|e| e.name());
    table.schema = source.schema();
    table.text = Some(Arc::new(source));
    table.converted = Some(target);
    Ok(())
}

fn read_raw(
    origin: &SnapshotSource,
    system: &str,
    name: &str,
    entry: &Entry,
    (format, compression, options): (RawFormat, Option<Compression>, CsvFormat),
    work: &mut Option<Arc<WorkFolder>>,
) -> std::result::Result<RawTable, Vec<String>> {
    let qualified = format!("{system}/{name}");
    let location = entry.path.as_path();
    let mut table = RawTable {
        system: system.to_string(),
        name: name.to_string(),
        location: location.to_path_buf(),
        format,
        compression: None,
        encoding: None,
        files: Vec::new(),
        partition_columns: Vec::new(),
        schema: Arc::new(Schema::empty()),
        rows: 0,
        bytes: 0,
        text: None,
        sheet: None,
        converted: None,
    };
    match format {
        RawFormat::Csv | RawFormat::JsonLines => {
            read_text(
                origin,
                &mut table,
                entry,
                (format, compression, options),
                work,
            )?;
        }
        RawFormat::Xlsx => unreachable!("a workbook is read by read_workbook"),
        RawFormat::Parquet if !entry.is_dir() => {
            let (schema, rows, bytes) = origin
                .parquet_footer(location, entry.size(), &qualified)
                .map_err(|e| vec![e])?;
            table.files = vec![location.to_path_buf()];
            table.schema = schema;
            table.rows = rows;
            table.bytes = bytes;
        }
        RawFormat::Parquet => {
            let parts = part_files(origin, location)?;
            if parts.is_empty() {
                return Err(vec![format!(
                    "{}: folder holds no .parquet part files ({qualified})",
                    location.display()
                )]);
            }
            let keys = parts[0].1.clone();
            let mut problems = Vec::new();
            let mut first: Option<(PathBuf, SchemaRef)> = None;
            for (file, file_keys, size) in &parts {
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
                match origin.parquet_footer(file, *size, &qualified) {
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
            table.files = parts.into_iter().map(|(f, _, _)| f).collect();
            table.partition_columns = keys.clone();
            table.schema = Arc::new(Schema::new(fields));
        }
    }
    Ok(table)
}

/// The Parquet part files under a table folder, each with its Hive partition
/// keys (`key=value` folders on the way) and size, sorted.
#[allow(clippy::type_complexity)]
fn part_files(
    origin: &SnapshotSource,
    folder: &Path,
) -> std::result::Result<Vec<(PathBuf, Vec<String>, u64)>, Vec<String>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut stack = vec![(folder.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, keys)) = stack.pop() {
        for entry in sorted_entries(origin, &dir, &mut problems) {
            if let Some(problem) = not_a_file_or_folder(&entry) {
                problems.push(problem);
                continue;
            }
            let name = entry.name();
            if entry.is_dir() {
                match name.split_once('=') {
                    Some((key, _)) if !key.is_empty() => {
                        let mut keys = keys.clone();
                        keys.push(key.to_string());
                        stack.push((entry.path, keys));
                    }
                    _ => problems.push(format!(
                        "{}: unexpected folder in a table folder (only Hive-style key=value folders are read)",
                        entry.path.display()
                    )),
                }
            } else if name.to_ascii_lowercase().ends_with(".parquet") {
                let size = entry.size();
                found.push((entry.path, keys.clone(), size));
            } else {
                problems.push(format!(
                    "{}: unexpected file in a table folder (a folder holds .parquet part files, or CSV or JSON lines files of one format)",
                    entry.path.display()
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

/// `snapshot.json`'s as_of, when the snapshot's top level (`top`) holds one.
fn read_snapshot_json(origin: &SnapshotSource, top: &[Entry]) -> Result<Option<NaiveDate>> {
    // a broken link reads as absent, as before
    let Some(entry) = top
        .iter()
        .find(|e| e.name() == "snapshot.json" && !matches!(e.kind, Kind::Unreadable(_)))
    else {
        return Ok(None);
    };
    if let Some(problem) = not_a_file_or_folder(entry) {
        return Err(Error::Snapshot(vec![problem]));
    }
    let path = &entry.path;
    let bytes = match origin {
        SnapshotSource::Local => std::fs::read(path).map_err(|e| Error::io(path, e))?,
        SnapshotSource::Store(_) => origin.read_all(path).map_err(Error::Storage)?,
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        )
    })?;
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
