//! Capture loading: a user's file → a columnar [`Capture`], the one packet model every later
//! stage reads. Two readers fill it: Wireshark "Export Packet Dissections > As CSV" text (this
//! module) and pcap/pcapng capture files ([`pcap`], chosen by the file's magic number, whatever
//! its name).
//!
//! The CSV reader owns: text decoding (UTF-8 with or without BOM, Windows-1252 fallback), delimiter
//! sniffing, mapping columns by header name (with aliases), RFC 4180 quoting, unquoted Info with
//! commas, absolute date-time Time columns, and keeping every problem as a [`Warning`] with its
//! line number. Rows that cannot be read are skipped, counted and reported, never guessed.
//!
//! Storage is columnar (one `Vec` per field, host and protocol names interned) so a million
//! packets fit in well under the size of the file they came from.

mod columns;
mod interner;
pub mod pcap;
mod time;
mod write;

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

pub use columns::{Column, ColumnMap};
pub use interner::Interner;
pub use write::write_repeated;

/// Most warnings kept verbatim; the rest are only counted (see [`Capture::warnings_total`]).
pub const MAX_WARNINGS_KEPT: usize = 200;

/// Why a file could not be read as a capture. Each variant says what and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum ParseError {
    #[error("empty file: it has no bytes; export the capture again from Wireshark")]
    Empty,
    #[error("byte {offset}: {message}")]
    Container { offset: u64, message: String },
    #[error("line 1: the file has no header line")]
    NoHeader,
    #[error(
        "line 1: not a Wireshark CSV header: missing column(s) {missing}; found {found} \
         (expected comma-, semicolon- or tab-separated columns No., Time, Source, Destination, \
         Protocol, Length, Info)"
    )]
    MissingColumns { missing: String, found: String },
    #[error(
        "line {line}: {found} fields but the header has {expected}, and Info is not the last \
         column, so the extra separators cannot be attributed; re-export with quoted fields"
    )]
    AmbiguousRow { line: u64, found: usize, expected: usize },
    #[error("line {line}: cannot read the CSV: {message}")]
    Csv { line: u64, message: String },
    #[error("cancelled")]
    Cancelled,
}

/// Something the parser noticed and handled (a skipped row, a decoding fallback, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// 1-based line of the file where the row starts (0 when it concerns the whole file).
    pub line: u64,
    pub message: String,
}

/// How the file was written, as detected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormatInfo {
    pub delimiter: char,
    /// `"utf-8"`, `"utf-8 with BOM"` or `"windows-1252"`.
    pub encoding: String,
    /// True when the Time column held date-times; times are then seconds since the first row
    /// and `time_origin` is that row's date-time as written.
    pub absolute_time: bool,
    pub time_origin: Option<String>,
    pub columns: Vec<String>,
}

/// A parsed capture, one entry per packet in file order, stored by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capture {
    /// Wireshark's `No.` column.
    pub no: Vec<u64>,
    /// Seconds (relative, as Wireshark's default Time column).
    pub time: Vec<f64>,
    /// Index into `hosts`.
    pub source: Vec<u32>,
    /// Index into `hosts`.
    pub destination: Vec<u32>,
    /// Index into `protocols`.
    pub protocol: Vec<u32>,
    /// Frame length in bytes.
    pub length: Vec<u32>,
    /// Byte range of each packet's Info text in `info_text`.
    pub info_span: Vec<(u32, u32)>,
    pub info_text: String,
    pub hosts: Interner,
    pub protocols: Interner,
    /// The first [`MAX_WARNINGS_KEPT`] warnings, in line order.
    pub warnings: Vec<Warning>,
    /// All warnings, including those not kept.
    pub warnings_total: usize,
    /// Rows skipped because they could not be read (each one is also a warning).
    pub skipped_rows: usize,
    pub format: Option<FormatInfo>,
    /// Set when the packets came from a pcap or pcapng file.
    pub container: Option<ContainerInfo>,
}

/// What a capture file was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// `"pcap"` or `"pcapng"`.
    pub kind: String,
    /// Interfaces described (pcapng; 1 for pcap).
    pub interfaces: usize,
    /// Packets cut by the snapshot length.
    pub cut_packets: usize,
}

/// One packet, borrowed from a [`Capture`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packet<'a> {
    pub no: u64,
    pub time: f64,
    pub source: &'a str,
    pub destination: &'a str,
    pub protocol: &'a str,
    pub length: u32,
    pub info: &'a str,
}

impl Capture {
    pub fn len(&self) -> usize {
        self.no.len()
    }

    pub fn is_empty(&self) -> bool {
        self.no.is_empty()
    }

    pub fn info(&self, i: usize) -> &str {
        let (start, end) = self.info_span[i];
        self.info_text.get(start as usize..end as usize).unwrap_or("")
    }

    pub fn packet(&self, i: usize) -> Packet<'_> {
        Packet {
            no: self.no[i],
            time: self.time[i],
            source: self.hosts.name(self.source[i]),
            destination: self.hosts.name(self.destination[i]),
            protocol: self.protocols.name(self.protocol[i]),
            length: self.length[i],
            info: self.info(i),
        }
    }

    pub fn packets(&self) -> impl Iterator<Item = Packet<'_>> + '_ {
        (0..self.len()).map(|i| self.packet(i))
    }

    fn warn(&mut self, line: u64, message: String) {
        self.warnings_total += 1;
        if self.warnings.len() < MAX_WARNINGS_KEPT {
            self.warnings.push(Warning { line, message });
        }
    }

    fn skip(&mut self, line: u64, message: String) {
        self.skipped_rows += 1;
        self.warn(line, format!("{message}; row skipped"));
    }
}

/// Parses a capture file's bytes. See [`parse_with_progress`].
pub fn parse(bytes: &[u8]) -> Result<Capture, ParseError> {
    parse_with_progress(bytes, &mut |_| ControlFlow::Continue(()))
}

/// Parses a capture file's bytes, calling `progress` with the fraction of bytes read
/// (0.0–1.0) every few thousand rows; returning `Break` cancels with [`ParseError::Cancelled`].
pub fn parse_with_progress(
    bytes: &[u8],
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Capture, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    if let Some(container) = pcap::Container::detect(bytes) {
        return pcap::parse(bytes, container, progress);
    }
    let mut capture = Capture::default();
    let (text, encoding) = decode(bytes, &mut capture);
    let text = text.as_ref();
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }

    let header_end = text.find('\n').unwrap_or(text.len());
    let header_line = text[..header_end].trim_end_matches('\r');
    if header_line.trim().is_empty() {
        return Err(ParseError::NoHeader);
    }
    let (delimiter, header) = sniff_header(header_line)?;
    let map = ColumnMap::from_header(&header)?;

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());

    let expected = header.len();
    let total = text.len().max(1) as f64;
    let ends_with_newline = text.ends_with('\n');
    let mut time_parser = time::TimeParser::default();
    let mut record = csv::StringRecord::new();
    let mut info_buf = String::new();
    let mut rows: u64 = 0;
    let capacity_guess = text.len() / 120;
    capture.reserve(capacity_guess);
    capture.info_text.reserve(text.len() / 2);

    loop {
        let read = reader.read_record(&mut record);
        let line = record.position().map_or(0, |p| p.line());
        match read {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(ParseError::Csv { line, message: e.to_string() });
            }
        }
        rows += 1;
        if rows.is_multiple_of(16_384) {
            let done = record.position().map_or(0, |p| p.byte()) as f64 / total;
            if progress(done.min(1.0)).is_break() {
                return Err(ParseError::Cancelled);
            }
        }
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue; // blank line
        }
        if record.len() < expected {
            let is_last = reader.is_done() || at_end(&reader, text.len());
            if is_last && !ends_with_newline {
                capture.skip(
                    line,
                    format!(
                        "line {line}: truncated last line ({} of {expected} fields; the export \
                         was cut off)",
                        record.len()
                    ),
                );
            } else {
                capture.skip(line, format!("line {line}: {} fields, expected {expected}", record.len()));
            }
            continue;
        }
        let info: &str = if record.len() > expected {
            if !map.info_is_last(expected) {
                return Err(ParseError::AmbiguousRow { line, found: record.len(), expected });
            }
            let Some(info_idx) = map.index(Column::Info) else {
                return Err(ParseError::AmbiguousRow { line, found: record.len(), expected });
            };
            info_buf.clear();
            for (k, field) in record.iter().skip(info_idx).enumerate() {
                if k > 0 {
                    info_buf.push(delimiter as char);
                }
                info_buf.push_str(field);
            }
            &info_buf
        } else {
            map.index(Column::Info).and_then(|i| record.get(i)).unwrap_or("")
        };
        let field = |c: Column| map.index(c).and_then(|i| record.get(i)).unwrap_or("");

        let no_text = field(Column::No).trim();
        let Ok(no) = no_text.parse::<u64>() else {
            capture.skip(line, bad_value(line, &map, Column::No, no_text, "a packet number"));
            continue;
        };
        let time_text = field(Column::Time).trim();
        let time = match time_parser.parse(time_text) {
            Ok(t) => t,
            Err(expected_what) => {
                capture.skip(line, bad_value(line, &map, Column::Time, time_text, expected_what));
                continue;
            }
        };
        let length_text = field(Column::Length).trim();
        let Ok(length) = length_text.parse::<u32>() else {
            capture
                .skip(line, bad_value(line, &map, Column::Length, length_text, "a packet length in bytes"));
            continue;
        };
        let source = capture.hosts.intern(field(Column::Source));
        let destination = capture.hosts.intern(field(Column::Destination));
        let protocol = capture.protocols.intern(field(Column::Protocol));
        let start = capture.info_text.len() as u32;
        capture.info_text.push_str(info);
        let end = capture.info_text.len() as u32;

        capture.no.push(no);
        capture.time.push(time);
        capture.source.push(source);
        capture.destination.push(destination);
        capture.protocol.push(protocol);
        capture.length.push(length);
        capture.info_span.push((start, end));
    }
    capture.format = Some(FormatInfo {
        delimiter: delimiter as char,
        encoding: encoding.to_string(),
        absolute_time: time_parser.is_absolute(),
        time_origin: time_parser.origin_text(),
        columns: header.iter().map(|s| s.to_string()).collect(),
    });
    capture.shrink();
    Ok(capture)
}

impl Capture {
    fn reserve(&mut self, n: usize) {
        self.no.reserve(n);
        self.time.reserve(n);
        self.source.reserve(n);
        self.destination.reserve(n);
        self.protocol.reserve(n);
        self.length.reserve(n);
        self.info_span.reserve(n);
    }

    fn shrink(&mut self) {
        self.no.shrink_to_fit();
        self.time.shrink_to_fit();
        self.source.shrink_to_fit();
        self.destination.shrink_to_fit();
        self.protocol.shrink_to_fit();
        self.length.shrink_to_fit();
        self.info_span.shrink_to_fit();
        self.info_text.shrink_to_fit();
    }
}

fn at_end(reader: &csv::Reader<&[u8]>, len: usize) -> bool {
    reader.position().byte() as usize >= len
}

fn bad_value(line: u64, map: &ColumnMap, column: Column, text: &str, what: &str) -> String {
    let (col_no, name) = map.describe(column);
    format!("line {line}, column {col_no} ({name}): {text:?} is not {what}")
}

/// Decodes the file: UTF-8 (BOM stripped) when valid, else Windows-1252 with a warning naming
/// the first line that is not UTF-8.
fn decode<'a>(bytes: &'a [u8], capture: &mut Capture) -> (std::borrow::Cow<'a, str>, &'static str) {
    let (body, bom) = match bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    match std::str::from_utf8(body) {
        Ok(s) => (s.into(), if bom { "utf-8 with BOM" } else { "utf-8" }),
        Err(e) => {
            let line = 1 + body[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64;
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(body);
            capture.warn(
                line,
                format!(
                    "line {line}: the file is not valid UTF-8; decoded it as Windows-1252 \
                     (Latin-1): check accented text in Info"
                ),
            );
            (text.into_owned().into(), "windows-1252")
        }
    }
}

/// Picks the delimiter (comma, semicolon or tab) under which the header names the columns we
/// need, and returns it with the header's fields.
fn sniff_header(header_line: &str) -> Result<(u8, Vec<String>), ParseError> {
    let mut best: Option<(usize, u8, Vec<String>)> = None;
    // Only the separators the line holds (a CSV reader is costly to build); comma if none.
    let present: Vec<u8> =
        [b',', b';', b'\t'].into_iter().filter(|d| header_line.as_bytes().contains(d)).collect();
    let candidates = if present.is_empty() { vec![b','] } else { present };
    for delimiter in candidates {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(header_line.as_bytes());
        let mut record = csv::StringRecord::new();
        if !matches!(reader.read_record(&mut record), Ok(true)) {
            continue;
        }
        let fields: Vec<String> = record.iter().map(|s| s.to_string()).collect();
        let recognised = ColumnMap::recognised(&fields);
        if best.as_ref().is_none_or(|(n, _, _)| recognised > *n) {
            best = Some((recognised, delimiter, fields));
        }
    }
    match best {
        Some((_, delimiter, fields)) => Ok((delimiter, fields)),
        None => Err(ParseError::NoHeader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "\"No.\",\"Time\",\"Source\",\"Destination\",\"Protocol\",\"Length\",\"Info\"\n";

    #[test]
    fn parses_quoted_rows_with_embedded_quotes_commas_and_newlines() {
        let text = format!(
            "{HEADER}\"1\",\"0.5\",\"a\",\"b\",\"DNS\",\"80\",\"query, \"\"QM\"\" q\"\n\
             \"2\",\"1.5\",\"b\",\"a\",\"TCP\",\"60\",\"two\nlines\"\n"
        );
        let c = parse(text.as_bytes()).expect("parses");
        assert_eq!(c.len(), 2);
        assert_eq!(c.packet(0).info, "query, \"QM\" q");
        assert_eq!(c.packet(1).info, "two\nlines");
        assert_eq!(c.packet(1).protocol, "TCP");
        assert_eq!(c.packet(1).length, 60);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn empty_and_blank_files_are_rejected() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b"  \n"), Err(ParseError::Empty));
    }

    #[test]
    fn capture_files_are_told_by_their_magic_number() {
        // A pcap magic number with a cut header: read as pcap, and the error says where.
        let err = parse(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]).expect_err("header too short");
        assert!(matches!(err, ParseError::Container { offset: 0, .. }), "{err}");
        assert_eq!(pcap::Container::detect(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(pcap::Container::PcapNg));
        assert_eq!(pcap::Container::detect(b"No."), None);
    }

    #[test]
    fn missing_columns_are_named() {
        let err = parse(b"a,b,c\n1,2,3\n").expect_err("rejects");
        let msg = err.to_string();
        assert!(msg.contains("missing column(s)"), "{msg}");
        assert!(msg.contains("Length"), "{msg}");
    }

    #[test]
    fn bad_length_is_skipped_with_line_and_column() {
        let text = format!(
            "{HEADER}\"1\",\"0\",\"a\",\"b\",\"TCP\",\"1,514\",\"x\"\n\"2\",\"1\",\"a\",\"b\",\"TCP\",\"60\",\"y\"\n"
        );
        let c = parse(text.as_bytes()).expect("parses");
        assert_eq!(c.len(), 1);
        assert_eq!(c.skipped_rows, 1);
        assert_eq!(c.warnings[0].line, 2);
        assert!(c.warnings[0].message.contains("column 6 (Length)"), "{:?}", c.warnings);
    }

    #[test]
    fn unquoted_info_with_commas_keeps_the_rest_of_the_line() {
        let text = "No.,Time,Source,Destination,Protocol,Length,Info\n1,0.1,a,b,ICMP,98,Echo id=0x1, seq=1/256, ttl=64\n";
        let c = parse(text.as_bytes()).expect("parses");
        assert_eq!(c.packet(0).info, "Echo id=0x1, seq=1/256, ttl=64");
    }

    #[test]
    fn extra_fields_when_info_is_not_last_are_an_error_naming_the_line() {
        let text =
            "No.,Time,Source,Destination,Info,Protocol,Length\n1,0.1,a,b,x,TCP,60\n2,0.2,a,b,x,y,TCP,60\n";
        let err = parse(text.as_bytes()).expect_err("rejects");
        assert!(matches!(err, ParseError::AmbiguousRow { line: 3, .. }), "{err}");
    }

    #[test]
    fn header_only_gives_zero_packets() {
        let c = parse(HEADER.as_bytes()).expect("parses");
        assert!(c.is_empty());
    }
}
