//! The capture overview (exploratory data analysis): counts, top talkers, protocol mix, packet
//! length distribution, traffic over time and top conversations. Pure data; charts and the CLI
//! render it. Field names follow `shared/data/*.stats.json` where they overlap.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::capture::Capture;

/// How many entries the "top" lists keep.
pub const TOP_N: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub packets: u64,
    pub bytes: u64,
    /// Last time minus first time, in seconds.
    pub duration_s: f64,
    pub first_time: f64,
    pub last_time: f64,
    pub packets_per_s: f64,
    pub distinct_sources: usize,
    pub distinct_destinations: usize,
    pub distinct_protocols: usize,
    /// Every protocol with its packet count, most frequent first (ties by name).
    pub protocols: Vec<(String, u64)>,
    pub top_sources: Vec<HostTraffic>,
    pub top_destinations: Vec<HostTraffic>,
    pub length: LengthStats,
    pub length_histogram: Histogram,
    pub traffic: TrafficSeries,
    pub top_conversations: Vec<Conversation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostTraffic {
    pub host: String,
    pub packets: u64,
    pub bytes: u64,
}

/// Packet length summary (bytes). Percentiles interpolate linearly, as `numpy.percentile`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    pub min: u32,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: u32,
    pub mean: f64,
}

/// Counts in `[edges[i], edges[i+1])`; the last bin includes its upper edge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// Packets and bytes per interval, starting at `start`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficSeries {
    pub start: f64,
    pub interval_s: f64,
    pub packets: Vec<u64>,
    pub bytes: Vec<u64>,
}

/// Traffic between two hosts, both directions (`a` sorts before `b`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub a: String,
    pub b: String,
    pub packets: u64,
    pub bytes: u64,
    pub packets_a_to_b: u64,
    pub packets_b_to_a: u64,
    pub first_seen: f64,
    pub last_seen: f64,
}

/// Linear-interpolated percentile (`numpy.percentile`'s default) of **sorted** values;
/// `q` in `[0, 100]`. `None` for an empty slice.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let (lo, hi, frac) = percentile_rank(sorted.len(), q)?;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// The two order statistics (0-based) the `q`th percentile of `n` values interpolates, and
/// how far between them it lies; `None` for no values.
fn percentile_rank(n: usize, q: f64) -> Option<(usize, usize, f64)> {
    if n == 0 {
        return None;
    }
    let rank = (q / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = rank.floor() as usize;
    Some((lo, rank.ceil() as usize, rank - lo as f64))
}

/// [`percentile_sorted`] of unsorted `values` (in `f64::total_cmp` order), the same value, in
/// linear time: the two order statistics it interpolates are selected, not sorted for.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let (lo, hi, frac) = percentile_rank(values.len(), q)?;
    let mut v = values.to_vec();
    let (_, &mut at_lo, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let at_hi = if hi > lo { above.iter().copied().min_by(f64::total_cmp).unwrap_or(at_lo) } else { at_lo };
    Some(at_lo + (at_hi - at_lo) * frac)
}

/// A "nice" step (1, 2 or 5 × 10^k) at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let exp = libm::log10(raw).floor();
    let base = libm::pow(10.0, exp);
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * base >= raw * (1.0 - 1e-12) {
            return m * base;
        }
    }
    10.0 * base
}

/// Bin edges for packet lengths: powers of two from 32 up, plus the Ethernet MTU frame (1514),
/// trimmed to the data's range, so small control packets, full-size frames and TSO super-frames
/// each get their own bins.
fn length_edges(min: u32, max: u32) -> Vec<f64> {
    let mut edges = vec![0.0];
    let mut e = 32.0;
    while e <= 65_536.0 {
        edges.push(e);
        if e == 1024.0 {
            edges.push(1514.0);
        }
        e *= 2.0;
    }
    let lo = edges.iter().rposition(|&x| x <= f64::from(min)).unwrap_or(0);
    let hi = edges.iter().position(|&x| x > f64::from(max)).unwrap_or(edges.len() - 1);
    edges[lo..=hi].to_vec()
}

fn histogram(values: &[u32], edges: Vec<f64>) -> Histogram {
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0u64; bins];
    for &v in values {
        let v = f64::from(v);
        let i = edges.partition_point(|&e| e <= v).saturating_sub(1);
        if let Some(c) = counts.get_mut(i.min(bins.saturating_sub(1))) {
            *c += 1;
        }
    }
    Histogram { edges, counts }
}

/// Aim for about this many intervals (1-2-5 steps give 60–150) in the traffic series.
const TARGET_INTERVALS: f64 = 150.0;

fn traffic(capture: &Capture, first: f64, last: f64) -> TrafficSeries {
    if capture.is_empty() {
        return TrafficSeries::default();
    }
    let span = (last - first).max(0.0);
    let interval = nice_step((span / TARGET_INTERVALS).max(1e-3));
    let start = (first / interval).floor() * interval;
    let bins = (((last - start) / interval).floor() as usize + 1).max(1);
    let mut packets = vec![0u64; bins];
    let mut bytes = vec![0u64; bins];
    for (&t, &len) in capture.time.iter().zip(&capture.length) {
        let i = (((t - start) / interval).floor().max(0.0) as usize).min(bins - 1);
        packets[i] += 1;
        bytes[i] += u64::from(len);
    }
    TrafficSeries { start, interval_s: interval, packets, bytes }
}

fn top_hosts(ids: &[u32], lengths: &[u32], capture: &Capture) -> (usize, Vec<HostTraffic>) {
    let mut per = vec![(0u64, 0u64); capture.hosts.len()];
    for (&id, &len) in ids.iter().zip(lengths) {
        let e = &mut per[id as usize];
        e.0 += 1;
        e.1 += u64::from(len);
    }
    let distinct = per.iter().filter(|e| e.0 > 0).count();
    let mut v: Vec<HostTraffic> = per
        .iter()
        .enumerate()
        .filter(|(_, e)| e.0 > 0)
        .map(|(id, e)| HostTraffic {
            host: capture.hosts.name(id as u32).to_string(),
            packets: e.0,
            bytes: e.1,
        })
        .collect();
    v.sort_by(|a, b| b.packets.cmp(&a.packets).then(b.bytes.cmp(&a.bytes)).then(a.host.cmp(&b.host)));
    v.truncate(TOP_N);
    (distinct, v)
}

fn conversations(capture: &Capture) -> Vec<Conversation> {
    struct Acc {
        packets: u64,
        bytes: u64,
        forward: u64,
        first: f64,
        last: f64,
    }
    let mut map: HashMap<(u32, u32), Acc> = HashMap::new();
    for i in 0..capture.len() {
        let (s, d) = (capture.source[i], capture.destination[i]);
        let (name_s, name_d) = (capture.hosts.name(s), capture.hosts.name(d));
        let key = if name_s <= name_d { (s, d) } else { (d, s) };
        let t = capture.time[i];
        let acc = map.entry(key).or_insert(Acc { packets: 0, bytes: 0, forward: 0, first: t, last: t });
        acc.packets += 1;
        acc.bytes += u64::from(capture.length[i]);
        if key.0 == s {
            acc.forward += 1;
        }
        acc.first = acc.first.min(t);
        acc.last = acc.last.max(t);
    }
    let mut v: Vec<Conversation> = map
        .into_iter()
        .map(|((a, b), acc)| Conversation {
            a: capture.hosts.name(a).to_string(),
            b: capture.hosts.name(b).to_string(),
            packets: acc.packets,
            bytes: acc.bytes,
            packets_a_to_b: acc.forward,
            packets_b_to_a: acc.packets - acc.forward,
            first_seen: acc.first,
            last_seen: acc.last,
        })
        .collect();
    v.sort_by(|x, y| {
        y.packets.cmp(&x.packets).then(y.bytes.cmp(&x.bytes)).then_with(|| (&x.a, &x.b).cmp(&(&y.a, &y.b)))
    });
    v.truncate(TOP_N);
    v
}

/// Computes the overview of a capture (all zeros/empty for a capture without packets).
pub fn overview(capture: &Capture) -> Overview {
    let n = capture.len();
    let bytes: u64 = capture.length.iter().map(|&l| u64::from(l)).sum();
    let first = capture.time.iter().copied().fold(f64::INFINITY, f64::min);
    let last = capture.time.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (first, last) = if n == 0 { (0.0, 0.0) } else { (first, last) };
    let duration = last - first;

    let mut proto_counts = vec![0u64; capture.protocols.len()];
    for &p in &capture.protocol {
        proto_counts[p as usize] += 1;
    }
    let mut protocols: Vec<(String, u64)> = proto_counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(id, &c)| (capture.protocols.name(id as u32).to_string(), c))
        .collect();
    protocols.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let (distinct_sources, top_sources) = top_hosts(&capture.source, &capture.length, capture);
    let (distinct_destinations, top_destinations) = top_hosts(&capture.destination, &capture.length, capture);

    let mut sorted: Vec<f64> = capture.length.iter().map(|&l| f64::from(l)).collect();
    sorted.sort_by(f64::total_cmp);
    let pct = |q| percentile_sorted(&sorted, q).unwrap_or(0.0);
    let min = capture.length.iter().copied().min().unwrap_or(0);
    let max = capture.length.iter().copied().max().unwrap_or(0);
    let length = LengthStats {
        min,
        p25: pct(25.0),
        median: pct(50.0),
        p75: pct(75.0),
        p95: pct(95.0),
        p99: pct(99.0),
        max,
        mean: if n == 0 { 0.0 } else { bytes as f64 / n as f64 },
    };
    let length_histogram =
        if n == 0 { Histogram::default() } else { histogram(&capture.length, length_edges(min, max)) };

    Overview {
        packets: n as u64,
        bytes,
        duration_s: duration,
        first_time: first,
        last_time: last,
        packets_per_s: if duration > 0.0 { n as f64 / duration } else { 0.0 },
        distinct_sources,
        distinct_destinations,
        distinct_protocols: protocols.len(),
        protocols,
        top_sources,
        top_destinations,
        length,
        length_histogram,
        traffic: traffic(capture, first, last),
        top_conversations: conversations(capture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::parse;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!(close(percentile_sorted(&v, 50.0).unwrap_or(f64::NAN), 2.5));
        assert!(close(percentile_sorted(&v, 99.9).unwrap_or(f64::NAN), 3.997));
        assert!(close(percentile_sorted(&[7.0], 99.9).unwrap_or(f64::NAN), 7.0));
        assert_eq!(percentile_sorted(&[], 50.0), None);
        // ties
        let t = [1.0, 1.0, 1.0, 5.0];
        assert!(close(percentile_sorted(&t, 50.0).unwrap_or(f64::NAN), 1.0));
    }

    #[test]
    fn nice_steps() {
        assert!(close(nice_step(0.7), 1.0));
        assert!(close(nice_step(1.2), 2.0));
        assert!(close(nice_step(20.2), 50.0));
        assert!(close(nice_step(20.0), 20.0));
        assert!(close(nice_step(0.0), 1.0));
    }

    #[test]
    fn overview_of_a_small_capture() {
        let text = "No.,Time,Source,Destination,Protocol,Length,Info\n\
                    1,0.0,a,b,TCP,60,x\n2,1.0,b,a,TCP,1500,x\n3,2.0,a,c,DNS,80,x\n4,10.0,a,b,TCP,60,x\n";
        let c = parse(text.as_bytes()).expect("parses");
        let o = overview(&c);
        assert_eq!(o.packets, 4);
        assert_eq!(o.bytes, 1700);
        assert!(close(o.duration_s, 10.0));
        assert_eq!(o.distinct_sources, 2);
        assert_eq!(o.distinct_destinations, 3);
        assert_eq!(o.protocols, vec![("TCP".to_string(), 3), ("DNS".to_string(), 1)]);
        assert_eq!(o.top_sources[0].host, "a");
        assert_eq!(o.top_sources[0].bytes, 200);
        assert_eq!(o.length.min, 60);
        assert_eq!(o.length.max, 1500);
        assert!(close(o.length.median, 70.0));
        assert_eq!(o.length_histogram.counts.iter().sum::<u64>(), 4);
        assert_eq!(o.traffic.packets.iter().sum::<u64>(), 4);
        assert_eq!(o.traffic.bytes.iter().sum::<u64>(), 1700);
        let ab = &o.top_conversations[0];
        assert_eq!((ab.a.as_str(), ab.b.as_str(), ab.packets), ("a", "b", 3));
        assert_eq!((ab.packets_a_to_b, ab.packets_b_to_a), (2, 1));
        assert!(close(ab.first_seen, 0.0) && close(ab.last_seen, 10.0));
    }

    #[test]
    fn empty_capture_has_zero_overview() {
        let c = parse(b"No.,Time,Source,Destination,Protocol,Length,Info\n").expect("parses");
        let o = overview(&c);
        assert_eq!(o.packets, 0);
        assert!(close(o.packets_per_s, 0.0));
        assert!(o.length_histogram.counts.is_empty());
    }

    #[test]
    fn length_edges_cover_the_data() {
        let e = length_edges(42, 15994);
        assert!(e[0] <= 42.0 && *e.last().unwrap_or(&0.0) > 15994.0);
        assert!(e.contains(&1514.0));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use proptest::prelude::*;

    use super::{percentile, percentile_sorted};

    proptest! {
        /// Selecting gives the sorted percentile's value, bit for bit (ties and repeats common).
        #[test]
        fn selecting_gives_the_sorted_percentile(
            v in prop::collection::vec(prop_oneof![(-5i32..5).prop_map(f64::from), -1e6f64..1e6], 0..300),
            q in 0.0f64..=100.0,
        ) {
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            prop_assert_eq!(percentile(&v, q).map(f64::to_bits), percentile_sorted(&sorted, q).map(f64::to_bits));
        }

        /// numpy's linear percentile: between the two order statistics around its rank, so at
        /// least ⌊q/100·(n−1)⌋+1 values lie at or below it; the ends are the minimum and maximum;
        /// it never falls as q grows.
        #[test]
        fn percentile_sits_between_its_order_statistics(
            mut v in prop::collection::vec(-1e12f64..1e12, 1..200),
            q in 0.0f64..=100.0,
            dq in 0.0f64..=100.0,
        ) {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let p = percentile_sorted(&v, q).expect("non-empty");
            let rank = q / 100.0 * (n - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            prop_assert!(v[lo] <= p && p <= v[hi], "{} not in [{}, {}]", p, v[lo], v[hi]);
            prop_assert!(v.iter().filter(|&&x| x <= p).count() > lo);
            prop_assert_eq!(percentile_sorted(&v, 0.0), Some(v[0]));
            prop_assert_eq!(percentile_sorted(&v, 100.0), Some(v[n - 1]));
            let later = percentile_sorted(&v, (q + dq).min(100.0)).expect("non-empty");
            prop_assert!(later >= p, "q {} gives {}, q {} gives {}", q, p, q + dq, later);
        }
    }
}
