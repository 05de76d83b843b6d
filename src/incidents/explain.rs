//! Evidence → words: the facts of an incident (counts and maxima of its packets' features,
//! compared with every other actor of the capture), the kind they point to, one sentence per
//! kind with the numbers, and the display filter.
//!
//! The kind rules follow how each attack works, with thresholds in the units of the mechanism
//! (distinct ports, distinct names under one zone, bytes sent), not fitted to a capture:
//! a port scan touches many ports of one host and draws refusals (a UDP scan draws few: the
//! target's kernel rate-limits its ICMP unreachables); a sweep touches many
//! hosts; a tunnel asks many distinct long names under one zone; exfiltration is a machine of
//! the network sending far more than it receives to a host off the local network (a server
//! sending a download is not); spoofing claims an address bound to
//! another MAC, and its victims' frames are then seen twice within a millisecond, on their way
//! into and out of the spoofer.

use std::collections::{BTreeMap, HashMap};

use super::filter::{self, Field, Filter, Value};
use super::{Evidence, Inputs, Kind};
use crate::features::context::{self, Col, Context, info};
use crate::format::{bytes as format_bytes, thousands};

/// What an incident's packets show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub packets: usize,
    pub from_actor: usize,
    pub max_peer_ports: f64,
    pub others_max_peer_ports: f64,
    /// SYNs without ACK the actor sent within ~10 s, at the incident's peak (damped count).
    pub syns: f64,
    /// The most any other actor sent within ~10 s.
    pub others_max_syns: f64,
    /// RSTs and ICMP unreachables the actor received within ~10 s, at the peak.
    pub refusals: f64,
    pub max_peers: f64,
    pub others_max_peers: f64,
    pub max_neighbor_targets: f64,
    pub others_max_neighbor_targets: f64,
    pub dns_packets: usize,
    pub zone: Option<String>,
    pub max_zone_names: f64,
    pub others_max_zone_names: f64,
    pub max_longest_label: f64,
    pub others_max_longest_label: f64,
    pub conflicts: usize,
    pub claimed: Option<String>,
    /// Packets that are a second copy of a frame within 1 ms ([`Col::Relayed`]).
    pub relayed: usize,
    /// The most such copies any other actor had within ~60 s (damped count).
    pub others_max_relayed: f64,
    pub fragments: usize,
    pub max_echo: f64,
    pub max_rate_1s: f64,
    pub others_max_rate_1s: f64,
    pub bytes_out: f64,
    pub bytes_in: f64,
    pub max_services: f64,
    pub max_out_bytes: f64,
    pub max_out_share: f64,
    pub off_link: bool,
    /// The actor is a machine of the captured network (not a server on the Internet).
    pub local_actor: bool,
    pub new_host: bool,
    pub all_dns: bool,
    pub all_arp: bool,
}

/// What a flood is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flood {
    Syn,
    Packets,
}

/// Per column, the two actors with the largest values and those values: "the most any other
/// actor reached" in one look, for every column, computed once per capture.
#[derive(Debug, Clone)]
pub(crate) struct Maxima {
    top: Vec<[(u32, f64); 2]>,
}

impl Maxima {
    pub fn new(context: &Context) -> Maxima {
        let cols = context.values.cols;
        let mut top: Vec<[(u32, f64); 2]> = vec![[(u32::MAX, 0.0), (u32::MAX, 0.0)]; cols];
        for (r, &a) in context.actor.iter().enumerate() {
            let row = &context.values.data[r * cols..(r + 1) * cols];
            for (t, &v) in top.iter_mut().zip(row) {
                let v = f64::from(v);
                if t[0].0 == a {
                    t[0].1 = t[0].1.max(v);
                } else if v > t[0].1 {
                    t[1] = t[0];
                    t[0] = (a, v);
                } else if t[1].0 == a {
                    t[1].1 = t[1].1.max(v);
                } else if v > t[1].1 {
                    t[1] = (a, v);
                }
            }
        }
        Maxima { top }
    }

    /// The largest value of `col` of any actor but `actor` (0 when none is positive).
    pub fn others(&self, col: Col, actor: u32) -> f64 {
        let t = &self.top[col.index()];
        if t[0].0 == actor { t[1].1 } else { t[0].1 }
    }
}

impl Facts {
    /// The facts of `actor`'s packets `rows`, whose columns' largest values are `peaks`;
    /// `local_actor`: the actor is a machine of the captured network.
    pub fn of(
        input: &Inputs<'_>,
        maxima: &Maxima,
        actor: u32,
        rows: &[usize],
        peaks: &[f64],
        first_seen: &HashMap<u32, usize>,
        local_actor: bool,
    ) -> Facts {
        let c = input.capture;
        let ctx = input.context;
        let mut f =
            Facts { packets: rows.len(), all_dns: true, all_arp: true, local_actor, ..Facts::default() };
        let mut zones: BTreeMap<String, usize> = BTreeMap::new();
        let mut links = (0usize, 0usize);
        let max = |col: Col| peaks[col.index()].max(0.0);
        for &r in rows {
            let p = c.packet(r);
            let fields = info::parse(p.protocol, p.info);
            let src_is_actor = ctx.hosts.of(c.source[r]) == actor;
            if src_is_actor {
                f.from_actor += 1;
                f.bytes_out += f64::from(p.length);
            } else {
                f.bytes_in += f64::from(p.length);
            }
            if let Some(name) = fields.dns_name {
                f.dns_packets += 1;
                *zones.entry(info::zone(name).to_string()).or_default() += 1;
            } else {
                f.all_dns = false;
            }
            if p.protocol != "ARP" {
                f.all_arp = false;
            }
            if src_is_actor && ctx.get(r, Col::AddressConflict) > 0.0 {
                f.conflicts += 1;
                if f.claimed.is_none() {
                    f.claimed = fields.neighbor_target.map(str::to_string);
                }
            }
            if fields.fragment {
                f.fragments += 1;
            }
            if ctx.get(r, Col::Relayed) > 0.0 {
                f.relayed += 1;
            }
            if let Some(same) = context::on_link(p.source, p.destination) {
                if same { links.0 += 1 } else { links.1 += 1 }
            }
        }
        f.off_link = links.1 > links.0;
        f.zone = zones.into_iter().max_by_key(|(_, n)| *n).map(|(z, _)| z);
        f.max_peer_ports = max(Col::PeerPorts10s);
        f.syns = max(Col::SynOnly10s);
        f.refusals = max(Col::RstReceived10s) + max(Col::UnreachableReceived10s);
        f.max_peers = max(Col::Peers10s);
        f.max_services = max(Col::Services10s);
        f.max_out_bytes = max(Col::PairOutBytes60s);
        f.max_out_share = max(Col::PairOutShare60s);
        f.max_neighbor_targets = max(Col::NeighborTargets10s);
        f.max_zone_names = max(Col::DnsZoneNames60s);
        f.max_longest_label = max(Col::DnsLongestLabel);
        f.max_echo = max(Col::IcmpEchoLength);
        f.max_rate_1s = max(Col::ActorPkts1s);
        f.others_max_syns = maxima.others(Col::SynOnly10s, actor);
        f.others_max_peer_ports = maxima.others(Col::PeerPorts10s, actor);
        f.others_max_peers = maxima.others(Col::Peers10s, actor);
        f.others_max_neighbor_targets = maxima.others(Col::NeighborTargets10s, actor);
        f.others_max_zone_names = maxima.others(Col::DnsZoneNames60s, actor);
        f.others_max_longest_label = maxima.others(Col::DnsLongestLabel, actor);
        f.others_max_rate_1s = maxima.others(Col::ActorPkts1s, actor);
        f.others_max_relayed = maxima.others(Col::Relayed60s, actor);
        let first = first_seen.get(&actor).copied().unwrap_or(0);
        let span = c.time.last().copied().unwrap_or(0.0) - c.time.first().copied().unwrap_or(0.0);
        let t_first = c.time[first];
        let t_start = rows.iter().map(|&r| c.time[r]).fold(f64::INFINITY, f64::min);
        f.new_host =
            t_first - c.time.first().copied().unwrap_or(0.0) > 0.1 * span && t_start - t_first < 60.0;
        f
    }

    /// What floods, when something does: connection attempts (SYNs without ACK; a steady 70 a
    /// second keeps the ~10 s damped count at 1,000) or packets of any kind (100 within ~1 s),
    /// each at least 5 times what any other host of the capture reached. Busy hosts send many
    /// packets (a download's segments and ACKs) but do not open a thousand connections.
    pub fn flood(&self) -> Option<Flood> {
        if self.syns >= 1000.0 && self.syns > 5.0 * self.others_max_syns {
            Some(Flood::Syn)
        } else if self.max_rate_1s >= 100.0 && self.max_rate_1s > 5.0 * self.others_max_rate_1s {
            Some(Flood::Packets)
        } else {
            None
        }
    }

    /// The kind the facts point to, the most specific first.
    pub fn kind(&self) -> Kind {
        if self.conflicts > 0 {
            Kind::ArpSpoofing
        } else if self.relayed >= 2 {
            Kind::RelayedTraffic
        } else if self.dns_packets * 2 >= self.packets
            && (self.max_zone_names >= 8.0 || self.max_longest_label >= 40.0)
        {
            Kind::DnsTunnel
        } else if (self.max_peer_ports >= 10.0 || self.max_peer_ports >= 5.0 && self.max_services >= 10.0)
            && self.syns + self.refusals >= 5.0
        {
            Kind::PortScan
        } else if self.max_peers >= 10.0 && self.max_peers > 2.0 * self.others_max_peers
            || self.max_neighbor_targets >= 10.0
                && self.max_neighbor_targets > 2.0 * self.others_max_neighbor_targets
        {
            Kind::HostSweep
        } else if self.fragments > 0 || self.max_echo > 1000.0 {
            Kind::OversizedIcmp
        } else if self.local_actor && self.off_link && self.max_out_bytes >= 1e6 && self.max_out_share >= 0.8
        {
            Kind::Exfiltration
        } else if self.flood().is_some() {
            Kind::Flood
        } else if self.new_host {
            Kind::NewHost
        } else {
            Kind::Other
        }
    }
}

fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.2} s")
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

fn n(v: f64) -> String {
    thousands(v.round().max(0.0) as u64)
}

/// The incident in one or two plain sentences, with the numbers that stand out.
pub(crate) fn sentence(
    kind: Kind,
    f: &Facts,
    actor: &str,
    peers: &[String],
    evidence: &[Evidence],
    start: f64,
    end: f64,
) -> String {
    let peer = peers.first().map_or("?", String::as_str);
    let dur = seconds(end - start);
    let lead = match kind {
        Kind::PortScan => format!(
            "{actor} probed {} ports of {peer} within 10 s ({} SYNs without ACK, {} refusals); no other host reached more than {} ports of one host within 10 s.",
            n(f.max_peer_ports.max(f.max_services)),
            n(f.syns),
            n(f.refusals),
            n(f.others_max_peer_ports)
        ),
        Kind::HostSweep => format!(
            "{actor} contacted {} hosts and looked up {} addresses in {dur}; no other host contacted more than {} within 10 s.",
            n(f.max_peers),
            n(f.max_neighbor_targets),
            n(f.others_max_peers.max(f.others_max_neighbor_targets))
        ),
        Kind::DnsTunnel => format!(
            "{actor} queried {} distinct names under {} in {dur}, labels up to {} characters; no other host queried more than {} names under one zone within a minute (longest label elsewhere: {}).",
            n(f.max_zone_names),
            f.zone.as_deref().unwrap_or("one zone"),
            n(f.max_longest_label),
            n(f.others_max_zone_names),
            n(f.others_max_longest_label)
        ),
        Kind::Exfiltration => format!(
            "{actor} sent {} to {peer}, off the local network, within a minute ({:.0} % of the bytes between them).",
            format_bytes(f.max_out_bytes),
            100.0 * f.max_out_share
        ),
        Kind::OversizedIcmp => format!(
            "{actor} sent {} IP fragments{} to {peer} in {dur}.",
            f.fragments,
            if f.max_echo > 0.0 {
                format!(" and ICMP echoes of up to {} bytes", n(f.max_echo))
            } else {
                String::new()
            }
        ),
        Kind::ArpSpoofing => format!(
            "{actor} claimed {}, an address already bound to another MAC, {} times in {dur}.",
            f.claimed.as_deref().unwrap_or("an address"),
            f.conflicts
        ),
        Kind::RelayedTraffic => format!(
            "{} frames of {actor}'s traffic were seen twice within 1 ms in {dur}: a machine in the middle (an ARP or ND spoofer) relays it (the most for any other host within a minute: {}).",
            f.relayed,
            n(f.others_max_relayed)
        ),
        Kind::Flood => match f.flood() {
            Some(Flood::Syn) => format!(
                "{actor} sent {} TCP SYNs without ACK within ~10 s to {peer} at its peak ({dur} flagged); no other host sent more than {} within 10 s.",
                n(f.syns),
                n(f.others_max_syns)
            ),
            _ => format!(
                "{actor} sent {} packets a second at its peak in {dur}; no other host exceeded {} a second.",
                n(f.max_rate_1s),
                n(f.others_max_rate_1s)
            ),
        },
        Kind::NewHost => format!(
            "{actor} first appeared in this capture at {} and was flagged within a minute.",
            seconds(start)
        ),
        Kind::Other => format!("{actor} exchanged {} unusual packets with {peer} in {dur}.", f.packets),
    };
    let standing: Vec<String> = evidence
        .iter()
        .map(|e| {
            format!(
                "{} {} (99th percentile of this capture: {})",
                e.feature.info().means,
                short(e.value),
                short(e.p99)
            )
        })
        .collect();
    if standing.is_empty() { lead } else { format!("{lead} Stands out: {}.", standing.join("; ")) }
}

fn short(v: f64) -> String {
    if v.fract().abs() < 1e-9 || v.abs() >= 100.0 { n(v) } else { format!("{v:.2}") }
}

/// A filter that selects the incident's packets: the actor's addresses they carry, their time
/// span, and the protocol when all of them share it.
pub(crate) fn filter(
    input: &Inputs<'_>,
    actor: u32,
    rows: &[usize],
    start: f64,
    end: f64,
    kind: Kind,
    facts: &Facts,
) -> String {
    let c = input.capture;
    let mut used: Vec<u32> = Vec::new();
    for &r in rows {
        for name in [c.source[r], c.destination[r]] {
            if input.context.hosts.of(name) == actor && !used.contains(&name) {
                used.push(name);
            }
        }
    }
    used.sort_unstable();
    let hosts: Vec<Filter> = used.iter().filter_map(|&h| filter::host(c.hosts.name(h))).collect();
    let mut parts = vec![Filter::Or(hosts), filter::span(start, end)];
    if kind == Kind::DnsTunnel
        && facts.all_dns
        && let Some(zone) = &facts.zone
    {
        parts.push(Filter::Contains(Field::DnsQryName, Value::Text(zone.clone())));
    }
    if facts.all_arp {
        parts.push(Filter::Has(Field::Arp));
    }
    Filter::And(parts).render()
}
