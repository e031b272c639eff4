//! Where a value staging could not convert came from: the raw file and line
//! (CSV), the cell (xlsx) or row (Parquet), and the column, for the error message.

use crate::ingest::snapshot::Snapshot;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Where a value staging could not convert was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLocation {
    /// `file:line` (CSV), `file:sheet!cell` (xlsx) or `file row N` (Parquet,
    /// counting from 1 in the file).
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
            if let Some(sheet) = &table.sheet {
                let mut record = 0usize;
                for batch in &sheet.batches {
                    if let Some((row, column)) = find_in_batch(batch, value) {
                        let field = batch.schema().index_of(&column).unwrap_or(0);
                        return Some(ValueLocation {
                            at: sheet.cell(&table.location, record + row, field),
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
