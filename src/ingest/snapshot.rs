//! Finds the raw tables of a snapshot and registers them in DataFusion.
//!
//! Every entry under `<snapshot>/<system>/` is one raw table, registered as
//! `<system>.<name>` with the types it was written with: a Parquet file, a
//! folder of Parquet part files (Hive-style `key=value/` subfolders read as text
//! columns; `_`- and `.`-prefixed bookkeeping files skipped), or a CSV file with a
//! header row, every column read as text. Nothing here knows the data contract:
//! staging (`crate::ingest::staging`) maps raw tables to the canonical ones, and the
//! contract is checked on what it produces.

pub use crate::config::CsvFormat;
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    Parquet,
    Csv,
}

impl RawFormat {
    pub fn name(self) -> &'static str {
        match self {
            RawFormat::Parquet => "parquet",
            RawFormat::Csv => "csv",
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
    csv: Option<Arc<CsvRows>>,
}

/// A CSV file read into memory, and the line each record starts on.
#[derive(Debug)]
struct CsvRows {
    batches: Vec<RecordBatch>,
    lines: Vec<u64>,
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

/// Where a value staging could not convert was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLocation {
    /// `file:line` (CSV) or `file row N` (Parquet, counting from 1 in the file).
    pub at: String,
    pub column: String,
}

impl Snapshot {
    /// Finds and reads the metadata of every raw table; all problems are reported
    /// together. `csv` holds the format of CSV tables by `system/name`.
    pub fn open(root: &Path, csv: &BTreeMap<String, CsvFormat>) -> Result<Snapshot> {
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
                        "{}: not a raw table (revleak reads <name>.parquet, <name>.csv or a folder of .parquet part files)",
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

    /// Registers every raw table as `system.name`. CSV tables are kept in
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
            match (&table.csv, csv_as_parquet) {
                (Some(rows), None) => {
                    let mem = MemTable::try_new(table.schema.clone(), vec![rows.batches.clone()])
                        .map_err(failed)?;
                    ctx.register_table(table.sql_name(), Arc::new(mem))
                        .map_err(failed)?;
                }
                (Some(rows), Some(dir)) => {
                    let file = dir.join(format!("raw-{}.{}.parquet", table.system, table.name));
                    write_parquet(&file, &table.schema, &rows.batches)?;
                    let options = ParquetReadOptions {
                        schema: Some(&table.schema),
                        ..Default::default()
                    };
                    ctx.register_parquet(table.sql_name(), file.to_string_lossy(), options)
                        .await
                        .map_err(failed)?;
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

    /// Finds the first cell of `tables` (raw names) whose text is `value`: where
    /// a value staging could not convert came from.
    pub fn locate_value(&self, tables: &[String], value: &str) -> Option<ValueLocation> {
        for name in tables {
            let Some(table) = self.table(name) else {
                continue;
            };
            if let Some(rows) = &table.csv {
                let mut record = 0usize;
                for batch in &rows.batches {
                    if let Some((row, column)) = find_in_batch(batch, value) {
                        return Some(ValueLocation {
                            at: format!(
                                "{}:{}",
                                table.location.display(),
                                rows.lines[record + row]
                            ),
                            column,
                        });
                    }
                    record += batch.num_rows();
                }
                continue;
            }
            for file in &table.files {
                let Ok(handle) = std::fs::File::open(file) else {
                    continue;
                };
                let Ok(reader) =
                    ParquetRecordBatchReaderBuilder::try_new(handle).and_then(|b| b.build())
                else {
                    continue;
                };
                let mut seen = 0usize;
                for batch in reader.flatten() {
                    if let Some((row, column)) = find_in_batch(&batch, value) {
                        return Some(ValueLocation {
                            at: format!("{} row {}", file.display(), seen + row + 1),
                            column,
                        });
                    }
                    seen += batch.num_rows();
                }
            }
        }
        None
    }
}

fn find_in_batch(batch: &RecordBatch, value: &str) -> Option<(usize, String)> {
    use datafusion::arrow::array::AsArray;
    for (i, column) in batch.columns().iter().enumerate() {
        let Ok(text) = datafusion::arrow::compute::cast(column, &DataType::Utf8) else {
            continue;
        };
        let text = text.as_string::<i32>();
        if let Some(row) = (0..text.len()).find(|&r| text.is_valid(r) && text.value(r) == value) {
            return Some((row, batch.schema().field(i).name().clone()));
        }
    }
    None
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
        csv: None,
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

/// Reads a CSV file with a header row into text columns. A BOM is dropped; an
/// empty field is null. A record with the wrong number of fields, or bytes that
/// are not UTF-8, is an error naming `file:line`.
fn read_csv(path: &Path, format: CsvFormat) -> std::result::Result<CsvRows, String> {
    const BATCH_ROWS: usize = 8192;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    check_quoting(body, format)
        .map_err(|(line, what)| format!("{}:{line}: {what}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(format.delimiter)
        .quote(format.quote)
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let at = |line: u64| format!("{}:{line}", path.display());
    let mut lines_of = LineCounter::new(body);
    let headers = reader
        .byte_headers()
        .map_err(|e| csv_error(path, &e, &mut LineCounter::new(body)))?
        .clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(format!(
            "{}: no header row (a CSV raw table needs one)",
            at(1)
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(headers.len());
    for (i, header) in headers.iter().enumerate() {
        let name = std::str::from_utf8(header)
            .map_err(|_| format!("{}: header field {} is not UTF-8", at(1), i + 1))?
            .to_string();
        if name.is_empty() {
            return Err(format!("{}: header field {} is empty", at(1), i + 1));
        }
        if names.contains(&name) {
            return Err(format!(
                "{}: column `{name}` appears twice in the header",
                at(1)
            ));
        }
        names.push(name);
    }
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let new_builders =
        || -> Vec<StringBuilder> { names.iter().map(|_| StringBuilder::new()).collect() };
    let finish = |builders: &mut Vec<StringBuilder>| -> std::result::Result<RecordBatch, String> {
        let columns: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let mut batches = Vec::new();
    let mut lines = Vec::new();
    let mut builders = new_builders();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, &e, &mut lines_of)),
        }
        let line = lines_of.line_at(record.position().map_or(0, |p| p.byte()));
        for (i, field) in record.iter().enumerate() {
            if field.is_empty() {
                builders[i].append_null();
                continue;
            }
            let text = std::str::from_utf8(field).map_err(|_| {
                format!(
                    "{}: field {} (`{}`) is not valid UTF-8 (export the file as UTF-8)",
                    at(line),
                    i + 1,
                    names[i]
                )
            })?;
            builders[i].append_value(text);
        }
        lines.push(line);
        if lines.len() % BATCH_ROWS == 0 {
            batches.push(finish(&mut builders)?);
        }
    }
    if batches.is_empty() || lines.len() % BATCH_ROWS != 0 {
        batches.push(finish(&mut builders)?);
    }
    Ok(CsvRows { batches, lines })
}

/// The CSV reader accepts malformed quoting silently (a quote never closed
/// swallows the rest of the file into one field; text after a closing quote is
/// glued on): both are errors here, with the line they start on.
fn check_quoting(body: &[u8], format: CsvFormat) -> std::result::Result<(), (u64, &'static str)> {
    let (quote, delimiter) = (format.quote, format.delimiter);
    let mut line = 1u64;
    let mut at_field_start = true;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if at_field_start && b == quote {
            let opened = line;
            i += 1;
            loop {
                match body.get(i) {
                    None => {
                        return Err((opened, "a quoted field opened on this line is never closed"));
                    }
                    Some(&c) if c == quote => {
                        if body.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        if c == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            match body.get(i) {
                None => return Ok(()),
                Some(&c) if c == delimiter || c == b'\n' || c == b'\r' => {}
                Some(_) => {
                    return Err((
                        line,
                        "text after a closing quote (quote the whole field, doubling quotes inside it)",
                    ));
                }
            }
            continue;
        }
        at_field_start = b == delimiter || b == b'\n' || b == b'\r';
        if b == b'\n' {
            line += 1;
        }
        i += 1;
    }
    Ok(())
}

/// The line a record starts on, from its byte offset. The reader's own line
/// count is one short after a CRLF (it counts the `\n` as a record of its own),
/// so lines are counted here: records come in order, so each byte is looked at once.
struct LineCounter<'a> {
    body: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(body: &'a [u8]) -> Self {
        LineCounter {
            body,
            at: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = (byte as usize).min(self.body.len());
        // a record's position may point at the line ending before it
        while start < self.body.len() && matches!(self.body[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.at {
            // out of order (an error position): count from the start
            self.at = 0;
            self.line = 1;
        }
        self.line += self.body[self.at..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.at = start;
        self.line
    }
}

fn csv_error(path: &Path, e: &csv::Error, lines: &mut LineCounter) -> String {
    let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{}:{line}: {len} field(s), but the header has {expected_len} (check the delimiter and the quoting of this line)",
            path.display()
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "{}:{line}: field {} is not valid UTF-8 (export the file as UTF-8)",
            path.display(),
            err.field() + 1
        ),
        _ => format!("{}:{line}: {e}", path.display()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_of(text: &[u8], format: CsvFormat) -> std::result::Result<CsvRows, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        read_csv(&path, format).map_err(|e| e.replace(&dir.path().display().to_string(), ""))
    }

    fn column(rows: &CsvRows, i: usize) -> Vec<Option<String>> {
        use datafusion::arrow::array::AsArray;
        rows.batches
            .iter()
            .flat_map(|b| {
                let c = b.column(i).as_string::<i32>().clone();
                (0..c.len())
                    .map(|r| c.is_valid(r).then(|| c.value(r).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn a_bom_is_dropped_and_quoted_newlines_stay_in_their_field() {
        let rows = csv_of(
            b"\xEF\xBB\xBFid;note\n1;\"two\nlines; and \"\"quotes\"\"\"\n2;\n",
            CsvFormat {
                delimiter: b';',
                quote: b'"',
            },
        )
        .unwrap();
        assert_eq!(rows.batches[0].schema().field(0).name(), "id");
        assert_eq!(
            column(&rows, 1),
            vec![Some("two\nlines; and \"quotes\"".to_string()), None]
        );
        // the second record starts on line 4: the first one spans lines 2 and 3
        assert_eq!(rows.lines, vec![2, 4]);
    }

    #[test]
    fn lines_are_counted_with_crlf_endings_too() {
        let rows = csv_of(b"id,note\r\n1,\"a\r\nb\"\r\n2,x\r\n", CsvFormat::default()).unwrap();
        assert_eq!(rows.lines, vec![2, 4]);
        let err = csv_of(b"a,b\r\n1,2\r\n3\r\n", CsvFormat::default())
            .err()
            .unwrap();
        assert!(err.contains("t.csv:3: 1 field(s)"), "{err}");
    }

    #[test]
    fn a_line_with_the_wrong_field_count_names_its_line() {
        let err = csv_of(b"a,b\n1,2\n3\n", CsvFormat::default())
            .err()
            .unwrap();
        assert!(
            err.contains("t.csv:3: 1 field(s), but the header has 2"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let err = csv_of(b"a,b\n1,2\n3,\xff\n", CsvFormat::default())
            .err()
            .unwrap();
        assert!(err.contains("t.csv:3:") && err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn bad_quoting_names_the_line_it_starts_on() {
        let err = csv_of(b"a,b\n1,2\n3,\"never closed\n4,5\n", CsvFormat::default())
            .err()
            .unwrap();
        assert!(
            err.contains("t.csv:3: a quoted field opened on this line is never closed"),
            "{err}"
        );
        let err = csv_of(b"a,b\n1,\"x\"y\n", CsvFormat::default())
            .err()
            .unwrap();
        assert!(err.contains("t.csv:2: text after a closing quote"), "{err}");
        // a quote inside an unquoted field is text
        let rows = csv_of(b"a,b\n1,12\" screen\n", CsvFormat::default()).unwrap();
        assert_eq!(column(&rows, 1), vec![Some("12\" screen".into())]);
    }

    #[test]
    fn numbers_stay_text() {
        let rows = csv_of(b"amount\n0.10\n1e3\n", CsvFormat::default()).unwrap();
        assert_eq!(
            rows.batches[0].schema().field(0).data_type(),
            &DataType::Utf8
        );
        assert_eq!(
            column(&rows, 0),
            vec![Some("0.10".into()), Some("1e3".into())]
        );
    }
}
