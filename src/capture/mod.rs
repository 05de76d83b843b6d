//! Capture loading: a user's file → a columnar [`Capture`], the one packet model every later
//! stage reads. Two readers fill it: Wireshark "Export Packet Dissections > As CSV" text (this
//! module) and pcap/pcapng capture files ([`pcap`], chosen by the file's magic number, whatever
//! its name).
//!
//! The CSV reader (`csv_reader`) owns: text decoding (UTF-8 with or without BOM, Windows-1252 fallback), delimiter
//! sniffing, mapping columns by header name (with aliases), RFC 4180 quoting, unquoted Info with
//! commas, absolute date-time Time columns, and keeping every problem as a [`Warning`] with its
//! line number. Rows that cannot be read are skipped, counted and reported, never guessed.
//!
//! Storage is columnar (one `Vec` per field, host and protocol names interned) so a million
//! packets fit in well under the size of the file they came from.

mod columns;
mod csv_reader;
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
    csv_reader::parse(bytes, progress)
}

impl Capture {
    /// The invariants every reader keeps: one entry per packet in every column, finite times,
    /// Info spans inside the text and on character boundaries. The fuzz target and its
    /// regression test check them on every input.
    pub fn check(&self) -> Result<(), String> {
        let n = self.len();
        let lengths = [
            self.time.len(),
            self.source.len(),
            self.destination.len(),
            self.protocol.len(),
            self.length.len(),
            self.info_span.len(),
        ];
        if let Some(len) = lengths.into_iter().find(|&l| l != n) {
            return Err(format!("a column has {len} entries for {n} packets"));
        }
        if let Some(p) = self.packets().find(|p| !p.time.is_finite()) {
            return Err(format!("packet {} has time {}", p.no, p.time));
        }
        let text = &self.info_text;
        let bad = |&(start, end): &(u32, u32)| {
            start > end
                || end as usize > text.len()
                || !text.is_char_boundary(start as usize)
                || !text.is_char_boundary(end as usize)
        };
        if let Some(k) = self.info_span.iter().position(bad) {
            return Err(format!(
                "packet {}: Info span {:?} is not inside the text",
                self.no[k], self.info_span[k]
            ));
        }
        Ok(())
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.no.reserve(n);
        self.time.reserve(n);
        self.source.reserve(n);
        self.destination.reserve(n);
        self.protocol.reserve(n);
        self.length.reserve(n);
        self.info_span.reserve(n);
    }

    pub(crate) fn shrink(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_a_broken_invariant() {
        let good =
            parse(b"No.,Time,Source,Destination,Protocol,Length,Info\n1,0.5,a,b,TCP,60,x\n").expect("parses");
        assert_eq!(good.check(), Ok(()));
        let mut c = good.clone();
        c.time.push(1.0);
        assert_eq!(c.check(), Err("a column has 2 entries for 1 packets".into()));
        let mut c = good.clone();
        c.time[0] = f64::NAN;
        assert!(c.check().is_err_and(|e| e.starts_with("packet 1 has time")));
        let mut c = good;
        c.info_span[0] = (0, 99);
        assert!(c.check().is_err_and(|e| e.contains("Info span")));
    }

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
