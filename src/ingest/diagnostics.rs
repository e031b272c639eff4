//! Where a value staging could not convert came from: the raw file and line
//! (CSV, JSON lines: the file is read again), the cell (xlsx) or row (Parquet),
//! and the column, for the error message. A snapshot in object storage is
//! read again through its source, as it was read the first time.

use crate::ingest::snapshot::Snapshot;
use crate::storage::SnapshotSource;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;

/// Where a value staging could not convert was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLocation {
    /// `file:line` (CSV, JSON lines), `file:sheet!cell` (xlsx) or `file row N`
    /// (Parquet, counting from 1 in the file).
    pub at: String,
    pub column: String,
}

impl Snapshot {
    /// Finds the first cell of `tables` (raw names) whose text is `value`: where
    /// a value staging could not convert came from.
    pub fn locate_value(&self, tables: &[String], value: &str) -> Option<ValueLocation> {
        for name in tables {
            let Some(table) = self.table(name) else {
                continue;
            };
            if let Some(source) = &table.text {
                if let Some((at, column)) = super::text::locate(source, value) {
                    return Some(ValueLocation { at, column });
                }
                continue;
            }
            if let (Some(sheet), Some(converted)) = (&table.sheet, &table.converted) {
                if let Some((record, column)) =
                    find_in_parquet(&SnapshotSource::Local, converted, value)
                {
                    let field = table.schema.index_of(&column).unwrap_or(0);
                    return Some(ValueLocation {
                        at: sheet.cell(&table.location, record, field),
                        column,
                    });
                }
                continue;
            }
            for file in &table.files {
                if let Some((record, column)) = find_in_parquet(&self.source, file, value) {
                    return Some(ValueLocation {
                        at: format!("{} row {}", file.display(), record + 1),
                        column,
                    });
                }
            }
        }
        None
    }
}

/// The first record (from 0) of a Parquet file holding `value` in a column.
fn find_in_parquet(
    origin: &SnapshotSource,
    file: &std::path::Path,
    value: &str,
) -> Option<(usize, String)> {
    let reader = origin.parquet_rows(file)?;
    let mut seen = 0usize;
    for batch in reader.flatten() {
        if let Some((row, column)) = find_in_batch(&batch, value) {
            return Some((seen + row, column));
        }
        seen += batch.num_rows();
    }
    None
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
