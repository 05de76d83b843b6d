//! Capture files read directly: classic pcap (all four magic numbers: µs and ns, both byte
//! orders) and pcapng (sections in either byte order, several interfaces with their own link
//! types, time resolutions and offsets; enhanced and simple packet blocks), walked in place over
//! the file's bytes with `pcap-parser`, each frame dissected ([`dissect`]) into the same seven
//! columns a Wireshark CSV export has.
//!
//! Damage is never fatal past the file header: a truncated last packet, a block whose length is
//! wrong or a block that does not parse stops the walk there, the packets before it are kept,
//! and a warning says which block and at which byte offset. Link types the dissector does not
//! know keep their packets (listed as such) with a warning naming the interface.

mod dissect;

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le, parse_sectionheaderblock};
use pcap_parser::{Linktype, PcapError, nom, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

use super::{Capture, ContainerInfo, ParseError};
pub use dissect::LinkKind;

/// Packets between two progress reports.
const PROGRESS_EVERY: usize = 4096;

/// One captured frame, borrowed from the file.
#[derive(Debug, Clone, Copy)]
struct Frame<'a> {
    /// Capture time, nanoseconds since the epoch.
    ns: i128,
    link: Linktype,
    data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when the capture cut the packet).
    original: u32,
}

/// Which container a file is, from its first four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Pcap,
    PcapNg,
}

impl Container {
    pub fn detect(bytes: &[u8]) -> Option<Container> {
        const PCAP: [[u8; 4]; 4] = [
            [0xd4, 0xc3, 0xb2, 0xa1],
            [0xa1, 0xb2, 0xc3, 0xd4],
            [0x4d, 0x3c, 0xb2, 0xa1],
            [0xa1, 0xb2, 0x3c, 0x4d],
        ];
        let head: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        if PCAP.contains(&head) {
            Some(Container::Pcap)
        } else if head == [0x0a, 0x0d, 0x0d, 0x0a] {
            Some(Container::PcapNg)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Container::Pcap => "pcap",
            Container::PcapNg => "pcapng",
        }
    }
}

/// What a walk over a capture file feeds: its frames, in file order, and where it stopped.
trait Walker {
    fn frame(&mut self, f: Frame<'_>);
    /// Frames fed so far.
    fn frames(&self) -> usize;
    /// The walk stopped at `offset` for `what`; the frames before it stand.
    fn stopped(&mut self, offset: usize, what: String);
}

impl Walker for Builder {
    fn frame(&mut self, f: Frame<'_>) {
        self.push(f);
    }

    fn frames(&self) -> usize {
        self.capture.no.len()
    }

    fn stopped(&mut self, offset: usize, what: String) {
        let kept = self.capture.no.len();
        self.capture.warn(
            0,
            format!("byte {offset}: {what}; the {kept} packets before it are kept, the rest of the file is not read"),
        );
    }
}

/// Cancels (returns true) when `progress` says so, every few thousand frames.
fn cancelled(
    w: &dyn Walker,
    offset: usize,
    len: usize,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> bool {
    w.frames().is_multiple_of(PROGRESS_EVERY) && progress(offset as f64 / len.max(1) as f64).is_break()
}

/// Builds the capture while frames come in.
struct Builder {
    capture: Capture,
    dissector: dissect::Dissector,
    first_ns: Option<i128>,
    unknown_links: BTreeSet<u16>,
    cut: usize,
}

impl Builder {
    fn new(container: Container) -> Builder {
        let capture = Capture {
            container: Some(ContainerInfo {
                kind: container.name().to_string(),
                interfaces: 0,
                cut_packets: 0,
            }),
            ..Capture::default()
        };
        Builder {
            capture,
            dissector: dissect::Dissector::default(),
            first_ns: None,
            unknown_links: BTreeSet::new(),
            cut: 0,
        }
    }

    fn push(&mut self, f: Frame<'_>) {
        let c = &mut self.capture;
        let no = c.no.len() as u64 + 1;
        let first = *self.first_ns.get_or_insert(f.ns);
        let d =
            self.dissector.dissect(no, f.link, f.data, (f.original as usize).saturating_sub(f.data.len()));
        if d.link == LinkKind::Unknown {
            self.unknown_links.insert(f.link.0 as u16);
        }
        if (f.data.len() as u64) < u64::from(f.original) {
            self.cut += 1;
        }
        c.no.push(no);
        c.time.push((f.ns - first) as f64 / 1e9);
        let s = c.hosts.intern(&d.source);
        c.source.push(s);
        let t = c.hosts.intern(&d.destination);
        c.destination.push(t);
        let p = c.protocols.intern(&d.protocol);
        c.protocol.push(p);
        c.length.push(f.original.max(f.data.len() as u32));
        let start = c.info_text.len() as u32;
        c.info_text.push_str(&d.info);
        c.info_span.push((start, c.info_text.len() as u32));
    }

    fn finish(mut self, interfaces: usize) -> Capture {
        for link in std::mem::take(&mut self.unknown_links) {
            self.capture.warn(
                0,
                format!(
                    "link type {link} is not one Netsieve dissects (Ethernet, Linux cooked SLL/SLL2, raw IP, \
                     loopback): its packets are kept with their length and time only"
                ),
            );
        }
        if self.cut > 0 {
            self.capture.warn(
                0,
                format!(
                    "{} packets were cut by the capture's snapshot length: their lengths are the original ones, \
                     their Info is what the kept bytes show",
                    self.cut
                ),
            );
        }
        if let Some(info) = self.capture.container.as_mut() {
            info.interfaces = interfaces;
            info.cut_packets = self.cut;
        }
        self.capture.shrink();
        self.capture
    }
}

/// Reads a pcap or pcapng file (see the module docs).
pub fn parse(
    bytes: &[u8],
    container: Container,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<Capture, ParseError> {
    let mut b = Builder::new(container);
    let interfaces = match container {
        Container::Pcap => legacy(bytes, &mut b, progress)?,
        Container::PcapNg => pcapng(bytes, &mut b, progress)?,
    };
    Ok(b.finish(interfaces))
}

fn legacy(
    bytes: &[u8],
    b: &mut dyn Walker,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<usize, ParseError> {
    let (mut rest, header) = parse_pcap_header(bytes).map_err(|_| ParseError::Container {
        offset: 0,
        message: "the pcap file header (24 bytes) is incomplete or not a pcap header".into(),
    })?;
    let nanos = header.is_nanosecond_precision();
    let link = header.network;
    loop {
        let offset = bytes.len() - rest.len();
        if rest.is_empty() {
            return Ok(1);
        }
        let parsed = if header.is_bigendian() { parse_pcap_frame_be(rest) } else { parse_pcap_frame(rest) };
        match parsed {
            Ok((tail, frame)) => {
                let frac = i128::from(frame.ts_usec) * if nanos { 1 } else { 1_000 };
                let ns = i128::from(frame.ts_sec) * 1_000_000_000 + frac;
                b.frame(Frame { ns, link, data: frame.data, original: frame.origlen });
                rest = tail;
                if cancelled(b, offset, bytes.len(), progress) {
                    return Err(ParseError::Cancelled);
                }
            }
            Err(e) => {
                let no = b.frames() + 1;
                let what = match e {
                    nom::Err::Incomplete(_) => {
                        let caplen = rest.get(8..12).map(|s| {
                            let a: [u8; 4] = s.try_into().unwrap_or_default();
                            if header.is_bigendian() { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
                        });
                        match caplen {
                            Some(c) => format!(
                                "packet {no} is truncated: its record says {c} captured bytes, the file has {} after its 16-byte header",
                                rest.len().saturating_sub(16)
                            ),
                            None => format!(
                                "packet {no}'s record header is truncated ({} of 16 bytes)",
                                rest.len()
                            ),
                        }
                    }
                    _ => format!("packet {no}'s record does not parse"),
                };
                b.stopped(offset, what);
                return Ok(1);
            }
        }
    }
}

/// One interface of a pcapng section.
struct Interface {
    link: Linktype,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
    snaplen: u32,
}

fn pcapng(
    bytes: &[u8],
    b: &mut dyn Walker,
    progress: &mut dyn FnMut(f64) -> ControlFlow<()>,
) -> Result<usize, ParseError> {
    let (_, shb) = parse_sectionheaderblock(bytes).map_err(|_| ParseError::Container {
        offset: 0,
        message: "the pcapng section header block is incomplete or invalid".into(),
    })?;
    let mut big = shb.big_endian();
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut total_interfaces = 0;
    // Simple packet blocks carry no time: they sit at the previous packet's.
    let mut last_ns = 0i128;
    let mut rest = bytes;
    loop {
        let offset = bytes.len() - rest.len();
        if rest.is_empty() {
            return Ok(total_interfaces);
        }
        let parsed = if big { parse_block_be(rest) } else { parse_block_le(rest) };
        let (tail, block) = match parsed {
            Ok(ok) => ok,
            Err(e) => {
                b.stopped(offset, block_error(rest, big, e));
                return Ok(total_interfaces);
            }
        };
        match block {
            Block::SectionHeader(shb) => {
                big = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                total_interfaces += 1;
                let units = idb.ts_resolution().unwrap_or(1_000_000).max(1);
                interfaces.push(Interface {
                    link: idb.linktype,
                    units,
                    offset_s: idb.ts_offset(),
                    snaplen: idb.snaplen,
                });
            }
            Block::EnhancedPacket(epb) => {
                let Some(ifc) = interfaces.get(epb.if_id as usize) else {
                    b.stopped(
                        offset,
                        format!(
                            "an enhanced packet block names interface {} but the section describes {}",
                            epb.if_id,
                            interfaces.len()
                        ),
                    );
                    return Ok(total_interfaces);
                };
                let units = (u128::from(epb.ts_high) << 32) | u128::from(epb.ts_low);
                let ns = (units * 1_000_000_000 / u128::from(ifc.units)) as i128
                    + i128::from(ifc.offset_s) * 1_000_000_000;
                let data = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
                last_ns = ns;
                b.frame(Frame { ns, link: ifc.link, data, original: epb.origlen });
            }
            Block::SimplePacket(spb) => {
                let Some(ifc) = interfaces.first() else {
                    b.stopped(offset, "a simple packet block comes before any interface description".into());
                    return Ok(total_interfaces);
                };
                let keep = if ifc.snaplen == 0 {
                    spb.data.len()
                } else {
                    (ifc.snaplen as usize).min(spb.data.len())
                };
                let keep = keep.min(spb.origlen as usize);
                b.frame(Frame {
                    ns: last_ns,
                    link: ifc.link,
                    data: &spb.data[..keep],
                    original: spb.origlen,
                });
            }
            _ => {}
        }
        rest = tail;
        if cancelled(b, offset, bytes.len(), progress) {
            return Err(ParseError::Cancelled);
        }
    }
}

/// What is wrong with the block at the start of `rest`.
fn block_error(rest: &[u8], big: bool, e: nom::Err<PcapError<&[u8]>>) -> String {
    let word = |at: usize| {
        rest.get(at..at + 4).map(|s| {
            let a: [u8; 4] = s.try_into().unwrap_or_default();
            if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) }
        })
    };
    let kind = match word(0) {
        Some(0x0000_0006) => "enhanced packet block".to_string(),
        Some(0x0000_0003) => "simple packet block".to_string(),
        Some(0x0000_0001) => "interface description block".to_string(),
        Some(0x0a0d_0d0a) => "section header block".to_string(),
        Some(t) => format!("block of type 0x{t:08x}"),
        None => "block".to_string(),
    };
    match (e, word(4)) {
        (nom::Err::Incomplete(_), Some(len)) if len as usize > rest.len() => {
            format!("the {kind} is truncated: it says {len} bytes, the file has {} left", rest.len())
        }
        (nom::Err::Incomplete(_), _) => format!("the {kind} header is truncated ({} bytes left)", rest.len()),
        (_, Some(len)) if len < 12 || len % 4 != 0 => {
            format!("the {kind} has an impossible length ({len} bytes)")
        }
        (_, Some(len)) => format!(
            "the {kind} ({len} bytes) does not parse (its length fields disagree or its body is damaged)"
        ),
        (_, None) => format!("the {kind} does not parse"),
    }
}

/// Exports every packet of `capture`, read from the pcap or pcapng `bytes`, and reads the export
/// back: the same packets with the same frame lengths, or what differs. The fuzz target and its
/// regression test check it on every capture file.
pub fn check_export(bytes: &[u8], capture: &super::Capture) -> Result<(), String> {
    let all: std::collections::BTreeSet<u64> = (1..=capture.len() as u64).collect();
    let out = export_pcapng(bytes, &all).map_err(|e| format!("a pcap that reads does not export: {e}"))?;
    let back = super::parse(&out).map_err(|e| format!("the export does not read back: {e}"))?;
    if back.len() != capture.len() {
        return Err(format!("the export holds {} of {} packets", back.len(), capture.len()));
    }
    if back.length != capture.length {
        return Err("the export changed frame lengths".into());
    }
    Ok(())
}

/// Writes the packets numbered `keep` (1-based, file order) of a pcap or pcapng file as a
/// pcapng that Wireshark opens: one section, one interface per link type met (nanosecond
/// timestamps), each kept frame's bytes, capture time and original length unchanged. Packet
/// numbers are those of the analysis (the `No.` of the report).
pub fn export_pcapng(bytes: &[u8], keep: &std::collections::BTreeSet<u64>) -> Result<Vec<u8>, ParseError> {
    let container = Container::detect(bytes).ok_or_else(|| ParseError::Container {
        offset: 0,
        message: "only a pcap or pcapng input can be exported as pcapng".into(),
    })?;
    let mut w = Exporter { keep, seen: 0, out: Vec::new(), interfaces: Vec::new() };
    w.out.extend(ng_block(0x0a0d_0d0a, &{
        let mut b = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        b.extend_from_slice(&[1, 0, 0, 0]);
        b.extend_from_slice(&(-1i64).to_le_bytes());
        b.extend(ng_option(4, b"Netsieve"));
        b.extend_from_slice(&[0, 0, 0, 0]);
        b
    }));
    let mut none = |_| ControlFlow::Continue(());
    match container {
        Container::Pcap => legacy(bytes, &mut w, &mut none)?,
        Container::PcapNg => pcapng(bytes, &mut w, &mut none)?,
    };
    Ok(w.out)
}

struct Exporter<'k> {
    keep: &'k std::collections::BTreeSet<u64>,
    seen: usize,
    out: Vec<u8>,
    /// Link type of each interface written, in id order.
    interfaces: Vec<i32>,
}

impl Walker for Exporter<'_> {
    fn frame(&mut self, f: Frame<'_>) {
        self.seen += 1;
        if !self.keep.contains(&(self.seen as u64)) {
            return;
        }
        let id = match self.interfaces.iter().position(|&l| l == f.link.0) {
            Some(i) => i,
            None => {
                self.interfaces.push(f.link.0);
                let mut b = (f.link.0 as u16).to_le_bytes().to_vec();
                b.extend_from_slice(&[0, 0]);
                b.extend_from_slice(&0u32.to_le_bytes());
                b.extend(ng_option(9, &[9])); // if_tsresol: nanoseconds
                b.extend_from_slice(&[0, 0, 0, 0]);
                self.out.extend(ng_block(1, &b));
                self.interfaces.len() - 1
            }
        };
        let ts = f.ns.max(0) as u64;
        let mut b = (id as u32).to_le_bytes().to_vec();
        b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts as u32).to_le_bytes());
        b.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
        b.extend_from_slice(&f.original.max(f.data.len() as u32).to_le_bytes());
        b.extend_from_slice(f.data);
        self.out.extend(ng_block(6, &b));
    }

    fn frames(&self) -> usize {
        self.seen
    }

    fn stopped(&mut self, _offset: usize, _what: String) {}
}

/// A little-endian pcapng block: type, total length, body padded to 32 bits, total length.
fn ng_block(ty: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    let mut b = ty.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend(std::iter::repeat_n(0, pad));
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// A pcapng option: code, length, value padded to 32 bits.
fn ng_option(code: u16, value: &[u8]) -> Vec<u8> {
    let mut o = code.to_le_bytes().to_vec();
    o.extend_from_slice(&(value.len() as u16).to_le_bytes());
    o.extend_from_slice(value);
    o.extend(std::iter::repeat_n(0, (4 - value.len() % 4) % 4));
    o
}

#[cfg(test)]
mod tests;
