//! Which addresses are one machine. A capture names a host by several addresses: an IPv4
//! address, a stable and several temporary (privacy) IPv6 addresses, a link-local address, and
//! for ARP frames its MAC, often as Wireshark's vendor name (`Raspberr_6d:03:99`). Info says
//! which belong together: ARP "Who has A? Tell B" from MAC M (B is M's), ND "… from M" (the
//! sender's address is M's), "A is at M", and EUI-64 IPv6 addresses carry their MAC.
//!
//! Bindings are learnt in time order (no look-ahead), first claim wins: an address already
//! bound to one MAC that another MAC claims is a **conflict** (the evidence of ARP/ND
//! spoofing), not a merge, so a spoofer never absorbs the gateway's identity.
//!
//! MACs are keyed by their last three octets, the part Wireshark keeps in vendor names; two
//! vendors' NICs with the same last three octets in one capture would be taken for one host.

use std::collections::HashMap;

use crate::capture::Capture;

/// A key for one MAC, from `aa:bb:cc:dd:ee:ff` or `Vendor_dd:ee:ff`.
pub fn mac_key(text: &str) -> Option<u32> {
    let tail = match text.rsplit_once('_') {
        Some((_, t)) => t,
        None => text,
    };
    let parts: Vec<&str> = tail.split(':').collect();
    if !(parts.len() == 3 || parts.len() == 6) || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let mut key = 0u32;
    for p in &parts[parts.len() - 3..] {
        key = key << 8 | u32::from(u8::from_str_radix(p, 16).ok()?);
    }
    Some(key)
}

/// The MAC key inside an EUI-64 IPv6 interface id (`…:ba27:ebff:fe6d:399`).
pub fn eui64_mac_key(addr: &str) -> Option<u32> {
    if !addr.contains(':') {
        return None;
    }
    let addr = addr.split('%').next().unwrap_or(addr);
    let groups: Vec<&str> = addr.split(':').collect();
    if groups.len() < 4 {
        return None;
    }
    let g = |i: usize| u16::from_str_radix(groups[groups.len() - 4 + i], 16).ok();
    let (_g0, g1, g2, g3) = (g(0)?, g(1)?, g(2)?, g(3)?);
    // ff:fe in the middle of the interface id.
    if g1 & 0x00ff != 0x00ff || g2 >> 8 != 0xfe {
        return None;
    }
    let d = u32::from(g2 & 0x00ff);
    Some(d << 16 | u32::from(g3))
}

/// Union-find over host names (the capture's interned Source/Destination ids) and MAC keys.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    parent: Vec<u32>,
    /// MAC key → node.
    macs: HashMap<u32, u32>,
    /// Address name id → the MAC node it was first bound to.
    bound: HashMap<u32, u32>,
    names: usize,
}

/// An address claimed by a second MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// The address (host name id).
    pub address: u32,
    /// The root of the MAC that claimed it first.
    pub owner: u32,
}

impl Hosts {
    /// Identities for a capture's `n` interned host names.
    pub fn new(capture: &Capture) -> Hosts {
        let n = capture.hosts.len();
        let mut h = Hosts { parent: (0..n as u32).collect(), names: n, ..Hosts::default() };
        for id in 0..n as u32 {
            let name = capture.hosts.name(id);
            if let Some(k) = mac_key(name) {
                let m = h.mac_node(k);
                h.union(id, m);
            } else if let Some(k) = eui64_mac_key(name) {
                let m = h.mac_node(k);
                h.union(id, m);
            }
        }
        h
    }

    fn mac_node(&mut self, key: u32) -> u32 {
        if let Some(&n) = self.macs.get(&key) {
            return n;
        }
        let n = self.parent.len() as u32;
        self.parent.push(n);
        self.macs.insert(key, n);
        n
    }

    /// The identity (root) of a node.
    pub fn root(&self, mut n: u32) -> u32 {
        while self.parent[n as usize] != n {
            n = self.parent[n as usize];
        }
        n
    }

    fn find(&mut self, n: u32) -> u32 {
        let r = self.root(n);
        let mut x = n;
        while self.parent[x as usize] != r {
            let next = self.parent[x as usize];
            self.parent[x as usize] = r;
            x = next;
        }
        r
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the lower id (the name seen first) as the root.
            let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[gone as usize] = keep;
        }
    }

    /// Binds address name `address` (an id of the capture's host interner, when it is one)
    /// to the MAC in `mac_text`. Returns a conflict when another MAC had it.
    pub fn bind(&mut self, address: Option<u32>, mac: Option<u32>) -> Option<Conflict> {
        let (address, mac) = (address?, mac?);
        let m = self.mac_node(mac);
        match self.bound.get(&address) {
            Some(&owner) if self.root(owner) != self.root(m) => {
                Some(Conflict { address, owner: self.root(owner) })
            }
            Some(_) => None,
            None => {
                self.bound.insert(address, m);
                self.union(address, m);
                None
            }
        }
    }

    /// The root of a host name id.
    pub fn of(&self, name: u32) -> u32 {
        if (name as usize) < self.names { self.root(name) } else { name }
    }

    /// Host name ids grouped by identity: root → its names (ascending ids).
    pub fn groups(&self) -> HashMap<u32, Vec<u32>> {
        let mut g: HashMap<u32, Vec<u32>> = HashMap::new();
        for id in 0..self.names as u32 {
            g.entry(self.root(id)).or_default().push(id);
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_keys_match_vendor_names() {
        assert_eq!(mac_key("Raspberr_6d:03:99"), mac_key("b8:27:eb:6d:03:99"));
        assert_eq!(mac_key("b8:27:eb:6d:03:99"), Some(0x6d0399));
        assert_eq!(mac_key("192.168.1.1"), None);
        assert_eq!(mac_key("Broadcast"), None);
        assert_eq!(mac_key("2001:db8::1"), None);
        assert_eq!(eui64_mac_key("fe80::ba27:ebff:fe6d:399"), Some(0x6d0399));
        assert_eq!(eui64_mac_key("2001:db8:50:1:ba27:ebff:fe6d:399"), Some(0x6d0399));
        assert_eq!(eui64_mac_key("2001:db8:50:1:9c79:8eef:a03c:f0bc"), None);
        assert_eq!(eui64_mac_key("2001:db8:50:1::1"), None);
    }

    fn capture(names: &[&str]) -> Capture {
        let mut c = Capture::default();
        for n in names {
            c.hosts.intern(n);
        }
        c
    }

    #[test]
    fn addresses_join_their_mac_and_first_claim_wins() {
        let c = capture(&[
            "192.168.50.66",
            "Raspberr_6d:03:99",
            "fe80::ba27:ebff:fe6d:399",
            "192.168.50.1",
            "Tp-LinkT_91:00:01",
        ]);
        let mut h = Hosts::new(&c);
        // The vendor name and the EUI-64 address are one machine from the start.
        assert_eq!(h.of(1), h.of(2));
        assert_ne!(h.of(0), h.of(1));
        // "Who has …? Tell 192.168.50.66" from Raspberr_6d:03:99.
        assert_eq!(h.bind(Some(0), mac_key("Raspberr_6d:03:99")), None);
        assert_eq!(h.of(0), h.of(1));
        // The gateway's address, first bound to its own MAC, then claimed by the attacker.
        assert_eq!(h.bind(Some(3), mac_key("50:c7:bf:91:00:01")), None);
        assert_eq!(h.of(3), h.of(4));
        let conflict = h.bind(Some(3), mac_key("b8:27:eb:6d:03:99")).expect("a conflict");
        assert_eq!(conflict.owner, h.of(4));
        assert_ne!(h.of(3), h.of(0));
    }
}
