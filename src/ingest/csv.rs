//! The snapshot's CSV reader: a file with a header row read as a stream, in
//! batches of text columns, every record's line kept with its batch so that an
//! error (here, or a value staging cannot convert) names `file:line`. Stricter
//! about quoting than the `csv` crate, which accepts malformed quoting silently.

use super::batches::{BATCH_ROWS, TextBatch, TextBatches, finish_batch, text_schema};
use super::source::{Compression, open_text, unreadable};
use crate::config::CsvFormat;
use crate::storage::SnapshotSource;
use datafusion::arrow::array::StringBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A CSV file read in batches. A BOM is dropped; an empty field is null. A
/// record with the wrong number of fields, or bytes that are not UTF-8 (when no
/// encoding is set), is an error naming `file:line`.
pub(super) struct CsvBatches {
    path: PathBuf,
    /// `system/name`, for the hint to set an encoding.
    table: String,
    compression: Option<Compression>,
    reader: csv::Reader<Tracked<Box<dyn BufRead>>>,
    lines: LineCounter,
    names: Vec<String>,
    schema: SchemaRef,
    record: csv::ByteRecord,
}

impl CsvBatches {
    /// Opens `path` and reads its header row.
    pub(super) fn open(
        origin: &SnapshotSource,
        path: &Path,
        table: &str,
        format: CsvFormat,
        compression: Option<Compression>,
    ) -> Result<CsvBatches, String> {
        let text = open_text(origin, path, compression, format.encoding)?;
        let state = Rc::new(RefCell::new(TrackState::default()));
        let tracked = Tracked {
            inner: text,
            state: state.clone(),
            quote: format.quote,
            delimiter: format.delimiter,
            offset: 0,
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(format.delimiter)
            .quote(format.quote)
            .has_headers(true)
            .flexible(false)
            .from_reader(tracked);
        let mut lines = LineCounter { state, line: 1 };
        let headers = reader
            .byte_headers()
            .map_err(|e| csv_error(path, table, compression, &mut lines, &e))?
            .clone();
        let at = format!("{}:1", path.display());
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(format!("{at}: no header row (a CSV raw table needs one)"));
        }
        let mut names: Vec<String> = Vec::with_capacity(headers.len());
        for (i, header) in headers.iter().enumerate() {
            let name = std::str::from_utf8(header)
                .map_err(|_| {
                    format!(
                        "{at}: header field {} is not UTF-8{}",
                        i + 1,
                        encoding_hint(table)
                    )
                })?
                .to_string();
            if name.is_empty() {
                return Err(format!("{at}: header field {} is empty", i + 1));
            }
            if names.contains(&name) {
                return Err(format!("{at}: column `{name}` appears twice in the header"));
            }
            names.push(name);
        }
        Ok(CsvBatches {
            path: path.to_path_buf(),
            table: table.to_string(),
            compression,
            reader,
            lines,
            schema: text_schema(&names),
            names,
            record: csv::ByteRecord::new(),
        })
    }

    /// The columns of the header row, in order.
    pub(super) fn header(&self) -> &[String] {
        &self.names
    }

    fn error(&mut self, e: &csv::Error) -> String {
        csv_error(
            &self.path,
            &self.table,
            self.compression,
            &mut self.lines,
            e,
        )
    }
}

/// A reader's error as `file:line: what`; a quoting error the stream found
/// first comes before what the reader made of it.
fn csv_error(
    path: &Path,
    table: &str,
    compression: Option<Compression>,
    lines: &mut LineCounter,
    e: &csv::Error,
) -> String {
    let quoting = lines.state.borrow_mut().quoting.take();
    if let Some((line, what)) = quoting {
        return format!("{}:{line}: {what}", path.display());
    }
    let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
    let shown = path.display();
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{shown}:{line}: {len} field(s), but the header has {expected_len} (check the delimiter and the quoting of this line)"
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "{shown}:{line}: field {} is not valid UTF-8{}",
            err.field() + 1,
            encoding_hint(table)
        ),
        csv::ErrorKind::Io(io) => unreadable(
            path,
            compression,
            std::io::Error::new(io.kind(), io.to_string()),
        ),
        _ => format!("{shown}:{line}: {e}"),
    }
}

/// What to do about bytes that are not UTF-8: export as UTF-8, or say the
/// file's encoding.
fn encoding_hint(table: &str) -> String {
    format!(
        " (export the file as UTF-8, or set its encoding in revleak.toml: [csv.\"{table}\"] encoding = \"windows-1252\")"
    )
}

impl TextBatches for CsvBatches {
    fn next_batch(&mut self) -> Result<Option<TextBatch>, String> {
        let mut builders: Vec<StringBuilder> =
            self.names.iter().map(|_| StringBuilder::new()).collect();
        let mut lines = Vec::new();
        while lines.len() < BATCH_ROWS {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(self.error(&e)),
            }
            let line = self
                .lines
                .line_at(self.record.position().map_or(0, |p| p.byte()));
            for (i, field) in self.record.iter().enumerate() {
                if field.is_empty() {
                    builders[i].append_null();
                    continue;
                }
                let text = std::str::from_utf8(field).map_err(|_| {
                    format!(
                        "{}:{line}: field {} (`{}`) is not valid UTF-8{}",
                        self.path.display(),
                        i + 1,
                        self.names[i],
                        encoding_hint(&self.table)
                    )
                })?;
                builders[i].append_value(text);
            }
            lines.push(line);
        }
        finish_batch(&self.schema, &mut builders, lines, &self.path)
    }
}

/// What the stream under the CSV reader saw: where its line endings are (until
/// the records before them are counted) and a quoting error.
#[derive(Default)]
struct TrackState {
    /// Offsets of `\r` (false) and `\n` (true) not yet passed by a record.
    endings: VecDeque<(u64, bool)>,
    quoting: Option<(u64, &'static str)>,
    /// The quoting state machine: the line, whether a field starts here, the
    /// line a quoted field opened on, and a quote seen inside one (closing or doubled).
    line: u64,
    at_field_start: bool,
    open_quote: Option<u64>,
    quote_pending: bool,
}

/// The decoded text on its way to the CSV reader: notes line endings and
/// checks quoting as the bytes pass, one look at each byte.
struct Tracked<R> {
    inner: R,
    state: Rc<RefCell<TrackState>>,
    quote: u8,
    delimiter: u8,
    offset: u64,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.state.borrow_mut();
        if state.line == 0 {
            state.line = 1;
            state.at_field_start = true;
        }
        if n == 0 {
            if let (Some(opened), false) = (state.open_quote, state.quote_pending) {
                state.quoting =
                    Some((opened, "a quoted field opened on this line is never closed"));
                return Err(std::io::Error::other("quoting"));
            }
            return Ok(0);
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                state
                    .endings
                    .push_back((self.offset + i as u64, b == b'\n'));
            }
            if state.open_quote.is_some() {
                if state.quote_pending {
                    state.quote_pending = false;
                    if b == self.quote {
                        continue; // a doubled quote inside the field
                    }
                    state.open_quote = None;
                    if !(b == self.delimiter || b == b'\n' || b == b'\r') {
                        state.quoting = Some((
                            state.line,
                            "text after a closing quote (quote the whole field, doubling quotes inside it)",
                        ));
                        return Err(std::io::Error::other("quoting"));
                    }
                } else {
                    if b == self.quote {
                        state.quote_pending = true;
                    } else if b == b'\n' {
                        state.line += 1;
                    }
                    continue;
                }
            } else if state.at_field_start && b == self.quote {
                state.open_quote = Some(state.line);
                state.at_field_start = false;
                continue;
            }
            state.at_field_start = b == self.delimiter || b == b'\n' || b == b'\r';
            if b == b'\n' {
                state.line += 1;
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// The line a record starts on, from its byte offset. The reader's own line
/// count is one short after a CRLF (it counts the `\n` as a record of its own),
/// so lines are counted here from the endings the stream noted: records come in
/// order, so each ending is looked at once.
struct LineCounter {
    state: Rc<RefCell<TrackState>>,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut state = self.state.borrow_mut();
        let mut start = byte;
        while let Some(&(at, is_newline)) = state.endings.front() {
            // a record's position may point at the line ending before it
            if at > start {
                break;
            }
            if at == start {
                start += 1;
            }
            if is_newline {
                self.line += 1;
            }
            state.endings.pop_front();
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::DataType;

    /// Every batch of a file, and the line of each record.
    struct CsvRows {
        batches: Vec<RecordBatch>,
        lines: Vec<u64>,
    }

    fn csv_of(text: &[u8], format: CsvFormat) -> std::result::Result<CsvRows, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let read = || -> std::result::Result<CsvRows, String> {
            let mut reader =
                CsvBatches::open(&SnapshotSource::Local, &path, "crm/t", format, None)?;
            let mut rows = CsvRows {
                batches: Vec::new(),
                lines: Vec::new(),
            };
            while let Some(batch) = reader.next_batch()? {
                rows.batches.push(batch.batch);
                rows.lines.extend(batch.lines);
            }
            Ok(rows)
        };
        read().map_err(|e| e.replace(&dir.path().display().to_string(), ""))
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
                encoding: None,
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
        assert!(err.contains("encoding = \"windows-1252\""), "{err}");
    }

    #[test]
    fn a_windows_1252_file_is_read_with_its_encoding_set() {
        let format = CsvFormat {
            encoding: Some(crate::config::TextEncoding::Windows1252),
            ..CsvFormat::default()
        };
        let rows = csv_of(b"name\nM\xfcller GmbH\n", format).unwrap();
        assert_eq!(column(&rows, 0), vec![Some("Müller GmbH".into())]);
    }

    #[test]
    fn records_come_in_batches_with_their_lines() {
        let mut text = b"n\n".to_vec();
        for i in 0..(BATCH_ROWS + 5) {
            text.extend_from_slice(format!("{i}\n").as_bytes());
        }
        let rows = csv_of(&text, CsvFormat::default()).unwrap();
        assert_eq!(rows.batches.len(), 2);
        assert_eq!(rows.batches[1].num_rows(), 5);
        assert_eq!(rows.lines.last(), Some(&(BATCH_ROWS as u64 + 6)));
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
