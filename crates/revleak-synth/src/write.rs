//! Writes the snapshot as `<out>/<system>/<table>.parquet` with the canonical Arrow
//! types of contract.rs, every field nullable (so that defects can be planted).

use super::model::{Cell, GeneratedSnapshot};
use crate::error::{Error, Result};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use revleak_contract::{ColumnType, TABLES, Table};
use std::path::Path;
use std::sync::Arc;

const BATCH_ROWS: usize = 65_536;

fn days(d: chrono::NaiveDate) -> i32 {
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn mismatch(table: &Table, column: &str, cell: &Cell) -> Error {
    Error::Invalid(format!(
        "{}.{column}: cell {cell:?} does not fit the contract type",
        table.qualified()
    ))
}

fn column_array(table: &Table, ci: usize, rows: &[Vec<Cell>]) -> Result<ArrayRef> {
    let col = &table.columns[ci];
    let array: ArrayRef = match col.ty {
        ColumnType::String => {
            let mut b = StringBuilder::new();
            for r in rows {
                match &r[ci] {
                    Cell::Str(s) => b.append_value(s),
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(table, col.name, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Date => {
            let mut b = Date32Builder::new();
            for r in rows {
                match &r[ci] {
                    Cell::Date(d) => b.append_value(days(*d)),
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(table, col.name, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Int => {
            let mut b = Int64Builder::new();
            for r in rows {
                match &r[ci] {
                    Cell::Int(i) => b.append_value(*i),
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(table, col.name, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Money | ColumnType::Pct | ColumnType::Rate => {
            let DataType::Decimal128(precision, scale) = col.ty.arrow_type() else {
                unreachable!("decimal contract types")
            };
            let mut b = Decimal128Builder::new()
                .with_precision_and_scale(precision, scale)
                .map_err(|e| Error::Invalid(e.to_string()))?;
            for r in rows {
                match &r[ci] {
                    Cell::Dec(d) => {
                        let mut x = *d;
                        if x.scale() > scale as u32 {
                            return Err(Error::Invalid(format!(
                                "{}.{}: {d} has more than {scale} decimals",
                                table.qualified(),
                                col.name
                            )));
                        }
                        x.rescale(scale as u32);
                        b.append_value(x.mantissa());
                    }
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(table, col.name, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Bool => {
            let mut b = BooleanBuilder::new();
            for r in rows {
                match &r[ci] {
                    Cell::Bool(v) => b.append_value(*v),
                    Cell::Null => b.append_null(),
                    other => return Err(mismatch(table, col.name, other)),
                }
            }
            Arc::new(b.finish())
        }
    };
    Ok(array)
}

fn write_table(path: &Path, table: &Table, rows: &[Vec<Cell>]) -> Result<()> {
    let out_err = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let schema = table.nullable_schema();
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
        .map_err(|e| out_err(e.to_string()))?;
    for chunk in rows.chunks(BATCH_ROWS) {
        let arrays = (0..table.columns.len())
            .map(|ci| column_array(table, ci, chunk))
            .collect::<Result<Vec<_>>>()?;
        let batch =
            RecordBatch::try_new(schema.clone(), arrays).map_err(|e| out_err(e.to_string()))?;
        writer.write(&batch).map_err(|e| out_err(e.to_string()))?;
    }
    writer.close().map_err(|e| out_err(e.to_string()))?;
    Ok(())
}

/// Writes every contract table; returns (`system/table`, rows) in contract order.
pub fn write_snapshot(out: &Path, snap: &GeneratedSnapshot) -> Result<Vec<(String, usize)>> {
    let mut counts = Vec::new();
    for table in TABLES {
        let dir = out.join(table.system);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let rows = snap.all_cells(&table.qualified());
        for r in &rows {
            if r.len() != table.columns.len() {
                return Err(Error::Invalid(format!(
                    "{}: row with {} cells",
                    table.qualified(),
                    r.len()
                )));
            }
        }
        write_table(&dir.join(format!("{}.parquet", table.name)), table, &rows)?;
        counts.push((table.qualified(), rows.len()));
    }
    Ok(counts)
}
