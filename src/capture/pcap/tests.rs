//! The readers on files built byte by byte here: every container variant, damage of each kind,
//! and the dissector's text for the packets the contextual features read.

use super::*;
use crate::capture::parse;

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

fn eth(ether_type: u16, body: &[u8]) -> Vec<u8> {
    let mut f = MAC_B.to_vec();
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn tcp_syn(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .tcp(sp, dp, 1000, 1024)
        .syn()
        .write(&mut out, &[])
        .expect("builds");
    out
}

fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    etherparse::PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut out, payload)
        .expect("builds");
    out
}

/// A DNS query for `name`, type A.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

/// A classic pcap: `magic` as written on disk decides byte order and time unit.
fn pcap(big: bool, nanos: bool, link: u32, frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }).to_vec();
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&w32(65535));
    f.extend_from_slice(&w32(link));
    for (sec, frac, data) in frames {
        f.extend_from_slice(&w32(*sec));
        f.extend_from_slice(&w32(*frac));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(&w32(data.len() as u32));
        f.extend_from_slice(data);
    }
    f
}

fn block(big: bool, ty: u32, body: &[u8]) -> Vec<u8> {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = 12 + body.len() as u32;
    let mut b = w32(ty).to_vec();
    b.extend_from_slice(&w32(len));
    b.extend_from_slice(&body);
    b.extend_from_slice(&w32(len));
    b
}

fn shb(big: bool) -> Vec<u8> {
    let mut body = if big { 0x1a2b_3c4du32.to_be_bytes() } else { 0x1a2b_3c4du32.to_le_bytes() }.to_vec();
    body.extend_from_slice(&if big { [0, 1, 0, 0] } else { [1, 0, 0, 0] });
    body.extend_from_slice(&[0xff; 8]);
    block(big, 0x0a0d_0d0a, &body)
}

/// An interface with link type `link` and, when given, `if_tsresol`.
fn idb(big: bool, link: u16, tsresol: Option<u8>) -> Vec<u8> {
    let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut body = w16(link).to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&if big { 0u32.to_be_bytes() } else { 0u32.to_le_bytes() });
    if let Some(r) = tsresol {
        body.extend_from_slice(&w16(9));
        body.extend_from_slice(&w16(1));
        body.extend_from_slice(&[r, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]);
    }
    block(big, 1, &body)
}

fn epb(big: bool, interface: u32, units: u64, data: &[u8]) -> Vec<u8> {
    let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut body = w32(interface).to_vec();
    body.extend_from_slice(&w32((units >> 32) as u32));
    body.extend_from_slice(&w32(units as u32));
    body.extend_from_slice(&w32(data.len() as u32));
    body.extend_from_slice(&w32(data.len() as u32));
    body.extend_from_slice(data);
    block(big, 6, &body)
}

fn columns(c: &Capture) -> Vec<(u64, String, String, String, u32, String)> {
    c.packets()
        .map(|p| {
            (
                p.no,
                format!("{:.6}", p.time),
                p.source.into(),
                p.destination.into(),
                p.length,
                format!("{} {}", p.protocol, p.info),
            )
        })
        .collect()
}

#[test]
fn all_four_pcap_magics_read_the_same_packets() {
    let syn = tcp_syn([10, 0, 0, 66], [10, 0, 0, 10], 40000, 22);
    let q = udp([10, 0, 0, 5], [10, 0, 0, 1], 5353, 53, &dns_query(0x1a2b, "a.example.test"));
    let want = {
        let c = parse(&pcap(false, false, 1, &[(100, 250_000, &syn), (101, 500_000, &q)])).expect("µs LE");
        columns(&c)
    };
    assert_eq!(want[1].1, "1.250000", "time is relative to the first packet");
    for (big, nanos) in [(true, false), (false, true), (true, true)] {
        let frac = |us: u32| if nanos { us * 1000 } else { us };
        let c = parse(&pcap(big, nanos, 1, &[(100, frac(250_000), &syn), (101, frac(500_000), &q)]))
            .unwrap_or_else(|e| panic!("big {big} nanos {nanos}: {e}"));
        assert_eq!(columns(&c), want, "big {big} nanos {nanos}");
        assert_eq!(c.container.as_ref().map(|i| i.kind.as_str()), Some("pcap"));
    }
    assert_eq!(want[0].5, "TCP 40000  >  22 [SYN] Seq=0 Win=1024 Len=0");
    assert_eq!(want[1].5, "DNS Standard query 0x1a2b A a.example.test");
}

#[test]
fn pcapng_in_both_byte_orders_with_two_interfaces_and_their_resolutions() {
    let syn = tcp_syn([192, 0, 2, 1], [192, 0, 2, 2], 1234, 80);
    let raw = &syn[14..]; // the same IPv4 packet without its Ethernet header
    for big in [false, true] {
        let mut f = shb(big);
        f.extend(idb(big, 1, None)); // microseconds
        f.extend(idb(big, 101, Some(9))); // raw IP, nanoseconds
        f.extend(epb(big, 0, 5_000_000, &syn)); // 5 s
        f.extend(epb(big, 1, 5_500_000_000, raw)); // 5.5 s
        let c = parse(&f).unwrap_or_else(|e| panic!("big {big}: {e}"));
        assert_eq!(c.len(), 2);
        assert!((c.time[1] - 0.5).abs() < 1e-9, "big {big}: {}", c.time[1]);
        assert_eq!(c.packet(0).info, c.packet(1).info, "big {big}");
        assert_eq!(c.packet(1).source, "192.0.2.1");
        assert_eq!(c.container.as_ref().map(|i| i.interfaces), Some(2));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }
}

#[test]
fn a_truncated_last_packet_keeps_the_others_and_says_where() {
    let syn = tcp_syn([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    let whole = pcap(false, false, 1, &[(1, 0, &syn), (2, 0, &syn), (3, 0, &syn)]);
    let cut = &whole[..whole.len() - 10];
    let c = parse(cut).expect("keeps what it can");
    assert_eq!(c.len(), 2);
    let w = &c.warnings[0].message;
    let offset = 24 + 2 * (16 + syn.len());
    assert!(w.contains(&format!("byte {offset}")) && w.contains("packet 3 is truncated"), "{w}");

    let mut ng = shb(false);
    ng.extend(idb(false, 1, None));
    ng.extend(epb(false, 0, 1, &syn));
    let good = ng.len();
    ng.extend(epb(false, 0, 2, &syn));
    let c = parse(&ng[..ng.len() - 7]).expect("keeps what it can");
    assert_eq!(c.len(), 1);
    let w = &c.warnings[0].message;
    assert!(w.contains(&format!("byte {good}")) && w.contains("enhanced packet block is truncated"), "{w}");
}

#[test]
fn a_bad_block_length_and_an_unknown_interface_stop_with_a_warning() {
    let syn = tcp_syn([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    let mut ng = shb(false);
    ng.extend(idb(false, 1, None));
    ng.extend(epb(false, 0, 1, &syn));
    let at = ng.len();
    let mut bad = epb(false, 0, 2, &syn);
    bad[4..8].copy_from_slice(&7u32.to_le_bytes()); // not a multiple of 4, below the minimum
    ng.extend(bad);
    let c = parse(&ng).expect("keeps the first packet");
    assert_eq!(c.len(), 1);
    assert!(c.warnings[0].message.contains(&format!("byte {at}")), "{:?}", c.warnings);

    let mut ng = shb(false);
    ng.extend(idb(false, 1, None));
    ng.extend(epb(false, 3, 2, &syn));
    let c = parse(&ng).expect("reads");
    assert_eq!(c.len(), 0);
    assert!(c.warnings[0].message.contains("names interface 3"), "{:?}", c.warnings);
}

#[test]
fn zero_packets_unknown_link_types_and_garbage_headers() {
    let mut ng = shb(false);
    ng.extend(idb(false, 1, None));
    let c = parse(&ng).expect("an empty capture is a capture");
    assert!(c.is_empty());

    let c = parse(&pcap(false, false, 147, &[(1, 0, &[1, 2, 3, 4])])).expect("reads");
    assert_eq!(c.len(), 1);
    assert_eq!(c.packet(0).protocol, "LINKTYPE_147");
    assert!(c.warnings[0].message.contains("link type 147"), "{:?}", c.warnings);

    let err = parse(&[0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3]).expect_err("no section header");
    assert!(err.to_string().starts_with("byte 0: the pcapng section header"), "{err}");
}

#[test]
fn link_layers_vlan_sll2_and_loopback() {
    let syn = tcp_syn([10, 1, 0, 1], [10, 1, 0, 2], 5000, 443);
    let ip = &syn[14..];
    let want = "5000  >  443 [SYN] Seq=0 Win=1024 Len=0";
    // 802.1Q: tag 0x8100, VLAN 7, then IPv4.
    let mut tagged = syn[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
    tagged.extend_from_slice(ip);
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address (8).
    let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    sll2.extend_from_slice(&MAC_A);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend_from_slice(ip);
    // BSD loopback: address family 2 (IPv4) in host order.
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(ip);
    for (link, data) in [(1u32, tagged), (276, sll2), (0, null), (101, ip.to_vec())] {
        let c = parse(&pcap(false, false, link, &[(1, 0, &data)])).expect("reads");
        assert_eq!(c.packet(0).info, want, "link type {link}");
        assert_eq!(c.packet(0).source, "10.1.0.1", "link type {link}");
    }
}

#[test]
fn arp_fragments_and_echo_as_wireshark_writes_them() {
    let arp = |op: u16, sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]| {
        let mut b = vec![0, 1, 8, 0, 6, 4];
        b.extend_from_slice(&op.to_be_bytes());
        b.extend_from_slice(&sha);
        b.extend_from_slice(&spa);
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&tpa);
        eth(0x0806, &b)
    };
    let req = arp(1, MAC_A, [10, 0, 0, 2], [10, 0, 0, 1]);
    let reply = arp(2, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2]);
    let spoof = arp(2, [2, 0, 0, 0, 0, 0x66], [10, 0, 0, 1], [10, 0, 0, 2]);
    let c = parse(&pcap(false, false, 1, &[(1, 0, &req), (1, 1, &reply), (1, 2, &spoof)])).expect("reads");
    let info: Vec<&str> = c.packets().map(|p| p.info).collect();
    assert_eq!(info[0], "Who has 10.0.0.1? Tell 10.0.0.2");
    assert_eq!(info[1], "10.0.0.1 is at 02:00:00:00:00:0b");
    assert_eq!(info[2], "10.0.0.1 is at 02:00:00:00:00:66 (duplicate use of 10.0.0.1 detected!)");
    assert_eq!(c.packet(0).destination, "02:00:00:00:00:0b");

    // A 3-fragment ICMP echo: the first two are "Fragmented IP protocol", the last the echo.
    let mut ping = Vec::new();
    etherparse::PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 66], [10, 0, 0, 9], 64)
        .icmpv4_echo_request(0x3e7d, 1)
        .write(&mut ping, &[0u8; 2000])
        .expect("builds");
    let icmp = &ping[34..];
    let frag = |off: usize, len: usize, more: bool| {
        let mut h = ping[14..34].to_vec();
        let total = (20 + len) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&0x45abu16.to_be_bytes());
        let word = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&word.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        h.extend_from_slice(&icmp[off..off + len]);
        eth(0x0800, &h)
    };
    let frames = [frag(0, 1000, true), frag(1000, 800, true), frag(1800, icmp.len() - 1800, false)];
    let c = parse(&pcap(false, false, 1, &[(1, 0, &frames[0]), (1, 1, &frames[1]), (1, 2, &frames[2])]))
        .expect("reads");
    assert_eq!(c.packet(0).info, "Fragmented IP protocol (proto=ICMP 1, off=0, ID=45ab)");
    assert_eq!(c.packet(1).info, "Fragmented IP protocol (proto=ICMP 1, off=1000, ID=45ab)");
    assert_eq!(c.packet(2).protocol, "ICMP");
    assert_eq!(c.packet(2).info, "Echo (ping) request  id=0x3e7d, seq=1/256, ttl=64");
}

#[test]
fn hostile_bytes_never_panic() {
    // Every prefix of a small capture, and bytes flipped all over it, read or fail cleanly.
    let syn = tcp_syn([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
    let q = udp([10, 0, 0, 5], [10, 0, 0, 1], 5353, 53, &dns_query(7, "x.test"));
    let mut ng = shb(false);
    ng.extend(idb(false, 1, Some(6)));
    ng.extend(epb(false, 0, 1, &syn));
    ng.extend(epb(false, 0, 2, &q));
    for n in 0..ng.len() {
        let _ = parse(&ng[..n]);
    }
    let mut x = 0x1234_5678u32;
    for _ in 0..2000 {
        let mut f = ng.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = 28 + (x as usize % (f.len() - 28));
            f[at] = (x >> 8) as u8;
        }
        let _ = parse(&f);
    }
}

#[test]
fn exported_pcapng_reads_back_as_the_kept_packets() {
    let syn = tcp_syn([10, 0, 0, 66], [10, 0, 0, 10], 40000, 22);
    let q = udp([10, 0, 0, 5], [10, 0, 0, 1], 5353, 53, &dns_query(0x1a2b, "a.example.test"));
    let ip = syn[14..].to_vec();
    let mut ng = shb(true); // a big-endian input, written back little-endian
    ng.extend(idb(true, 1, None));
    ng.extend(idb(true, 101, Some(9)));
    ng.extend(epb(true, 0, 1_000_000, &syn));
    ng.extend(epb(true, 0, 1_250_000, &q));
    ng.extend(epb(true, 1, 1_500_000_000, &ip));
    let whole = parse(&ng).expect("reads");
    let keep: std::collections::BTreeSet<u64> = [2, 3].into();
    let out = export_pcapng(&ng, &keep).expect("exports");
    let back = parse(&out).expect("reads back");
    assert_eq!(back.len(), 2);
    assert_eq!(back.container.as_ref().map(|c| c.interfaces), Some(2));
    for (b, w) in back.packets().zip([whole.packet(1), whole.packet(2)]) {
        assert_eq!(
            (b.source, b.destination, b.protocol, b.length, b.info),
            (w.source, w.destination, w.protocol, w.length, w.info)
        );
    }
    assert!((back.time[1] - 0.25).abs() < 1e-9, "times kept: {}", back.time[1]);
    assert!(export_pcapng(b"No.,Time\n", &keep).is_err());
}
