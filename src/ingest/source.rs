//! What a raw file is, from its name (format, compression), and a text raw
//! file (CSV, JSON lines) opened as a stream of UTF-8 bytes:
//! decompressed by its last extension (`.gz`, `.zst`, `.bz2`) and decoded from
//! the encoding set for its table (Windows-1252, Latin-1, UTF-16), so that the readers see UTF-8 text and the
//! lines they name are lines of the uncompressed, decoded text. Nothing is read
//! whole: every layer is a `Read` over the one below.

use crate::config::TextEncoding;
use crate::storage::SnapshotSource;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A raw table's format: Parquet as written, the others read as text columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFormat {
    Parquet,
    Csv,
    JsonLines,
    Xlsx,
}

impl RawFormat {
    pub fn name(self) -> &'static str {
        match self {
            RawFormat::Parquet => "parquet",
            RawFormat::Csv => "csv",
            RawFormat::JsonLines => "jsonl",
            RawFormat::Xlsx => "xlsx",
        }
    }
}

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

/// Opens `path` (from `origin`: a local file, or an object streamed in ranged
/// GETs) as UTF-8 text: decompressed, decoded from `encoding` (None: UTF-8,
/// passed through unchecked for the reader to check), a byte-order mark
/// dropped.
pub(super) fn open_text(
    origin: &SnapshotSource,
    path: &Path,
    compression: Option<Compression>,
    encoding: Option<TextEncoding>,
) -> Result<Box<dyn BufRead>, String> {
    let cannot = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = origin.open(path).map_err(cannot)?;
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

/// Bytes of `encoding` read as UTF-8, decoded by encoding_rs chunk by chunk
/// (a character split across two reads is carried over). Windows-1252 as the
/// WHATWG defines it (what browsers and Excel agree on); Latin-1 strictly
/// (every byte the code point of its number: WHATWG would read it as
/// Windows-1252); UTF-16 with its byte order from its BOM, which is dropped
/// (little-endian without one). A malformed sequence (an unpaired surrogate)
/// becomes U+FFFD.
struct Decoding<R> {
    inner: R,
    /// None: Latin-1.
    decoder: Option<encoding_rs::Decoder>,
    raw: Vec<u8>,
    /// Decoded text not yet read.
    decoded: Vec<u8>,
    decoded_at: usize,
    ended: bool,
}

impl<R: Read> Decoding<R> {
    fn new(inner: R, encoding: TextEncoding) -> Self {
        let decoder = match encoding {
            TextEncoding::Latin1 => None,
            TextEncoding::Windows1252 => {
                Some(encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling())
            }
            // sniffs the BOM: FE FF switches to big-endian
            TextEncoding::Utf16 => Some(encoding_rs::UTF_16LE.new_decoder()),
        };
        Decoding {
            inner,
            decoder,
            raw: vec![0; BUFFER],
            decoded: Vec::new(),
            decoded_at: 0,
            ended: false,
        }
    }

    /// Decodes the first `n` bytes of `raw` into `decoded`; `last` at the end.
    fn decode(&mut self, n: usize, last: bool) {
        let raw = &self.raw[..n];
        match &mut self.decoder {
            None => self
                .decoded
                .extend_from_slice(encoding_rs::mem::decode_latin1(raw).as_bytes()),
            Some(decoder) => {
                let room = decoder
                    .max_utf8_buffer_length(n)
                    .expect("a chunk's decoded length fits in memory");
                self.decoded.resize(room, 0);
                let (_, read, written, _) = decoder.decode_to_utf8(raw, &mut self.decoded, last);
                debug_assert_eq!(read, n, "room for the whole chunk was made");
                self.decoded.truncate(written);
            }
        }
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
            self.ended = n == 0;
            self.decode(n, self.ended);
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
        // an unpaired surrogate and an odd last byte are replaced, not dropped
        let broken = [0xFF, 0xFE, 0x3D, 0xD8, b'a', 0, b'b'];
        assert_eq!(text_of(&broken, TextEncoding::Utf16), "\u{FFFD}a\u{FFFD}");
    }
}
