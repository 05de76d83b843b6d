//! The `netsieve` binary as a user runs it.

use std::process::Command;

use serde_json::Value;

use crate::data;

fn netsieve(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_netsieve")).args(args).output().expect("runs netsieve")
}

#[test]
fn summary_json_uses_the_stats_field_names() {
    let file = data("sample-small.csv");
    let out = netsieve(&["summary", file.to_str().expect("utf-8 path"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    let stats: Value =
        serde_json::from_slice(&crate::read(&data("sample-small.stats.json"))).expect("stats json");
    for key in ["packets", "distinct_sources", "distinct_destinations", "distinct_protocols"] {
        assert!(stats[key].is_u64(), "{key} in the stats");
        assert_eq!(v[key], stats[key], "{key}");
    }
    assert_eq!(v["protocols"][0], stats["protocols"][0]);
    assert_eq!(v["length"]["median"], stats["length"]["median"]);
}

#[test]
fn summary_text_and_warnings_on_stderr() {
    let file = data("formats/bad-length.csv");
    let out = netsieve(&["summary", file.to_str().expect("utf-8 path")]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("packets"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 168, column 6 (Length)"), "{stderr}");
    assert!(stderr.contains("2 row(s) skipped"), "{stderr}");
}

#[test]
fn rejected_file_fails_with_the_reason() {
    let file = data("formats/empty.csv");
    let out = netsieve(&["summary", file.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("empty file"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_damaged_pcapng_keeps_its_packets_and_says_where_it_stopped() {
    let file = data("pcap/sample-pcap.truncated.pcapng");
    let out = netsieve(&["summary", file.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("byte 6988764: the enhanced packet block is truncated"), "{stderr}");
    assert!(stderr.contains("the 3780 packets before it are kept"), "{stderr}");
}

fn default_report(file: &std::path::Path, out: &std::path::Path) -> Value {
    let o = netsieve(&[
        "analyze",
        file.to_str().expect("utf-8 path"),
        "--json",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&std::fs::read(out).expect("report written")).expect("json")
}

#[test]
fn the_default_preset_reports_incidents_and_is_deterministic() {
    let file = data("sample-small.csv");
    let dir = std::env::temp_dir();
    let a = default_report(&file, &dir.join("netsieve-it-default-a.json"));
    let b = default_report(&file, &dir.join("netsieve-it-default-b.json"));
    assert_eq!(a["preset"], "context");
    assert_eq!(a["primary"], "combined");
    for det in ["iforest", "kmeans", "autoencoder", "combined"] {
        assert_eq!(a["detectors"][det]["scores"].as_array().map(Vec::len), Some(5224), "{det}");
    }
    let incidents = a["incidents"].as_array().expect("incidents");
    assert!(!incidents.is_empty());
    for (i, inc) in incidents.iter().enumerate() {
        assert_eq!(inc["rank"], i + 1);
        for key in ["packets", "actor", "start", "end", "score", "detectors", "kind", "explanation", "filter"]
        {
            assert!(!inc[key].is_null(), "incident {i} lacks {key}");
        }
    }
    // Same file, same seed: the same scores, flags and incidents (timings aside).
    assert_eq!(a["detectors"]["combined"], b["detectors"]["combined"]);
    assert_eq!(a["incidents"], b["incidents"]);
}

#[test]
fn evaluate_finds_every_attack_by_its_attacker_on_the_sample() {
    let file = data("sample-small.csv");
    let labels = data("sample-small.labels.csv");
    let out = std::env::temp_dir().join("netsieve-it-eval.json");
    let o = netsieve(&[
        "evaluate",
        file.to_str().expect("utf-8 path"),
        "--labels",
        labels.to_str().expect("utf-8 path"),
        "--json",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e: Value = serde_json::from_slice(&std::fs::read(&out).expect("written")).expect("json");
    // The instances come from the attack table beside the labels (sample-small.stats.json).
    let stats: Value =
        serde_json::from_slice(&std::fs::read(data("sample-small.stats.json")).expect("stats"))
            .expect("json");
    let kinds: Vec<&str> = stats["attack_windows_rel"]
        .as_array()
        .expect("table")
        .iter()
        .filter_map(|w| w["kind"].as_str())
        .collect();
    let got: Vec<&str> =
        e["instances"].as_array().expect("instances").iter().filter_map(|i| i["attack"].as_str()).collect();
    assert_eq!(got, kinds);
    // Each attack is in an incident whose actor is the attacker: the UDP scan too, whose host
    // ran a louder TCP scan a minute before (ICMP unreachables are a view of their own).
    for instance in e["instances"].as_array().expect("instances") {
        assert!(instance["incident"].is_u64(), "in an incident whose actor is the attacker: {instance}");
    }
    assert!(e["scores"]["combined"]["roc_auc"].as_f64().expect("auc") > 0.9);
    assert!(e["precision"].as_f64().expect("precision") >= 0.5);
}

#[test]
fn pcap_out_writes_a_pcapng_that_tshark_reads_back() {
    let file = data("pcap/sample-pcap.pcapng");
    let dir = std::env::temp_dir().join(format!("netsieve-pcap-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (json, out) = (dir.join("r.json"), dir.join("flagged.pcapng"));
    let o = netsieve(&[
        "analyze",
        file.to_str().expect("utf-8"),
        "--json",
        json.to_str().expect("utf-8"),
        "--pcap-out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("json");
    let flagged: Vec<u64> = report["detectors"]["combined"]["flagged"]
        .as_array()
        .expect("flagged")
        .iter()
        .map(|v| v.as_u64().expect("No."))
        .collect();
    assert!(!flagged.is_empty());
    // tshark reads it, and its packets are the flagged ones: same lengths as in the input.
    let fields = |path: &std::path::Path| {
        let o = std::process::Command::new("tshark")
            .args([
                "-r",
                path.to_str().expect("utf-8"),
                "-T",
                "fields",
                "-e",
                "frame.len",
                "-e",
                "frame.time_epoch",
            ])
            .output()
            .expect("tshark runs (./x installs Debian's tshark)");
        assert!(o.status.success(), "tshark: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("utf-8").lines().map(str::to_string).collect::<Vec<_>>()
    };
    let all = fields(&file);
    let want: Vec<String> = flagged.iter().map(|&no| all[no as usize - 1].clone()).collect();
    assert_eq!(fields(&out), want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parity_fails_on_a_missing_reference_file() {
    let file = data("sample-small.csv");
    let missing = std::env::temp_dir().join("netsieve-no-such-reference.json");
    let out = netsieve(&[
        "parity",
        "--file",
        file.to_str().expect("utf-8 path"),
        "--reference",
        missing.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("netsieve-no-such-reference.json"), "{stderr}");
}
