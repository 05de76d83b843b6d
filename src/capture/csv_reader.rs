//! The Wireshark CSV reader: decoding, delimiter sniffing, columns by header name, RFC 4180
//! quoting, unquoted Info with commas, Time in any of Wireshark's formats, and every row that
//! cannot be read kept as a warning with its line and column.

use std::ops::ControlFlow;

use super::time::TimeParser;
use super::{Capture, Column, ColumnMap, FormatInfo, ParseError};

/// Reads CSV `bytes` (not a pcap: the caller chose by magic) into a [`Capture`], calling
/// `progress` with the fraction of bytes read every 16,384 rows.
pub(super) fn parse(
    bytes: &[u8],
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Capture, ParseError> {
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
    let mut rows =
        Rows { map, expected: header.len(), delimiter, time: TimeParser::default(), info_buf: String::new() };
    capture.reserve(text.len() / 120);
    capture.info_text.reserve(text.len() / 2);
    read_rows(text, &mut rows, &mut capture, progress)?;
    capture.format = Some(FormatInfo {
        delimiter: delimiter as char,
        encoding: encoding.to_string(),
        absolute_time: rows.time.is_absolute(),
        time_origin: rows.time.origin_text(),
        columns: header.iter().map(|s| s.to_string()).collect(),
    });
    capture.shrink();
    Ok(capture)
}

/// What reading each row needs: the header's columns and delimiter, the Time parser (which
/// remembers the first absolute time), and a buffer for an Info split at its commas.
struct Rows {
    map: ColumnMap,
    expected: usize,
    delimiter: u8,
    time: TimeParser,
    info_buf: String,
}

/// Reads every row after the header into `capture`.
fn read_rows(
    text: &str,
    rows: &mut Rows,
    capture: &mut Capture,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<(), ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(rows.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let total = text.len().max(1) as f64;
    let ends_with_newline = text.ends_with('\n');
    let mut record = csv::StringRecord::new();
    let mut read: u64 = 0;
    loop {
        let more = reader.read_record(&mut record);
        let line = record.position().map_or(0, |p| p.line());
        match more {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(ParseError::Csv { line, message: e.to_string() });
            }
        }
        read += 1;
        if read.is_multiple_of(16_384) {
            let done = record.position().map_or(0, |p| p.byte()) as f64 / total;
            if progress(done.min(1.0)).is_break() {
                return Err(ParseError::Cancelled);
            }
        }
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue; // blank line
        }
        if record.len() < rows.expected {
            let is_last = reader.is_done() || reader.position().byte() as usize >= text.len();
            let expected = rows.expected;
            let why = if is_last && !ends_with_newline {
                format!(
                    "line {line}: truncated last line ({} of {expected} fields; the export was cut off)",
                    record.len()
                )
            } else {
                format!("line {line}: {} fields, expected {expected}", record.len())
            };
            capture.skip(line, why);
            continue;
        }
        rows.push(&record, line, capture)?;
    }
}

/// The row's Info: its field, or with more fields than the header when Info is the last
/// column, every field from Info on joined by the delimiter (an unquoted Info with commas).
fn info<'r>(
    record: &'r csv::StringRecord,
    line: u64,
    map: &ColumnMap,
    expected: usize,
    delimiter: u8,
    buf: &'r mut String,
) -> Result<&'r str, ParseError> {
    let found = record.len();
    if found <= expected {
        return Ok(map.index(Column::Info).and_then(|i| record.get(i)).unwrap_or(""));
    }
    let Some(info_idx) = map.index(Column::Info).filter(|_| map.info_is_last(expected)) else {
        return Err(ParseError::AmbiguousRow { line, found, expected });
    };
    buf.clear();
    for (k, field) in record.iter().skip(info_idx).enumerate() {
        if k > 0 {
            buf.push(delimiter as char);
        }
        buf.push_str(field);
    }
    Ok(buf)
}

impl Rows {
    /// Adds the row to `capture`, or skips it with a warning naming the value that cannot be
    /// read.
    fn push(
        &mut self,
        record: &csv::StringRecord,
        line: u64,
        capture: &mut Capture,
    ) -> Result<(), ParseError> {
        let Rows { map, expected, delimiter, time, info_buf } = self;
        let info = info(record, line, map, *expected, *delimiter, info_buf)?;
        let field = |c: Column| map.index(c).and_then(|i| record.get(i)).unwrap_or("");
        let no_text = field(Column::No).trim();
        let Ok(no) = no_text.parse::<u64>() else {
            capture.skip(line, bad_value(line, map, Column::No, no_text, "a packet number"));
            return Ok(());
        };
        let time_text = field(Column::Time).trim();
        let time = match time.parse(time_text) {
            Ok(t) => t,
            Err(expected_what) => {
                capture.skip(line, bad_value(line, map, Column::Time, time_text, expected_what));
                return Ok(());
            }
        };
        let length_text = field(Column::Length).trim();
        let Ok(length) = length_text.parse::<u32>() else {
            capture.skip(line, bad_value(line, map, Column::Length, length_text, "a packet length in bytes"));
            return Ok(());
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
        Ok(())
    }
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
