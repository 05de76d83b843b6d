//! Fields parsed from one packet's Protocol and Info columns, the way Wireshark writes them:
//! ports in both forms (`a  >  b` and `a → b`), TCP flags and the `[TCP …]` analysis tags, DNS
//! query names and types, response codes, ARP and Neighbor Discovery kinds with the addresses
//! and MACs they name, ICMP types and IP fragments. Nothing here allocates for the common
//! protocols except the DNS name, which borrows from the Info text.

/// TCP flag bits as Wireshark lists them in `[SYN, ACK]`.
pub mod flag {
    pub const FIN: u8 = 1;
    pub const SYN: u8 = 2;
    pub const RST: u8 = 4;
    pub const PSH: u8 = 8;
    pub const ACK: u8 = 16;
    pub const URG: u8 = 32;
}

/// What kind of ARP or Neighbor Discovery message a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbor {
    /// ARP "Who has A? Tell B" / ND "Neighbor Solicitation for A from MAC".
    Request,
    /// ARP "A is at MAC" / ND "Neighbor Advertisement A … is at MAC".
    Reply,
    /// Gratuitous ARP or ARP Announcement: a host claims an address unasked.
    Claim,
    /// Router Solicitation / Advertisement.
    Router,
}

/// ICMP / ICMPv6 message kinds that matter for detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmp {
    EchoRequest,
    EchoReply,
    Unreachable,
    TimeExceeded,
    Other,
}

/// Everything parsed from one packet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<'a> {
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// TCP flags (bits of [`flag`]) when Info lists them.
    pub tcp_flags: Option<u8>,
    /// `[TCP Retransmission]`, `[TCP Dup ACK …]`, `[TCP Out-Of-Order]`, … present.
    pub tcp_analysis: bool,
    /// DNS/mDNS/LLMNR: the queried name.
    pub dns_name: Option<&'a str>,
    /// DNS query type (`A`, `TXT`, …).
    pub dns_type: Option<&'a str>,
    pub dns_response: bool,
    /// A DNS response with an error code (No such name, Server failure, Refused).
    pub dns_error: bool,
    pub neighbor: Option<Neighbor>,
    /// The address an ARP/ND message asks about or claims.
    pub neighbor_target: Option<&'a str>,
    /// The address an ARP request says to tell (the sender's own).
    pub neighbor_sender: Option<&'a str>,
    /// The MAC an ARP reply / ND message names.
    pub neighbor_mac: Option<&'a str>,
    /// Wireshark noticed two MACs using one address ("duplicate use of … detected!").
    pub duplicate_address: bool,
    pub icmp: Option<Icmp>,
    /// An IP fragment that is not the last one (Wireshark shows "Fragmented IP protocol" /
    /// "IPv6 fragment").
    pub fragment: bool,
    /// The Info text without its leading `[TCP …]` analysis tags: what two copies of one frame
    /// share when Wireshark tags the second as a retransmission or a dup ACK.
    pub body: &'a str,
    /// The frame carries a number its sender changes from frame to frame (TCP `Seq=`, a DNS
    /// transaction id other than mDNS's 0, an ICMP echo `id=`/`seq=`), so an identical second
    /// copy is the same frame seen again, not a new one that happens to read the same.
    pub identified: bool,
}

/// Parses Protocol + Info.
pub fn parse<'a>(protocol: &str, info: &'a str) -> Fields<'a> {
    let mut f = Fields::default();
    let info = info.trim();
    match protocol {
        "ARP" => arp(info, &mut f),
        "ICMPv6" => icmpv6(info, &mut f),
        "ICMP" => icmp(info, &mut f),
        "DNS" | "MDNS" | "LLMNR" => dns(info, &mut f),
        _ => {}
    }
    if info.starts_with("Fragmented IP protocol") || info.starts_with("IPv6 fragment") {
        f.fragment = true;
    }
    f.body = without_tags(info);
    if f.neighbor.is_none() && f.icmp.is_none() {
        ports_and_flags(info, &mut f);
    }
    f.identified = match protocol {
        "DNS" | "LLMNR" => f.dns_name.is_some() && transaction_id(info).is_some_and(|id| id != "0x0000"),
        _ if f.icmp.is_some() => f.body.contains("seq="),
        _ => f.tcp_flags.is_some() && f.body.contains("Seq="),
    };
    f
}

/// `info` after its leading bracketed tags ("[TCP Retransmission] ", "[TCP Dup ACK 12#1] ").
fn without_tags(info: &str) -> &str {
    let mut rest = info;
    while let Some(tail) = rest.strip_prefix('[') {
        let Some(end) = tail.find(']') else { break };
        rest = tail[end + 1..].trim_start();
    }
    rest
}

/// The `0x…` transaction id of a DNS Info line ("Standard query 0xb77b A …", "Standard query
/// response 0xb77b …").
fn transaction_id(info: &str) -> Option<&str> {
    info.split_whitespace().find(|w| w.starts_with("0x") && w.len() == 6)
}

fn ports_and_flags<'a>(info: &'a str, f: &mut Fields<'a>) {
    // Leading analysis tags: "[TCP Retransmission] ", "[TCP Dup ACK 12#1] ".
    f.tcp_analysis = info[..info.len() - f.body.len()].contains("[TCP ");
    let (a, tail) = split_number(f.body);
    let Some(a) = a else { return };
    let tail = tail.trim_start();
    let tail = if let Some(t) = tail.strip_prefix('>') {
        t
    } else if let Some(t) = tail.strip_prefix('→') {
        t
    } else {
        return;
    };
    let (b, tail) = split_number(tail.trim_start());
    let Some(b) = b else { return };
    f.src_port = Some(a);
    f.dst_port = Some(b);
    let tail = tail.trim_start();
    if let Some(t) = tail.strip_prefix('[')
        && let Some(end) = t.find(']')
    {
        let mut bits = 0u8;
        for name in t[..end].split(',') {
            bits |= match name.trim() {
                "FIN" => flag::FIN,
                "SYN" => flag::SYN,
                "RST" => flag::RST,
                "PSH" => flag::PSH,
                "ACK" => flag::ACK,
                "URG" => flag::URG,
                _ => 0,
            };
        }
        if bits != 0 {
            f.tcp_flags = Some(bits);
        }
    }
}

fn split_number(s: &str) -> (Option<u16>, &str) {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    if end == 0 || end > 5 {
        return (None, s);
    }
    (s[..end].parse().ok(), &s[end..])
}

fn arp<'a>(info: &'a str, f: &mut Fields<'a>) {
    f.duplicate_address = info.contains("duplicate use of");
    if let Some(rest) = info.strip_prefix("Who has ") {
        f.neighbor = Some(Neighbor::Request);
        let (target, rest) = rest.split_once('?').unwrap_or((rest, ""));
        f.neighbor_target = Some(target.trim());
        if let Some(tell) = rest.trim().strip_prefix("Tell ") {
            f.neighbor_sender = tell.split_whitespace().next();
        }
    } else if let Some(rest) =
        info.strip_prefix("Gratuitous ARP for ").or_else(|| info.strip_prefix("ARP Announcement for "))
    {
        f.neighbor = Some(Neighbor::Claim);
        f.neighbor_target = rest.split_whitespace().next();
    } else if let Some((target, mac)) = info.split_once(" is at ") {
        f.neighbor = Some(Neighbor::Reply);
        f.neighbor_target = Some(target.trim());
        f.neighbor_mac = mac.split_whitespace().next();
    } else if info.starts_with("ARP Probe") {
        f.neighbor = Some(Neighbor::Request);
    }
}

fn icmpv6<'a>(info: &'a str, f: &mut Fields<'a>) {
    if let Some(rest) = info.strip_prefix("Neighbor Solicitation for ") {
        f.neighbor = Some(Neighbor::Request);
        let mut words = rest.split_whitespace();
        f.neighbor_target = words.next();
        if words.next() == Some("from") {
            f.neighbor_mac = words.next();
        }
    } else if let Some(rest) = info.strip_prefix("Neighbor Advertisement ") {
        // "X (sol, ovr) is at MAC": unsolicited when "sol" is missing.
        let solicited = rest.contains("sol");
        f.neighbor = Some(if solicited { Neighbor::Reply } else { Neighbor::Claim });
        f.neighbor_target = rest.split_whitespace().next();
        f.neighbor_mac = rest.split_once(" is at ").and_then(|(_, m)| m.split_whitespace().next());
    } else if info.starts_with("Router Solicitation") || info.starts_with("Router Advertisement") {
        f.neighbor = Some(Neighbor::Router);
        f.neighbor_mac = info.split_once(" from ").and_then(|(_, m)| m.split_whitespace().next());
    } else {
        icmp(info, f);
    }
}

fn icmp(info: &str, f: &mut Fields<'_>) {
    let lower = info.as_bytes();
    let starts = |p: &str| lower.len() >= p.len() && lower[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    f.icmp = Some(if starts("Echo (ping) request") {
        Icmp::EchoRequest
    } else if starts("Echo (ping) reply") {
        Icmp::EchoReply
    } else if starts("Destination unreachable") {
        Icmp::Unreachable
    } else if starts("Time-to-live exceeded") || starts("Time Exceeded") {
        Icmp::TimeExceeded
    } else {
        Icmp::Other
    });
}

fn dns<'a>(info: &'a str, f: &mut Fields<'a>) {
    let (response, rest) = if let Some(r) = info.strip_prefix("Standard query response ") {
        (true, r)
    } else if let Some(r) = info.strip_prefix("Standard query ") {
        (false, r)
    } else {
        return;
    };
    f.dns_response = response;
    // "0xbedf [No such name] TXT name …"
    let mut rest = rest.split_once(' ').map_or("", |(_, r)| r);
    for code in ["No such name ", "Server failure ", "Refused ", "Format error ", "Not implemented "] {
        if let Some(r) = rest.strip_prefix(code) {
            f.dns_error = true;
            rest = r;
        }
    }
    // A message cut by the snapshot length ends in a tag ("[Malformed Packet]") and, when its
    // name was cut too, has no type: "0x1a2b long.partial.name [Malformed Packet]".
    // A type Wireshark has no name for reads "Unknown (65400)".
    let mut words = rest.split_whitespace().take_while(|w| !w.starts_with('[')).peekable();
    let first = words.next();
    if first == Some("Unknown") {
        words.next_if(|w| w.starts_with('('));
    }
    let second = words.next();
    (f.dns_type, f.dns_name) = match second {
        Some(name) => (first, Some(name.trim_end_matches(','))),
        None => (None, first),
    };
}

/// Shape of a DNS name: total length, labels, longest label, and the Shannon entropy (bits per
/// character) of its characters without the dots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NameShape {
    pub length: usize,
    pub labels: usize,
    pub longest_label: usize,
    pub entropy: f64,
}

pub fn name_shape(name: &str) -> NameShape {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    let mut labels = 0;
    let mut longest = 0;
    for label in name.split('.').filter(|l| !l.is_empty()) {
        labels += 1;
        longest = longest.max(label.len());
        for b in label.bytes() {
            counts[usize::from(b.to_ascii_lowercase())] += 1;
            total += 1;
        }
    }
    let entropy = if total == 0 {
        0.0
    } else {
        let t = f64::from(total);
        counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / t).map(|p| -p * libm::log2(p)).sum()
    };
    NameShape { length: name.len(), labels, longest_label: longest, entropy }
}

/// The zone a query is about: its last two labels when the name has more than two (so every
/// query of a tunnel under one zone shares it), the whole name otherwise.
pub fn zone(name: &str) -> &str {
    let trimmed = name.trim_end_matches('.');
    let mut dots = trimmed.rmatch_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((i, _))) => &trimmed[i + 1..],
        _ => trimmed,
    }
}

/// Info with every digit run replaced by `#` and hex ids folded, so "Standard query 0x1a2b A
/// x.test" and "Standard query 0x9f00 A x.test" share one template.
pub fn template(protocol: &str, info: &str) -> String {
    let mut out = String::with_capacity(protocol.len() + 1 + info.len().min(64));
    out.push_str(protocol);
    out.push('|');
    let mut last_hash = false;
    for (n, c) in info.chars().enumerate() {
        if n >= 64 {
            break;
        }
        if c.is_ascii_hexdigit() && (c.is_ascii_digit() || last_hash) {
            if !last_hash {
                out.push('#');
            }
            last_hash = true;
        } else {
            last_hash = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_ports_in_both_forms_with_flags_and_tags() {
        let f = parse("TCP", "52663  >  110 [SYN] Seq=0 Win=1024 Len=0 MSS=1460");
        assert_eq!((f.src_port, f.dst_port, f.tcp_flags), (Some(52663), Some(110), Some(flag::SYN)));
        let f = parse("TCP", "110 → 52663 [RST, ACK] Seq=1 Ack=1 Win=0 Len=0");
        assert_eq!((f.src_port, f.dst_port), (Some(110), Some(52663)));
        assert_eq!(f.tcp_flags, Some(flag::RST | flag::ACK));
        let f = parse("TCP", "[TCP Dup ACK 96922#1] 45118  >  80 [ACK] Seq=536 Ack=25349");
        assert!(f.tcp_analysis && f.identified);
        assert_eq!(f.body, "45118  >  80 [ACK] Seq=536 Ack=25349");
        assert_eq!((f.src_port, f.dst_port, f.tcp_flags), (Some(45118), Some(80), Some(flag::ACK)));
        let f = parse("UDP", "58260  >  514 Len=0");
        assert_eq!((f.src_port, f.dst_port, f.tcp_flags), (Some(58260), Some(514), None));
        let f = parse("TLSv1.3", "Application Data");
        assert_eq!(f, Fields { body: "Application Data", ..Fields::default() });
    }

    #[test]
    fn dns_queries_responses_and_errors() {
        let f = parse("DNS", "Standard query 0xbedf TXT e79e-000.53tw.t.cdn-metrics.test OPT");
        assert_eq!(f.dns_type, Some("TXT"));
        assert_eq!(f.dns_name, Some("e79e-000.53tw.t.cdn-metrics.test"));
        assert!(!f.dns_response && !f.dns_error);
        let f = parse("DNS", "Standard query response 0x1 No such name A nx.test SOA ns.test");
        assert!(f.dns_response && f.dns_error);
        assert_eq!((f.dns_type, f.dns_name), (Some("A"), Some("nx.test")));
        let f = parse("MDNS", "Standard query 0x0000 PTR _googlecast._tcp.local, \"QM\" question");
        assert_eq!(f.dns_name, Some("_googlecast._tcp.local"));
        assert!(!f.identified, "mDNS's id is always 0");
        assert!(parse("DNS", "Standard query 0xb77b A static.sportsnet.test").identified);
        let f = parse("DNS", "Standard query 0x12 Unknown (65400) odd.test");
        assert_eq!((f.dns_type, f.dns_name), (Some("Unknown"), Some("odd.test")));
        // Cut by the snapshot length: the name as far as it goes, no type; or nothing.
        let f = parse("DNS", "Standard query 0x3a1f mzxw6ytboi.q.stats [Malformed Packet]");
        assert_eq!((f.dns_type, f.dns_name), (None, Some("mzxw6ytboi.q.stats")));
        let f = parse("DNS", "Standard query 0x3a1f AAAA cdn.test [Malformed Packet]");
        assert_eq!((f.dns_type, f.dns_name), (Some("AAAA"), Some("cdn.test")));
        let f = parse("DNS", "Standard query 0x3a1f [Malformed Packet]");
        assert_eq!((f.dns_type, f.dns_name), (None, None));
    }

    #[test]
    fn arp_kinds() {
        let f = parse("ARP", "Who has 192.168.50.10? Tell 192.168.50.66");
        assert_eq!(f.neighbor, Some(Neighbor::Request));
        assert_eq!((f.neighbor_target, f.neighbor_sender), (Some("192.168.50.10"), Some("192.168.50.66")));
        let f = parse("ARP", "192.168.50.10 is at 00:11:32:8a:4f:10");
        assert_eq!(f.neighbor, Some(Neighbor::Reply));
        assert_eq!(f.neighbor_mac, Some("00:11:32:8a:4f:10"));
        let f = parse(
            "ARP",
            "Gratuitous ARP for 192.168.50.1 (Request) (duplicate use of 192.168.50.1 detected!)",
        );
        assert_eq!((f.neighbor, f.neighbor_target), (Some(Neighbor::Claim), Some("192.168.50.1")));
        assert!(f.duplicate_address);
        assert_eq!(parse("ARP", "ARP Announcement for 10.0.0.1").neighbor, Some(Neighbor::Claim));
    }

    #[test]
    fn neighbor_discovery_and_icmp() {
        let f = parse("ICMPv6", "Neighbor Solicitation for 2001:db8::10 from b8:27:eb:08:08:99");
        assert_eq!(f.neighbor, Some(Neighbor::Request));
        assert_eq!((f.neighbor_target, f.neighbor_mac), (Some("2001:db8::10"), Some("b8:27:eb:08:08:99")));
        let f = parse("ICMPv6", "Neighbor Advertisement 2001:db8::10 (sol, ovr) is at 00:11:32:08:08:10");
        assert_eq!((f.neighbor, f.neighbor_mac), (Some(Neighbor::Reply), Some("00:11:32:08:08:10")));
        assert_eq!(
            parse("ICMPv6", "Neighbor Advertisement fe80::1 (rtr, ovr) is at 00:11:32:08:08:10").neighbor,
            Some(Neighbor::Claim)
        );
        assert_eq!(parse("ICMP", "Destination unreachable (Port unreachable)").icmp, Some(Icmp::Unreachable));
        assert_eq!(
            parse("ICMPv6", "Destination Unreachable (Port unreachable)").icmp,
            Some(Icmp::Unreachable)
        );
        assert_eq!(
            parse("ICMP", "Echo (ping) request  id=0x6551, seq=1/256, ttl=64").icmp,
            Some(Icmp::EchoRequest)
        );
        assert!(parse("IPv4", "Fragmented IP protocol (proto=ICMP 1, off=0, ID=db0b)").fragment);
        assert!(parse("IPv6", "IPv6 fragment (off=0 more=y ident=0x6a59477f nxt=58)").fragment);
    }

    #[test]
    fn name_shapes_and_zones() {
        let s = name_shape("aaaa.bb.test");
        assert_eq!((s.length, s.labels, s.longest_label), (12, 3, 4));
        assert!(name_shape("abcdefgh").entropy > 2.9);
        assert_eq!(name_shape("aaaa").entropy, 0.0);
        assert_eq!(zone("x.y.t.cdn-metrics.test"), "cdn-metrics.test");
        assert_eq!(zone("cdn-metrics.test."), "cdn-metrics.test");
        assert_eq!(zone("local"), "local");
    }

    #[test]
    fn templates_fold_numbers() {
        assert_eq!(
            template("DNS", "Standard query 0x1a2b A x.test"),
            template("DNS", "Standard query 0x9f00 A x.test")
        );
        assert_ne!(
            template("DNS", "Standard query 0x1a2b A x.test"),
            template("DNS", "Standard query 0x1a2b TXT x.test")
        );
    }
}
