//! Each feature group on small hand-made packet sequences.

use super::*;
use crate::capture::parse;

fn cap(rows: &[String]) -> Capture {
    let mut s = String::from("No.,Time,Source,Destination,Protocol,Length,Info\n");
    for (i, r) in rows.iter().enumerate() {
        s.push_str(&format!("{},{r}\n", i + 1));
    }
    parse(s.as_bytes()).expect("parses")
}

fn last(ctx: &Context, col: Col) -> f64 {
    ctx.get(ctx.values.rows - 1, col)
}

#[test]
fn a_syn_scan_lands_on_the_scanner_with_probes_and_ports() {
    let mut rows = Vec::new();
    for port in 1..=50u32 {
        let t = 10.0 + f64::from(port) * 0.001;
        rows.push(format!(
            "{t:.6},10.0.0.66,10.0.0.10,TCP,58,\"40000  >  {port} [SYN] Seq=0 Win=1024 Len=0\""
        ));
        rows.push(format!(
            "{:.6},10.0.0.10,10.0.0.66,TCP,54,\"{port} → 40000 [RST, ACK] Seq=1 Ack=1 Win=0 Len=0\"",
            t + 0.0001
        ));
    }
    let c = cap(&rows);
    let ctx = build(&c);
    let scanner = ctx.hosts.of(c.hosts.get("10.0.0.66").expect("host"));
    assert!(ctx.actor.iter().all(|&a| a == scanner), "probes and refusals are the scanner's");
    assert!(last(&ctx, Col::PeerPorts10s) > 49.0, "{}", last(&ctx, Col::PeerPorts10s));
    assert!(last(&ctx, Col::SynOnly10s) > 49.0);
    assert!(last(&ctx, Col::RstReceived10s) > 49.0);
    assert_eq!(last(&ctx, Col::Peers10s).round(), 1.0);
}

#[test]
fn a_sweep_counts_distinct_peers_and_neighbor_targets() {
    let mut rows = Vec::new();
    for h in 1..=40 {
        let t = 5.0 + f64::from(h) * 0.01;
        rows.push(format!(
            "{t:.6},Raspberr_6d:03:99,Broadcast,ARP,42,\"Who has 10.0.0.{h}? Tell 10.0.0.66\""
        ));
        rows.push(format!(
            "{t:.6},10.0.0.66,10.0.0.{h},ICMP,98,\"Echo (ping) request  id=0x1, seq=1/256, ttl=64\""
        ));
    }
    let c = cap(&rows);
    let ctx = build(&c);
    assert!(last(&ctx, Col::Peers10s) > 39.0, "{}", last(&ctx, Col::Peers10s));
    assert!(last(&ctx, Col::NeighborTargets10s) > 39.0);
    // The MAC-vendor name and the address it told are one host.
    let mac = ctx.hosts.of(c.hosts.get("Raspberr_6d:03:99").expect("mac"));
    let ip = ctx.hosts.of(c.hosts.get("10.0.0.66").expect("ip"));
    assert_eq!(mac, ip);
}

#[test]
fn a_tunnel_query_has_a_long_random_name_and_many_names_in_its_zone() {
    let mut rows = Vec::new();
    let chunk = "53twcxxtl4yojg2ifyk4vz2qa4qb4etbpmh63j7bmr3zn7ycfpvi";
    for q in 0..20 {
        let t = 1.0 + f64::from(q);
        rows.push(format!("{t:.6},2001:db8::21,2001:db8::1,DNS,287,\"Standard query 0x{q:04x} TXT {q:03}.{chunk}.t.cdn-metrics.test OPT\""));
        rows.push(format!("{:.6},2001:db8::1,2001:db8::21,DNS,431,\"Standard query response 0x{q:04x} TXT {q:03}.{chunk}.t.cdn-metrics.test TXT\"", t + 0.002));
    }
    rows.push(
        "30.0,2001:db8::21,2001:db8::1,DNS,80,\"Standard query 0x9999 A www.example.test\"".to_string(),
    );
    let c = cap(&rows);
    let ctx = build(&c);
    let q = rows.len() - 3; // the last tunnel query
    assert_eq!(ctx.get(q, Col::DnsLongestLabel), chunk.len() as f64);
    assert!(ctx.get(q, Col::DnsEntropy) > 4.0);
    assert!(ctx.get(q, Col::DnsZoneNames60s) > 15.0, "{}", ctx.get(q, Col::DnsZoneNames60s));
    // Answers land on the querier.
    assert_eq!(ctx.actor[q + 1], ctx.actor[q]);
    // Another zone starts its own count.
    assert!((last(&ctx, Col::DnsZoneNames60s) - 1.0).abs() < 1e-9);
    assert!(last(&ctx, Col::DnsEntropy) < ctx.get(q, Col::DnsEntropy));
}

#[test]
fn a_fragment_train_and_big_echo() {
    let mut rows = Vec::new();
    for k in 0..4 {
        let t = 2.0 + f64::from(k) * 0.5;
        for off in [0, 1480, 2960] {
            rows.push(format!("{t:.6},10.0.0.66,203.0.113.130,IPv4,1514,\"Fragmented IP protocol (proto=ICMP 1, off={off}, ID=db0b)\""));
        }
        rows.push(format!(
            "{t:.6},10.0.0.66,203.0.113.130,ICMP,602,\"Echo (ping) request  id=0x6551, seq={k}/256, ttl=64\""
        ));
    }
    let c = cap(&rows);
    let ctx = build(&c);
    assert_eq!(ctx.get(0, Col::Fragment), 1.0);
    assert!(ctx.get(rows.len() - 2, Col::Fragments10s) > 10.0);
    assert_eq!(last(&ctx, Col::IcmpEchoLength), 602.0);
}

#[test]
fn a_second_mac_claiming_the_gateway_is_a_conflict() {
    let rows = vec![
        "1.0,Tp-LinkT_91:00:01,Raspberr_6d:03:99,ARP,42,\"192.168.50.1 is at 50:c7:bf:91:00:01\"".to_string(),
        "2.0,Raspberr_6d:03:99,Broadcast,ARP,42,\"Gratuitous ARP for 192.168.50.1 (Request)\"".to_string(),
        "3.0,192.168.50.1,192.168.50.30,DNS,90,\"Standard query response 0x1 A x.test A 1.2.3.4\""
            .to_string(),
    ];
    let c = cap(&rows);
    let ctx = build(&c);
    assert_eq!(ctx.get(0, Col::AddressConflict), 0.0);
    assert_eq!(ctx.get(1, Col::NeighborClaim), 1.0);
    assert_eq!(ctx.get(1, Col::AddressConflict), 1.0, "the gateway's address was bound to another MAC");
    // The spoofer did not absorb the gateway's identity.
    let gw = ctx.hosts.of(c.hosts.get("192.168.50.1").expect("gw"));
    let spoofer = ctx.hosts.of(c.hosts.get("Raspberr_6d:03:99").expect("mac"));
    assert_ne!(gw, spoofer);
}

#[test]
fn rarity_and_upload_share() {
    let mut rows = Vec::new();
    for k in 0..100 {
        let t = f64::from(k) * 0.01;
        rows.push(format!(
            "{t:.6},10.0.0.30,203.0.113.77,TCP,7306,\"46556  >  4444 [PSH, ACK] Seq=1 Ack=1 Len=7240\""
        ));
        rows.push(format!(
            "{t:.6},203.0.113.77,10.0.0.30,TCP,66,\"4444  >  46556 [ACK] Seq=1 Ack=7241 Len=0\""
        ));
    }
    rows.push("2.0,10.0.0.30,10.0.0.1,NTP,90,\"NTP Version 4, client\"".to_string());
    let c = cap(&rows);
    let ctx = build(&c);
    let share = ctx.get(198, Col::PairOutShare60s);
    assert!(ctx.get(198, Col::OffLinkNetUpload60s) > 500_000.0, "203.0.113.77 is off 10.0.0.0/24");
    assert_eq!(ctx.get(200, Col::OffLinkNetUpload60s), 0.0, "the NTP server is on the LAN");
    assert!(share > 0.95, "the uploader sends almost every byte: {share}");
    assert!(last(&ctx, Col::ProtocolRarity) > ctx.get(0, Col::ProtocolRarity));
    // The server's ACKs belong to the uploader's conversation.
    assert_eq!(ctx.actor[1], ctx.actor[0]);
}

#[test]
fn a_download_and_a_call_are_not_net_uploads() {
    let mut rows = Vec::new();
    for k in 0..100 {
        let t = f64::from(k) * 0.01;
        // A download: big segments in, small ACKs out.
        rows.push(format!("{t:.6},10.0.0.30,203.0.113.80,TCP,66,\"51000  >  443 [ACK] Seq=1 Ack=1 Len=0\""));
        rows.push(format!(
            "{t:.6},203.0.113.80,10.0.0.30,TCP,7306,\"443  >  51000 [PSH, ACK] Seq=1 Ack=1 Len=7240\""
        ));
        // A call: the same stream both ways.
        rows.push(format!("{t:.6},10.0.0.31,203.0.113.81,UDP,1218,\"58788  >  3478 Len=1176\""));
        rows.push(format!("{t:.6},203.0.113.81,10.0.0.31,UDP,1218,\"3478  >  58788 Len=1176\""));
    }
    let c = cap(&rows);
    let ctx = build(&c);
    let n = ctx.values.rows;
    let most = (0..n).map(|i| ctx.get(i, Col::OffLinkNetUpload60s)).fold(0.0, f64::max);
    // The call's first packet, before any answer, is its only upload.
    assert!(most <= 1218.0 + 1e-3, "largest net upload {most}");
    assert!(ctx.get(n - 4, Col::PairOutBytes60s) > 5_000.0, "the download's ACKs are still counted as sent");
}

#[test]
fn a_frame_relayed_by_a_machine_in_the_middle_is_seen_twice() {
    let syn = "\"45118  >  80 [SYN] Seq=0 Win=64240 Len=0\"";
    let again = "\"[TCP Retransmission] 45118  >  80 [SYN] Seq=0 Win=64240 Len=0\"";
    let query = "\"Standard query 0xb77b A static.example.test\"";
    let rows = [
        // The victim's SYN, and its copy on the way out of the spoofer 6 µs later.
        format!("1.000000,10.0.0.51,203.0.113.23,TCP,74,{syn}"),
        format!("1.000006,10.0.0.51,203.0.113.23,TCP,74,{again}"),
        // A DNS query relayed the same way: Wireshark tags nothing, the copy is identical.
        format!("2.000000,10.0.0.51,10.0.0.1,DNS,81,{query}"),
        format!("2.000018,10.0.0.51,10.0.0.1,DNS,81,{query}"),
        // The same query id again 2 s later is a client's retry, not a relay.
        format!("4.000018,10.0.0.51,10.0.0.1,DNS,81,{query}"),
        // A segment already out of order when first seen: a transfer's recovery.
        "5.000000,10.0.0.9,10.0.0.51,TCP,1514,\"[TCP Out-Of-Order] 443  >  5000 [PSH, ACK] Seq=9 Ack=1 Len=1448\"".into(),
        "5.000004,10.0.0.9,10.0.0.51,TCP,1514,\"[TCP Retransmission] 443  >  5000 [PSH, ACK] Seq=9 Ack=1 Len=1448\"".into(),
        // mDNS always says 0x0000: identical queries are not one frame.
        "6.000000,10.0.0.7,224.0.0.251,MDNS,80,\"Standard query 0x0000 PTR _ipp._tcp.local, \"\"QM\"\" question\"".into(),
        "6.000010,10.0.0.7,224.0.0.251,MDNS,80,\"Standard query 0x0000 PTR _ipp._tcp.local, \"\"QM\"\" question\"".into(),
        // QUIC has no number in Info: its identical lines are many frames.
        "7.000000,10.0.0.8,198.51.100.1,QUIC,1392,\"Protected Payload (KP0), DCID=4bc376dacb794492\"".into(),
        "7.000001,10.0.0.8,198.51.100.1,QUIC,1392,\"Protected Payload (KP0), DCID=4bc376dacb794492\"".into(),
    ];
    let ctx = build(&cap(&rows));
    let relayed: Vec<f64> = (0..ctx.values.rows).map(|r| ctx.get(r, Col::Relayed)).collect();
    assert_eq!(relayed, [0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    // The victim's later frames carry the count, its first copies included.
    assert!(ctx.get(4, Col::Relayed60s) > 1.9, "{}", ctx.get(4, Col::Relayed60s));
    assert_eq!(ctx.get(8, Col::Relayed60s), 0.0, "another host");
}
