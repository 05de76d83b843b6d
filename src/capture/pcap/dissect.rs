//! One frame's bytes → the seven columns of a Wireshark CSV export: Source and Destination
//! (IP addresses, or MACs below IP, `Broadcast` for ff:ff:ff:ff:ff:ff), Protocol and Info written
//! the way Wireshark writes them for the common protocols, so that the contextual features read
//! a pcap as they read its CSV export: ARP, ICMP/ICMPv6 (echo, errors, Neighbor Discovery, MLD),
//! IPv4 fragments, TCP (flags, relative sequence numbers, scaled windows, options, the commonest
//! analysis tags), UDP, DNS/mDNS/LLMNR (with `simple-dns`), TLS records, QUIC long and short
//! headers, SSH, HTTP, DHCP, NTP, MQTT, NBNS, SNMP.
//!
//! Layers come from `etherparse`'s lax slicing (a packet cut by the snapshot length still shows
//! what its kept bytes hold). State is kept per conversation, as Wireshark keeps it: TCP
//! initial sequence numbers and window scales, TLS versions, SSH phases, QUIC connection-ID
//! lengths, IPv4 first fragments, ICMP echo requests.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, TcpOptionElement, TransportSlice};
use pcap_parser::Linktype;

/// Which link-layer framing a frame had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Ethernet,
    LinuxSll,
    LinuxSll2,
    RawIp,
    Loopback,
    Unknown,
}

/// A frame as the CSV columns show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Dissected {
    pub link: LinkKind,
    pub source: String,
    pub destination: String,
    pub protocol: String,
    pub info: String,
}

type Endpoint = (IpAddr, u16);

/// One direction of a TCP conversation.
#[derive(Debug, Clone, Default)]
struct TcpDir {
    isn: Option<u32>,
    /// Window scale shift announced in this direction's SYN.
    scale: Option<u8>,
    /// Highest sequence number sent so far (end of the last segment).
    next: Option<u32>,
    /// The last acknowledgment and (scaled) window this direction sent.
    last_ack: Option<u32>,
    last_win: Option<u32>,
    /// Bytes of the current TLS record still to come.
    tls_need: usize,
    tls_pending: Option<&'static str>,
    /// SSH: a NEWKEYS was sent, what follows is encrypted.
    ssh_encrypted: bool,
}

/// What the dissector remembers across frames.
#[derive(Debug, Default)]
pub struct Dissector {
    tcp: HashMap<(Endpoint, Endpoint), TcpDir>,
    /// The TLS version each conversation's Server Hello chose.
    tls_version: HashMap<(Endpoint, Endpoint), &'static str>,
    ssh_version_known: HashMap<(Endpoint, Endpoint), bool>,
    /// QUIC: DCID length of packets sent from the first endpoint to the second.
    quic_dcid: HashMap<(Endpoint, Endpoint), usize>,
    /// IPv4 first fragments: (src, dst, id) → the start of the reassembled payload.
    fragments: HashMap<(Ipv4Addr, Ipv4Addr, u16), Vec<u8>>,
    /// ICMP echo requests: (id, seq, requester, target) → frame number.
    echo: HashMap<(u16, u16, IpAddr, IpAddr), u64>,
    /// Bytes of the current frame the capture did not keep (snapshot length).
    cut: usize,
    /// ARP: the MAC each IPv4 address was first claimed by.
    arp_owner: HashMap<[u8; 4], Vec<u8>>,
    /// IPv6 first fragments: (src, dst, ident) → the start of the reassembled payload.
    fragments6: HashMap<(Ipv6Addr, Ipv6Addr, u32), Vec<u8>>,
    /// HTTP messages whose body (by Content-Length) continues in later segments: the bytes
    /// still to come and the message's Info, shown on the segment that completes it.
    http_body: HashMap<(Endpoint, Endpoint), (usize, String)>,
}

fn mac(b: &[u8]) -> String {
    if b.len() == 6 && b.iter().all(|&x| x == 0xff) {
        return "Broadcast".into();
    }
    let mut s = String::with_capacity(17);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The link layer: MACs when there are any, the ethertype and the bytes after it.
struct Link<'a> {
    kind: LinkKind,
    src: Option<String>,
    dst: Option<String>,
    ether_type: Option<u16>,
    rest: &'a [u8],
}

fn link(linktype: Linktype, data: &[u8]) -> Link<'_> {
    let unknown = Link { kind: LinkKind::Unknown, src: None, dst: None, ether_type: None, rest: data };
    match linktype.0 {
        1 if data.len() >= 14 => Link {
            kind: LinkKind::Ethernet,
            dst: Some(mac(&data[0..6])),
            src: Some(mac(&data[6..12])),
            ether_type: be16(data, 12),
            rest: &data[14..],
        },
        113 if data.len() >= 16 => {
            let alen = be16(data, 4).unwrap_or(0) as usize;
            Link {
                kind: LinkKind::LinuxSll,
                src: (alen == 6).then(|| mac(&data[6..12])),
                dst: None,
                ether_type: be16(data, 14),
                rest: &data[16..],
            }
        }
        276 if data.len() >= 20 => {
            let alen = data[11] as usize;
            Link {
                kind: LinkKind::LinuxSll2,
                src: (alen == 6).then(|| mac(&data[12..18])),
                dst: None,
                ether_type: be16(data, 0),
                rest: &data[20..],
            }
        }
        // Raw IP (101, 228 IPv4, 229 IPv6; 12 and 14 on some systems): the version nibble says.
        101 | 228 | 229 | 12 | 14 => {
            let et = match data.first().map(|b| b >> 4) {
                Some(4) => Some(0x0800),
                Some(6) => Some(0x86dd),
                _ => None,
            };
            Link { kind: LinkKind::RawIp, src: None, dst: None, ether_type: et, rest: data }
        }
        // BSD loopback: a 4-byte address family in host (0) or network (108) order.
        0 | 108 if data.len() >= 4 => {
            let fam = if linktype.0 == 0 {
                u32::from_le_bytes([data[0], data[1], data[2], data[3]])
                    .min(u32::from_be_bytes([data[0], data[1], data[2], data[3]]))
            } else {
                u32::from_be_bytes([data[0], data[1], data[2], data[3]])
            };
            let et = match fam {
                2 => Some(0x0800),
                10 | 24 | 28 | 30 => Some(0x86dd),
                _ => None,
            };
            Link { kind: LinkKind::Loopback, src: None, dst: None, ether_type: et, rest: &data[4..] }
        }
        _ => unknown,
    }
}

/// Wireshark's name for an IP protocol number.
fn ip_proto_name(n: u8) -> &'static str {
    match n {
        1 => "ICMP",
        2 => "IGMP",
        6 => "TCP",
        17 => "UDP",
        47 => "GRE",
        50 => "ESP",
        58 => "ICMPv6",
        132 => "SCTP",
        _ => "IP",
    }
}

impl Dissector {
    /// Dissects frame number `no`, of which the capture kept `data` and cut `cut` bytes.
    pub fn dissect(&mut self, no: u64, linktype: Linktype, data: &[u8], cut: usize) -> Dissected {
        self.cut = cut;
        let l = link(linktype, data);
        let mut d = Dissected {
            link: l.kind,
            source: l.src.clone().unwrap_or_default(),
            destination: l.dst.clone().unwrap_or_default(),
            protocol: String::new(),
            info: String::new(),
        };
        if l.kind == LinkKind::Unknown {
            d.protocol = format!("LINKTYPE_{}", linktype.0);
            d.info = format!("{} bytes of an undissected link type", data.len());
            return d;
        }
        let Some(et) = l.ether_type else {
            d.protocol = "Unknown".into();
            d.info = "no network layer".into();
            return d;
        };
        let p = LaxSlicedPacket::from_ether_type(EtherType(et), l.rest);
        // The innermost ethertype after VLAN tags.
        match &p.net {
            Some(LaxNetSlice::Arp(a)) => self.arp(a.slice(), &mut d),
            Some(LaxNetSlice::Ipv4(ip)) => {
                let h = ip.header();
                d.source = h.source_addr().to_string();
                d.destination = h.destination_addr().to_string();
                let pl = ip.payload();
                let (src, dst) = (h.source_addr(), h.destination_addr());
                let off = h.fragments_offset().value() as usize * 8;
                if pl.fragmented {
                    let key = (src, dst, h.identification());
                    if h.more_fragments() {
                        if off == 0 {
                            self.fragments.insert(key, pl.payload.iter().copied().take(64).collect());
                        }
                        d.protocol = "IPv4".into();
                        d.info = format!(
                            "Fragmented IP protocol (proto={} {}, off={off}, ID={:04x})",
                            ip_proto_name(pl.ip_number.0),
                            pl.ip_number.0,
                            h.identification()
                        );
                        return d;
                    }
                    // The last fragment: Wireshark shows the reassembled datagram here.
                    let first = self.fragments.remove(&key).unwrap_or_default();
                    self.reassembled(
                        no,
                        IpAddr::V4(src),
                        IpAddr::V4(dst),
                        pl.ip_number,
                        &first,
                        h.ttl(),
                        &mut d,
                    );
                    return d;
                }
                self.transport(no, &p, IpAddr::V4(src), IpAddr::V4(dst), pl.ip_number, h.ttl(), &mut d);
            }
            Some(LaxNetSlice::Ipv6(ip)) => {
                let h = ip.header();
                d.source = h.source_addr().to_string();
                d.destination = h.destination_addr().to_string();
                let pl = ip.payload();
                let (src, dst) = (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()));
                if pl.fragmented {
                    let Some((off, more, ident)) = fragment6(h.next_header().0, ip.extensions().slice())
                    else {
                        d.protocol = "IPv6".into();
                        d.info = format!("IPv6 fragment (nxt={})", pl.ip_number.0);
                        return d;
                    };
                    let key = (h.source_addr(), h.destination_addr(), ident);
                    if more {
                        if off == 0 {
                            self.fragments6.insert(key, pl.payload.iter().copied().take(64).collect());
                        }
                        d.protocol = "IPv6".into();
                        d.info = format!(
                            "IPv6 fragment (off={off} more=y ident=0x{ident:08x} nxt={})",
                            pl.ip_number.0
                        );
                        return d;
                    }
                    let first = self.fragments6.remove(&key).unwrap_or_default();
                    if pl.ip_number.0 == 58 {
                        d.protocol = "ICMPv6".into();
                        d.info = self.icmp6(no, &first, src, dst, h.hop_limit());
                    } else {
                        self.reassembled(no, src, dst, pl.ip_number, &first, h.hop_limit(), &mut d);
                    }
                    return d;
                }
                self.transport(no, &p, src, dst, pl.ip_number, h.hop_limit(), &mut d);
            }
            None => {
                d.protocol = match et {
                    0x88cc => "LLDP",
                    0x888e => "EAPOL",
                    0x8899 => "RRCP",
                    0x893a => "IEEE1905",
                    _ => "Ethernet",
                }
                .into();
                d.info = format!("Ethertype 0x{et:04x}");
            }
        }
        d
    }

    fn arp(&mut self, b: &[u8], d: &mut Dissected) {
        d.protocol = "ARP".into();
        let (Some(op), Some(hl), Some(pl)) = (be16(b, 6), b.get(4), b.get(5)) else {
            d.info = "[Malformed Packet]".into();
            return;
        };
        let (hl, pl) = (*hl as usize, *pl as usize);
        let at = |o: usize, n: usize| b.get(o..o + n);
        let (Some(sha), Some(spa), Some(tha), Some(tpa)) =
            (at(8, hl), at(8 + hl, pl), at(8 + hl + pl, hl), at(8 + 2 * hl + pl, pl))
        else {
            d.info = "[Malformed Packet]".into();
            return;
        };
        let ip = |a: &[u8]| <[u8; 4]>::try_from(a).map_or_else(|_| mac(a), |a| Ipv4Addr::from(a).to_string());
        let (sender, target) = (ip(spa), ip(tpa));
        // Wireshark remembers which MAC claimed an address and says when another one does.
        let duplicate = match <[u8; 4]>::try_from(spa) {
            Ok(a) if a != [0; 4] => match self.arp_owner.get(&a) {
                Some(owner) => owner.as_slice() != sha,
                None => {
                    self.arp_owner.insert(a, sha.to_vec());
                    false
                }
            },
            _ => false,
        };
        d.info = match op {
            1 if spa == tpa && tha.iter().all(|&x| x == 0) => format!("ARP Announcement for {sender}"),
            1 if spa == tpa => format!("Gratuitous ARP for {sender} (Request)"),
            1 if spa.iter().all(|&x| x == 0) => format!("Who has {target}? (ARP Probe)"),
            1 => format!("Who has {target}? Tell {sender}"),
            2 if spa == tpa => format!("Gratuitous ARP for {sender} (Reply)"),
            2 => format!("{sender} is at {}", mac(sha)),
            _ => format!("ARP opcode {op}"),
        };
        if duplicate {
            let _ = write!(d.info, " (duplicate use of {sender} detected!)");
        }
    }

    /// The last fragment of an IPv4 datagram whose first fragment began with `first`.
    #[allow(clippy::too_many_arguments)]
    fn reassembled(
        &mut self,
        no: u64,
        src: IpAddr,
        dst: IpAddr,
        proto: IpNumber,
        first: &[u8],
        ttl: u8,
        d: &mut Dissected,
    ) {
        match proto.0 {
            1 => {
                d.protocol = "ICMP".into();
                d.info = self.icmp4(no, first, src, dst, ttl);
            }
            17 | 6 if first.len() >= 4 => {
                d.protocol = ip_proto_name(proto.0).into();
                d.info = format!("{}  >  {}", be16(first, 0).unwrap_or(0), be16(first, 2).unwrap_or(0));
            }
            n => {
                d.protocol = ip_proto_name(n).into();
                d.info = format!("{} (reassembled)", ip_proto_name(n));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transport(
        &mut self,
        no: u64,
        p: &LaxSlicedPacket<'_>,
        src: IpAddr,
        dst: IpAddr,
        proto: IpNumber,
        ttl: u8,
        d: &mut Dissected,
    ) {
        match &p.transport {
            Some(TransportSlice::Tcp(t)) => self.tcp(t, src, dst, d),
            Some(TransportSlice::Udp(u)) => {
                let len =
                    if self.cut > 0 { usize::from(u.length()).saturating_sub(8) } else { u.payload().len() };
                self.udp(u.source_port(), u.destination_port(), u.payload(), len, src, dst, d)
            }
            Some(TransportSlice::Icmpv4(i)) => {
                d.protocol = "ICMP".into();
                d.info = self.icmp4(no, i.slice(), src, dst, ttl);
            }
            Some(TransportSlice::Icmpv6(i)) => {
                d.protocol = "ICMPv6".into();
                d.info = self.icmp6(no, i.slice(), src, dst, ttl);
            }
            None => {
                d.protocol = ip_proto_name(proto.0).into();
                if d.protocol == "IP" {
                    d.protocol = if src.is_ipv4() { "IPv4" } else { "IPv6" }.into();
                }
                d.info = match (&p.stop_err, proto.0) {
                    (Some(_), 6 | 17 | 1 | 58) => {
                        format!("[Malformed or cut {} header]", ip_proto_name(proto.0))
                    }
                    (_, 2) => "Membership Report / Query".into(),
                    _ => format!("IP protocol {}", proto.0),
                };
            }
        }
    }

    fn icmp4(&mut self, no: u64, b: &[u8], src: IpAddr, dst: IpAddr, ttl: u8) -> String {
        let (Some(&ty), Some(&code)) = (b.first(), b.get(1)) else { return "[Malformed Packet]".into() };
        let (id, seq) = (be16(b, 4).unwrap_or(0), be16(b, 6).unwrap_or(0));
        match ty {
            8 => {
                self.echo.insert((id, seq, src, dst), no);
                format!("Echo (ping) request  id=0x{id:04x}, seq={seq}/{}, ttl={ttl}", seq.swap_bytes())
            }
            0 => {
                let req = self
                    .echo
                    .get(&(id, seq, dst, src))
                    .map_or_else(String::new, |r| format!(" (request in {r})"));
                format!("Echo (ping) reply    id=0x{id:04x}, seq={seq}/{}, ttl={ttl}{req}", seq.swap_bytes())
            }
            3 => format!("Destination unreachable ({})", unreachable4(code)),
            11 => format!(
                "Time-to-live exceeded ({})",
                if code == 0 {
                    "Time to live exceeded in transit"
                } else {
                    "Fragment reassembly time exceeded"
                }
            ),
            5 => "Redirect".into(),
            13 => "Timestamp request".into(),
            14 => "Timestamp reply".into(),
            _ => format!("Type {ty}, code {code}"),
        }
    }

    fn icmp6(&mut self, no: u64, b: &[u8], src: IpAddr, dst: IpAddr, hops: u8) -> String {
        let (Some(&ty), Some(&code)) = (b.first(), b.get(1)) else { return "[Malformed Packet]".into() };
        let (id, seq) = (be16(b, 4).unwrap_or(0), be16(b, 6).unwrap_or(0));
        let target =
            || b.get(8..24).and_then(|t| <[u8; 16]>::try_from(t).ok()).map(|t| Ipv6Addr::from(t).to_string());
        // Link-layer address options (type 1 source, 2 target) after `from`.
        let lladdr = |from: usize| {
            let mut at = from;
            while let (Some(&t), Some(&len)) = (b.get(at), b.get(at + 1)) {
                if len == 0 {
                    break;
                }
                if (t == 1 || t == 2) && len == 1 {
                    return b.get(at + 2..at + 8).map(mac);
                }
                at += len as usize * 8;
            }
            None
        };
        match ty {
            128 => {
                self.echo.insert((id, seq, src, dst), no);
                format!("Echo (ping) request id=0x{id:04x}, seq={seq}, hop limit={hops}")
            }
            129 => {
                let req = self
                    .echo
                    .get(&(id, seq, dst, src))
                    .map_or_else(String::new, |r| format!(" (request in {r})"));
                format!("Echo (ping) reply id=0x{id:04x}, seq={seq}, hop limit={hops}{req}")
            }
            1 => format!("Destination Unreachable ({})", unreachable6(code)),
            2 => "Packet Too Big".into(),
            3 => "Time Exceeded (hop limit exceeded in transit)".into(),
            130 => "Multicast Listener Query".into(),
            131 => "Multicast Listener Report".into(),
            132 => "Multicast Listener Done".into(),
            143 => "Multicast Listener Report Message v2".into(),
            133 => match lladdr(8) {
                Some(m) => format!("Router Solicitation from {m}"),
                None => "Router Solicitation".into(),
            },
            134 => match lladdr(16) {
                Some(m) => format!("Router Advertisement from {m}"),
                None => "Router Advertisement".into(),
            },
            135 => {
                let t = target().unwrap_or_default();
                match lladdr(24) {
                    Some(m) => format!("Neighbor Solicitation for {t} from {m}"),
                    None => format!("Neighbor Solicitation for {t}"),
                }
            }
            136 => {
                let t = target().unwrap_or_default();
                let flags = b.get(4).copied().unwrap_or(0);
                let names: Vec<&str> = [(0x80, "rtr"), (0x40, "sol"), (0x20, "ovr")]
                    .iter()
                    .filter(|(bit, _)| flags & bit != 0)
                    .map(|(_, n)| *n)
                    .collect();
                let mut s = format!("Neighbor Advertisement {t}");
                if !names.is_empty() {
                    let _ = write!(s, " ({})", names.join(", "));
                }
                if let Some(m) = lladdr(24) {
                    let _ = write!(s, " is at {m}");
                }
                s
            }
            137 => "Redirect".into(),
            _ => format!("Unknown ICMPv6 type {ty} code {code}"),
        }
    }

    fn tcp(&mut self, t: &etherparse::TcpSlice<'_>, src: IpAddr, dst: IpAddr, d: &mut Dissected) {
        let (sp, dp) = (t.source_port(), t.destination_port());
        let key = ((src, sp), (dst, dp));
        let back = ((dst, dp), (src, sp));
        let payload = t.payload();
        // Its length on the wire: what the capture kept plus what it cut.
        let len = (payload.len() + self.cut) as u32;
        let seq = t.sequence_number();
        let mut opts: Vec<String> = Vec::new();
        let mut scale = None;
        for o in t.options_iterator().flatten() {
            match o {
                TcpOptionElement::MaximumSegmentSize(m) => opts.push(format!("MSS={m}")),
                TcpOptionElement::SelectiveAcknowledgementPermitted => opts.push("SACK_PERM".into()),
                TcpOptionElement::Timestamp(a, b) => opts.push(format!("TSval={a} TSecr={b}")),
                TcpOptionElement::WindowScale(s) => {
                    scale = Some(s);
                    opts.push(format!("WS={}", 1u32 << s.min(14)));
                }
                TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                    for (l, r) in std::iter::once(first).chain(rest.iter().flatten().copied()) {
                        let base = self.tcp.get(&back).and_then(|b| b.isn).unwrap_or(0);
                        opts.push(format!("SLE={} SRE={}", l.wrapping_sub(base), r.wrapping_sub(base)));
                    }
                }
                TcpOptionElement::Noop => {}
            }
        }
        if t.syn() {
            let dir = self.tcp.entry(key).or_default();
            dir.isn = Some(seq);
            dir.scale = scale;
            dir.next = Some(seq.wrapping_add(1));
            dir.tls_need = 0;
            dir.ssh_encrypted = false;
            self.tls_version.remove(&key);
            self.tls_version.remove(&back);
        }
        let (back_isn, back_edge) = match self.tcp.get(&back) {
            Some(b) => (b.isn, b.last_ack.zip(b.last_win).map(|(a, w)| a.wrapping_add(w))),
            None => (None, None),
        };
        let both_scaled = self.tcp.get(&back).is_some_and(|b| b.scale.is_some());
        let dir = self.tcp.entry(key).or_default();
        let isn = *dir.isn.get_or_insert(seq.wrapping_sub(1));
        let rel = seq.wrapping_sub(isn);
        let win = if !t.syn() && both_scaled {
            u32::from(t.window_size()) << dir.scale.unwrap_or(0).min(14)
        } else {
            u32::from(t.window_size())
        };
        let plain = !t.syn() && !t.fin() && !t.rst();
        let retransmission = len > 0
            && !t.syn()
            && dir.next.is_some_and(|next| (seq.wrapping_add(len).wrapping_sub(next) as i32) <= 0);
        let mut tags = Vec::new();
        if retransmission {
            tags.push("[TCP Retransmission]");
        } else if len > 0 && back_edge == Some(seq.wrapping_add(len)) {
            tags.push("[TCP Window Full]");
        }
        if t.window_size() == 0 && plain {
            tags.push("[TCP ZeroWindow]");
        } else if len == 0
            && plain
            && t.ack()
            && dir.next == Some(seq)
            && dir.last_ack == Some(t.acknowledgment_number())
            && dir.last_win.is_some_and(|w| w != win)
        {
            tags.push("[TCP Window Update]");
        }
        let end = seq.wrapping_add(len).wrapping_add(u32::from(t.syn() || t.fin()));
        if dir.next.is_none_or(|n| (end.wrapping_sub(n) as i32) > 0) {
            dir.next = Some(end);
        }
        if t.ack() {
            dir.last_ack = Some(t.acknowledgment_number());
            dir.last_win = Some(win);
        }
        let mut flags = Vec::new();
        for (on, name) in [
            (t.fin(), "FIN"),
            (t.syn(), "SYN"),
            (t.rst(), "RST"),
            (t.psh(), "PSH"),
            (t.ack(), "ACK"),
            (t.urg(), "URG"),
            (t.ece(), "ECE"),
            (t.cwr(), "CWR"),
        ] {
            if on {
                flags.push(name);
            }
        }
        let mut info = String::new();
        for tag in &tags {
            info.push_str(tag);
            info.push(' ');
        }
        let _ = write!(info, "{sp}  >  {dp} [{}] Seq={rel}", flags.join(", "));
        if t.ack() {
            let _ = write!(info, " Ack={}", t.acknowledgment_number().wrapping_sub(back_isn.unwrap_or(0)));
        }
        let _ = write!(info, " Win={win} Len={len}");
        for o in &opts {
            info.push(' ');
            info.push_str(o);
        }
        d.protocol = "TCP".into();
        d.info = info;
        if payload.is_empty() || retransmission {
            return;
        }
        let full = tags.contains(&"[TCP Window Full]");
        self.tcp_app(sp, dp, key, back, payload, d);
        // Wireshark writes the tag where the application's text begins.
        if full && d.protocol != "TCP" {
            d.info = match d.info.split_once(": ") {
                Some((side, rest)) if d.protocol.starts_with("SSH") => {
                    format!("{side}: [TCP Window Full] {rest}")
                }
                _ => format!("[TCP Window Full] , {}", d.info),
            };
        } else if full && d.info == "[TCP segment of a reassembled PDU]" {
            d.info = "[TCP Window Full]  [TCP segment of a reassembled PDU]".into();
        }
    }

    /// What a TCP segment's payload is, by port and content.
    fn tcp_app(
        &mut self,
        sp: u16,
        dp: u16,
        key: (Endpoint, Endpoint),
        back: (Endpoint, Endpoint),
        payload: &[u8],
        d: &mut Dissected,
    ) {
        let has = |p: u16| sp == p || dp == p;
        if has(22) || payload.starts_with(b"SSH-") {
            self.ssh(
                dp == 22 || (sp != 22 && payload.starts_with(b"SSH-") && dp < sp),
                key,
                back,
                payload,
                d,
            );
            return;
        }
        if has(1883) && !payload.is_empty() {
            d.protocol = "MQTT".into();
            d.info = mqtt(payload);
            return;
        }
        if has(80)
            || has(8080)
            || payload.starts_with(b"HTTP/")
            || http_method(payload)
            || self.http_body.contains_key(&key)
        {
            if http_method(payload) || payload.starts_with(b"HTTP/") {
                self.http_body.remove(&key);
                d.protocol = "HTTP".into();
                d.info = http_line(payload);
                // Headers complete, body shorter than its Content-Length: Wireshark shows the
                // message on the segment that completes it, this one as a segment of it.
                if let Some((body_here, length)) = http_body(payload)
                    && body_here < length
                {
                    let first = d.info.split("  (").next().unwrap_or_default().to_string();
                    let done = std::mem::replace(
                        &mut d.info,
                        format!("{first}  [TCP segment of a reassembled PDU]"),
                    );
                    d.protocol = "TCP".into();
                    self.http_body.insert(key, (length - body_here, done));
                }
            } else if let Some((left, _)) = self.http_body.get_mut(&key) {
                *left = left.saturating_sub(payload.len());
                if *left == 0 {
                    let (_, done) = self.http_body.remove(&key).unwrap_or_default();
                    d.protocol = "HTTP".into();
                    d.info = done;
                } else {
                    d.info = "[TCP segment of a reassembled PDU]".into();
                }
            }
            return;
        }
        if let Some(names) = self.tls(key, payload) {
            let version = self.tls_version.get(&key).or_else(|| self.tls_version.get(&back)).copied();
            let record = record_version(payload);
            d.protocol = version.or(record).unwrap_or("TLSv1.2").into();
            if names.is_empty() {
                d.protocol = "TCP".into();
                d.info = "[TCP segment of a reassembled PDU]".into();
            } else {
                d.info = names.join(", ");
            }
        } else if has(53) {
            // DNS over TCP: a two-byte length first.
            if let Some(msg) = payload.get(2..) {
                d.protocol = "DNS".into();
                d.info = dns(msg, false);
            }
        }
    }

    /// TLS records in a segment: `None` when this is not TLS, else the names of the records
    /// that end in it (empty: the segment is the middle of a record).
    fn tls(&mut self, key: (Endpoint, Endpoint), p: &[u8]) -> Option<Vec<&'static str>> {
        let known = self.tls_version.contains_key(&key)
            || self.tls_version.contains_key(&(key.1, key.0))
            || self.tcp.get(&key).is_some_and(|d| d.tls_need > 0);
        if !known && !is_tls_record(p) {
            return None;
        }
        let mut names = Vec::new();
        let mut pos = 0usize;
        let mut version = None;
        // Records are counted over the segment's real length; headers read where kept.
        let real = p.len() + self.cut;
        {
            let dir = self.tcp.entry(key).or_default();
            if dir.tls_need > 0 {
                let take = dir.tls_need.min(real);
                dir.tls_need -= take;
                pos = take;
                if dir.tls_need == 0 {
                    names.extend(dir.tls_pending.take());
                }
            }
        }
        while pos + 5 <= p.len() && is_tls_record(&p[pos..]) {
            let ty = p[pos];
            let len = be16(p, pos + 3).unwrap_or(0) as usize;
            let body = &p[pos + 5..(pos + 5 + len).min(p.len())];
            let name = match ty {
                20 => "Change Cipher Spec",
                21 => "Encrypted Alert",
                23 => "Application Data",
                _ => match body.first() {
                    Some(1) => "Client Hello",
                    Some(2) => {
                        version = Some(server_hello_version(body));
                        "Server Hello"
                    }
                    Some(4) => "New Session Ticket",
                    Some(11) => "Certificate",
                    Some(12) => "Server Key Exchange",
                    Some(14) => "Server Hello Done",
                    Some(16) => "Client Key Exchange",
                    _ => "Encrypted Handshake Message",
                },
            };
            // A handshake record can hold several messages (Server Hello, Certificate, …).
            if ty == 22 && name != "Encrypted Handshake Message" && pos + 5 + len <= real {
                let mut at = 0;
                while at + 4 <= body.len() {
                    let mlen =
                        (usize::from(body[at + 1]) << 16) | usize::from(be16(body, at + 2).unwrap_or(0));
                    names.push(match body[at] {
                        1 => "Client Hello",
                        2 => "Server Hello",
                        4 => "New Session Ticket",
                        11 => "Certificate",
                        12 => "Server Key Exchange",
                        13 => "Certificate Request",
                        14 => "Server Hello Done",
                        16 => "Client Key Exchange",
                        _ => "Encrypted Handshake Message",
                    });
                    at += 4 + mlen;
                }
            } else if pos + 5 + len <= real {
                names.push(name);
            } else {
                let dir = self.tcp.entry(key).or_default();
                dir.tls_need = pos + 5 + len - real;
                dir.tls_pending = Some(name);
            }
            pos += 5 + len;
        }
        // The kept bytes ended before the segment did, past the last record boundary we know:
        // resynchronise on the next segment that starts with a record header.
        if pos < real && pos >= p.len() && self.cut > 0 {
            let dir = self.tcp.entry(key).or_default();
            dir.tls_need = 0;
            dir.tls_pending = None;
        }
        if let Some(v) = version {
            self.tls_version.insert(key, v);
        }
        Some(names)
    }

    fn ssh(
        &mut self,
        from_client: bool,
        key: (Endpoint, Endpoint),
        back: (Endpoint, Endpoint),
        p: &[u8],
        d: &mut Dissected,
    ) {
        let side = if from_client { "Client" } else { "Server" };
        if p.starts_with(b"SSH-") {
            let known = self.ssh_version_known.get(&back).copied().unwrap_or(false);
            self.ssh_version_known.insert(key, true);
            d.protocol = if known { "SSHv2" } else { "SSH" }.into();
            let line = p.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or(&[]);
            d.info = format!("{side}: Protocol ({})", String::from_utf8_lossy(&line[..line.len().min(200)]));
            return;
        }
        d.protocol = "SSHv2".into();
        let dir = self.tcp.entry(key).or_default();
        if dir.ssh_encrypted {
            d.info = format!("{side}: ");
            return;
        }
        let mut names = Vec::new();
        let mut at = 0;
        while at + 6 <= p.len() {
            let len = be32(p, at).unwrap_or(0) as usize;
            let name = match p[at + 5] {
                20 => "Key Exchange Init",
                21 => "New Keys",
                30 => "Diffie-Hellman Key Exchange Init",
                31 => "Diffie-Hellman Key Exchange Reply",
                _ => break,
            };
            names.push(name);
            if name == "New Keys" {
                dir.ssh_encrypted = true;
                break;
            }
            at += 4 + len;
        }
        d.info = format!("{side}: {}", names.join(", "));
    }

    #[allow(clippy::too_many_arguments)]
    fn udp(&mut self, sp: u16, dp: u16, p: &[u8], len: usize, src: IpAddr, dst: IpAddr, d: &mut Dissected) {
        let has = |x: u16| sp == x || dp == x;
        d.protocol = "UDP".into();
        d.info = format!("{sp}  >  {dp} Len={len}");
        if has(53) || has(5353) || has(5355) {
            let mdns = has(5353) && !has(53);
            d.protocol = if has(53) {
                "DNS"
            } else if mdns {
                "MDNS"
            } else {
                "LLMNR"
            }
            .into();
            d.info = dns(p, mdns);
        } else if (has(443) || has(4433) || has(8443)) && p.first().is_some_and(|b| b & 0x40 != 0) {
            d.protocol = "QUIC".into();
            d.info = self.quic(p, (src, sp), (dst, dp));
        } else if has(123) && p.len() >= 48 {
            let v = (p[0] >> 3) & 7;
            let mode = match p[0] & 7 {
                1 => "symmetric active",
                2 => "symmetric passive",
                3 => "client",
                4 => "server",
                5 => "broadcast",
                _ => "reserved",
            };
            d.protocol = "NTP".into();
            d.info = format!("NTP Version {v}, {mode}");
        } else if (has(67) || has(68)) && p.len() >= 240 {
            d.protocol = "DHCP".into();
            let xid = be32(p, 4).unwrap_or(0);
            d.info = format!("DHCP {:<9}- Transaction ID 0x{xid:x}", dhcp_type(p));
        } else if has(137) && p.len() >= 12 {
            d.protocol = "NBNS".into();
            d.info = nbns(p);
        } else if has(161) || has(162) {
            d.protocol = "SNMP".into();
            d.info = "get-request".into();
        } else if has(1900) {
            d.protocol = "SSDP".into();
            d.info = http_line(p);
        }
    }

    /// A QUIC datagram: its packets' headers (long: type and connection IDs; short: the DCID,
    /// whose length the connection's long headers taught). Like Wireshark on packets it cannot
    /// decrypt, Info shows the datagram's last packet.
    fn quic(&mut self, p: &[u8], from: Endpoint, to: Endpoint) -> String {
        let hex = |b: &[u8]| {
            b.iter().fold(String::new(), |mut s, x| {
                let _ = write!(s, "{x:02x}");
                s
            })
        };
        let mut at = 0;
        let mut info = String::from("[Malformed Packet]");
        while at < p.len() {
            let q = &p[at..];
            // Padding (zeros) after the last packet: no fixed bit.
            if q[0] & 0x40 == 0 {
                break;
            }
            if q[0] & 0x80 == 0 {
                info = match self.quic_dcid.get(&(from, to)) {
                    Some(&n) if n > 0 => {
                        format!("Protected Payload (KP0), DCID={}", hex(q.get(1..1 + n).unwrap_or(&[])))
                    }
                    _ => "Protected Payload (KP0)".into(),
                };
                break;
            }
            let ty = (q[0] >> 4) & 3;
            let kind = match ty {
                0 => "Initial",
                1 => "0-RTT",
                2 => "Handshake",
                _ => "Retry",
            };
            let Some(&dl) = q.get(5) else { break };
            let dcid = q.get(6..6 + dl as usize).unwrap_or(&[]);
            let mut o = 6 + dl as usize;
            let sl = q.get(o).copied().unwrap_or(0) as usize;
            let scid = q.get(o + 1..o + 1 + sl).unwrap_or(&[]);
            o += 1 + sl;
            // The peer will address this endpoint by its SCID.
            self.quic_dcid.insert((to, from), scid.len());
            self.quic_dcid.insert((from, to), dcid.len());
            info = format!("{kind}, DCID={}, SCID={}", hex(dcid), hex(scid));
            if ty == 3 {
                break;
            }
            if ty == 0 {
                let Some((token, n)) = varint(q, o) else { break };
                o += n + token as usize;
            }
            let Some((len, n)) = varint(q, o) else { break };
            at += o + n + len as usize;
        }
        info
    }
}

/// A QUIC variable-length integer at `at`: its value and its size.
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let first = *b.get(at)?;
    let n = 1usize << (first >> 6);
    let mut v = u64::from(first & 0x3f);
    for i in 1..n {
        v = (v << 8) | u64::from(*b.get(at + i)?);
    }
    Some((v, n))
}

/// The fragment header among IPv6 extension headers: (offset in bytes, more fragments, ident).
fn fragment6(mut next: u8, exts: &[u8]) -> Option<(usize, bool, u32)> {
    let mut at = 0;
    loop {
        match next {
            44 => {
                let word = be16(exts, at + 2)?;
                return Some((usize::from(word & 0xfff8), word & 1 == 1, be32(exts, at + 4)?));
            }
            0 | 43 | 60 => {
                next = *exts.get(at)?;
                at += (usize::from(*exts.get(at + 1)?) + 1) * 8;
            }
            51 => {
                next = *exts.get(at)?;
                at += (usize::from(*exts.get(at + 1)?) + 2) * 4;
            }
            _ => return None,
        }
    }
}

fn unreachable4(code: u8) -> &'static str {
    match code {
        0 => "Network unreachable",
        1 => "Host unreachable",
        2 => "Protocol unreachable",
        3 => "Port unreachable",
        4 => "Fragmentation needed",
        9 | 10 | 13 => "Communication administratively filtered",
        _ => "Unreachable",
    }
}

fn unreachable6(code: u8) -> &'static str {
    match code {
        0 => "no route to destination",
        1 => "communication with destination administratively prohibited",
        3 => "Address unreachable",
        4 => "Port unreachable",
        _ => "unreachable",
    }
}

fn is_tls_record(p: &[u8]) -> bool {
    p.len() >= 5 && (20..=23).contains(&p[0]) && p[1] == 3 && p[2] <= 4
}

fn record_version(p: &[u8]) -> Option<&'static str> {
    if !is_tls_record(p) {
        return None;
    }
    Some(match p[2] {
        0 => "SSLv3",
        1 => "TLSv1",
        2 => "TLSv1.1",
        3 => "TLSv1.2",
        _ => "TLSv1.3",
    })
}

/// The version a Server Hello chose: `supported_versions` (TLS 1.3) or its legacy field.
fn server_hello_version(h: &[u8]) -> &'static str {
    let legacy = match be16(h, 4) {
        Some(0x0301) => "TLSv1",
        Some(0x0302) => "TLSv1.1",
        Some(0x0300) => "SSLv3",
        _ => "TLSv1.2",
    };
    // type(1) len(3) version(2) random(32) session_id(1+n) cipher(2) compression(1) extensions(2+…)
    let Some(&sid) = h.get(38) else { return legacy };
    let mut at = 39 + sid as usize + 3;
    let Some(ext_len) = be16(h, at) else { return legacy };
    at += 2;
    let end = (at + ext_len as usize).min(h.len());
    while at + 4 <= end {
        let (ty, len) = (be16(h, at).unwrap_or(0), be16(h, at + 2).unwrap_or(0) as usize);
        if ty == 0x002b && be16(h, at + 4) == Some(0x0304) {
            return "TLSv1.3";
        }
        at += 4 + len;
    }
    legacy
}

/// An HTTP message's first line as Wireshark shows it: requests end with a space (the line
/// break), responses name their content type.
fn http_line(p: &[u8]) -> String {
    let text = String::from_utf8_lossy(&p[..p.len().min(4096)]);
    let mut lines = text.split("\r\n");
    let first: String = lines.next().unwrap_or("").chars().take(200).collect();
    if !first.starts_with("HTTP/") {
        return format!("{first} ");
    }
    let ty = lines
        .find_map(|l| {
            l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim())
        })
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
    match ty {
        Some(t) => format!("{first}  ({t})"),
        None => first,
    }
}

/// Body bytes in this segment and the message's Content-Length, when its headers end here.
fn http_body(p: &[u8]) -> Option<(usize, usize)> {
    let end = p.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let headers = std::str::from_utf8(&p[..end]).ok()?;
    let length = headers.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
    })?;
    Some((p.len() - end, length))
}

fn http_method(p: &[u8]) -> bool {
    [
        &b"GET "[..],
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"M-SEARCH ",
        b"NOTIFY ",
    ]
    .iter()
    .any(|m| p.starts_with(m))
}

fn mqtt(p: &[u8]) -> String {
    match p[0] >> 4 {
        1 => "Connect Command".into(),
        2 => "Connect Ack".into(),
        3 => {
            // Remaining length (variable), then the topic (2-byte length).
            let mut at = 1;
            while p.get(at).is_some_and(|b| b & 0x80 != 0) {
                at += 1;
            }
            at += 1;
            let tl = be16(p, at).unwrap_or(0) as usize;
            let topic = p.get(at + 2..at + 2 + tl).map(String::from_utf8_lossy).unwrap_or_default();
            format!("Publish Message [{topic}]")
        }
        4 => "Publish Ack".into(),
        8 => "Subscribe Request".into(),
        9 => "Subscribe Ack".into(),
        12 => "Ping Request".into(),
        13 => "Ping Response".into(),
        14 => "Disconnect Req".into(),
        _ => "MQTT".into(),
    }
}

/// "Name query NB NAME<1c>": the first question's type and its decoded NetBIOS name.
fn nbns(p: &[u8]) -> String {
    let what = if p[2] & 0x80 != 0 { "Name query response" } else { "Name query" };
    let Some(encoded) = p.get(13..45).filter(|_| p.get(12) == Some(&32)) else { return what.into() };
    let bytes: Vec<u8> = encoded
        .chunks(2)
        .map(|c| ((c[0].wrapping_sub(b'A')) << 4) | (c[1].wrapping_sub(b'A') & 0xf))
        .collect();
    let mut name = String::new();
    let body = &bytes[..15];
    let trimmed = body.iter().rposition(|&b| b != b' ').map_or(&body[..0], |i| &body[..=i]);
    for &b in trimmed {
        if b.is_ascii_graphic() {
            name.push(b as char);
        } else {
            let _ = write!(name, "<{b:02x}>");
        }
    }
    let _ = write!(name, "<{:02x}>", bytes[15]);
    let ty = match be16(p, 46) {
        Some(0x20) => "NB",
        Some(0x21) => "NBSTAT",
        _ => "Unknown",
    };
    format!("{what} {ty} {name}")
}

fn dhcp_type(p: &[u8]) -> &'static str {
    let mut at = 240;
    while let (Some(&code), Some(&len)) = (p.get(at), p.get(at + 1)) {
        if code == 255 {
            break;
        }
        if code == 53 {
            return match p.get(at + 2) {
                Some(1) => "Discover",
                Some(2) => "Offer",
                Some(3) => "Request",
                Some(4) => "Decline",
                Some(5) => "ACK",
                Some(6) => "NAK",
                Some(7) => "Release",
                Some(8) => "Inform",
                _ => "Unknown",
            };
        }
        at += 2 + len as usize;
    }
    "Unknown"
}

/// A DNS message that does not parse whole (cut by the snapshot length, or damaged): its
/// header and first question, read label by label, as far as the bytes go.
fn dns_cut(msg: &[u8]) -> String {
    let Some(id) = be16(msg, 0) else { return "[Malformed Packet]".into() };
    let response = msg.get(2).is_some_and(|b| b & 0x80 != 0);
    let mut s = format!("Standard query {}0x{id:04x}", if response { "response " } else { "" });
    let mut at = 12;
    let mut name = String::new();
    while let Some(&len) = msg.get(at) {
        if len == 0 || len & 0xc0 != 0 {
            break;
        }
        let Some(label) = msg.get(at + 1..at + 1 + len as usize) else { break };
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&String::from_utf8_lossy(label));
        at += 1 + len as usize;
    }
    match (msg.get(at) == Some(&0)).then(|| be16(msg, at + 1)).flatten() {
        Some(t) => {
            let _ = write!(s, " {} {name}", dns_type(t));
        }
        None if !name.is_empty() => {
            let _ = write!(s, " {name}");
        }
        None => {}
    }
    s.push_str(" [Malformed Packet]");
    s
}

/// Wireshark's name for a DNS record type.
fn dns_type(t: u16) -> String {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        _ => return format!("Unknown ({t})"),
    }
    .to_string()
}

fn rcode_text(r: simple_dns::RCODE) -> Option<&'static str> {
    use simple_dns::RCODE;
    match r {
        RCODE::NoError => None,
        RCODE::FormatError => Some("Format error"),
        RCODE::ServerFailure => Some("Server failure"),
        RCODE::NameError => Some("No such name"),
        RCODE::NotImplemented => Some("Not implemented"),
        RCODE::Refused => Some("Refused"),
        _ => Some("Unknown error"),
    }
}

/// Whether the header's record counts can fit the message: a question takes at least 5 bytes
/// (root name, type, class), a resource record 11. simple-dns reserves room for every counted
/// record before reading one, so a 12-byte header claiming 4 × 65,535 records would make it
/// allocate 37 MB; such a message is malformed and read as far as it goes instead.
fn dns_counts_fit(msg: &[u8]) -> bool {
    let count = |at| be16(msg, at).map_or(0, usize::from);
    let need = 12 + 5 * count(4) + 11 * (count(6) + count(8) + count(10));
    need <= msg.len()
}

/// A DNS message as Wireshark's Info shows it: "Standard query 0x1a2b A name" or "Standard query
/// response 0x1a2b [error] A name A 192.0.2.1 …".
fn dns(msg: &[u8], mdns: bool) -> String {
    use simple_dns::rdata::RData;
    use simple_dns::{Packet, PacketFlag, QTYPE};
    if !dns_counts_fit(msg) {
        return dns_cut(msg);
    }
    let Ok(p) = Packet::parse(msg) else { return dns_cut(msg) };
    let response = p.has_flags(PacketFlag::RESPONSE);
    let op = match (msg.get(2).map(|b| (b >> 3) & 0xf), response) {
        (Some(0), _) => "Standard query",
        (Some(1), _) => "Inverse query",
        (Some(2), _) => "Server status request",
        (Some(4), _) => "Zone change notification",
        (Some(5), _) => "Dynamic update",
        _ => "Unknown operation",
    };
    let mut s =
        format!("{op} {}0x{:04x}", if response && op == "Standard query" { "response " } else { "" }, p.id());
    if response && let Some(e) = rcode_text(p.rcode()) {
        let _ = write!(s, " {e}");
    }
    for q in &p.questions {
        let t = match q.qtype {
            QTYPE::TYPE(t) => dns_type(u16::from(t)),
            QTYPE::ANY => "ANY".into(),
            QTYPE::AXFR => "AXFR".into(),
            QTYPE::IXFR => "IXFR".into(),
            _ => "Unknown".into(),
        };
        let _ = write!(s, " {t} {}", q.qname);
        if mdns && !response {
            s.push_str(if q.unicast_response { ", \"QU\" question" } else { ", \"QM\" question" });
        }
    }
    for a in &p.answers {
        let (t, v) = match &a.rdata {
            RData::A(x) => ("A", Ipv4Addr::from(x.address).to_string()),
            RData::AAAA(x) => ("AAAA", Ipv6Addr::from(x.address).to_string()),
            RData::CNAME(x) => ("CNAME", x.0.to_string()),
            RData::PTR(x) => ("PTR", x.0.to_string()),
            RData::NS(x) => ("NS", x.0.to_string()),
            RData::MX(x) => ("MX", x.exchange.to_string()),
            RData::TXT(_) => ("TXT", String::new()),
            RData::SOA(x) => ("SOA", x.mname.to_string()),
            RData::SRV(x) => ("SRV", x.target.to_string()),
            _ => ("", String::new()),
        };
        if !t.is_empty() {
            let _ = write!(s, " {t}");
            if !v.is_empty() {
                let _ = write!(s, " {v}");
            }
        }
    }
    if response && p.answers.is_empty() {
        for a in &p.name_servers {
            if let RData::SOA(x) = &a.rdata {
                let _ = write!(s, " SOA {}", x.mname);
            }
        }
    }
    if p.opt().is_some() {
        s.push_str(" OPT");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_headers_whose_counts_cannot_fit_are_not_handed_to_the_parser() {
        // A 12-byte header claiming 65,535 records of each kind (simple-dns would reserve 37 MB).
        let hostile = [0x12, 0x34, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(!dns_counts_fit(&hostile));
        assert_eq!(dns(&hostile, false), "Standard query 0x1234 [Malformed Packet]");
        // One question for "a." (A, IN) fits exactly.
        let query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
        assert!(dns_counts_fit(&query));
        assert_eq!(dns(&query, false), "Standard query 0x1234 A a");
        assert!(!dns_counts_fit(&query[..16]));
    }
}
