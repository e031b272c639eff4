//! Excel workbooks (`.xlsx`) as raw tables, read with calamine: each sheet is a
//! raw table `system.<file>$<sheet>`, or, when `[xlsx."system/name"] sheet` names
//! one, that sheet alone is `system.name`. The first row is the header; every
//! cell becomes text as Excel shows its value (dates ISO, numbers in their
//! shortest exact decimal form, no number format applied), so staging casts
//! text exactly as it does for CSV and nothing reaches a check through a float
//! it did not choose. Problems name `file:sheet!cell`. A sheet is written once
//! into Parquet in the snapshot's work folder, as text files are, and read from
//! there (a workbook is held whole by calamine anyway: Excel's limit is about a
//! million rows).

use super::batches::BATCH_ROWS;
use crate::storage::SnapshotSource;
use calamine::{Data, ExcelDateTime, Range, Reader, Xlsx, open_workbook};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

/// Bad cells listed per sheet before the rest are counted: a column of
/// `#N/A` is one mistake, not a thousand lines of output.
const CELLS_LISTED: usize = 10;

/// One sheet read as a raw table, written as Parquet.
pub(super) struct SheetTable {
    /// The raw table's name: `name$sheet`, or `name` for the configured sheet.
    pub(super) name: String,
    pub(super) schema: SchemaRef,
    pub(super) cells: SheetCells,
    /// The Parquet file the sheet was written to.
    pub(super) converted: std::path::PathBuf,
}

/// Where each value of one sheet's raw table came from.
#[derive(Debug)]
pub(super) struct SheetCells {
    pub(super) sheet: String,
    /// The sheet row (from 1, as Excel numbers them) of each record.
    pub(super) rows: Vec<u32>,
    /// The sheet column (from 0) of each field of the schema.
    pub(super) columns: Vec<u32>,
}

impl SheetCells {
    /// `file:sheet!cell` of record `record`, field `field`.
    pub(super) fn cell(&self, file: &Path, record: usize, field: usize) -> String {
        cell_at(
            file,
            &self.sheet,
            self.rows[record] - 1,
            self.columns[field],
        )
    }
}

/// The raw tables of one workbook `system/name`: every sheet that holds
/// cells (blank sheets, as a new workbook has, are no tables), or `sheet`
/// alone when the configuration names it; each written as Parquet into `work`.
/// A workbook in object storage is fetched whole first (calamine seeks in
/// it; a workbook is small).
pub(super) fn read_workbook(
    origin: &SnapshotSource,
    (system, name): (&str, &str),
    path: &Path,
    sheet: Option<&str>,
    work: &Path,
) -> std::result::Result<Vec<SheetTable>, Vec<String>> {
    let unreadable = |e: &dyn std::fmt::Display| {
        vec![format!(
            "{}: not a readable .xlsx workbook ({system}/{name}): {e}",
            path.display()
        )]
    };
    match origin {
        SnapshotSource::Local => {
            let workbook: Xlsx<_> = open_workbook(path).map_err(|e| unreadable(&e))?;
            read_sheets(workbook, (system, name), path, sheet, work)
        }
        SnapshotSource::Store(_) => {
            let bytes = origin.read_all(path).map_err(|e| vec![e])?;
            let workbook = Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
            read_sheets(workbook, (system, name), path, sheet, work)
        }
    }
}

fn read_sheets<RS: std::io::Read + std::io::Seek>(
    mut workbook: Xlsx<RS>,
    (system, name): (&str, &str),
    path: &Path,
    sheet: Option<&str>,
    work: &Path,
) -> std::result::Result<Vec<SheetTable>, Vec<String>> {
    let names = workbook.sheet_names();
    let chosen: Vec<(String, String)> = match sheet {
        Some(wanted) if names.iter().any(|n| n == wanted) => {
            vec![(wanted.to_string(), name.to_string())]
        }
        Some(wanted) => {
            return Err(vec![format!(
                "{}: no sheet `{wanted}` (the workbook has {}); [xlsx.\"{system}/{name}\"] sheet in revleak.toml names it",
                path.display(),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )]);
        }
        None => names
            .iter()
            .map(|n| (n.clone(), format!("{name}${n}")))
            .collect(),
    };
    let mut tables = Vec::new();
    let mut problems = Vec::new();
    for (sheet_name, table_name) in chosen {
        let range = match workbook.worksheet_range(&sheet_name) {
            Ok(range) => range,
            Err(e) => {
                problems.push(format!(
                    "{}:{sheet_name}: unreadable sheet: {e}",
                    path.display()
                ));
                continue;
            }
        };
        if range.is_empty() && sheet.is_none() {
            continue;
        }
        let (cells, batches) = match read_sheet(path, &sheet_name, &range) {
            Ok(read) => read,
            Err(mut errs) => {
                problems.append(&mut errs);
                continue;
            }
        };
        let schema = batches[0].schema();
        let target = work.join(format!("raw-{system}.{table_name}.parquet"));
        if let Err(e) = write_parquet(&target, &schema, &batches) {
            problems.push(e);
            continue;
        }
        tables.push(SheetTable {
            name: table_name,
            schema,
            cells,
            converted: target,
        });
    }
    if problems.is_empty() {
        Ok(tables)
    } else {
        Err(problems)
    }
}

/// Writes a sheet's batches into the Parquet file `target`.
fn write_parquet(
    target: &Path,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> std::result::Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", target.display());
    let handle = std::fs::File::create(target).map_err(|e| failed(&e))?;
    let mut writer = ArrowWriter::try_new(handle, schema.clone(), None).map_err(|e| failed(&e))?;
    for batch in batches {
        writer.write(batch).map_err(|e| failed(&e))?;
    }
    writer.close().map_err(|e| failed(&e))?;
    Ok(())
}

/// One sheet's cells as text columns: the first row of its used area is the
/// header, wholly empty rows are left out, an empty cell is null.
fn read_sheet(
    path: &Path,
    sheet: &str,
    range: &Range<Data>,
) -> std::result::Result<(SheetCells, Vec<RecordBatch>), Vec<String>> {
    let Some((top, left)) = range.start() else {
        return Err(vec![format!(
            "{}:{sheet}: the sheet is empty (a raw table needs a header row)",
            path.display()
        )]);
    };
    let at =
        |row: usize, column: usize| cell_at(path, sheet, top + row as u32, left + column as u32);
    let mut rows = range.rows();
    let header = rows.next().expect("a non-empty range has a first row");
    let data: Vec<&[Data]> = rows.collect();
    let mut problems = Vec::new();
    // (position in the row, header text)
    let mut fields: Vec<(usize, String)> = Vec::new();
    for (i, cell) in header.iter().enumerate() {
        let text = match cell_text(cell) {
            Ok(text) => text,
            Err(what) => {
                problems.push(format!("{}: header cell {what}", at(0, i)));
                continue;
            }
        };
        match text {
            // A column with neither header nor values is formatting, not data.
            None if data.iter().all(|r| matches!(r[i], Data::Empty)) => {}
            None => problems.push(format!(
                "{}: header cell is empty but the column holds values (name it)",
                at(0, i)
            )),
            Some(name) if fields.iter().any(|(_, n)| *n == name) => problems.push(format!(
                "{}: column `{name}` appears twice in the header",
                at(0, i)
            )),
            Some(name) => fields.push((i, name)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let schema: SchemaRef = Arc::new(Schema::new(
        fields
            .iter()
            .map(|(_, n)| Field::new(n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let finish = |builders: &mut Vec<StringBuilder>| {
        let columns: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        RecordBatch::try_new(schema.clone(), columns).expect("text columns of one length")
    };
    let mut builders: Vec<StringBuilder> = fields.iter().map(|_| StringBuilder::new()).collect();
    let mut batches = Vec::new();
    let mut sheet_rows = Vec::new();
    let mut bad_cells = 0usize;
    for (r, row) in data.iter().enumerate() {
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        for ((i, _), builder) in fields.iter().zip(&mut builders) {
            match cell_text(&row[*i]) {
                Ok(Some(text)) => builder.append_value(text),
                Ok(None) => builder.append_null(),
                Err(what) => {
                    bad_cells += 1;
                    if bad_cells <= CELLS_LISTED {
                        problems.push(format!("{}: {what}", at(r + 1, *i)));
                    }
                    builder.append_null();
                }
            }
        }
        sheet_rows.push(top + r as u32 + 2);
        if sheet_rows.len().is_multiple_of(BATCH_ROWS) {
            batches.push(finish(&mut builders));
        }
    }
    if bad_cells > CELLS_LISTED {
        problems.push(format!(
            "{}:{sheet}: and {} more bad cell(s)",
            path.display(),
            bad_cells - CELLS_LISTED
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if batches.is_empty() || !sheet_rows.len().is_multiple_of(BATCH_ROWS) {
        batches.push(finish(&mut builders));
    }
    let cells = SheetCells {
        sheet: sheet.to_string(),
        rows: sheet_rows,
        columns: fields.iter().map(|(i, _)| left + *i as u32).collect(),
    };
    Ok((cells, batches))
}

/// A cell's text as Excel shows its value, without the cell's number format:
/// thousands separators, currency symbols and rounding to the shown decimals
/// would turn an exact value into a display one. Empty text is null, as an
/// empty CSV field is. An error cell (`#DIV/0!`, `#N/A`) is a problem.
fn cell_text(cell: &Data) -> std::result::Result<Option<String>, String> {
    Ok(match cell {
        Data::Empty => None,
        Data::String(s) if s.is_empty() => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(number_text(*f)),
        Data::Bool(b) => Some(if *b { "TRUE" } else { "FALSE" }.to_string()),
        Data::DateTime(dt) => Some(datetime_text(dt)),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => {
            return Err(format!(
                "{e} (an error cell: fix the formula or clear the cell in the workbook)"
            ));
        }
    })
}

/// The shortest decimal text that reads back as the same number (Rust's `{}`
/// never uses an exponent), an integer without `.0`: `152.1`, `298`, `0.07`.
/// Excel stores numbers as binary doubles; this is the decimal the user typed
/// whenever it had 15 significant digits or fewer.
fn number_text(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string(); // not `-0`
    }
    format!("{value}")
}

/// A date `YYYY-MM-DD`, a date and time `YYYY-MM-DD HH:MM:SS[.mmm]`, a time of
/// day `HH:MM:SS`, a duration `[h]:MM:SS`: what a cast to date or timestamp reads.
fn datetime_text(dt: &ExcelDateTime) -> String {
    if dt.is_duration() {
        let seconds = (dt.as_f64() * 86_400.0).round() as i64;
        let sign = if seconds < 0 { "-" } else { "" };
        let seconds = seconds.abs();
        return format!(
            "{sign}{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        );
    }
    let (year, month, day, hour, minute, second, milli) = dt.to_ymd_hms_milli();
    let time = if milli == 0 {
        format!("{hour:02}:{minute:02}:{second:02}")
    } else {
        format!("{hour:02}:{minute:02}:{second:02}.{milli:03}")
    };
    if (0.0..1.0).contains(&dt.as_f64()) {
        time // a time of day: Excel keeps no date with it
    } else if (hour, minute, second, milli) == (0, 0, 0, 0) {
        format!("{year:04}-{month:02}-{day:02}")
    } else {
        format!("{year:04}-{month:02}-{day:02} {time}")
    }
}

/// `file:sheet!C7` for the 0-based `row` and `column` of a sheet.
fn cell_at(file: &Path, sheet: &str, row: u32, column: u32) -> String {
    format!(
        "{}:{sheet}!{}{}",
        file.display(),
        column_letters(column),
        row + 1
    )
}

/// `A`…`Z`, `AA`…: Excel's name of the 0-based column `index`.
fn column_letters(index: u32) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let digit = (n - 1) % 26;
        letters.push(b'A' + digit as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    #[test]
    fn columns_are_named_as_excel_names_them() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(
            cell_at(Path::new("pos.xlsx"), "Sheet1", 6, 3),
            "pos.xlsx:Sheet1!D7"
        );
    }

    #[test]
    fn numbers_are_their_shortest_exact_decimal_with_no_float_artefacts() {
        assert_eq!(number_text(152.1), "152.1");
        assert_eq!(number_text(298.0), "298");
        assert_eq!(number_text(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(number_text(2148.0), "2148");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(1e21), "1000000000000000000000");
        assert_eq!(number_text(0.0000001), "0.0000001");
        assert_eq!(number_text(-12.5), "-12.5");
    }

    #[test]
    fn dates_are_iso_and_times_kept_only_when_there() {
        let date = |v: f64| ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false);
        assert_eq!(datetime_text(&date(45787.0)), "2025-05-10");
        assert_eq!(datetime_text(&date(45787.5)), "2025-05-10 12:00:00");
        assert_eq!(datetime_text(&date(0.75)), "18:00:00");
        let duration = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(datetime_text(&duration), "36:00:00");
    }

    #[test]
    fn error_cells_and_empty_text_are_told_apart() {
        assert_eq!(cell_text(&Data::String(String::new())), Ok(None));
        assert_eq!(cell_text(&Data::Bool(true)), Ok(Some("TRUE".into())));
        let err = cell_text(&Data::Error(calamine::CellErrorType::Div0)).unwrap_err();
        assert!(err.starts_with("#DIV/0!"), "{err}");
    }
}
