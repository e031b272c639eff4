//! What every text raw format shares (CSV, JSON lines; a file or a folder of
//! files): a reader yields bounded batches of text columns with the line of
//! each row, and [`convert`] streams them into one Parquet file in a work
//! folder, which is what DataFusion reads. So memory stays near a batch and a
//! row group whatever the file's size, and a cluster reads every format the
//! same way (the Parquet file, copied into its shared work folder).

use super::batches::{TextBatch, TextBatches, text_schema};
use super::csv::CsvBatches;
use super::jsonl::{JsonlBatches, jsonl_columns};
use super::source::{Compression, RawFormat};
use crate::config::CsvFormat;
use crate::storage::SnapshotSource;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per row group of the converted file: the writer holds one row group
/// in memory, so this bounds memory on a large export.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The column a folder's rows get: the file each came from, relative to the
/// folder (a partner id in the file name is recovered from it in staging).
pub const FILE_COLUMN: &str = "_file";

/// How the files of one text raw table are read.
#[derive(Debug, Clone)]
pub(super) struct TextSource {
    /// Where the files are read from.
    pub origin: SnapshotSource,
    pub format: RawFormat,
    /// `system/name`, for messages.
    pub table: String,
    pub options: CsvFormat,
    /// The files, each with its compression; for a folder, each file's name
    /// relative to it (the `_file` column).
    pub files: Vec<(PathBuf, Option<Compression>, Option<String>)>,
    /// The columns every file yields (a folder's: the first file's header, or
    /// the union of keys of all its JSON lines files).
    pub columns: Vec<String>,
}

impl TextSource {
    /// Opens one of the files for reading from its start.
    pub(super) fn open(
        &self,
        file: &Path,
        compression: Option<Compression>,
    ) -> Result<Box<dyn TextBatches>, String> {
        Ok(match self.format {
            RawFormat::Csv => Box::new(CsvBatches::open(
                &self.origin,
                file,
                &self.table,
                self.options,
                compression,
            )?),
            RawFormat::JsonLines => Box::new(JsonlBatches::open(
                &self.origin,
                file,
                &self.table,
                self.options,
                compression,
                &self.columns,
            )?),
            RawFormat::Parquet | RawFormat::Xlsx => unreachable!("not a text format"),
        })
    }

    /// The table's schema: the columns as text, and `_file` for a folder.
    pub(super) fn schema(&self) -> SchemaRef {
        let mut names = self.columns.clone();
        if self.is_folder() {
            names.push(FILE_COLUMN.to_string());
        }
        text_schema(&names)
    }

    fn is_folder(&self) -> bool {
        self.files.first().is_some_and(|f| f.2.is_some())
    }
}

/// Reads the header (or keys) of every file of a text table and checks that
/// a folder's CSV files agree: one message for the whole folder, naming the
/// files whose header differs and the columns that differ.
pub(super) fn text_source(
    origin: &SnapshotSource,
    format: RawFormat,
    table: &str,
    options: CsvFormat,
    location: &Path,
    files: Vec<(PathBuf, Option<Compression>, Option<String>)>,
) -> Result<TextSource, String> {
    let mut source = TextSource {
        origin: origin.clone(),
        format,
        table: table.to_string(),
        options,
        files,
        columns: Vec::new(),
    };
    if format == RawFormat::JsonLines {
        for (file, compression, _) in &source.files {
            for key in jsonl_columns(origin, file, table, options, *compression)? {
                if !source.columns.contains(&key) {
                    source.columns.push(key);
                }
            }
        }
    } else {
        let mut first: Option<(&Path, Vec<String>)> = None;
        let mut differ = Vec::new();
        for (file, compression, relative) in &source.files {
            let header = CsvBatches::open(origin, file, table, options, *compression)?
                .header()
                .to_vec();
            let Some((_, first_header)) = &first else {
                first = Some((file, header));
                continue;
            };
            if header == *first_header {
                continue;
            }
            let name = relative.clone().unwrap_or_default();
            let missing: Vec<&String> = first_header
                .iter()
                .filter(|c| !header.contains(c))
                .collect();
            let extra: Vec<&String> = header
                .iter()
                .filter(|c| !first_header.contains(c))
                .collect();
            let mut what = Vec::new();
            if !missing.is_empty() {
                what.push(format!("lacks {}", quoted_list(&missing)));
            }
            if !extra.is_empty() {
                what.push(format!("has {}", quoted_list(&extra)));
            }
            if what.is_empty() {
                what.push("has the same columns in another order".to_string());
            }
            differ.push(format!("{name} {}", what.join(" and ")));
        }
        if let Some((first_file, header)) = first {
            if !differ.is_empty() {
                return Err(format!(
                    "{}: {table}: {} of {} files differ from the header of {} ({}): {} (every file of a folder needs the same header)",
                    location.display(),
                    differ.len(),
                    source.files.len(),
                    first_file
                        .strip_prefix(location)
                        .unwrap_or(first_file)
                        .display(),
                    header.join(", "),
                    differ.join("; ")
                ));
            }
            source.columns = header;
        }
    }
    if source.is_folder() && source.columns.iter().any(|c| c == FILE_COLUMN) {
        return Err(format!(
            "{}: {table}: a column is named `{FILE_COLUMN}`, which the rows of a folder get (the file each came from): rename it",
            location.display()
        ));
    }
    Ok(source)
}

fn quoted_list(columns: &[&String]) -> String {
    columns
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Streams every file of `source` into the Parquet file `target`; returns the rows.
pub(super) fn convert(source: &TextSource, target: &Path) -> Result<u64, String> {
    let schema = source.schema();
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", target.display());
    let handle = std::fs::File::create(target).map_err(|e| failed(&e))?;
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer =
        ArrowWriter::try_new(handle, schema.clone(), Some(properties)).map_err(|e| failed(&e))?;
    let mut rows = 0u64;
    for (file, compression, relative) in &source.files {
        let mut reader = source.open(file, *compression)?;
        while let Some(TextBatch { batch, .. }) = reader.next_batch()? {
            rows += batch.num_rows() as u64;
            let batch = match relative {
                None => batch,
                Some(name) => {
                    let mut columns = batch.columns().to_vec();
                    columns.push(
                        Arc::new(StringArray::from(vec![name.as_str(); batch.num_rows()]))
                            as ArrayRef,
                    );
                    RecordBatch::try_new(schema.clone(), columns).map_err(|e| failed(&e))?
                }
            };
            writer.write(&batch).map_err(|e| failed(&e))?;
        }
    }
    writer.close().map_err(|e| failed(&e))?;
    Ok(rows)
}

/// The first row of a text table holding `value` in any column: `file:line`
/// and the column. Reads the files again from their start.
pub(super) fn locate(source: &TextSource, value: &str) -> Option<(String, String)> {
    use datafusion::arrow::array::{Array, AsArray};
    for (file, compression, _) in &source.files {
        let Ok(mut reader) = source.open(file, *compression) else {
            continue;
        };
        while let Ok(Some(TextBatch { batch, lines })) = reader.next_batch() {
            for (i, column) in batch.columns().iter().enumerate() {
                let text = column.as_string::<i32>();
                if let Some(row) =
                    (0..text.len()).find(|&r| text.is_valid(r) && text.value(r) == value)
                {
                    return Some((
                        format!("{}:{}", file.display(), lines[row]),
                        batch.schema().field(i).name().clone(),
                    ));
                }
            }
        }
    }
    None
}
