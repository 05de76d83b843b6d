//! Flagged packets → incidents: grouped by actor and time (`group`), given a kind when the
//! evidence says one, explained in plain words with the numbers that stand out against the rest
//! of this capture (`explain`), and given a Wireshark display filter that selects their packets
//! (`filter`). An incident is plain data in the report; the page and the exports only render it.
//!
//! The explanation reads the contextual features of the incident's packets, never a
//! detector's internals, so it stays true whichever detector flagged.

mod explain;
pub mod filter;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::capture::Capture;
use crate::detect::DetectorId;
use crate::features::context::{COLUMNS, Col, Context};
use crate::features::scale::Surprise;

/// What an incident looks like, when the evidence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    PortScan,
    HostSweep,
    Flood,
    DnsTunnel,
    Exfiltration,
    OversizedIcmp,
    ArpSpoofing,
    /// A host whose frames a machine in the middle relays (the victim side of a spoof).
    RelayedTraffic,
    NewHost,
    Other,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::PortScan => "port scan",
            Kind::HostSweep => "host sweep",
            Kind::Flood => "flood",
            Kind::DnsTunnel => "DNS tunnel",
            Kind::Exfiltration => "exfiltration",
            Kind::OversizedIcmp => "oversized ICMP / fragments",
            Kind::ArpSpoofing => "ARP spoofing",
            Kind::RelayedTraffic => "relayed traffic",
            Kind::NewHost => "new host",
            Kind::Other => "other",
        }
    }
}

/// One feature that stands out in an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub feature: Col,
    /// The incident's largest value of it.
    pub value: f64,
    /// The 99th percentile of it over every packet of the capture.
    pub p99: f64,
    /// Where `value` sits in the capture's upper half (1 = above every packet).
    pub tail: f64,
}

/// An incident, as the report carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// 1 = the most anomalous.
    pub rank: usize,
    pub kind: Kind,
    /// The actor's name (an IPv4 address when it has one, else IPv6, else its MAC name).
    pub actor: String,
    /// Every address and name of the actor's identity in this capture.
    pub actor_addresses: Vec<String>,
    /// The peers it exchanged the incident's packets with, most packets first (at most 8).
    pub peers: Vec<String>,
    /// Every host involved: the actor, then its peers (as `peers`).
    pub hosts: Vec<String>,
    pub peers_total: usize,
    pub start: f64,
    pub end: f64,
    /// Packet numbers (`No.`), ascending.
    pub packets: Vec<u64>,
    /// The largest combined score of its packets.
    pub score: f64,
    /// Detectors that flagged at least one of its packets, with how many.
    pub detectors: BTreeMap<DetectorId, usize>,
    pub evidence: Vec<Evidence>,
    pub explanation: String,
    pub filter: String,
}

/// How packets at the combined threshold become incidents. Defaults: a gap of 30 s ends an
/// incident; an incident needs at least 2 such packets; one that no kind describes needs a
/// number that stands far out ([`IncidentParams::other_min_ratio`]). The combined verdict then
/// flags the listed incidents' packets only (`pipeline::Scored::report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentParams {
    /// Flagged packets of one actor further apart than this start a new incident.
    pub gap_s: f64,
    #[serde(default = "two")]
    pub min_packets: usize,
    /// An incident of no kind ([`Kind::Other`]) is listed only when one of its features is at
    /// least this many times the most any other host of the capture reached (or positive where
    /// no other host's is): "no other host came close". Busy ordinary hosts (the largest
    /// download, the gateway's lookups, a browser's names under one CDN zone, a ping) have
    /// another host nearly as busy; what an attack counts (ports refused, names under one zone,
    /// claims, fragments) is another order. 0 lists every one.
    #[serde(default = "three")]
    pub other_min_ratio: f64,
}

fn two() -> usize {
    2
}

fn three() -> f64 {
    3.0
}

impl Default for IncidentParams {
    fn default() -> Self {
        IncidentParams { gap_s: 30.0, min_packets: 2, other_min_ratio: three() }
    }
}

impl IncidentParams {
    /// Whether an incident is listed: any kind, or no kind and a feature of its packets
    /// (`peaks`: each column's largest value in them) far beyond every other host's.
    fn lists(&self, kind: Kind, peaks: &[f64], maxima: &explain::Maxima, actor: u32) -> bool {
        self.other_min_ratio <= 0.0
            || kind != Kind::Other
            || COLUMNS
                .iter()
                .zip(peaks)
                .any(|(info, &v)| v > 0.0 && v >= self.other_min_ratio * maxima.others(info.col, actor))
    }
}

/// What grouping needs.
pub struct Inputs<'a> {
    pub capture: &'a Capture,
    pub context: &'a Context,
    /// The raw features' scaling, fitted on this capture (percentiles for the evidence).
    pub scale: &'a Surprise,
    /// Combined score per packet.
    pub combined: &'a [f64],
    /// Rows flagged by the combined threshold, any order.
    pub flagged: &'a [usize],
    /// Each detector's name and the rows it flagged.
    pub detectors: &'a [(DetectorId, &'a [usize])],
}

/// A host identity's names and the one to show.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    by_root: HashMap<u32, Vec<u32>>,
}

impl Names {
    fn new(context: &Context) -> Names {
        Names { by_root: context.hosts.groups() }
    }

    fn all<'c>(&self, capture: &'c Capture, root: u32) -> Vec<&'c str> {
        self.by_root
            .get(&root)
            .map_or_else(Vec::new, |ids| ids.iter().map(|&i| capture.hosts.name(i)).collect())
    }

    /// Whether the identity is a machine of the captured network: one of its names is a MAC
    /// name (ARP or Neighbor Discovery tied it to an address here), a private IPv4 address, or a
    /// link-local or unique-local IPv6 address. A server on the Internet has none of these.
    fn local(&self, capture: &Capture, root: u32) -> bool {
        self.all(capture, root).iter().any(|n| match n.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => a.is_private() || a.is_link_local(),
            Ok(std::net::IpAddr::V6(a)) => {
                let first = a.segments()[0];
                first & 0xffc0 == 0xfe80 || first & 0xfe00 == 0xfc00
            }
            Err(_) => true,
        })
    }

    /// IPv4 first, then global IPv6, then link-local, then anything else.
    fn display(&self, capture: &Capture, root: u32) -> String {
        let names = self.all(capture, root);
        let rank = |n: &str| {
            if n.parse::<std::net::Ipv4Addr>().is_ok() {
                0
            } else if n.parse::<std::net::Ipv6Addr>().is_ok() {
                if n.starts_with("fe80") { 2 } else { 1 }
            } else {
                3
            }
        };
        names
            .iter()
            .min_by_key(|n| rank(n))
            .map_or_else(|| capture.hosts.name(root).to_string(), |s| s.to_string())
    }
}

/// Groups the flagged rows into incidents, ranked by score (then size).
pub fn find(input: &Inputs<'_>, params: &IncidentParams) -> Vec<Incident> {
    find_with(input, &Prepared::new(input.context), params)
}

/// What grouping needs of an analysis that no threshold changes: every identity's names, where
/// each first appears, the per-actor maxima the explanations compare against. Built once
/// ([`Prepared::new`]), it serves every cut ([`find_with`]): the page's slider regroups without
/// passing over the whole capture again.
#[derive(Debug, Clone)]
pub struct Prepared {
    names: Names,
    first_seen: HashMap<u32, usize>,
    maxima: explain::Maxima,
}

impl Prepared {
    pub fn new(context: &Context) -> Prepared {
        Prepared {
            names: Names::new(context),
            first_seen: first_seen(context),
            maxima: explain::Maxima::new(context),
        }
    }
}

/// [`find`] with what was prepared for this capture's context.
pub fn find_with(input: &Inputs<'_>, prepared: &Prepared, params: &IncidentParams) -> Vec<Incident> {
    let c = input.capture;
    let mut rows: Vec<usize> = input.flagged.to_vec();
    rows.sort_by(|&a, &b| c.time[a].total_cmp(&c.time[b]).then(a.cmp(&b)));
    // actor → index of its open group
    let mut open: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for r in rows {
        let a = input.context.actor[r];
        match open.get(&a) {
            Some(&g) if c.time[r] - c.time[*groups[g].1.last().unwrap_or(&r)] <= params.gap_s => {
                groups[g].1.push(r);
            }
            _ => {
                open.insert(a, groups.len());
                groups.push((a, vec![r]));
            }
        }
    }
    let flagged_by: Vec<(DetectorId, BTreeSet<usize>)> =
        input.detectors.iter().map(|(n, f)| (*n, f.iter().copied().collect())).collect();
    let mut incidents: Vec<Incident> = groups
        .into_iter()
        .filter(|(_, rows)| rows.len() >= params.min_packets.max(1))
        .filter_map(|(actor, rows)| build(input, prepared, params, &flagged_by, actor, &rows))
        .collect();
    incidents.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.packets.len().cmp(&a.packets.len())));
    for (i, inc) in incidents.iter_mut().enumerate() {
        inc.rank = i + 1;
    }
    incidents
}

/// When each identity first appears as an actor or peer.
fn first_seen(ctx: &Context) -> HashMap<u32, usize> {
    let mut first = HashMap::new();
    for (i, (&a, &p)) in ctx.actor.iter().zip(&ctx.peer).enumerate() {
        first.entry(a).or_insert(i);
        first.entry(p).or_insert(i);
    }
    first
}

/// The incident of `actor`'s packets `rows`, or `None` when it is not listed
/// ([`IncidentParams::lists`]).
fn build(
    input: &Inputs<'_>,
    prepared: &Prepared,
    params: &IncidentParams,
    flagged_by: &[(DetectorId, BTreeSet<usize>)],
    actor: u32,
    rows: &[usize],
) -> Option<Incident> {
    let Prepared { names, first_seen, maxima } = prepared;
    let c = input.capture;
    let ctx = input.context;
    // Each column's largest value in the incident's packets.
    let peaks: Vec<f64> = COLUMNS
        .iter()
        .map(|info| rows.iter().map(|&r| ctx.get(r, info.col)).fold(f64::NEG_INFINITY, f64::max))
        .collect();
    let facts = explain::Facts::of(input, maxima, actor, rows, &peaks, first_seen, names.local(c, actor));
    let kind = facts.kind();
    if !params.lists(kind, &peaks, maxima, actor) {
        return None;
    }
    let start = rows.iter().map(|&r| c.time[r]).fold(f64::INFINITY, f64::min);
    let end = rows.iter().map(|&r| c.time[r]).fold(f64::NEG_INFINITY, f64::max);
    let mut peer_counts: HashMap<u32, usize> = HashMap::new();
    for &r in rows {
        *peer_counts.entry(ctx.peer[r]).or_default() += 1;
    }
    let mut peers: Vec<(u32, usize)> = peer_counts.into_iter().collect();
    peers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let score = rows.iter().map(|&r| input.combined[r]).fold(0.0, f64::max);
    let detectors = flagged_by
        .iter()
        .map(|(n, set)| (*n, rows.iter().filter(|r| set.contains(r)).count()))
        .filter(|(_, k)| *k > 0)
        .collect();
    let evidence = evidence(input, &peaks);
    let actor_name = names.display(c, actor);
    let peer_names: Vec<String> = peers.iter().take(8).map(|&(p, _)| names.display(c, p)).collect();
    let explanation = explain::sentence(kind, &facts, &actor_name, &peer_names, &evidence, start, end);
    let filter = explain::filter(input, actor, rows, start, end, kind, &facts);
    let mut packets: Vec<u64> = rows.iter().map(|&r| c.no[r]).collect();
    packets.sort_unstable();
    let mut actor_addresses: Vec<String> = names.all(c, actor).into_iter().map(str::to_string).collect();
    actor_addresses.sort();
    let hosts = std::iter::once(actor_name.clone()).chain(peer_names.iter().cloned()).collect();
    Some(Incident {
        rank: 0,
        kind,
        actor: actor_name,
        actor_addresses,
        peers_total: peers.len(),
        hosts,
        peers: peer_names,
        start,
        end,
        packets,
        score,
        detectors,
        evidence,
        explanation,
        filter,
    })
}

/// The features whose largest value in the incident sits highest in this capture, at most
/// three, at most one per group, only those clearly above the capture's 99th percentile and in
/// its top 0.1 %.
fn evidence(input: &Inputs<'_>, peaks: &[f64]) -> Vec<Evidence> {
    let mut all: Vec<Evidence> = COLUMNS
        .iter()
        .zip(peaks)
        .map(|(info, &value)| {
            let c = info.col.index();
            Evidence {
                feature: info.col,
                value,
                p99: input.scale.percentile(c, 99.0),
                tail: input.scale.tail(c, value),
            }
        })
        // Above the 99th percentile by a visible margin, and in the top 0.1 % of the capture
        // (a surprise of 3 on the 0–5 scale): evidence, not noise.
        .filter(|e| e.value > e.p99 + (0.01 * e.p99.abs()).max(1e-3) && e.tail >= 0.6)
        .collect();
    all.sort_by(|a, b| {
        b.tail
            .total_cmp(&a.tail)
            .then((a.value / a.p99.max(1e-9)).total_cmp(&(b.value / b.p99.max(1e-9))).reverse())
    });
    let mut groups = BTreeSet::new();
    all.into_iter().filter(|e| groups.insert(e.feature.info().group)).take(3).collect()
}

#[cfg(test)]
mod tests;
