//! The default preset's contextual features: per packet, what its actor, the pair it belongs
//! to and the capture around it look like, computed in **one pass in time order** with state
//! per key (no look-ahead, memory bounded per key), plus whole-capture rarity.
//!
//! Every packet is attributed to an **actor** (the side that initiated the exchange: the
//! client of a TCP/UDP conversation, the asker of an ARP/ND request, the sender of an echo
//! request, the receiver of an RST, ICMP error or reply) and a **peer**, both host identities
//! from [`hosts`]. So a scanner's probes and its victim's refusals land on the scanner, and a
//! tunnel's queries and the resolver's answers on the tunnelling host.
//!
//! The columns come in named [`Group`]s ([`COLUMNS`] documents each); detectors weight groups,
//! not columns, so fifteen volume columns do not drown the one that sees a spoofed ARP.

pub mod damped;
pub mod hosts;
pub mod info;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use self::damped::{Damped, DampedDistinct};
use self::hosts::{Hosts, mac_key};
use self::info::{Icmp, Neighbor, flag};
use super::Matrix;
use crate::capture::Capture;

/// A named group of columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Damped packet and byte rates of the actor and of the pair, length mean and spread.
    Volume,
    /// What the actor sends to the peer: bytes out and their share of the pair's bytes (data
    /// leaving is its own view, so a few upload columns are not averaged with many rate ones).
    Upload,
    /// Distinct peers, services and ports the actor reached, distinct actors reaching the peer,
    /// distinct ARP/ND targets asked.
    Fanout,
    /// TCP probes: SYNs without ACK sent, RSTs received.
    Probe,
    /// ICMP and ICMPv6 destination unreachables received: what UDP and protocol probes and
    /// sweeps of absent hosts get back. A view of its own, so a loud TCP scan does not mask a
    /// quiet UDP one of the same host.
    Unreachable,
    /// DNS query name shape (length, labels, longest label, entropy), errors, distinct names
    /// under one zone, query type rarity.
    Dns,
    /// ARP/ND claims and conflicting bindings.
    Neighbor,
    /// Frames seen twice within a millisecond: relayed by a machine in the middle.
    Relay,
    /// IP fragments and ICMP echo size.
    Ip,
    /// How rare the protocol, Info template, service and conversation are in this capture.
    Rarity,
    /// Wireshark's TCP analysis tags (retransmission, dup ACK, zero window, …) on the pair.
    TcpAnalysis,
}

impl Group {
    /// How much a detector should listen to the group, before its size is counted: rarity and
    /// Wireshark's TCP analysis tags describe traffic that is unusual but mostly benign (a
    /// stalled download, a rare service), so they count half.
    pub fn importance(self) -> f64 {
        match self {
            Group::Rarity | Group::TcpAnalysis => 0.5,
            _ => 1.0,
        }
    }

    pub const ALL: [Group; 11] = [
        Group::Volume,
        Group::Upload,
        Group::Fanout,
        Group::Probe,
        Group::Unreachable,
        Group::Dns,
        Group::Neighbor,
        Group::Relay,
        Group::Ip,
        Group::Rarity,
        Group::TcpAnalysis,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Group::Volume => "volume",
            Group::Upload => "upload",
            Group::Fanout => "fan-out",
            Group::Probe => "TCP probes and refusals",
            Group::Unreachable => "ICMP unreachables",
            Group::Dns => "DNS names",
            Group::Neighbor => "ARP / Neighbor Discovery",
            Group::Relay => "relayed frames",
            Group::Ip => "fragments and ICMP",
            Group::Rarity => "rarity",
            Group::TcpAnalysis => "TCP analysis",
        }
    }
}

/// One column's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Col {
    ActorPkts1s,
    ActorPkts10s,
    ActorPkts60s,
    ActorBytes1s,
    ActorBytes10s,
    ActorBytes60s,
    PairPkts1s,
    PairPkts10s,
    PairPkts60s,
    PairBytes1s,
    PairBytes10s,
    PairBytes60s,
    PairLenMean10s,
    PairLenSd10s,
    PairOutShare60s,
    PairOutBytes10s,
    PairOutBytes60s,
    OffLinkNetUpload60s,
    Peers10s,
    Peers60s,
    Services10s,
    Services60s,
    PeerPorts10s,
    PeerPorts60s,
    FanIn10s,
    NeighborTargets10s,
    NeighborTargets60s,
    SynOnly10s,
    SynOnly60s,
    RstReceived10s,
    RstReceived60s,
    UnreachableReceived10s,
    UnreachableReceived60s,
    DnsNameLength,
    DnsLabels,
    DnsLongestLabel,
    DnsEntropy,
    DnsError,
    DnsZoneNames60s,
    DnsTypeRarity,
    NeighborClaim,
    AddressConflict,
    Claims60s,
    Conflicts60s,
    Relayed,
    Relayed60s,
    Fragment,
    Fragments10s,
    IcmpEchoLength,
    ProtocolRarity,
    TemplateRarity,
    ServiceRarity,
    ConversationRarity,
    TcpAnalysis10s,
}

/// Name, group and meaning of a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnInfo {
    pub col: Col,
    pub name: &'static str,
    pub group: Group,
    /// What the value is, in the words an explanation uses ("distinct ports of the peer
    /// contacted in the last ~10 s").
    pub means: &'static str,
}

macro_rules! columns {
    ($(($col:ident, $name:literal, $group:ident, $means:literal)),* $(,)?) => {
        /// Every contextual column, in matrix order.
        pub const COLUMNS: &[ColumnInfo] = &[
            $(ColumnInfo { col: Col::$col, name: $name, group: Group::$group, means: $means }),*
        ];
    };
}

columns![
    (ActorPkts1s, "actor_pkts_1s", Volume, "packets of the actor in the last ~1 s"),
    (ActorPkts10s, "actor_pkts_10s", Volume, "packets of the actor in the last ~10 s"),
    (ActorPkts60s, "actor_pkts_60s", Volume, "packets of the actor in the last ~60 s"),
    (ActorBytes1s, "actor_bytes_1s", Volume, "bytes of the actor in the last ~1 s"),
    (ActorBytes10s, "actor_bytes_10s", Volume, "bytes of the actor in the last ~10 s"),
    (ActorBytes60s, "actor_bytes_60s", Volume, "bytes of the actor in the last ~60 s"),
    (PairPkts1s, "pair_pkts_1s", Volume, "packets between the actor and the peer in the last ~1 s"),
    (PairPkts10s, "pair_pkts_10s", Volume, "packets between the actor and the peer in the last ~10 s"),
    (PairPkts60s, "pair_pkts_60s", Volume, "packets between the actor and the peer in the last ~60 s"),
    (PairBytes1s, "pair_bytes_1s", Volume, "bytes between the actor and the peer in the last ~1 s"),
    (PairBytes10s, "pair_bytes_10s", Volume, "bytes between the actor and the peer in the last ~10 s"),
    (PairBytes60s, "pair_bytes_60s", Volume, "bytes between the actor and the peer in the last ~60 s"),
    (PairLenMean10s, "pair_len_mean_10s", Volume, "mean frame length between the actor and the peer (~10 s)"),
    (
        PairLenSd10s,
        "pair_len_sd_10s",
        Volume,
        "spread of frame lengths between the actor and the peer (~10 s)"
    ),
    (PairOutShare60s, "pair_out_share_60s", Upload, "share of the pair's bytes sent by the actor (~60 s)"),
    (PairOutBytes10s, "pair_out_bytes_10s", Upload, "bytes the actor sent to the peer in the last ~10 s"),
    (PairOutBytes60s, "pair_out_bytes_60s", Upload, "bytes the actor sent to the peer in the last ~60 s"),
    (
        OffLinkNetUpload60s,
        "off_link_net_upload_60s",
        Upload,
        "bytes the actor sent in the last ~60 s to a peer off its local network, less what came back"
    ),
    (Peers10s, "peers_10s", Fanout, "distinct hosts the actor contacted in the last ~10 s"),
    (Peers60s, "peers_60s", Fanout, "distinct hosts the actor contacted in the last ~60 s"),
    (
        Services10s,
        "services_10s",
        Fanout,
        "distinct services (host and port) the actor contacted in the last ~10 s"
    ),
    (
        Services60s,
        "services_60s",
        Fanout,
        "distinct services (host and port) the actor contacted in the last ~60 s"
    ),
    (
        PeerPorts10s,
        "peer_ports_10s",
        Fanout,
        "distinct ports of the peer the actor contacted in the last ~10 s"
    ),
    (
        PeerPorts60s,
        "peer_ports_60s",
        Fanout,
        "distinct ports of the peer the actor contacted in the last ~60 s"
    ),
    (FanIn10s, "fan_in_10s", Fanout, "distinct hosts contacting the peer in the last ~10 s"),
    (
        NeighborTargets10s,
        "neighbor_targets_10s",
        Fanout,
        "distinct addresses the actor looked up with ARP/ND in the last ~10 s"
    ),
    (
        NeighborTargets60s,
        "neighbor_targets_60s",
        Fanout,
        "distinct addresses the actor looked up with ARP/ND in the last ~60 s"
    ),
    (SynOnly10s, "syn_only_10s", Probe, "TCP SYNs without ACK the actor sent in the last ~10 s"),
    (SynOnly60s, "syn_only_60s", Probe, "TCP SYNs without ACK the actor sent in the last ~60 s"),
    (RstReceived10s, "rst_received_10s", Probe, "TCP resets the actor received in the last ~10 s"),
    (RstReceived60s, "rst_received_60s", Probe, "TCP resets the actor received in the last ~60 s"),
    (
        UnreachableReceived10s,
        "unreachable_received_10s",
        Unreachable,
        "ICMP unreachables the actor received in the last ~10 s"
    ),
    (
        UnreachableReceived60s,
        "unreachable_received_60s",
        Unreachable,
        "ICMP unreachables the actor received in the last ~60 s"
    ),
    (DnsNameLength, "dns_name_length", Dns, "characters in the DNS query name"),
    (DnsLabels, "dns_labels", Dns, "labels in the DNS query name"),
    (DnsLongestLabel, "dns_longest_label", Dns, "characters in the longest label of the DNS name"),
    (DnsEntropy, "dns_entropy", Dns, "character entropy of the DNS name (bits per character)"),
    (DnsError, "dns_error", Dns, "DNS response with an error code"),
    (
        DnsZoneNames60s,
        "dns_zone_names_60s",
        Dns,
        "distinct names the actor queried under this zone in the last ~60 s"
    ),
    (DnsTypeRarity, "dns_type_rarity", Dns, "rarity of the DNS query type in this capture (−log₁₀ share)"),
    (
        NeighborClaim,
        "neighbor_claim",
        Neighbor,
        "unsolicited ARP/ND claim of an address (gratuitous ARP, announcement, unsolicited advertisement)"
    ),
    (
        AddressConflict,
        "address_conflict",
        Neighbor,
        "an address claimed by a second MAC (Wireshark's duplicate-use warning or a changed binding)"
    ),
    (Claims60s, "claims_60s", Neighbor, "unsolicited ARP/ND claims by the actor in the last ~60 s"),
    (Conflicts60s, "conflicts_60s", Neighbor, "conflicting address claims by the actor in the last ~60 s"),
    (
        Relayed,
        "relayed",
        Relay,
        "a second copy, within 1 ms, of a numbered frame (same addresses, length and Info): relayed by a machine in the middle"
    ),
    (
        Relayed60s,
        "relayed_60s",
        Relay,
        "frames of the actor's exchanges seen twice within 1 ms in the last ~60 s (relayed by a machine in the middle)"
    ),
    (Fragment, "fragment", Ip, "an IP fragment"),
    (Fragments10s, "fragments_10s", Ip, "IP fragments the actor sent in the last ~10 s"),
    (IcmpEchoLength, "icmp_echo_length", Ip, "frame length of an ICMP echo"),
    (ProtocolRarity, "protocol_rarity", Rarity, "rarity of the protocol in this capture (−log₁₀ share)"),
    (
        TemplateRarity,
        "template_rarity",
        Rarity,
        "rarity of the Info text pattern in this capture (−log₁₀ share)"
    ),
    (
        ServiceRarity,
        "service_rarity",
        Rarity,
        "rarity of the service (protocol and server port) in this capture (−log₁₀ share)"
    ),
    (
        ConversationRarity,
        "conversation_rarity",
        Rarity,
        "rarity of the actor–peer conversation in this capture (−log₁₀ share)"
    ),
    (
        TcpAnalysis10s,
        "tcp_analysis_10s",
        TcpAnalysis,
        "Wireshark TCP analysis tags on the pair in the last ~10 s"
    ),
];

pub const N_COLUMNS: usize = COLUMNS.len();

impl Col {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn info(self) -> &'static ColumnInfo {
        &COLUMNS[self.index()]
    }
}

/// The contextual features of a capture.
#[derive(Debug, Clone)]
pub struct Context {
    /// Raw values, one row per packet, columns as [`COLUMNS`]: computed in `f64`, kept as
    /// `f32` (7 significant digits, plenty for a surprise scale and an explanation; a million
    /// packets' columns take 220 MB instead of 440 MB, in a page whose worker has 4 GiB at most).
    pub values: Matrix<f32>,
    /// Each packet's actor (a host identity: a root of `hosts`).
    pub actor: Vec<u32>,
    /// Each packet's peer identity.
    pub peer: Vec<u32>,
    /// The host identities as learnt over the whole capture.
    pub hosts: Hosts,
}

impl Context {
    pub fn get(&self, row: usize, col: Col) -> f64 {
        f64::from(self.values.data[row * self.values.cols + col.index()])
    }
}

fn hash_of(v: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// State per actor.
#[derive(Default)]
struct ActorState {
    traffic: Damped,
    peers: DampedDistinct,
    services: DampedDistinct,
    neighbor_targets: DampedDistinct,
    syn_only: Damped,
    rst_received: Damped,
    unreachable_received: Damped,
    claims: Damped,
    conflicts: Damped,
    relayed: Damped,
    fragments: Damped,
}

/// State per actor–peer pair.
#[derive(Default)]
struct PairState {
    traffic: Damped,
    out_bytes: Damped,
    ports: DampedDistinct,
    tcp_analysis: Damped,
}

/// How a packet is oriented in its exchange.
struct Orientation {
    /// True when the packet's Source is the actor.
    from_actor: bool,
    /// The packet itself says who initiated (a SYN, an echo, a DNS query, ports, …); otherwise
    /// the pair's known client or the Source is taken.
    decisive: bool,
    /// The server-side port, when there are ports.
    service_port: Option<u16>,
}

fn orient(f: &info::Fields<'_>, known_client_is_source: Option<bool>) -> Orientation {
    let (from_actor, decisive) = if let Some(flags) = f.tcp_flags.filter(|b| b & flag::SYN != 0) {
        (flags & flag::ACK == 0, true)
    } else if let Some(icmp) = f.icmp {
        (matches!(icmp, Icmp::EchoRequest | Icmp::Other), true)
    } else if let Some(n) = f.neighbor {
        (n != Neighbor::Reply, true)
    } else if f.dns_name.is_some() {
        (!f.dns_response, true)
    } else if let Some(known) = known_client_is_source {
        (known, false)
    } else if let (Some(s), Some(d)) = (f.src_port, f.dst_port) {
        (s >= d, true)
    } else {
        (true, false)
    };
    let service_port = match (f.src_port, f.dst_port) {
        (Some(s), Some(d)) => Some(if from_actor { d } else { s }),
        _ => None,
    };
    Orientation { from_actor, decisive, service_port }
}

/// Whether two addresses share a /24 (IPv4) or a /64 (IPv6); `None` when they are not both
/// addresses of one family.
pub fn on_link(a: &str, b: &str) -> Option<bool> {
    if let (Ok(x), Ok(y)) = (a.parse::<std::net::Ipv4Addr>(), b.parse::<std::net::Ipv4Addr>()) {
        return Some(x.octets()[..3] == y.octets()[..3]);
    }
    if let (Ok(x), Ok(y)) = (a.parse::<std::net::Ipv6Addr>(), b.parse::<std::net::Ipv6Addr>()) {
        return Some(x.segments()[..4] == y.segments()[..4]);
    }
    None
}

/// The numbered frames of the last millisecond, to tell a frame seen twice. No TCP or DNS stack
/// sends a frame again that soon (Linux's shortest TCP retransmission timeout is 200 ms, DNS
/// clients wait a second), so an identical copy that close is one frame seen on its way into
/// and out of a machine that forwards it: an ARP or ND spoofer relaying its victims' traffic,
/// where a capture without MAC columns shows nothing else. The first copy must be an ordinary
/// frame: a relayed frame was in order when its sender sent it, while a segment already tagged
/// out of order or retransmitted when first seen belongs to a bulk transfer's recovery, whose
/// copies can come microseconds apart (seen on office-60k's downloads). Bounded: only the last
/// millisecond's frames are kept.
#[derive(Default)]
struct RecentFrames {
    order: std::collections::VecDeque<(f64, u64)>,
    /// Frame key → when it was last seen, and whether that copy was an ordinary frame.
    last: HashMap<u64, (f64, bool)>,
}

impl RecentFrames {
    const WINDOW_S: f64 = 0.001;

    /// Records frame `key` at `t` (`ordinary`: without Wireshark's analysis tags); true when an
    /// ordinary copy of it was seen in the last millisecond.
    fn seen_again(&mut self, t: f64, key: u64, ordinary: bool) -> bool {
        while let Some(&(old, k)) = self.order.front() {
            if t - old <= Self::WINDOW_S {
                break;
            }
            self.order.pop_front();
            if self.last.get(&k).is_some_and(|&(seen, _)| seen == old) {
                self.last.remove(&k);
            }
        }
        let again = self.last.insert(key, (t, ordinary)).is_some_and(|(_, first)| first);
        self.order.push_back((t, key));
        again
    }
}

fn rarity(count: usize, n: usize) -> f64 {
    if count == 0 || n == 0 { 0.0 } else { -libm::log10((count as f64) / (n as f64)) }
}

/// Computes every column for every packet, in one pass in time order (file order when times
/// are equal), then the whole-capture rarity columns.
pub fn build(capture: &Capture) -> Context {
    let n = capture.len();
    let mut values = vec![0f32; n * N_COLUMNS];
    let mut hosts = Hosts::new(capture);
    let mut actor = vec![0u32; n];
    let mut peer = vec![0u32; n];
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| capture.time[a].total_cmp(&capture.time[b]).then(a.cmp(&b)));

    let mut actors: HashMap<u32, ActorState> = HashMap::new();
    let mut pairs: HashMap<(u32, u32), PairState> = HashMap::new();
    let mut fan_in: HashMap<u32, DampedDistinct> = HashMap::new();
    let mut zone_names: HashMap<(u32, u64), DampedDistinct> = HashMap::new();
    // Unordered identity pair → true when the first id of the key is the client.
    let mut clients: HashMap<(u32, u32), u32> = HashMap::new();
    // Whole-capture counts for rarity.
    let mut templates: HashMap<String, usize> = HashMap::new();
    let mut template_of = vec![0u64; n];
    let mut services: HashMap<(u32, Option<u16>), usize> = HashMap::new();
    let mut service_of = vec![(0u32, None); n];
    let mut conversations: HashMap<(u32, u32), usize> = HashMap::new();
    let mut dns_types: HashMap<&str, usize> = HashMap::new();
    let mut dns_type_of: Vec<Option<&str>> = vec![None; n];
    let mut dns_total = 0usize;
    let mut recent = RecentFrames::default();

    for &i in &order {
        let t = capture.time[i];
        let p = capture.packet(i);
        let f = info::parse(p.protocol, p.info);
        let src_name = capture.source[i];
        let dst_name = capture.destination[i];
        let len = f64::from(p.length);

        // Learn bindings first, so this packet already uses them.
        let mut conflict = f.duplicate_address;
        match f.neighbor {
            Some(Neighbor::Request) if p.protocol == "ARP" => {
                let sender = f.neighbor_sender.and_then(|s| capture.hosts.get(s));
                conflict |= hosts.bind(sender, mac_key(p.source)).is_some();
            }
            Some(Neighbor::Request | Neighbor::Router) => {
                conflict |= hosts.bind(Some(src_name), f.neighbor_mac.and_then(mac_key)).is_some();
            }
            Some(Neighbor::Reply | Neighbor::Claim) => {
                let target = f.neighbor_target.and_then(|s| capture.hosts.get(s));
                let mac = f.neighbor_mac.and_then(mac_key).or_else(|| mac_key(p.source));
                conflict |= hosts.bind(target, mac).is_some();
            }
            None => {}
        }
        // A host without an address yet (DAD from ::, DHCP from 0.0.0.0) acts for the address it
        // asks about, not as one host "::" shared by every machine booting.
        let unspecified = matches!(p.source, "::" | "0.0.0.0");
        let src = match f.neighbor_target.and_then(|t| capture.hosts.get(t)) {
            Some(target) if unspecified => hosts.of(target),
            _ => hosts.of(src_name),
        };
        let dst = hosts.of(dst_name);
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let known = clients.get(&key).map(|&c| c == src);
        let o = orient(&f, known);
        let (a, b) = if o.from_actor { (src, dst) } else { (dst, src) };
        if o.decisive && known.is_none() {
            clients.insert(key, a);
        }
        actor[i] = a;
        peer[i] = b;

        let row = &mut values[i * N_COLUMNS..(i + 1) * N_COLUMNS];
        let mut set = |c: Col, v: f64| row[c.index()] = v as f32;

        let st = actors.entry(a).or_default();
        st.traffic.add(t, len);
        for (k, c) in [(0, Col::ActorPkts1s), (1, Col::ActorPkts10s), (2, Col::ActorPkts60s)] {
            set(c, st.traffic.weight(k));
        }
        for (k, c) in [(0, Col::ActorBytes1s), (1, Col::ActorBytes10s), (2, Col::ActorBytes60s)] {
            set(c, st.traffic.sum(k));
        }
        let peers = st.peers.add(t, u64::from(b));
        set(Col::Peers10s, peers[1]);
        set(Col::Peers60s, peers[2]);
        let service = o.service_port.map_or_else(|| hash_of((b, p.protocol)), |port| hash_of((b, port)));
        let sv = st.services.add(t, service);
        set(Col::Services10s, sv[1]);
        set(Col::Services60s, sv[2]);
        if f.neighbor == Some(Neighbor::Request) && o.from_actor {
            let nt = st.neighbor_targets.add(t, hash_of(f.neighbor_target.unwrap_or("")));
            set(Col::NeighborTargets10s, nt[1]);
            set(Col::NeighborTargets60s, nt[2]);
        } else {
            let nt = st.neighbor_targets.at(t);
            set(Col::NeighborTargets10s, nt[1]);
            set(Col::NeighborTargets60s, nt[2]);
        }
        let flags = f.tcp_flags.unwrap_or(0);
        let bump = |d: &mut Damped, yes: bool| {
            if yes {
                d.add(t, 1.0);
            }
            d.at(t)
        };
        let s = bump(&mut st.syn_only, o.from_actor && flags & flag::SYN != 0 && flags & flag::ACK == 0);
        set(Col::SynOnly10s, s.weight(1));
        set(Col::SynOnly60s, s.weight(2));
        let r = bump(&mut st.rst_received, !o.from_actor && flags & flag::RST != 0);
        set(Col::RstReceived10s, r.weight(1));
        set(Col::RstReceived60s, r.weight(2));
        let u = bump(&mut st.unreachable_received, !o.from_actor && f.icmp == Some(Icmp::Unreachable));
        set(Col::UnreachableReceived10s, u.weight(1));
        set(Col::UnreachableReceived60s, u.weight(2));
        let claim = f.neighbor == Some(Neighbor::Claim);
        set(Col::NeighborClaim, f64::from(u8::from(claim)));
        set(Col::AddressConflict, f64::from(u8::from(conflict)));
        set(Col::Claims60s, bump(&mut st.claims, claim).weight(2));
        set(Col::Conflicts60s, bump(&mut st.conflicts, conflict).weight(2));
        let relayed = f.identified
            && recent.seen_again(
                t,
                hash_of((src_name, dst_name, capture.protocol[i], p.length, f.body)),
                !f.tcp_analysis,
            );
        set(Col::Relayed, f64::from(u8::from(relayed)));
        set(Col::Relayed60s, bump(&mut st.relayed, relayed).weight(2));
        set(Col::Fragment, f64::from(u8::from(f.fragment)));
        set(Col::Fragments10s, bump(&mut st.fragments, f.fragment && o.from_actor).weight(1));
        if matches!(f.icmp, Some(Icmp::EchoRequest | Icmp::EchoReply)) {
            set(Col::IcmpEchoLength, len);
        }

        let ps = pairs.entry((a, b)).or_default();
        ps.traffic.add(t, len);
        if o.from_actor {
            ps.out_bytes.add(t, len);
        }
        let out = ps.out_bytes.at(t);
        for (k, c) in [(0, Col::PairPkts1s), (1, Col::PairPkts10s), (2, Col::PairPkts60s)] {
            set(c, ps.traffic.weight(k));
        }
        for (k, c) in [(0, Col::PairBytes1s), (1, Col::PairBytes10s), (2, Col::PairBytes60s)] {
            set(c, ps.traffic.sum(k));
        }
        set(Col::PairLenMean10s, ps.traffic.mean(1));
        set(Col::PairLenSd10s, ps.traffic.sd(1));
        let total = ps.traffic.sum(2);
        set(Col::PairOutShare60s, if total > 0.0 { out.sum(2) / total } else { 0.0 });
        set(Col::PairOutBytes10s, out.sum(1));
        set(Col::PairOutBytes60s, out.sum(2));
        if on_link(p.source, p.destination) == Some(false) {
            // Exfiltration is data leaving the network that does not come back: a download's
            // requests, a call's symmetric stream and a backup to the NAS all stay near 0.
            set(Col::OffLinkNetUpload60s, (2.0 * out.sum(2) - total).max(0.0));
        }
        let ports = match o.service_port {
            Some(port) => ps.ports.add(t, u64::from(port)),
            None => ps.ports.at(t),
        };
        set(Col::PeerPorts10s, ports[1]);
        set(Col::PeerPorts60s, ports[2]);
        set(Col::TcpAnalysis10s, bump(&mut ps.tcp_analysis, f.tcp_analysis).weight(1));

        let fi = fan_in.entry(b).or_default().add(t, u64::from(a));
        set(Col::FanIn10s, fi[1]);

        if let Some(name) = f.dns_name {
            let shape = info::name_shape(name);
            set(Col::DnsNameLength, shape.length as f64);
            set(Col::DnsLabels, shape.labels as f64);
            set(Col::DnsLongestLabel, shape.longest_label as f64);
            set(Col::DnsEntropy, shape.entropy);
            set(Col::DnsError, f64::from(u8::from(f.dns_error)));
            let zn = zone_names.entry((a, hash_of(info::zone(name)))).or_default();
            let names = if f.dns_response { zn.at(t) } else { zn.add(t, hash_of(name)) };
            set(Col::DnsZoneNames60s, names[2]);
            dns_total += 1;
            if let Some(ty) = f.dns_type {
                *dns_types.entry(ty).or_default() += 1;
                dns_type_of[i] = Some(ty);
            }
        }

        let tpl = info::template(p.protocol, p.info);
        let tpl_hash = hash_of(&tpl);
        *templates.entry(tpl).or_default() += 1;
        template_of[i] = tpl_hash;
        let sv_key = (capture.protocol[i], o.service_port);
        *services.entry(sv_key).or_default() += 1;
        service_of[i] = sv_key;
        *conversations.entry(key).or_default() += 1;
    }

    // Whole-capture rarity.
    let mut protocol_counts = vec![0usize; capture.protocols.len()];
    for &pr in &capture.protocol {
        protocol_counts[pr as usize] += 1;
    }
    let template_counts: HashMap<u64, usize> = templates.into_iter().map(|(k, v)| (hash_of(&k), v)).collect();
    for i in 0..n {
        let row = &mut values[i * N_COLUMNS..(i + 1) * N_COLUMNS];
        row[Col::ProtocolRarity.index()] = rarity(protocol_counts[capture.protocol[i] as usize], n) as f32;
        row[Col::TemplateRarity.index()] = rarity(template_counts[&template_of[i]], n) as f32;
        row[Col::ServiceRarity.index()] = rarity(services[&service_of[i]], n) as f32;
        let (a, b) = (hosts.of(actor[i]), hosts.of(peer[i]));
        let key = if actor[i] <= peer[i] { (actor[i], peer[i]) } else { (peer[i], actor[i]) };
        row[Col::ConversationRarity.index()] =
            rarity(conversations.get(&key).copied().unwrap_or(0), n) as f32;
        if let Some(ty) = dns_type_of[i] {
            row[Col::DnsTypeRarity.index()] = rarity(dns_types[ty], dns_total) as f32;
        }
        // Identities as learnt over the whole capture, for grouping and naming.
        actor[i] = a;
        peer[i] = b;
    }
    Context { values: Matrix { rows: n, cols: N_COLUMNS, data: values }, actor, peer, hosts }
}

#[cfg(test)]
mod tests;
