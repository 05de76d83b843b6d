//! The incidents' Wireshark display filters, run through the real `tshark` (Debian's package,
//! which `./x test` installs): each filter of the public captures' incidents parses, and on the
//! labelled pcapng whose CSV export we analyse, each selects every packet of its incident.

use std::process::Command;

use netsieve::pipeline::{NoProgress, Params, run};
use netsieve::report::Report;

use crate::{data, read};

fn tshark(capture: &std::path::Path, filter: &str) -> (bool, Vec<u64>, String) {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(capture)
        .args(["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark runs (install Debian's tshark package, as ./x test does)");
    let frames =
        String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|s| s.parse().ok()).collect();
    (out.status.success(), frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn incidents(file: &str) -> Report {
    let bytes = read(&data(file));
    run(&bytes, file, &Params::context(42), &mut NoProgress).expect("runs").report.expect("a report")
}

#[test]
fn each_filter_selects_its_incidents_packets_in_the_pcapng() {
    let r = incidents("pcap/sample-pcap.csv");
    assert!(!r.incidents.is_empty());
    let pcapng = data("pcap/sample-pcap.pcapng");
    for i in &r.incidents {
        let (ok, frames, err) = tshark(&pcapng, &i.filter);
        assert!(ok, "incident {}: tshark rejects {:?}: {err}", i.rank, i.filter);
        let missing: Vec<u64> = i.packets.iter().copied().filter(|p| !frames.contains(p)).collect();
        assert!(missing.is_empty(), "incident {}: {:?} misses packets {missing:?}", i.rank, i.filter);
        assert!(
            i.actor_addresses.iter().any(|a| i.filter.contains(a.split('%').next().unwrap_or(a))),
            "incident {}: the filter names the actor: {}",
            i.rank,
            i.filter
        );
    }
}

#[test]
fn every_filter_of_the_public_captures_is_valid_wireshark_syntax() {
    let pcapng = data("pcap/sample-pcap.pcapng");
    for file in ["sample-small.csv", "lab-120k.csv", "office-60k.csv"] {
        let r = incidents(file);
        assert!(!r.incidents.is_empty(), "{file}");
        for i in &r.incidents {
            let (ok, _, err) = tshark(&pcapng, &i.filter);
            assert!(ok, "{file} incident {}: tshark rejects {:?}: {err}", i.rank, i.filter);
        }
    }
    // And a filter from hostile text stays one quoted string.
    let f = netsieve::incidents::filter::host("x\" || frame.number > 0 || \"").expect("a filter").render();
    let (ok, frames, _) = tshark(&pcapng, &f);
    assert!(ok, "{f}");
    assert!(frames.is_empty(), "the quoted name matches nothing: {f}");
}
