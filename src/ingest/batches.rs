//! The shape every text reader (CSV, JSON lines) yields: bounded batches of
//! text columns, each row with the line it starts on, so memory stays near a
//! batch whatever the file's size and an error can name `file:line`.

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::path::Path;
use std::sync::Arc;

/// Rows per batch a reader yields.
pub(super) const BATCH_ROWS: usize = 8192;

/// Rows of a text file and the line (of the uncompressed, decoded text) each starts on.
pub(super) struct TextBatch {
    pub batch: RecordBatch,
    pub lines: Vec<u64>,
}

/// A text file read in batches.
pub(super) trait TextBatches {
    /// The next rows, None at the end; an error names `file:line`.
    fn next_batch(&mut self) -> Result<Option<TextBatch>, String>;
}

/// Nullable text columns of these names.
pub(super) fn text_schema(names: &[String]) -> SchemaRef {
    Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// The rows built so far as one batch, None when there are none (the end).
pub(super) fn finish_batch(
    schema: &SchemaRef,
    builders: &mut [StringBuilder],
    lines: Vec<u64>,
    path: &Path,
) -> Result<Option<TextBatch>, String> {
    if lines.is_empty() {
        return Ok(None);
    }
    let columns: Vec<ArrayRef> = builders
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(TextBatch { batch, lines }))
}
