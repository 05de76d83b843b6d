//! The seed pipeline on a real capture: same file + same seed gives an identical report, and
//! the report has the shape `shared/reference/compare.py` reads.

use netsieve::pipeline::{NoProgress, Params, run};
use serde_json::Value;

use crate::{data, read};

/// The report without its wall-clock fields.
fn without_timings(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("timings_s");
        o.remove("epoch_seconds");
        for (_, child) in o.iter_mut() {
            *child = without_timings(child.take());
        }
    }
    v
}

fn report(seed: u64) -> Value {
    let bytes = read(&data("sample-small.csv"));
    let analysis = run(&bytes, "sample-small.csv", &Params::seed(seed), &mut NoProgress).expect("runs");
    serde_json::to_value(analysis.report.expect("a report")).expect("json")
}

#[test]
fn same_file_and_seed_give_an_identical_report() {
    let (a, b) = (report(42), report(42));
    assert_eq!(without_timings(a.clone()), without_timings(b));
    let c = report(7);
    assert_ne!(a["detectors"]["autoencoder"]["scores"], c["detectors"]["autoencoder"]["scores"]);
    // compare.py's fields
    assert_eq!(a["rows"], 5224);
    assert_eq!(a["row_no"].as_array().map(Vec::len), Some(5224));
    for d in ["autoencoder", "iforest_rf", "kmeans"] {
        let det = &a["detectors"][d];
        assert_eq!(det["scores"].as_array().map(Vec::len), Some(5224), "{d}");
        assert_eq!(det["count"].as_u64(), det["flagged"].as_array().map(|f| f.len() as u64), "{d}");
    }
    assert_eq!(a["detectors"]["iforest_rf"]["if_scores"].as_array().map(Vec::len), Some(5224));
}

#[test]
fn kmeans_matches_the_reference_on_the_sample() {
    let ours = report(42);
    let reference: Value =
        serde_json::from_slice(&read(&crate::shared().join("reference/results/sample-small.seed42.json")))
            .expect("reference json");
    assert_eq!(ours["detectors"]["kmeans"]["flagged"], reference["detectors"]["kmeans"]["flagged"]);
}

/// The page's table may list only the first flagged packets; the CSV export lists them all.
#[test]
fn the_flagged_csv_lists_every_flagged_packet_when_the_table_is_capped() {
    let bytes = read(&data("sample-small.csv"));
    let mut params = Params::seed(42);
    params.autoencoder.epochs = 2;
    params.iforest.contamination = 0.05; // a few hundred flagged packets
    let analysis = run(&bytes, "sample-small.csv", &params, &mut NoProgress).expect("runs");
    let report = analysis.report.expect("a report");
    let view = report.view(&analysis.capture, 10);
    let csv = report.flagged_csv(&analysis.capture).expect("writes");
    assert_eq!(view.flagged.len(), 10);
    assert_eq!(view.flagged_total, report.agreement.union);
    assert!(view.flagged_total > 200, "{}", view.flagged_total);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("reads back");
    assert_eq!(rows.len(), view.flagged_total);
    // In `No.` order, and the first rows are the table's.
    for (row, p) in rows.iter().zip(&view.flagged) {
        assert_eq!(row[0], p.no.to_string());
        assert_eq!(row[7], p.by.iter().map(|d| d.name()).collect::<Vec<_>>().join(" "));
    }
    let nos: Vec<u64> = rows.iter().map(|r| r[0].parse().expect("a number")).collect();
    assert!(nos.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn each_incident_has_its_span_and_its_actors_activity() {
    let bytes = read(&data("pcap/sample-pcap.csv"));
    let analysis = run(&bytes, "sample-pcap.csv", &Params::context(42), &mut NoProgress).expect("runs");
    let (report, capture) = (analysis.report.expect("a report"), analysis.capture);
    assert!(!report.incidents.is_empty());
    let view = report.view(&capture, 100);
    assert_eq!(view.activity.len(), report.incidents.len());
    let row = |no: u64| capture.no.iter().position(|&n| n == no).expect("a packet of the capture") as u32;
    for (a, i) in view.activity.iter().zip(&report.incidents) {
        assert_eq!(a.rank, i.rank);
        assert_eq!(
            a.rows,
            (row(i.packets[0]), row(*i.packets.last().expect("packets"))),
            "incident {}",
            i.rank
        );
        assert_eq!(a.host.len(), netsieve::report::ACTIVITY_BINS);
        assert_eq!(a.incident.iter().sum::<u32>() as usize, i.packets.len(), "incident {}", i.rank);
        // Every packet to or from one of the actor's addresses, in the bin of its time.
        let actor = |h: u32| i.actor_addresses.iter().any(|a| a == capture.hosts.name(h));
        let of_actor =
            (0..capture.len()).filter(|&k| actor(capture.source[k]) || actor(capture.destination[k])).count();
        assert_eq!(a.host.iter().sum::<u32>() as usize, of_actor, "incident {}", i.rank);
        for (h, n) in a.host.iter().zip(&a.incident) {
            assert!(n <= h, "incident {}: an incident's packets are its actor's", i.rank);
        }
    }
}

#[test]
fn the_combined_flags_are_the_listed_incidents_packets() {
    let bytes = read(&data("sample-small.csv"));
    let analysis = run(&bytes, "sample-small.csv", &Params::context(42), &mut NoProgress).expect("runs");
    let report = analysis.report.expect("a report");
    let combined = &report.detectors[&netsieve::detect::DetectorId::Combined];
    let flagged: std::collections::BTreeSet<u64> = combined.flagged.iter().copied().collect();
    let listed: std::collections::BTreeSet<u64> =
        report.incidents.iter().flat_map(|i| i.packets.iter().copied()).collect();
    assert!(!listed.is_empty());
    assert_eq!(flagged, listed);
    // Some packet reaches the threshold outside every listed incident, and stays unflagged.
    let above = combined.scores.iter().filter(|&&s| s >= combined.threshold).count();
    assert!(above > flagged.len(), "{above} at the threshold, {} flagged", flagged.len());
}
