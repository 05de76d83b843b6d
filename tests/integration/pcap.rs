//! The pcap readers on the captures of `shared/data/pcap/`: the same packets as Wireshark's CSV
//! export of them, column by column; the damaged forms; and the analyses on a pcapng against
//! the same analyses on its CSV export.

use netsieve::capture::{Capture, parse};
use netsieve::pipeline::{self, NoProgress, Params};

use crate::{data, read};

fn load(name: &str) -> Capture {
    parse(&read(&data(&format!("pcap/{name}")))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Source/Destination: Wireshark names a MAC by its vendor (`IntelCor_3d:91:6a`), Netsieve
/// writes it whole; the last three octets must agree.
fn same_host(a: &str, b: &str) -> bool {
    a == b || (a.len() >= 8 && b.len() >= 8 && a[a.len() - 8..] == b[b.len() - 8..] && a.contains(':'))
}

/// Compares every column with the CSV export; returns how many Info texts are equal.
fn against_export(name: &str) -> usize {
    let got = load(name);
    let want = load("sample-pcap.csv");
    assert_eq!(got.len(), 4978, "{name}: packets");
    assert_eq!(got.len(), want.len(), "{name}: packets");
    let mut info = 0;
    for (g, w) in got.packets().zip(want.packets()) {
        assert_eq!(g.no, w.no, "{name}");
        // The CSV's time is truncated to µs.
        assert!((g.time - w.time).abs() < 1.5e-6, "{name} No. {}: time {} vs {}", g.no, g.time, w.time);
        assert!(same_host(g.source, w.source), "{name} No. {}: Source {} vs {}", g.no, g.source, w.source);
        assert!(
            same_host(g.destination, w.destination),
            "{name} No. {}: Destination {} vs {}",
            g.no,
            g.destination,
            w.destination
        );
        assert_eq!(g.protocol, w.protocol, "{name} No. {}: Protocol ({})", g.no, w.info);
        assert_eq!(g.length, w.length, "{name} No. {}: Length", g.no);
        info += usize::from(g.info == w.info);
    }
    info
}

#[test]
fn pcapng_pcap_and_nanosecond_pcap_give_the_csv_exports_packets() {
    for name in ["sample-pcap.pcapng", "sample-pcap.pcap", "sample-pcap.nsec.pcap"] {
        let info = against_export(name);
        // Measured: 4,958 of 4,978 (QUIC Initial packets Wireshark decrypts, one SNMP PDU, six
        // TCP segments Wireshark annotates after reassembly).
        assert!(info >= 4950, "{name}: Info equal for {info} of 4,978");
    }
}

#[test]
fn snaplen_cut_packets_keep_their_original_lengths() {
    let cut = load("sample-pcap.snap128.pcapng");
    let whole = load("sample-pcap.pcapng");
    assert_eq!(cut.length, whole.length);
    let info = cut.container.as_ref().expect("a capture file");
    assert!(info.cut_packets > 1000, "{}", info.cut_packets);
    assert!(cut.warnings.iter().any(|w| w.message.contains("snapshot length")), "{:?}", cut.warnings);
}

#[test]
fn a_truncated_pcapng_keeps_every_complete_packet() {
    let c = load("sample-pcap.truncated.pcapng");
    assert_eq!(c.len(), 3780);
    let w = &c.warnings[0].message;
    assert!(w.contains("byte 6988764") && w.contains("enhanced packet block is truncated"), "{w}");
    let whole = load("sample-pcap.pcapng");
    for i in [0, 1000, 3779] {
        assert_eq!(c.packet(i), whole.packet(i));
    }
}

#[test]
fn the_seed_preset_flags_the_same_packets_on_the_pcapng_as_on_its_export() {
    let run = |name: &str| {
        let bytes = read(&data(&format!("pcap/{name}")));
        pipeline::run(&bytes, name, &Params::seed(42), &mut NoProgress)
            .expect("runs")
            .report
            .expect("detected")
    };
    let (a, b) = (run("sample-pcap.pcapng"), run("sample-pcap.csv"));
    for (name, d) in &a.detectors {
        assert_eq!(d.flagged, b.detectors[name].flagged, "{name}");
    }
}

/// The fixtures `tests/fixtures/pcap/make.sh` made with dumpcap, text2pcap, editcap and
/// mergecap, read by Netsieve and by tshark: the same packets, times, addresses, protocols and
/// lengths, and Info where Wireshark's is not the product of a reassembly or a later packet.
/// A capture of `tests/fixtures/pcap/`.
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pcap").join(name)
}

fn against_tshark(name: &str) -> (usize, usize) {
    let path = fixture(name);
    let got = parse(&read(&path)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(got.warnings.is_empty(), "{name}: {:?}", got.warnings);
    let o = std::process::Command::new("tshark")
        // MAC names only (ff:ff:ff:ff:ff:ff is "Broadcast", as in the exports Netsieve reads).
        .args(["-N", "m", "-r"])
        .arg(&path)
        .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"])
        .args(["-e", "frame.number", "-e", "frame.time_relative", "-e", "_ws.col.Source"])
        .args([
            "-e",
            "_ws.col.Destination",
            "-e",
            "_ws.col.Protocol",
            "-e",
            "frame.len",
            "-e",
            "_ws.col.Info",
        ])
        .output()
        .expect("tshark runs (./x installs Debian's tshark)");
    assert!(o.status.success(), "tshark: {}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let want: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(got.len(), want.len(), "{name}: packets");
    let mut info = 0;
    for (g, w) in got.packets().zip(&want) {
        let at = format!("{name} No. {}", g.no);
        assert_eq!(g.no.to_string(), w[0], "{at}");
        let t: f64 = w[1].parse().expect("time");
        assert!((g.time - t).abs() < 1e-6, "{at}: time {} vs {t}", g.time);
        assert!(same_host(g.source, w[2]) && same_host(g.destination, w[3]), "{at}: {g:?} vs {w:?}");
        assert_eq!(g.protocol, w[4], "{at}: Protocol ({} | {})", g.info, w[6]);
        assert_eq!(g.length.to_string(), w[5], "{at}: Length");
        // The exports Netsieve reads write TCP's arrow as "  >  " (tshark's text: " → ").
        if g.info == w[6].replace(" → ", "  >  ") {
            info += 1;
        } else {
            eprintln!("{at}: Info {:?}\n{:>width$}  tshark {:?}", g.info, "", w[6], width = at.len());
        }
    }
    (info, got.len())
}

#[test]
fn captures_made_by_wiresharks_tools_read_as_tshark_reads_them() {
    // dumpcap on `any` (SLL2, ns), text2pcap (VLAN, QinQ, fragments, ARP, ICMPv6; µs), editcap
    // (ns pcap), mergecap (two interfaces, two link types, two resolutions).
    // Every Info equal too (measured: 31, 8, 8 and 39 of as many), HTTP bodies that span
    // segments included.
    for (name, packets) in
        [("any.pcapng", 31), ("layers.pcap", 8), ("layers.nsec.pcap", 8), ("merged.pcapng", 39)]
    {
        let (info, n) = against_tshark(name);
        assert_eq!(n, packets, "{name}");
        assert_eq!(info, n, "{name}: Info equal for {info} of {n}");
    }
    let merged = parse(&read(&fixture("merged.pcapng"))).expect("reads");
    assert_eq!(merged.container.as_ref().map(|c| c.interfaces), Some(2));
}

/// A bounded mutation run over the tool-made fixtures (their SLL2, VLAN, fragment, HTTP, DNS,
/// ARP and ICMPv6 frames reach far deeper into the dissector than random bytes do): flipped
/// bytes, cut and repeated stretches and splices of two files. Every mutant reads or fails with
/// an error, never a panic; a reader never returns more packets than 16-byte records fit in
/// the input (no record is smaller), and Info stays bounded. 80,000 inputs, about 2 s.
#[test]
fn mutated_tool_made_captures_read_or_fail_cleanly() {
    let files: Vec<Vec<u8>> = ["any.pcapng", "layers.pcap", "layers.nsec.pcap", "merged.pcapng"]
        .iter()
        .map(|n| read(&fixture(n)))
        .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let (mut read_ok, mut warned, mut failed) = (0, 0, 0);
    for round in 0..20_000 {
        for (k, base) in files.iter().enumerate() {
            let mut f = base.clone();
            match round % 4 {
                0 => {
                    for _ in 0..1 + next(8) {
                        let at = next(f.len());
                        f[at] = next(256) as u8;
                    }
                }
                1 => {
                    let (at, len) = (next(f.len()), 1 + next(64));
                    f.drain(at..(at + len).min(f.len()));
                }
                2 => {
                    let (at, len) = (next(f.len()), 1 + next(256));
                    let piece = f[at..(at + len).min(f.len())].to_vec();
                    let to = next(f.len());
                    f.splice(to..to, piece);
                }
                _ => {
                    let other = &files[(k + 1 + next(3)) % files.len()];
                    let (cut, from) = (next(f.len()), next(other.len()));
                    f.truncate(cut);
                    f.extend_from_slice(&other[from..]);
                }
            }
            match std::panic::catch_unwind(|| parse(&f)) {
                Ok(Ok(c)) => {
                    read_ok += 1;
                    warned += usize::from(!c.warnings.is_empty());
                    assert!(
                        c.len() <= f.len() / 16 + 1,
                        "round {round}: {} packets from {} bytes",
                        c.len(),
                        f.len()
                    );
                    assert!(c.packets().all(|p| p.info.len() <= 8192), "round {round}: an Info over 8 KiB");
                }
                Ok(Err(_)) => failed += 1,
                Err(_) => panic!("round {round}, fixture {k}: the reader panicked"),
            }
        }
    }
    eprintln!("mutants: {read_ok} read ({warned} with warnings), {failed} rejected");
    assert!(
        warned > 1000 && read_ok - warned > 1000 && failed > 100,
        "{read_ok} read ({warned} with warnings), {failed} rejected: the mutations reach every path"
    );
}
