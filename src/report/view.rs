//! The page's view model of a report ([`ResultsView`]): headline numbers and histograms per
//! detector, the flagged packets the table lists, the length-by-index scatter as a raster;
//! computed in the worker, small enough to post to the main thread at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Agreement, DetectorId, Report, flagged_csv};

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
        index: &RowIndex,
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
                    .filter_map(|&no| index.get(no).map(|i| (i as u32, capture.length[i])))
                    .collect();
                (*name, points)
            })
            .collect();
        Scatter { rows, max_length, width, height, occupied, flagged }
    }
}

/// Bins of an incident's actor's activity strip.
pub const ACTIVITY_BINS: usize = 120;

/// What the page draws for one incident: where it lies on the scatter, and its actor's
/// packets over the whole capture with the incident's own packets among them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// The incident's rank.
    pub rank: usize,
    /// Row indices (the scatter's x) of its first and last packet.
    pub rows: (u32, u32),
    pub start: f64,
    pub interval_s: f64,
    /// Per bin, packets the actor sent or received (by any of its addresses).
    pub host: Vec<u32>,
    /// Per bin, the incident's packets.
    pub incident: Vec<u32>,
}

impl Activity {
    /// One per incident, in rank order, in one pass over the capture.
    pub fn of(report: &Report, capture: &crate::capture::Capture, index: &RowIndex) -> Vec<Activity> {
        let incidents = &report.incidents;
        if incidents.is_empty() || capture.is_empty() {
            return Vec::new();
        }
        let (t0, t1) =
            capture.time.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &t| (a.min(t), b.max(t)));
        let interval_s = ((t1 - t0) / ACTIVITY_BINS as f64).max(1e-6);
        let bin = |t: f64| (((t - t0) / interval_s) as usize).min(ACTIVITY_BINS - 1);
        // Which incidents each host is the actor of.
        let mut actor_of: Vec<Vec<usize>> = vec![Vec::new(); capture.hosts.len()];
        for (k, inc) in incidents.iter().enumerate() {
            for id in inc.actor_addresses.iter().filter_map(|a| capture.hosts.get(a)) {
                actor_of[id as usize].push(k);
            }
        }
        let mut out: Vec<Activity> = incidents
            .iter()
            .map(|inc| {
                let rows: Vec<u32> =
                    inc.packets.iter().filter_map(|&no| index.get(no).map(|i| i as u32)).collect();
                let mut incident = vec![0u32; ACTIVITY_BINS];
                for &r in &rows {
                    incident[bin(capture.time[r as usize])] += 1;
                }
                Activity {
                    rank: inc.rank,
                    rows: (rows.iter().copied().min().unwrap_or(0), rows.iter().copied().max().unwrap_or(0)),
                    start: t0,
                    interval_s,
                    host: vec![0; ACTIVITY_BINS],
                    incident,
                }
            })
            .collect();
        let mut seen: Vec<usize> = Vec::new();
        for i in 0..capture.len() {
            let (s, d) = (capture.source[i] as usize, capture.destination[i] as usize);
            seen.clear();
            seen.extend(&actor_of[s]);
            seen.extend(&actor_of[d]);
            seen.sort_unstable();
            seen.dedup();
            for &k in &seen {
                out[k].host[bin(capture.time[i])] += 1;
            }
        }
        out
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
    /// Per incident, in rank order: its span on the scatter and its actor's activity.
    #[serde(default)]
    pub activity: Vec<Activity>,
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

/// The row of each packet number: a binary search when the numbers ascend (as Wireshark
/// numbers packets), a map otherwise.
pub struct RowIndex<'a> {
    row_no: &'a [u64],
    map: Option<std::collections::HashMap<u64, usize>>,
}

impl<'a> RowIndex<'a> {
    pub fn new(row_no: &'a [u64]) -> RowIndex<'a> {
        let ascending = row_no.windows(2).all(|w| w[0] < w[1]);
        let map = (!ascending).then(|| row_no.iter().enumerate().map(|(i, &no)| (no, i)).collect());
        RowIndex { row_no, map }
    }

    pub fn get(&self, no: u64) -> Option<usize> {
        match &self.map {
            Some(m) => m.get(&no).copied(),
            None => self.row_no.binary_search(&no).ok(),
        }
    }
}

/// Each detector's score histogram (log10 of the score, 40 bins), in the report's order. The
/// scores do not change when a threshold moves, so a session computes them once.
pub fn score_histograms(report: &Report) -> Vec<crate::stats::Histogram> {
    report.detectors.values().map(|d| log_score_histogram(&d.scores, 40)).collect()
}

impl Report {
    fn row_index(&self) -> RowIndex<'_> {
        RowIndex::new(&self.row_no)
    }

    /// Every packet flagged by any detector, in `No.` order: its seven columns, the detectors
    /// that flagged it, and every detector's score for it.
    fn flagged_packets<'a>(
        &'a self,
        capture: &'a crate::capture::Capture,
        index: &'a RowIndex<'a>,
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
            let i = index.get(no)?;
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
    /// packets.
    pub fn view(&self, capture: &crate::capture::Capture, limit: usize) -> ResultsView {
        self.view_with_histograms(capture, limit, score_histograms(self))
    }

    /// [`Report::view`] with the detectors' [`score_histograms`] already made.
    pub fn view_with_histograms(
        &self,
        capture: &crate::capture::Capture,
        limit: usize,
        histograms: Vec<crate::stats::Histogram>,
    ) -> ResultsView {
        let index = self.row_index();
        let (flagged_total, rows) = self.flagged_packets(capture, &index);
        let flagged = rows.take(limit).collect();
        self.view_with(capture, &index, flagged, flagged_total, histograms)
    }

    /// Every flagged packet as CSV (see [`flagged_csv`]).
    pub fn flagged_csv(&self, capture: &crate::capture::Capture) -> Result<String, csv::Error> {
        let index = self.row_index();
        let (_, rows) = self.flagged_packets(capture, &index);
        let names: Vec<DetectorId> = self.detectors.keys().copied().collect();
        flagged_csv(&names, rows)
    }

    fn view_with(
        &self,
        capture: &crate::capture::Capture,
        index: &RowIndex,
        flagged: Vec<FlaggedPacket>,
        flagged_total: usize,
        histograms: Vec<crate::stats::Histogram>,
    ) -> ResultsView {
        let detectors = self
            .detectors
            .iter()
            .zip(histograms)
            .map(|((name, d), histogram)| DetectorSummary {
                name: *name,
                count: d.count,
                threshold: d.threshold,
                max: d.scores.iter().copied().filter(|s| s.is_finite()).fold(0.0, f64::max),
                histogram,
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
            activity: Activity::of(self, capture, index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_index_finds_packets_in_either_order() {
        for row_no in [vec![3u64, 5, 9, 12], vec![9, 3, 12, 5]] {
            let index = RowIndex::new(&row_no);
            assert_eq!(index.map.is_some(), row_no[0] == 9, "a map only when the numbers do not ascend");
            for (i, &no) in row_no.iter().enumerate() {
                assert_eq!(index.get(no), Some(i));
            }
            assert_eq!(index.get(4), None);
        }
    }

    #[test]
    fn log_histogram_counts_every_score() {
        let h = log_score_histogram(&[1e-6, 1e-3, 1e-3, 0.5, 0.0], 10);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        assert!((h.edges[0] - (-6.0)).abs() < 1e-9);
        assert!(log_score_histogram(&[], 10).counts.is_empty());
    }
}
