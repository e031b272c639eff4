//! The snapshot's CSV reader: a file with a header row read into text columns
//! in memory, every record's line kept so that an error (here, or a value
//! staging cannot convert) names `file:line`. Stricter about quoting than the
//! `csv` crate, which accepts malformed quoting silently.

use crate::config::CsvFormat;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use std::path::Path;
use std::sync::Arc;

/// A CSV file read into memory, and the line each record starts on.
#[derive(Debug)]
pub(super) struct CsvRows {
    pub(super) batches: Vec<RecordBatch>,
    /// The line each record starts on (a quoted field may span lines).
    pub(super) lines: Vec<u64>,
}

/// Reads a CSV file with a header row into text columns. A BOM is dropped; an
/// empty field is null. A record with the wrong number of fields, or bytes that
/// are not UTF-8, is an error naming `file:line`.
pub(super) fn read_csv(path: &Path, format: CsvFormat) -> std::result::Result<CsvRows, String> {
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
        use datafusion::arrow::array::{Array, AsArray};
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
