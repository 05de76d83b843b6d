//! Grouping, kinds, explanations and filters on hand-made captures.

use super::*;
use crate::capture::parse;
use crate::features::context;

fn cap(rows: &[String]) -> Capture {
    let mut s = String::from("No.,Time,Source,Destination,Protocol,Length,Info\n");
    for (i, r) in rows.iter().enumerate() {
        s.push_str(&format!("{},{r}\n", i + 1));
    }
    parse(s.as_bytes()).expect("parses")
}

/// Five hosts' steady traffic to one server, a packet each 0.5 s for 150 s.
fn background() -> Vec<String> {
    (0..300)
        .map(|k| {
            let t = f64::from(k) * 0.5;
            let h = 20 + k % 5;
            format!("{t:.6},10.0.0.{h},198.51.100.7,TCP,66,\"5{h}00  >  443 [ACK] Seq=1 Ack=1 Len=0\"")
        })
        .collect()
}

/// The rows of `source`'s last `n` packets.
fn last_of(c: &Capture, source: &str, n: usize) -> Vec<usize> {
    let rows: Vec<usize> = (0..c.len()).filter(|&i| c.packet(i).source == source).collect();
    rows[rows.len() - n..].to_vec()
}

/// Background traffic of a few hosts, then a SYN scan of 60 ports by 10.0.0.66 at t = 100 s,
/// then a second burst of the same scanner 200 s later.
fn scan_capture() -> Capture {
    let mut rows = background();
    for (base, ports) in [(100.0, 60u32), (300.0, 20)] {
        for port in 1..=ports {
            let t = base + f64::from(port) * 0.002;
            rows.push(format!(
                "{t:.6},10.0.0.66,10.0.0.10,TCP,58,\"40000  >  {port} [SYN] Seq=0 Win=1024 Len=0\""
            ));
            rows.push(format!(
                "{:.6},10.0.0.10,10.0.0.66,TCP,54,\"{port}  >  40000 [RST, ACK] Seq=1 Ack=1 Len=0\"",
                t + 0.0001
            ));
        }
    }
    cap(&rows)
}

fn incidents_of(c: &Capture, flagged: &[usize]) -> Vec<Incident> {
    let ctx = context::build(c);
    let scale = Surprise::fit(&ctx.values);
    let combined: Vec<f64> = (0..c.len()).map(|i| if flagged.contains(&i) { 4.0 } else { 0.0 }).collect();
    find(
        &Inputs {
            capture: c,
            context: &ctx,
            scale: &scale,
            combined: &combined,
            flagged,
            detectors: &[(crate::detect::DetectorId::Iforest, flagged)],
        },
        &IncidentParams::default(),
    )
}

#[test]
fn a_scan_becomes_one_incident_per_burst_explained_and_filtered() {
    let c = scan_capture();
    let flagged: Vec<usize> = (0..c.len())
        .filter(|&i| c.packet(i).source == "10.0.0.66" || c.packet(i).destination == "10.0.0.66")
        .collect();
    let inc = incidents_of(&c, &flagged);
    assert_eq!(inc.len(), 2, "two bursts 200 s apart: {inc:#?}");
    let first = inc.iter().find(|i| i.start < 200.0).expect("the first burst");
    assert_eq!(first.kind, Kind::PortScan);
    assert_eq!(first.actor, "10.0.0.66");
    assert_eq!(first.peers, vec!["10.0.0.10"]);
    assert_eq!(first.packets.len(), 120);
    assert_eq!(first.detectors[&crate::detect::DetectorId::Iforest], 120);
    assert!(
        first.explanation.starts_with("10.0.0.66 probed 60 ports of 10.0.0.10 within 10 s (60 SYNs without ACK, 60 refusals); no other host reached more than 1 ports of one host within 10 s."),
        "{}",
        first.explanation
    );
    assert!(
        first.filter.starts_with("ip.addr == 10.0.0.66 && (frame.time_relative >= 100.001999"),
        "{}",
        first.filter
    );
    assert_eq!(inc[0].rank, 1);
    assert_eq!(inc[1].rank, 2);
}

#[test]
fn nothing_flagged_no_incident() {
    let c = scan_capture();
    assert!(incidents_of(&c, &[]).is_empty());
}

#[test]
fn a_tunnel_is_named_by_its_zone() {
    let mut rows = Vec::new();
    for q in 0..30 {
        let t = 10.0 + f64::from(q) * 0.5;
        let name = format!("{q:03}-4kj2lq0vbd9s7fh3mx8cz1pq6wr5ty2nb7gh4jk9l0zxcvbnmas.t.cdn-metrics.test");
        rows.push(format!(
            "{t:.6},2001:db8::21,2001:db8::1,DNS,287,\"Standard query 0x{q:04x} TXT {name} OPT\""
        ));
        rows.push(format!(
            "{:.6},2001:db8::1,2001:db8::21,DNS,431,\"Standard query response 0x{q:04x} TXT {name} TXT\"",
            t + 0.002
        ));
    }
    for k in 0..100 {
        rows.push(format!(
            "{:.6},2001:db8::30,2001:db8::1,DNS,80,\"Standard query 0x{k:04x} A www.example.test\"",
            40.0 + f64::from(k) * 0.1
        ));
    }
    let c = cap(&rows);
    let flagged: Vec<usize> = (0..60).collect();
    let inc = incidents_of(&c, &flagged);
    assert_eq!(inc.len(), 1);
    assert_eq!(inc[0].kind, Kind::DnsTunnel);
    assert_eq!(inc[0].actor, "2001:db8::21");
    assert!(
        inc[0].explanation.contains("queried 28 distinct names under cdn-metrics.test"),
        "{}",
        inc[0].explanation
    );
    assert!(inc[0].filter.ends_with("&& dns.qry.name contains \"cdn-metrics.test\""), "{}", inc[0].filter);
}

#[test]
fn a_victims_relayed_frames_are_relayed_traffic() {
    // Background, then 10.0.0.51's frames each seen twice a few µs apart (in and out of a
    // spoofer), as a capture without MAC columns shows an ARP spoofer's victim.
    let mut rows = Vec::new();
    for k in 0..100 {
        let t = f64::from(k) * 0.5;
        rows.push(format!("{t:.6},10.0.0.20,198.51.100.7,TCP,66,\"5000  >  443 [ACK] Seq={k} Ack=1 Len=0\""));
    }
    for k in 0..6 {
        let t = 60.0 + f64::from(k) * 0.2;
        let body = format!("45118  >  80 [ACK] Seq={k} Ack=1 Win=501 Len=0");
        rows.push(format!("{t:.6},10.0.0.51,203.0.113.23,TCP,66,\"{body}\""));
        rows.push(format!(
            "{:.6},10.0.0.51,203.0.113.23,TCP,66,\"[TCP Dup ACK {}#1] {body}\"",
            t + 0.000_006,
            101 + 2 * k
        ));
    }
    let c = cap(&rows);
    let flagged: Vec<usize> = (100..c.len()).collect();
    let inc = incidents_of(&c, &flagged);
    assert_eq!(inc.len(), 1, "{inc:#?}");
    assert_eq!(inc[0].kind, Kind::RelayedTraffic);
    assert_eq!(inc[0].actor, "10.0.0.51");
    assert!(
        inc[0].explanation.starts_with("6 frames of 10.0.0.51's traffic were seen twice within 1 ms"),
        "{}",
        inc[0].explanation
    );
}

/// Background as in [`scan_capture`] plus `flood` SYNs a second for 5 s from 10.0.0.77 to one
/// port of 10.0.0.10 (random source ports), at t = 50 s.
fn flood_capture(per_second: u32) -> Capture {
    let mut rows = background();
    for i in 0..5 * per_second {
        let t = 50.0 + f64::from(i) / f64::from(per_second);
        let port = 1024 + (i * 7919) % 60000;
        rows.push(format!("{t:.6},10.0.0.77,10.0.0.10,TCP,54,\"{port}  >  443 [SYN] Seq=0 Win=512 Len=0\""));
    }
    rows.sort_by(|a, b| {
        let t = |s: &str| s.split(',').next().and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        t(a).total_cmp(&t(b))
    });
    cap(&rows)
}

#[test]
fn a_syn_flood_is_a_flood_and_says_how_many_syns() {
    let c = flood_capture(600);
    // The last packets of the flood, where its count peaks.
    let flagged = last_of(&c, "10.0.0.77", 5);
    let incidents = incidents_of(&c, &flagged);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let i = &incidents[0];
    assert_eq!(i.kind, Kind::Flood, "{}", i.explanation);
    assert_eq!(i.actor, "10.0.0.77");
    assert!(i.explanation.contains("TCP SYNs without ACK within ~10 s to 10.0.0.10"), "{}", i.explanation);
    // 100 a second is a busy client, not a flood: no kind, and nothing stands far out.
    let slow = flood_capture(20);
    let flagged = last_of(&slow, "10.0.0.77", 5);
    let incidents = incidents_of(&slow, &flagged);
    assert!(incidents.iter().all(|i| i.kind != Kind::Flood), "{incidents:#?}");
}

#[test]
fn an_incident_of_no_kind_is_listed_only_when_a_number_stands_far_out() {
    // Five hosts with the same steady traffic; one of them flagged: nothing in it is more than
    // what the others show, so it is no incident.
    let mut rows = Vec::new();
    for k in 0..2000 {
        let t = f64::from(k) * 0.05;
        let h = 20 + k % 5;
        rows.push(format!(
            "{t:.6},10.0.0.{h},198.51.100.7,TCP,1514,\"5{h}00  >  443 [ACK] Seq=1 Ack=1 Len=1460\""
        ));
    }
    let c = cap(&rows);
    let flagged: Vec<usize> = (1500..1520).filter(|&i| c.packet(i).source == "10.0.0.21").collect();
    assert!(flagged.len() >= 2);
    assert!(incidents_of(&c, &flagged).is_empty());
    let ctx = context::build(&c);
    let scale = Surprise::fit(&ctx.values);
    let combined = vec![4.0; c.len()];
    let all = find(
        &Inputs {
            capture: &c,
            context: &ctx,
            scale: &scale,
            combined: &combined,
            flagged: &flagged,
            detectors: &[],
        },
        &IncidentParams { other_min_ratio: 0.0, ..IncidentParams::default() },
    );
    assert_eq!(all.len(), 1, "with the bar at 0 the same packets are an incident");
    assert_eq!(all[0].kind, Kind::Other);
}

#[test]
fn the_most_any_other_actor_reached_equals_a_search_over_every_actor() {
    // 10.0.0.5 leads at first, then 10.0.0.6 passes it: the second place must be 10.0.0.5's.
    let mut rows: Vec<String> = (0..5)
        .map(|k| format!("{:.6},10.0.0.5,10.0.0.9,UDP,60,\"5000  >  53 Len=18\"", f64::from(k) * 0.1))
        .collect();
    rows.extend((0..20).map(|k| {
        format!("{:.6},10.0.0.6,10.0.0.9,UDP,60,\"5001  >  53 Len=18\"", 1.0 + f64::from(k) * 0.05)
    }));
    for c in [cap(&rows), scan_capture()] {
        check_maxima(&c);
    }
}

fn check_maxima(c: &Capture) {
    let ctx = context::build(c);
    let maxima = explain::Maxima::new(&ctx);
    let actors: BTreeSet<u32> = ctx.actor.iter().copied().collect();
    for info in COLUMNS.iter() {
        for &a in &actors {
            let brute =
                (0..c.len()).filter(|&r| ctx.actor[r] != a).map(|r| ctx.get(r, info.col)).fold(0.0, f64::max);
            assert_eq!(maxima.others(info.col, a), brute, "{} for actor {a}", info.name);
        }
    }
}

/// 10.0.0.30 (a machine of the network: it answers ARP) and 203.0.113.77 on the Internet; the
/// bulk of 2 MB goes `up` (from 10.0.0.30) or down, from the Internet host's higher port (a
/// peer-to-peer or QUIC-like transfer whose ports make the sender look like the client).
fn bulk_capture(up: bool) -> Capture {
    let mut rows =
        vec!["0.000000,IntelCor_00:00:30,Broadcast,ARP,42,\"Who has 10.0.0.1? Tell 10.0.0.30\"".to_string()];
    let (from, to, sp, dp) = if up {
        ("10.0.0.30", "203.0.113.77", 50000, 443)
    } else {
        ("203.0.113.77", "10.0.0.30", 50001, 40000)
    };
    for k in 0..1400 {
        let t = 10.0 + f64::from(k) * 0.001;
        let seq = 1 + k * 1460;
        rows.push(format!("{t:.6},{from},{to},TCP,1514,\"{sp}  >  {dp} [ACK] Seq={seq} Ack=1 Len=1460\""));
        if k % 10 == 0 {
            rows.push(format!(
                "{:.6},{to},{from},TCP,66,\"{dp}  >  {sp} [ACK] Seq=1 Ack={} Len=0\"",
                t + 0.0002,
                seq + 1460
            ));
        }
    }
    cap(&rows)
}

#[test]
fn exfiltration_leaves_from_a_machine_of_the_network_a_servers_download_does_not() {
    for up in [true, false] {
        let c = bulk_capture(up);
        let sender = if up { "10.0.0.30" } else { "203.0.113.77" };
        let flagged = last_of(&c, sender, 5);
        let incidents = incidents_of(&c, &flagged);
        let kinds: Vec<Kind> = incidents.iter().map(|i| i.kind).collect();
        if up {
            assert_eq!(kinds, [Kind::Exfiltration], "{incidents:#?}");
            assert_eq!(incidents[0].actor, "10.0.0.30");
        } else {
            assert!(!kinds.contains(&Kind::Exfiltration), "{incidents:#?}");
        }
    }
}
