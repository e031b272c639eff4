//! Run-level columns of the findings: run_id, as_of, and the lifecycle against the
//! latest earlier run in the same output folder (status `new`/`recurring`, first_seen).

use crate::config::{date32, from_date32};
use crate::error::{Error, Result};
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The published findings schema: the findings shape, then the run-level columns.
pub fn findings_schema() -> SchemaRef {
    let mut fields: Vec<Field> = crate::contract::FINDING_COLUMNS
        .iter()
        .map(|c| Field::new(c.name, c.ty.arrow_type(), c.nullable))
        .collect();
    fields.push(Field::new("run_id", DataType::Utf8, false));
    fields.push(Field::new("as_of", DataType::Date32, false));
    fields.push(Field::new("status", DataType::Utf8, false));
    fields.push(Field::new("first_seen", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

/// The partition folders `as_of=YYYY-MM-DD` under `dir`, oldest first.
pub fn partitions(dir: &Path) -> Vec<(NaiveDate, PathBuf)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(date) = name
                .strip_prefix("as_of=")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            {
                if entry.path().join("_SUCCESS").exists() {
                    found.push((date, entry.path()));
                }
            }
        }
    }
    found.sort();
    found
}

/// finding_id → first_seen of the latest published run before `as_of`.
pub fn previous_run(
    out: &Path,
    as_of: NaiveDate,
) -> Result<Option<(NaiveDate, HashMap<String, NaiveDate>)>> {
    let Some((date, dir)) = partitions(&out.join("findings"))
        .into_iter()
        .filter(|(d, _)| *d < as_of)
        .last()
    else {
        return Ok(None);
    };
    let path = dir.join("part-0.parquet");
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::Output {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let mut seen = HashMap::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::Output {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let (Some(ids), Some(first)) = (
            batch.column_by_name("finding_id"),
            batch.column_by_name("first_seen"),
        ) else {
            return Err(Error::Output {
                path,
                message: "not a revleak findings file (no finding_id/first_seen)".into(),
            });
        };
        let ids = ids.as_string::<i32>();
        let first = first.as_primitive::<Date32Type>();
        for i in 0..batch.num_rows() {
            seen.insert(ids.value(i).to_string(), from_date32(first.value(i)));
        }
    }
    Ok(Some((date, seen)))
}

/// Appends run_id, as_of, status and first_seen to check output batches.
pub fn add_run_columns(
    batches: &[RecordBatch],
    run_id: &str,
    as_of: NaiveDate,
    previous: Option<&HashMap<String, NaiveDate>>,
) -> Result<Vec<RecordBatch>> {
    let schema = findings_schema();
    batches
        .iter()
        .map(|batch| {
            let n = batch.num_rows();
            let ids = batch
                .column_by_name("finding_id")
                .expect("finding_id")
                .as_string::<i32>();
            let mut status = Vec::with_capacity(n);
            let mut first_seen = Vec::with_capacity(n);
            for i in 0..n {
                match previous.and_then(|p| p.get(ids.value(i))) {
                    Some(first) => {
                        status.push("recurring");
                        first_seen.push(date32(*first));
                    }
                    None => {
                        status.push("new");
                        first_seen.push(date32(as_of));
                    }
                }
            }
            let mut columns: Vec<ArrayRef> = crate::contract::FINDING_COLUMNS
                .iter()
                .map(|c| {
                    batch
                        .column_by_name(c.name)
                        .expect("findings shape")
                        .clone()
                })
                .collect();
            columns.push(Arc::new(StringArray::from(vec![run_id; n])));
            columns.push(Arc::new(Date32Array::from(vec![date32(as_of); n])));
            columns.push(Arc::new(StringArray::from(status)));
            columns.push(Arc::new(Date32Array::from(first_seen)));
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| Error::Output {
                path: PathBuf::from("findings"),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Total number of rows.
pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Sum of a Decimal128(18,2) column as an exact decimal.
pub fn decimal_sum(batches: &[RecordBatch], column: &str) -> rust_decimal::Decimal {
    let mut total = rust_decimal::Decimal::ZERO;
    for batch in batches {
        if let Some(col) = batch.column_by_name(column) {
            let col = col.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
            for i in 0..col.len() {
                if col.is_valid(i) {
                    total += rust_decimal::Decimal::from_i128_with_scale(col.value(i), 2);
                }
            }
        }
    }
    total
}
