//! The one report type of an analysis: per detector its count, flagged packet numbers,
//! threshold, per-packet scores, parameters and timings, plus the models' agreement. Serialised
//! in the shape `shared/reference/compare.py` reads (`seed-anomaly-result/1`'s fields), so
//! Netsieve's JSON compares with the reference unchanged.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

pub use crate::detect::DetectorId;
use crate::detect::Verdicts;

pub const SCHEMA: &str = "netsieve-report/1";

/// One detector's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorReport {
    pub count: usize,
    /// `No.` of each flagged packet, ascending.
    pub flagged: Vec<u64>,
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

/// One flagged packet as the page's table shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedPacket {
    pub no: u64,
    pub time: f64,
    pub source: String,
    pub destination: String,
    pub protocol: String,
    pub length: u32,
    pub info: String,
    /// Detectors that flagged it.
    pub by: Vec<DetectorId>,
    /// Each detector's score for it, in the order of [`Report::detectors`].
    pub scores: Vec<f64>,
    /// The rank of the incident it belongs to (the default preset), if any.
    #[serde(default)]
    pub incident: Option<usize>,
}

/// A detector's headline numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorSummary {
    pub name: DetectorId,
    pub count: usize,
    pub threshold: f64,
    /// The highest score (the end of the page's threshold slider).
    #[serde(default)]
    pub max: f64,
    /// Score histogram (log10 of the score, 40 bins) with the threshold's position.
    pub histogram: crate::stats::Histogram,
}

/// Length against packet index, rasterised: which cells of a `width × height` grid hold at
/// least one packet (so 120k+ packets draw as a few thousand rectangles), and each detector's
/// flagged packets as points (`row index`, `length`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scatter {
    pub rows: usize,
    pub max_length: u32,
    pub width: u32,
    pub height: u32,
    /// Occupied cells, `y · width + x`, with y = 0 at the bottom.
    pub occupied: Vec<u32>,
    /// Each detector's flagged packets as (row index, length).
    pub flagged: Vec<(DetectorId, Vec<(u32, u32)>)>,
}

impl Scatter {
    /// `index` maps each packet number to its row.
    pub fn of(
        report: &Report,
        capture: &crate::capture::Capture,
        index: &std::collections::HashMap<u64, usize>,
        width: u32,
        height: u32,
    ) -> Scatter {
        let rows = capture.len();
        let max_length = capture.length.iter().copied().max().unwrap_or(0).max(1);
        let cell = |i: usize, len: u32| {
            let x = ((i as f64 / rows.max(1) as f64) * f64::from(width)).min(f64::from(width) - 1.0) as u32;
            let y = ((f64::from(len) / f64::from(max_length)) * f64::from(height))
                .min(f64::from(height) - 1.0) as u32;
            y * width + x
        };
        let mut grid = vec![false; (width * height) as usize];
        for (i, &len) in capture.length.iter().enumerate() {
            grid[cell(i, len) as usize] = true;
        }
        let occupied = grid.iter().enumerate().filter(|(_, b)| **b).map(|(c, _)| c as u32).collect();
        let flagged = report
            .detectors
            .iter()
            .map(|(name, d)| {
                let points = d
                    .flagged
                    .iter()
                    .filter_map(|no| index.get(no).map(|&i| (i as u32, capture.length[i])))
                    .collect();
                (*name, points)
            })
            .collect();
        Scatter { rows, max_length, width, height, occupied, flagged }
    }
}

/// What the page shows of a report: small enough to post to the main thread at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsView {
    /// Which analysis ran.
    pub preset: crate::pipeline::Preset,
    /// The default preset's incidents, in rank order (empty for the seed preset).
    pub incidents: Vec<crate::incidents::Incident>,
    pub detectors: Vec<DetectorSummary>,
    pub agreement: Agreement,
    /// Packets flagged by any detector, by `No.` (at most `limit`).
    pub flagged: Vec<FlaggedPacket>,
    pub flagged_total: usize,
    pub loss_history: Vec<f64>,
    pub scatter: Scatter,
    /// Against the labels the person gave, at the current thresholds.
    #[serde(default)]
    pub evaluation: Option<crate::assess::Evaluation>,
    /// The input was a pcap/pcapng: its flagged packets can be exported as pcapng.
    #[serde(default)]
    pub pcap_export: bool,
}

/// The scatter raster's size: the plot area of the page's chart, in CSS pixels.
pub const SCATTER_W: u32 = 1080;
pub const SCATTER_H: u32 = 260;

/// Histogram of log10(score) over `bins` equal bins (scores ≤ 0 fall in the first bin).
pub fn log_score_histogram(scores: &[f64], bins: usize) -> crate::stats::Histogram {
    let logs: Vec<f64> =
        scores.iter().map(|&s| if s > 0.0 { libm::log10(s) } else { f64::NEG_INFINITY }).collect();
    let finite = || logs.iter().copied().filter(|v| v.is_finite());
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || bins == 0 {
        return crate::stats::Histogram::default();
    }
    let width = ((hi - lo) / bins as f64).max(1e-12);
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    let mut counts = vec![0u64; bins];
    for v in logs {
        let i = if v.is_finite() { (((v - lo) / width) as usize).min(bins - 1) } else { 0 };
        counts[i] += 1;
    }
    crate::stats::Histogram { edges, counts }
}

/// Row index of each packet number.
type RowIndex = std::collections::HashMap<u64, usize>;

impl Report {
    fn row_index(&self) -> RowIndex {
        self.row_no.iter().enumerate().map(|(i, &no)| (no, i)).collect()
    }

    /// Every packet flagged by any detector, in `No.` order: its seven columns, the detectors
    /// that flagged it, and every detector's score for it.
    fn flagged_packets<'a>(
        &'a self,
        capture: &'a crate::capture::Capture,
        index: &'a RowIndex,
    ) -> (usize, impl Iterator<Item = FlaggedPacket> + 'a) {
        let names: Vec<DetectorId> = self.detectors.keys().copied().collect();
        let mut by_row: BTreeMap<u64, Vec<DetectorId>> = BTreeMap::new();
        for (name, d) in &self.detectors {
            for &no in &d.flagged {
                by_row.entry(no).or_default().push(*name);
            }
        }
        let total = by_row.len();
        let incident_of: std::collections::HashMap<u64, usize> =
            self.incidents.iter().flat_map(|inc| inc.packets.iter().map(move |&no| (no, inc.rank))).collect();
        let rows = by_row.into_iter().filter_map(move |(no, by)| {
            let i = *index.get(&no)?;
            let p = capture.packet(i);
            Some(FlaggedPacket {
                no,
                time: p.time,
                source: p.source.to_string(),
                destination: p.destination.to_string(),
                protocol: p.protocol.to_string(),
                length: p.length,
                info: p.info.to_string(),
                by,
                scores: names.iter().map(|n| self.detectors[n].scores[i]).collect(),
                incident: incident_of.get(&no).copied(),
            })
        });
        (total, rows)
    }

    /// The page's view of this report over its capture, listing the first `limit` flagged
    /// packets, and every flagged packet as CSV (see [`flagged_csv`]), in one pass.
    pub fn view_and_csv(
        &self,
        capture: &crate::capture::Capture,
        limit: usize,
    ) -> Result<(ResultsView, String), csv::Error> {
        let index = self.row_index();
        let (flagged_total, rows) = self.flagged_packets(capture, &index);
        let names: Vec<DetectorId> = self.detectors.keys().copied().collect();
        let mut flagged = Vec::with_capacity(limit.min(flagged_total));
        let csv = flagged_csv(
            &names,
            rows.inspect(|p| {
                if flagged.len() < limit {
                    flagged.push(p.clone());
                }
            }),
        )?;
        Ok((self.view(capture, &index, flagged, flagged_total), csv))
    }

    fn view(
        &self,
        capture: &crate::capture::Capture,
        index: &RowIndex,
        flagged: Vec<FlaggedPacket>,
        flagged_total: usize,
    ) -> ResultsView {
        let detectors = self
            .detectors
            .iter()
            .map(|(name, d)| DetectorSummary {
                name: *name,
                count: d.count,
                threshold: d.threshold,
                max: d.scores.iter().copied().filter(|s| s.is_finite()).fold(0.0, f64::max),
                histogram: log_score_histogram(&d.scores, 40),
            })
            .collect();
        let loss_history = self
            .detectors
            .get(&DetectorId::Autoencoder)
            .and_then(|d| d.details.training.loss_history.clone())
            .unwrap_or_default();
        ResultsView {
            preset: self.preset,
            incidents: self.incidents.clone(),
            detectors,
            agreement: self.agreement.clone(),
            flagged,
            flagged_total,
            loss_history,
            scatter: Scatter::of(self, capture, index, SCATTER_W, SCATTER_H),
            evaluation: None,
            pcap_export: false,
        }
    }
}

/// A cell made safe for spreadsheets: text that a spreadsheet would run as a formula
/// (`= + - @`, tab, carriage return first) gets a leading apostrophe.
pub fn neutralise_formula(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

/// Flagged packets as CSV (all seven Wireshark columns, the detectors that flagged each, the
/// scores of `detectors` in order), every text cell neutralised against formula injection.
pub fn flagged_csv(
    detectors: &[DetectorId],
    packets: impl IntoIterator<Item = FlaggedPacket>,
) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().quote_style(csv::QuoteStyle::NonNumeric).from_writer(Vec::new());
    let mut header: Vec<String> =
        ["No.", "Time", "Source", "Destination", "Protocol", "Length", "Info", "Flagged by", "Incident"]
            .map(String::from)
            .into();
    header.extend(detectors.iter().map(|d| format!("{d} score")));
    w.write_record(&header)?;
    for p in packets {
        let mut row = vec![
            p.no.to_string(),
            format!("{:.6}", p.time),
            neutralise_formula(&p.source),
            neutralise_formula(&p.destination),
            neutralise_formula(&p.protocol),
            p.length.to_string(),
            neutralise_formula(&p.info),
            p.by.iter().map(|d| d.name()).collect::<Vec<_>>().join(" "),
            p.incident.map_or_else(String::new, |r| r.to_string()),
        ];
        row.extend(p.scores.iter().map(|s| format!("{s}")));
        w.write_record(&row)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod view_tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        assert_eq!(neutralise_formula("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise_formula("-1+2"), "'-1+2");
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("Standard query"), "Standard query");
        let packet = FlaggedPacket {
            no: 7,
            time: 1.5,
            source: "a".into(),
            destination: "b".into(),
            protocol: "DNS".into(),
            length: 80,
            info: "=cmd|' /C calc'!A0".into(),
            by: vec![DetectorId::Kmeans],
            scores: vec![0.25],
            incident: Some(3),
        };
        let csv = flagged_csv(&[DetectorId::Kmeans], [packet]).expect("writes");
        assert!(csv.contains("\"'=cmd|' /C calc'!A0\""), "{csv}");
        assert!(csv.starts_with("\"No.\",\"Time\""), "{csv}");
        assert!(csv.contains("\"kmeans\",3,0.25"), "the incident's rank, then the scores: {csv}");
        assert!(csv.lines().next().is_some_and(|h| h.ends_with("\"kmeans score\"")), "{csv}");
    }

    #[test]
    fn log_histogram_counts_every_score() {
        let h = log_score_histogram(&[1e-6, 1e-3, 1e-3, 0.5, 0.0], 10);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        assert!((h.edges[0] - (-6.0)).abs() < 1e-9);
        assert!(log_score_histogram(&[], 10).counts.is_empty());
    }
}
