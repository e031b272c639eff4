//! A text raw file (CSV, JSON lines) opened as a stream of UTF-8 bytes:
//! decompressed by its last extension (`.gz`, `.zst`, `.bz2`) and decoded from
//! the encoding set for its table (Windows-1252, Latin-1, UTF-16), so that the readers see UTF-8 text and the
//! lines they name are lines of the uncompressed, decoded text. Nothing is read
//! whole: every layer is a `Read` over the one below.

use crate::config::TextEncoding;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// How a raw file is compressed, from its last extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Bzip2,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
        }
    }

    fn of_extension(ext: &str) -> Option<Compression> {
        match ext {
            "gz" | "gzip" => Some(Compression::Gzip),
            "zst" | "zstd" => Some(Compression::Zstd),
            "bz2" => Some(Compression::Bzip2),
            _ => None,
        }
    }
}

/// A file name split into the table name, its format's extension (lowercase)
/// and its compression: `payments.csv.gz` is `("payments", "csv", Some(Gzip))`.
pub(super) fn split_name(name: &str) -> Option<(&str, String, Option<Compression>)> {
    let (rest, last) = name.rsplit_once('.')?;
    let last = last.to_ascii_lowercase();
    match Compression::of_extension(&last) {
        Some(compression) => {
            let (stem, ext) = rest.rsplit_once('.')?;
            Some((stem, ext.to_ascii_lowercase(), Some(compression)))
        }
        None => Some((rest, last, None)),
    }
}

const BUFFER: usize = 64 * 1024;

/// Opens `path` as UTF-8 text: decompressed, decoded from `encoding` (None:
/// UTF-8, passed through unchecked for the reader to check), a byte-order mark
/// dropped.
pub(super) fn open_text(
    path: &Path,
    compression: Option<Compression>,
    encoding: Option<TextEncoding>,
) -> Result<Box<dyn BufRead>, String> {
    let cannot = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let raw: Box<dyn Read> = match compression {
        None => Box::new(file),
        Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(BUFFER, file),
        )),
        Some(Compression::Zstd) => Box::new(zstd::Decoder::new(file).map_err(cannot)?),
        Some(Compression::Bzip2) => Box::new(bzip2::read::MultiBzDecoder::new(
            BufReader::with_capacity(BUFFER, file),
        )),
    };
    let mut text: Box<dyn BufRead> = match encoding {
        None => Box::new(BufReader::with_capacity(BUFFER, raw)),
        Some(encoding) => Box::new(BufReader::with_capacity(
            BUFFER,
            Decoding::new(raw, encoding),
        )),
    };
    // UTF-8's mark (a decoder drops its own encoding's mark itself)
    let head = text
        .fill_buf()
        .map_err(|e| unreadable(path, compression, e))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        text.consume(3);
    }
    Ok(text)
}

/// A read error of a compressed file is most often a file that is not what
/// its extension says.
pub(super) fn unreadable(
    path: &Path,
    compression: Option<Compression>,
    e: std::io::Error,
) -> String {
    match compression {
        Some(c) => format!(
            "{}: cannot read as {} ({e}): is the file compressed as its extension says?",
            path.display(),
            c.name()
        ),
        None => format!("{}: {e}", path.display()),
    }
}

/// Windows-1252's characters for the bytes 0x80 to 0x9F, where it differs
/// from Latin-1 (the five bytes it leaves undefined map to the control code of
/// the same number, as browsers do).
const WINDOWS_1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž', '\u{8F}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}', 'ž', 'Ÿ',
];

/// Bytes of `encoding` read as UTF-8. A UTF-16 BOM gives the byte order and
/// is dropped; an unpaired surrogate becomes U+FFFD.
struct Decoding<R> {
    inner: R,
    encoding: TextEncoding,
    raw: Vec<u8>,
    /// Decoded text not yet read.
    decoded: Vec<u8>,
    decoded_at: usize,
    /// UTF-16: the byte order once known, an odd byte and a high surrogate
    /// left from the previous chunk.
    big_endian: Option<bool>,
    odd_byte: Option<u8>,
    high_surrogate: Option<u16>,
    ended: bool,
}

impl<R: Read> Decoding<R> {
    fn new(inner: R, encoding: TextEncoding) -> Self {
        Decoding {
            inner,
            encoding,
            raw: vec![0; BUFFER],
            decoded: Vec::new(),
            decoded_at: 0,
            big_endian: None,
            odd_byte: None,
            high_surrogate: None,
            ended: false,
        }
    }

    fn push(&mut self, c: char) {
        let mut utf8 = [0; 4];
        self.decoded
            .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }

    fn decode_unit(&mut self, unit: u16) {
        match (self.high_surrogate.take(), unit) {
            (Some(high), 0xDC00..=0xDFFF) => {
                let c = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            (high, _) => {
                if high.is_some() {
                    self.push('\u{FFFD}');
                }
                match unit {
                    0xD800..=0xDBFF => self.high_surrogate = Some(unit),
                    0xDC00..=0xDFFF => self.push('\u{FFFD}'),
                    _ => self.push(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}')),
                }
            }
        }
    }

    /// Decodes the first `n` bytes of `raw` into `decoded`.
    fn decode(&mut self, n: usize) {
        let raw = std::mem::take(&mut self.raw);
        match self.encoding {
            TextEncoding::Latin1 => {
                for &b in &raw[..n] {
                    self.push(char::from(b));
                }
            }
            TextEncoding::Windows1252 => {
                for &b in &raw[..n] {
                    match b {
                        0x80..=0x9F => self.push(WINDOWS_1252_HIGH[usize::from(b - 0x80)]),
                        _ => self.push(char::from(b)),
                    }
                }
            }
            TextEncoding::Utf16 => {
                let mut bytes = raw[..n].iter().copied();
                loop {
                    let first = match self.odd_byte.take() {
                        Some(b) => b,
                        None => match bytes.next() {
                            Some(b) => b,
                            None => break,
                        },
                    };
                    let Some(second) = bytes.next() else {
                        self.odd_byte = Some(first);
                        break;
                    };
                    let big_endian = match self.big_endian {
                        Some(order) => order,
                        None => {
                            let order = (first, second) == (0xFE, 0xFF);
                            self.big_endian = Some(order);
                            if matches!((first, second), (0xFE, 0xFF) | (0xFF, 0xFE)) {
                                continue; // the BOM
                            }
                            order
                        }
                    };
                    let unit = if big_endian {
                        u16::from_be_bytes([first, second])
                    } else {
                        u16::from_le_bytes([first, second])
                    };
                    self.decode_unit(unit);
                }
            }
        }
        self.raw = raw;
    }
}

impl<R: Read> Read for Decoding<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.decoded_at == self.decoded.len() {
            if self.ended {
                return Ok(0);
            }
            self.decoded.clear();
            self.decoded_at = 0;
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                self.ended = true;
                if self.odd_byte.take().is_some() || self.high_surrogate.take().is_some() {
                    self.push('\u{FFFD}');
                }
            } else {
                self.decode(n);
            }
        }
        let n = out.len().min(self.decoded.len() - self.decoded_at);
        out[..n].copy_from_slice(&self.decoded[self.decoded_at..self.decoded_at + n]);
        self.decoded_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8], encoding: TextEncoding) -> String {
        let mut text = String::new();
        Decoding::new(bytes, encoding)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn names_split_off_their_format_and_compression() {
        assert_eq!(
            split_name("payments.csv.gz"),
            Some(("payments", "csv".to_string(), Some(Compression::Gzip)))
        );
        assert_eq!(
            split_name("postings.JSONL"),
            Some(("postings", "jsonl".to_string(), None))
        );
        assert_eq!(
            split_name("x.tar.zst").map(|s| s.1),
            Some("tar".to_string())
        );
        assert_eq!(split_name("payments.gz"), None);
    }

    #[test]
    fn windows_1252_latin1_and_utf16_decode_to_utf8() {
        assert_eq!(
            text_of(b"M\xfcller GmbH \x80 \x93x\x94", TextEncoding::Windows1252),
            "Müller GmbH € “x”"
        );
        assert_eq!(
            text_of(b"M\xfcller \x80", TextEncoding::Latin1),
            "Müller \u{80}"
        );
        let big_endian = [0xFE, 0xFF, 0, b'a', 0, 0xFC, 0xD8, 0x3D, 0xDE, 0x00];
        assert_eq!(text_of(&big_endian, TextEncoding::Utf16), "aü😀");
        let little_endian = [0xFF, 0xFE, b'a', 0, 0xFC, 0];
        assert_eq!(text_of(&little_endian, TextEncoding::Utf16), "aü");
        // read a byte at a time: pairs and surrogates split across reads
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let Some((&first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut text = String::new();
        Decoding::new(OneByte(&big_endian), TextEncoding::Utf16)
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "aü😀");
    }
}
