//! The one report type of an analysis: per detector its count, flagged packet numbers,
//! threshold, per-packet scores, parameters and timings, plus the models' agreement. Serialised
//! in the shape `shared/reference/compare.py` reads (`seed-anomaly-result/1`'s fields), so
//! Netsieve's JSON compares with the reference unchanged. `view`: what the page shows of a
//! report; `export`: the flagged packets as CSV.

mod export;
mod view;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

pub use crate::detect::DetectorId;
use crate::detect::Verdicts;

pub use export::{flagged_csv, neutralise_formula};
pub use view::{
    ACTIVITY_BINS, Activity, DetectorSummary, FlaggedPacket, ResultsView, SCATTER_H, SCATTER_W, Scatter,
    log_score_histogram, score_histograms,
};

pub const SCHEMA: &str = "netsieve-report/1";

/// One detector's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorReport {
    pub count: usize,
    /// `No.` of each flagged packet, ascending.
    pub flagged: Vec<u64>,
    /// Undefined (`null` in JSON, NaN here) for an engine of the default preset whose flags are
    /// not cut yet.
    #[serde(with = "crate::evaluate::undefined")]
    pub threshold: f64,
    /// One per packet, in file order (aligned with [`Report::row_no`]); higher = more anomalous.
    pub scores: Vec<f64>,
    pub params: serde_json::Value,
    pub timings_s: BTreeMap<String, f64>,
    /// What this detector adds (its fields sit beside the others in the JSON, where compare.py
    /// reads them).
    #[serde(flatten)]
    pub details: Details,
}

/// A detector's own figures; each is written only when the detector has it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// The input columns it saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_columns: Option<Vec<String>>,
    /// Rows it was fitted on, when a sample of the capture (the default preset's engines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_rows: Option<usize>,
    #[serde(flatten)]
    pub training: Training,
    #[serde(flatten)]
    pub forest: ForestCounts,
    #[serde(flatten)]
    pub clusters: Clusters,
}

/// How the autoencoder trained.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Training {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_dim: Option<usize>,
    /// Which backend trained it, and why there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_total: Option<usize>,
    /// The mean training loss of each epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_history: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_seconds: Option<Vec<f64>>,
}

/// The isolation forest behind the seed preset's random forest (its own flags and scores), or
/// how many forests the default preset grew.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ForestCounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_count: Option<usize>,
    /// `No.` of each packet the isolation forest flagged, ascending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_flagged: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_threshold: Option<f64>,
    /// One per packet (scikit-learn's `-score_samples`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_scores: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forests: Option<usize>,
}

/// k-means's clusters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Clusters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_sizes: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inertia: Option<f64>,
}

impl DetectorReport {
    /// A report from scores and verdicts; `row_no` maps row indices to packet numbers.
    pub fn new(row_no: &[u64], scores: Vec<f64>, verdicts: &Verdicts, params: serde_json::Value) -> Self {
        let mut flagged: Vec<u64> = verdicts.flagged.iter().map(|&i| row_no[i]).collect();
        flagged.sort_unstable();
        DetectorReport {
            count: flagged.len(),
            flagged,
            threshold: verdicts.threshold,
            scores,
            params,
            timings_s: BTreeMap::new(),
            details: Details::default(),
        }
    }

    pub fn details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }

    pub fn timing(mut self, stage: &str, seconds: f64) -> Self {
        self.timings_s.insert(stage.to_string(), seconds);
        self
    }
}

/// Where the detectors agree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Packets flagged by exactly 1, 2, 3, … detectors (index 0 = by exactly one).
    pub flagged_by: Vec<usize>,
    /// Every pair of detectors: both flagged, Jaccard.
    pub pairs: Vec<PairOverlap>,
    /// Packets flagged by at least one detector.
    pub union: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairOverlap {
    pub a: DetectorId,
    pub b: DetectorId,
    pub both: usize,
    pub jaccard: f64,
}

impl Agreement {
    pub fn of(detectors: &BTreeMap<DetectorId, DetectorReport>) -> Agreement {
        let sets: Vec<(DetectorId, HashSet<u64>)> =
            detectors.iter().map(|(k, d)| (*k, d.flagged.iter().copied().collect())).collect();
        let mut times: BTreeMap<u64, usize> = BTreeMap::new();
        for (_, s) in &sets {
            for &no in s {
                *times.entry(no).or_default() += 1;
            }
        }
        let mut flagged_by = vec![0; sets.len()];
        for &n in times.values() {
            flagged_by[n - 1] += 1;
        }
        let mut pairs = Vec::new();
        for i in 0..sets.len() {
            for j in i + 1..sets.len() {
                pairs.push(PairOverlap {
                    a: sets[i].0,
                    b: sets[j].0,
                    both: sets[i].1.intersection(&sets[j].1).count(),
                    jaccard: crate::evaluate::jaccard(&sets[i].1, &sets[j].1),
                });
            }
        }
        Agreement { flagged_by, pairs, union: times.len() }
    }
}

/// The input file, as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    pub name: String,
    pub bytes: usize,
}

/// A whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub tool: String,
    /// Which analysis ran.
    #[serde(default)]
    pub preset: crate::pipeline::Preset,
    /// The detector whose verdict the page leads with (`combined` for the default preset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<DetectorId>,
    pub input: InputInfo,
    pub rows: usize,
    pub protocols: usize,
    pub params: serde_json::Value,
    /// `No.` of each row, in file order.
    pub row_no: Vec<u64>,
    pub detectors: BTreeMap<DetectorId, DetectorReport>,
    pub agreement: Agreement,
    /// The default preset's incidents, in rank order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<crate::incidents::Incident>,
    pub timings_s: BTreeMap<String, f64>,
    pub versions: BTreeMap<String, String>,
}

/// Versions that decide results.
pub fn versions() -> BTreeMap<String, String> {
    [
        ("netsieve", env!("CARGO_PKG_VERSION")),
        ("burn", "0.22.1"),
        ("linfa-clustering", "0.8.1"),
        ("target", std::env::consts::ARCH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(flagged: &[u64]) -> DetectorReport {
        let v = Verdicts { threshold: 1.0, flagged: vec![] };
        let mut d = DetectorReport::new(&[], vec![], &v, serde_json::Value::Null);
        d.flagged = flagged.to_vec();
        d.count = flagged.len();
        d
    }

    #[test]
    fn agreement_counts_overlaps() {
        let mut m = BTreeMap::new();
        m.insert(DetectorId::Autoencoder, det(&[1, 2, 3]));
        m.insert(DetectorId::IforestRf, det(&[2, 3, 4]));
        m.insert(DetectorId::Kmeans, det(&[3]));
        let a = Agreement::of(&m);
        assert_eq!(a.flagged_by, vec![2, 1, 1]);
        assert_eq!(a.union, 4);
        assert_eq!(a.pairs[0].both, 2);
        assert!((a.pairs[0].jaccard - 0.5).abs() < 1e-12);
    }

    #[test]
    fn flagged_rows_become_packet_numbers_and_details_flatten() {
        let v = Verdicts { threshold: 0.5, flagged: vec![2, 0] };
        let d = DetectorReport::new(&[10, 11, 12], vec![0.9, 0.1, 0.8], &v, serde_json::json!({"k": 2}))
            .details(Details {
                forest: ForestCounts { if_count: Some(3), ..Default::default() },
                clusters: Clusters { cluster_sizes: Some(vec![2, 1]), ..Default::default() },
                ..Default::default()
            })
            .timing("fit", 0.25);
        assert_eq!(d.flagged, vec![10, 12]);
        let json = serde_json::to_value(&d).expect("json");
        assert_eq!(json["if_count"], 3);
        assert_eq!(json["cluster_sizes"], serde_json::json!([2, 1]));
        assert_eq!(json["count"], 2);
        assert_eq!(json["timings_s"]["fit"], 0.25);
        // Only the figures a detector has are written, and they read back into their places.
        assert!(json.get("inertia").is_none() && json.get("loss_history").is_none());
        let back: DetectorReport = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, d);
    }
}
