//! Wireshark display filters as data: a small AST ([`Filter`]) and one renderer that writes
//! addresses bare only when they parse as addresses, quotes every other string (`"…"` with `\"`
//! and `\\`, control characters as `\xNN`), and uses Wireshark's field names. Capture text
//! (host names, DNS names) is attacker-controlled: it only ever reaches a filter as a quoted
//! string.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Wireshark fields the filters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    IpAddr,
    Ipv6Addr,
    EthAddr,
    /// The resolved (vendor) name of an Ethernet address, as Wireshark shows `Raspberr_6d:03:99`.
    EthAddrResolved,
    FrameTimeRelative,
    FrameNumber,
    DnsQryName,
    TcpFlagsSyn,
    TcpFlagsAck,
    Arp,
    Icmp,
    Icmpv6,
    IpFlagsMf,
    Ipv6Fragment,
    Tcp,
    TcpPort,
    UdpPort,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::IpAddr => "ip.addr",
            Field::Ipv6Addr => "ipv6.addr",
            Field::EthAddr => "eth.addr",
            Field::EthAddrResolved => "eth.addr_resolved",
            Field::FrameTimeRelative => "frame.time_relative",
            Field::FrameNumber => "frame.number",
            Field::DnsQryName => "dns.qry.name",
            Field::TcpFlagsSyn => "tcp.flags.syn",
            Field::TcpFlagsAck => "tcp.flags.ack",
            Field::Arp => "arp",
            Field::Icmp => "icmp",
            Field::Icmpv6 => "icmpv6",
            Field::IpFlagsMf => "ip.flags.mf",
            Field::Ipv6Fragment => "ipv6.fragment",
            Field::Tcp => "tcp",
            Field::TcpPort => "tcp.port",
            Field::UdpPort => "udp.port",
        }
    }
}

/// A value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Written bare (an address that parsed, or a number).
    Bare(String),
    /// Written quoted.
    Text(String),
}

/// A display filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Eq(Field, Value),
    Ge(Field, Value),
    Le(Field, Value),
    Contains(Field, Value),
    /// The field is present (`arp`, `ipv6.fragment`).
    Has(Field),
}

/// The filter that matches one host name as the capture writes it: an IPv4 or IPv6 address
/// (zone index dropped: Wireshark's address fields have none), a MAC, or a resolved Ethernet
/// name. `None` for a name that is none of these (it is still quoted if used elsewhere).
pub fn host(name: &str) -> Option<Filter> {
    let bare = name.split('%').next().unwrap_or(name);
    if let Ok(a) = bare.parse::<Ipv4Addr>() {
        return Some(Filter::Eq(Field::IpAddr, Value::Bare(a.to_string())));
    }
    if let Ok(a) = bare.parse::<Ipv6Addr>() {
        return Some(Filter::Eq(Field::Ipv6Addr, Value::Bare(a.to_string())));
    }
    if is_mac(name) {
        return Some(Filter::Eq(Field::EthAddr, Value::Bare(name.to_ascii_lowercase())));
    }
    if name.is_empty() {
        return None;
    }
    Some(Filter::Eq(Field::EthAddrResolved, Value::Text(name.to_string())))
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Packets with `frame.time_relative` in `[start, end]`, widened by a microsecond each side
/// (the CSV's Time column is rounded to microseconds).
pub fn span(start: f64, end: f64) -> Filter {
    Filter::And(vec![
        Filter::Ge(Field::FrameTimeRelative, Value::Bare(format!("{:.6}", (start - 1e-6).max(0.0)))),
        Filter::Le(Field::FrameTimeRelative, Value::Bare(format!("{:.6}", end + 1e-6))),
    ])
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // C1 controls, bidi and zero-width characters would make the filter read differently
            // from what it is; Wireshark takes \u escapes in strings.
            c if crate::format::is_hidden(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Filter {
    fn write(&self, out: &mut String, nested: bool) {
        let list = |out: &mut String, items: &[Filter], op: &str| {
            let items: Vec<&Filter> = items.iter().collect();
            if items.len() == 1 {
                items[0].write(out, nested);
                return;
            }
            if nested {
                out.push('(');
            }
            for (i, f) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(op);
                }
                f.write(out, true);
            }
            if nested {
                out.push(')');
            }
        };
        let cmp = |out: &mut String, field: &Field, op: &str, v: &Value| {
            out.push_str(field.name());
            out.push_str(op);
            match v {
                Value::Bare(b) => out.push_str(b),
                Value::Text(t) => quote(t, out),
            }
        };
        match self {
            Filter::And(items) => list(out, items, " && "),
            Filter::Or(items) => list(out, items, " || "),
            Filter::Eq(f, v) => cmp(out, f, " == ", v),
            Filter::Ge(f, v) => cmp(out, f, " >= ", v),
            Filter::Le(f, v) => cmp(out, f, " <= ", v),
            Filter::Contains(f, v) => cmp(out, f, " contains ", v),
            Filter::Has(f) => out.push_str(f.name()),
        }
    }

    /// The filter as Wireshark reads it.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s, false);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_bare_names_quoted() {
        assert_eq!(host("192.168.50.66").map(|f| f.render()).as_deref(), Some("ip.addr == 192.168.50.66"));
        assert_eq!(
            host("2001:db8:50:1::1").map(|f| f.render()).as_deref(),
            Some("ipv6.addr == 2001:db8:50:1::1")
        );
        assert_eq!(host("fe80::1%eth0").map(|f| f.render()).as_deref(), Some("ipv6.addr == fe80::1"));
        assert_eq!(
            host("B8:27:EB:6D:03:99").map(|f| f.render()).as_deref(),
            Some("eth.addr == b8:27:eb:6d:03:99")
        );
        assert_eq!(
            host("Raspberr_6d:03:99").map(|f| f.render()).as_deref(),
            Some("eth.addr_resolved == \"Raspberr_6d:03:99\"")
        );
        assert_eq!(host(""), None);
    }

    #[test]
    fn hostile_text_stays_inside_its_quotes() {
        let f = host("x\" || frame.number > 0 || \"\\\u{202e}\n").expect("a filter");
        assert_eq!(f.render(), "eth.addr_resolved == \"x\\\" || frame.number > 0 || \\\"\\\\\\u202e\\x0a\"");
    }

    #[test]
    fn nesting_parenthesises_inner_lists() {
        let f = Filter::And(vec![
            Filter::Or(vec![host("10.0.0.1").expect("ip"), host("2001:db8::1").expect("ip6")]),
            span(1.5, 2.25),
            Filter::Has(Field::Arp),
        ]);
        assert_eq!(
            f.render(),
            "(ip.addr == 10.0.0.1 || ipv6.addr == 2001:db8::1) && (frame.time_relative >= 1.499999 && \
             frame.time_relative <= 2.250001) && arp"
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    /// Reads back one quoted Wireshark string (the inverse of `quote`), `None` if it is not one.
    fn unquote(s: &str) -> Option<String> {
        let inner = s.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return None, // an unescaped quote would end the string early
                '\\' => match chars.next()? {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'x' => out.push(char::from_u32(
                        u32::from_str_radix(&chars.by_ref().take(2).collect::<String>(), 16).ok()?,
                    )?),
                    'u' => out.push(char::from_u32(
                        u32::from_str_radix(&chars.by_ref().take(4).collect::<String>(), 16).ok()?,
                    )?),
                    _ => return None,
                },
                c => out.push(c),
            }
        }
        Some(out)
    }

    proptest! {
        /// Any name that is not an address becomes one quoted string that reads back as the
        /// name, with no raw control, bidi or zero-width character in the filter.
        #[test]
        fn any_name_is_one_quoted_string(name in "\\PC*|[\"\\\\\u{0}-\u{1f}\u{7f}-\u{9f}\u{200b}-\u{200f}\u{2028}-\u{202e}\u{2060}-\u{2069}\u{feff} a|=()]{0,40}") {
            let Some(f) = host(&name) else {
                prop_assert!(name.is_empty());
                return Ok(());
            };
            let r = f.render();
            prop_assert!(!r.chars().any(crate::format::is_hidden), "{:?}", r);
            if let Some(quoted) = r.strip_prefix("eth.addr_resolved == ") {
                prop_assert_eq!(unquote(quoted), Some(name));
            }
        }

        /// Addresses are written bare, in the form that parses back to the same address.
        #[test]
        fn addresses_are_bare_and_parse_back(v4 in any::<u32>(), v6 in any::<u128>()) {
            let a = Ipv4Addr::from(v4);
            prop_assert_eq!(host(&a.to_string()), Some(Filter::Eq(Field::IpAddr, Value::Bare(a.to_string()))));
            let b = Ipv6Addr::from(v6);
            let Some(Filter::Eq(Field::Ipv6Addr, Value::Bare(text))) = host(&b.to_string()) else {
                return Err(TestCaseError::fail(format!("{b} is not an ipv6.addr filter")));
            };
            prop_assert_eq!(text.parse::<Ipv6Addr>().ok(), Some(b));
        }
    }
}
