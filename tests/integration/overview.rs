//! The overview of the real captures matches `shared/data/*.stats.json`.

use netsieve::capture::parse;
use netsieve::stats::overview;
use serde_json::Value;

use crate::{data, read};

fn check(name: &str) {
    let capture = parse(&read(&data(&format!("{name}.csv")))).expect("parses");
    assert!(capture.warnings.is_empty(), "{:?}", capture.warnings);
    let o = overview(&capture);
    let stats: Value = serde_json::from_slice(&read(&data(&format!("{name}.stats.json")))).expect("json");
    assert_eq!(Some(o.packets), stats["packets"].as_u64());
    assert_eq!(Some(o.distinct_sources as u64), stats["distinct_sources"].as_u64());
    assert_eq!(Some(o.distinct_destinations as u64), stats["distinct_destinations"].as_u64());
    assert_eq!(Some(o.distinct_protocols as u64), stats["distinct_protocols"].as_u64());
    let want: Vec<(String, u64)> = stats["protocols"]
        .as_array()
        .expect("protocols")
        .iter()
        .map(|p| (p[0].as_str().unwrap_or_default().to_string(), p[1].as_u64().unwrap_or_default()))
        .collect();
    // Most frequent first, as the stats list them; among equal counts Netsieve orders by name
    // (the stats file keeps pandas' order of first appearance there).
    let counts = |v: &[(String, u64)]| v.iter().map(|p| p.1).collect::<Vec<_>>();
    assert_eq!(counts(&o.protocols), counts(&want), "protocol counts, most frequent first");
    for pair in o.protocols.windows(2) {
        assert!(pair[0].1 > pair[1].1 || pair[0].0 < pair[1].0, "ties by name: {pair:?}");
    }
    let names = |v: &[(String, u64)]| {
        let mut n: Vec<(u64, String)> = v.iter().map(|p| (p.1, p.0.clone())).collect();
        n.sort();
        n
    };
    assert_eq!(names(&o.protocols), names(&want), "protocol names with their counts");
    assert_eq!(Some(u64::from(o.length.min)), stats["length"]["min"].as_u64());
    assert_eq!(Some(u64::from(o.length.max)), stats["length"]["max"].as_u64());
    assert_eq!(Some(o.length.median), stats["length"]["median"].as_f64());
    assert!((o.length.mean - stats["length"]["mean"].as_f64().unwrap_or(f64::NAN)).abs() < 0.05);
    assert!((o.duration_s - stats["duration_s"].as_f64().unwrap_or(f64::NAN)).abs() < 0.01);
    assert_eq!(o.length_histogram.counts.iter().sum::<u64>(), o.packets);
    assert_eq!(o.traffic.packets.iter().sum::<u64>(), o.packets);
    assert!(
        o.traffic.packets.len() >= 50 && o.traffic.packets.len() <= 300,
        "{} intervals",
        o.traffic.packets.len()
    );
}

#[test]
fn sample_small_matches_its_stats() {
    check("sample-small");
}

#[test]
fn lab_120k_matches_its_stats() {
    check("lab-120k");
}
