//! The snapshot's JSON lines reader (`.jsonl`, `.ndjson`): each line one JSON
//! object, one row. The columns are the union of the keys of every line, in
//! order of first appearance over the file (a first pass over it; a key a line
//! lacks is null there). Every value is text, as for CSV, so nothing passes
//! through a float: a string as its text, a number exactly as written (`0.10`
//! stays `0.10`), `true`/`false` as those words, `null` as null, and a nested
//! object or array as its JSON text as written, which staging reads with
//! string functions (DataFusion 55 has no built-in JSON functions: e.g.
//! `regexp_match(address, '"city":\s*"([^"]*)"')[1]`). Flattening was not
//! chosen: an array has no fixed columns, and the text loses nothing.

use super::batches::{BATCH_ROWS, TextBatch, TextBatches, finish_batch, text_schema};
use super::source::{Compression, open_text, unreadable};
use crate::config::CsvFormat;
use crate::storage::SnapshotSource;
use datafusion::arrow::array::StringBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// One line's object: each key with its value as text (None: `null`).
type Object = Vec<(String, Option<String>)>;

/// Reads the lines of a JSON lines file one at a time, each with its number.
struct Lines {
    path: PathBuf,
    table: String,
    compression: Option<Compression>,
    text: Box<dyn BufRead>,
    line: u64,
    buffer: Vec<u8>,
}

impl Lines {
    fn open(
        origin: &SnapshotSource,
        path: &Path,
        table: &str,
        format: CsvFormat,
        compression: Option<Compression>,
    ) -> Result<Lines, String> {
        Ok(Lines {
            path: path.to_path_buf(),
            table: table.to_string(),
            compression,
            text: open_text(origin, path, compression, format.encoding)?,
            line: 0,
            buffer: Vec::new(),
        })
    }

    /// The next object that is not a blank line, with its line number.
    fn next_object(&mut self) -> Result<Option<(u64, Object)>, String> {
        loop {
            self.buffer.clear();
            let n = self
                .text
                .read_until(b'\n', &mut self.buffer)
                .map_err(|e| unreadable(&self.path, self.compression, e))?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            let at = || format!("{}:{}", self.path.display(), self.line);
            let text = std::str::from_utf8(&self.buffer).map_err(|_| {
                format!(
                    "{}: not valid UTF-8 (export the file as UTF-8, or set its encoding in revleak.toml: [csv.\"{}\"] encoding = \"windows-1252\")",
                    at(),
                    self.table
                )
            })?;
            if text.trim().is_empty() {
                continue;
            }
            let object = parse_object(text).map_err(|(column, what)| {
                format!(
                    "{}: not a JSON object: {what} at column {column} (each line must be one JSON object)",
                    at()
                )
            })?;
            return Ok(Some((self.line, object)));
        }
    }
}

/// The keys of every object of the file, in order of first appearance; every
/// line is checked on the way.
pub(super) fn jsonl_columns(
    origin: &SnapshotSource,
    path: &Path,
    table: &str,
    format: CsvFormat,
    compression: Option<Compression>,
) -> Result<Vec<String>, String> {
    let mut lines = Lines::open(origin, path, table, format, compression)?;
    let mut columns: Vec<String> = Vec::new();
    let mut seen: HashMap<String, ()> = HashMap::new();
    while let Some((_, object)) = lines.next_object()? {
        for (key, _) in object {
            if seen.insert(key.clone(), ()).is_none() {
                columns.push(key);
            }
        }
    }
    Ok(columns)
}

/// A JSON lines file read in batches, into the given columns.
pub(super) struct JsonlBatches {
    lines: Lines,
    schema: SchemaRef,
    index: HashMap<String, usize>,
}

impl JsonlBatches {
    pub(super) fn open(
        origin: &SnapshotSource,
        path: &Path,
        table: &str,
        format: CsvFormat,
        compression: Option<Compression>,
        columns: &[String],
    ) -> Result<JsonlBatches, String> {
        Ok(JsonlBatches {
            lines: Lines::open(origin, path, table, format, compression)?,
            schema: text_schema(columns),
            index: columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i))
                .collect(),
        })
    }
}

impl TextBatches for JsonlBatches {
    fn next_batch(&mut self) -> Result<Option<TextBatch>, String> {
        let width = self.index.len();
        let mut builders: Vec<StringBuilder> = (0..width).map(|_| StringBuilder::new()).collect();
        let mut lines = Vec::new();
        let mut row: Vec<Option<String>> = vec![None; width];
        while lines.len() < BATCH_ROWS {
            let Some((line, object)) = self.lines.next_object()? else {
                break;
            };
            row.iter_mut().for_each(|cell| *cell = None);
            for (key, value) in object {
                let Some(&i) = self.index.get(&key) else {
                    // the columns came from a first pass over the same text
                    return Err(format!(
                        "{}:{line}: key `{key}` was not in the file when its columns were read (was it changed during the run?)",
                        self.lines.path.display()
                    ));
                };
                row[i] = value;
            }
            for (builder, cell) in builders.iter_mut().zip(&row) {
                builder.append_option(cell.as_deref());
            }
            lines.push(line);
        }
        finish_batch(&self.schema, &mut builders, lines, &self.lines.path)
    }
}

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// Parses one line as a JSON object: each key with its value as text. An
/// error is the column (counting characters from 1) and what is wrong.
fn parse_object(line: &str) -> Result<Object, (usize, String)> {
    let mut parser = Parser {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    let fail = |parser: &Parser, what: &str| {
        let column = parser.text[..parser.at.min(parser.text.len())]
            .chars()
            .count()
            + 1;
        (column, what.to_string())
    };
    parser.whitespace();
    if parser.peek() != Some(b'{') {
        return Err(fail(&parser, "expected `{`"));
    }
    parser.at += 1;
    let mut object: Object = Vec::new();
    parser.whitespace();
    if parser.peek() == Some(b'}') {
        parser.at += 1;
    } else {
        loop {
            parser.whitespace();
            let key_start = parser.at;
            if parser.peek() != Some(b'"') {
                return Err(fail(&parser, "expected a key in quotes"));
            }
            parser.string().map_err(|what| fail(&parser, what))?;
            let key: String = serde_json::from_str(&line[key_start..parser.at])
                .map_err(|e| fail(&parser, &e.to_string()))?;
            if object.iter().any(|(k, _)| *k == key) {
                return Err(fail(&parser, &format!("key `{key}` appears twice")));
            }
            parser.whitespace();
            if parser.peek() != Some(b':') {
                return Err(fail(&parser, "expected `:`"));
            }
            parser.at += 1;
            parser.whitespace();
            let start = parser.at;
            let kind = parser.value(0).map_err(|what| fail(&parser, what))?;
            let raw = &line[start..parser.at];
            let value = match kind {
                Kind::Null => None,
                Kind::String => Some(
                    serde_json::from_str::<String>(raw)
                        .map_err(|e| fail(&parser, &e.to_string()))?,
                ),
                Kind::Other => Some(raw.to_string()),
            };
            object.push((key, value));
            parser.whitespace();
            match parser.peek() {
                Some(b',') => parser.at += 1,
                Some(b'}') => {
                    parser.at += 1;
                    break;
                }
                _ => return Err(fail(&parser, "expected `,` or `}`")),
            }
        }
    }
    parser.whitespace();
    if parser.at < parser.bytes.len() {
        return Err(fail(&parser, "text after the object"));
    }
    Ok(object)
}

enum Kind {
    Null,
    String,
    /// A number, `true`/`false`, an object or an array: kept as written.
    Other,
}

/// A JSON grammar checker that finds where each value ends.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Kind, &'static str> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply");
        }
        match self.peek() {
            Some(b'"') => self.string().map(|_| Kind::String),
            Some(b'{') => {
                self.at += 1;
                self.members(b'}', depth, true)?;
                Ok(Kind::Other)
            }
            Some(b'[') => {
                self.at += 1;
                self.members(b']', depth, false)?;
                Ok(Kind::Other)
            }
            Some(b't') => self.word("true").map(|_| Kind::Other),
            Some(b'f') => self.word("false").map(|_| Kind::Other),
            Some(b'n') => self.word("null").map(|_| Kind::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| Kind::Other),
            _ => Err("expected a value"),
        }
    }

    /// The members of an object (`"key": value`) or an array, up to `close`.
    fn members(&mut self, close: u8, depth: usize, keyed: bool) -> Result<(), &'static str> {
        self.whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.whitespace();
            if keyed {
                if self.peek() != Some(b'"') {
                    return Err("expected a key in quotes");
                }
                self.string()?;
                self.whitespace();
                if self.peek() != Some(b':') {
                    return Err("expected `:`");
                }
                self.at += 1;
                self.whitespace();
            }
            self.value(depth + 1)?;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => {
                    return Err(if keyed {
                        "expected `,` or `}`"
                    } else {
                        "expected `,` or `]`"
                    });
                }
            }
        }
    }

    fn string(&mut self) -> Result<(), &'static str> {
        self.at += 1; // the opening quote
        loop {
            match self.peek() {
                None => return Err("a string is never closed"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => match self.bytes.get(self.at + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 2,
                    Some(b'u')
                        if self
                            .bytes
                            .get(self.at + 2..self.at + 6)
                            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                    {
                        self.at += 6
                    }
                    _ => return Err("a bad escape in a string"),
                },
                Some(c) if c < 0x20 => return Err("a control character in a string"),
                Some(_) => self.at += 1,
            }
        }
    }

    fn word(&mut self, word: &'static str) -> Result<(), &'static str> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            Err("expected a value")
        }
    }

    fn number(&mut self) -> Result<(), &'static str> {
        let digits = |p: &mut Self| {
            let start = p.at;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.at += 1;
            }
            p.at - start
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else if digits(self) == 0 {
            return Err("a malformed number");
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err("a malformed number");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err("a malformed number");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(line: &str) -> Vec<(String, Option<String>)> {
        parse_object(line).unwrap()
    }

    #[test]
    fn values_are_text_as_written() {
        let object = cells(
            r#"{"id": "P1", "amount": 0.10, "big": 12345678901234567890.01, "ok": true, "none": null, "at": {"city": "Köln", "n": [1, 2]}, "tag": "a\"b"}"#,
        );
        let text = |k: &str| object.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(text("id").as_deref(), Some("P1"));
        assert_eq!(text("amount").as_deref(), Some("0.10"));
        assert_eq!(text("big").as_deref(), Some("12345678901234567890.01"));
        assert_eq!(text("ok").as_deref(), Some("true"));
        assert_eq!(text("none"), None);
        assert_eq!(
            text("at").as_deref(),
            Some(r#"{"city": "Köln", "n": [1, 2]}"#)
        );
        assert_eq!(text("tag").as_deref(), Some("a\"b"));
    }

    #[test]
    fn malformed_lines_say_where() {
        for (line, column) in [
            (r#"{"a": 1,}"#, 9),
            (r#"{"a": 01}"#, 8),
            (r#"{"a": "x"} 1"#, 12),
            (r#"[1]"#, 1),
            (r#"{"a": tru}"#, 7),
            (r#"{"a": "never closed}"#, 21),
        ] {
            let (at, _) = parse_object(line).unwrap_err();
            assert_eq!(at, column, "{line}");
        }
    }

    #[test]
    fn columns_are_the_union_of_keys_in_order_of_first_appearance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(&path, "{\"b\": 1, \"a\": 2}\n\n{\"c\": 3, \"a\": null}\n").unwrap();
        let columns = jsonl_columns(
            &SnapshotSource::Local,
            &path,
            "erp/t",
            CsvFormat::default(),
            None,
        )
        .unwrap();
        assert_eq!(columns, vec!["b", "a", "c"]);
        let mut reader = JsonlBatches::open(
            &SnapshotSource::Local,
            &path,
            "erp/t",
            CsvFormat::default(),
            None,
            &columns,
        )
        .unwrap();
        let batch = reader.next_batch().unwrap().unwrap();
        assert_eq!(batch.lines, vec![1, 3]);
        assert_eq!(batch.batch.column(2).null_count(), 1);
        assert_eq!(batch.batch.column(1).null_count(), 1);
    }
}
