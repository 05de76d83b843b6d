//! A finished analysis kept for a person who is still looking at it: the capture, the report,
//! the default preset's scores (to flag again at another threshold without training again) and
//! the ground truth, when one was given. The worker holds one; every answer it posts is
//! [`Session::results`]. Core code: tested natively, so the page's slider and labels do what the
//! CLI's `--threshold` and `evaluate` do.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::assess::{AttackWindow, Evaluation, attack_windows, evaluate};
use crate::capture::Capture;
use crate::evaluate::Labels;
use crate::pipeline::{Analysis, EngineThresholds, Params, Scored};
use crate::report::{Report, ResultsView, score_histograms};
use crate::stats::Histogram;

/// Ground truth for the session's capture.
#[derive(Debug, Clone)]
struct Truth {
    labels: Labels,
    windows: Option<Vec<AttackWindow>>,
}

/// A file made from the session at its current thresholds, when the person asks for it (so
/// moving the slider builds none of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Export {
    /// The full report as JSON (the CLI's `--json`).
    Report,
    /// Every flagged packet as CSV, formula-safe.
    FlaggedCsv,
    /// The Markdown report (capture text escaped).
    Markdown,
    /// The flagged packets, or one incident's (by rank), as pcapng (pcap/pcapng inputs only).
    Pcap { incident: Option<usize> },
}

impl Export {
    /// The downloaded file's name.
    pub fn file_name(self) -> String {
        match self {
            Export::Report => "netsieve-report.json".into(),
            Export::FlaggedCsv => "netsieve-flagged.csv".into(),
            Export::Markdown => "netsieve-report.md".into(),
            Export::Pcap { incident: Some(rank) } => format!("netsieve-incident-{rank}.pcapng"),
            Export::Pcap { incident: None } => "netsieve-flagged.pcapng".into(),
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Export::Report => "application/json",
            Export::FlaggedCsv => "text/csv",
            Export::Markdown => "text/markdown",
            Export::Pcap { .. } => "application/vnd.tcpdump.pcap",
        }
    }
}

/// An export's contents: text, or a capture file's bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Contents {
    Text(String),
    Bytes(Vec<u8>),
}

/// A finished analysis.
#[derive(Debug, Clone)]
pub struct Session {
    capture: Capture,
    report: Report,
    scored: Option<Scored>,
    name: String,
    bytes: usize,
    params: Params,
    truth: Option<Truth>,
    /// The file's bytes, kept when it was a pcap or pcapng (to export packets from).
    source: Option<Vec<u8>>,
    /// Each detector's score histogram: the scores stay when a threshold moves.
    histograms: Vec<Histogram>,
}

/// Why a session could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("the seed preset flags by percentile: run the default preset to move its threshold")]
    NotRecuttable,
    #[error("threshold {0} is not a number")]
    BadThreshold(f64),
    #[error("{0}")]
    Labels(String),
    #[error("could not write the results: {0}")]
    Export(String),
    #[error("there is no incident #{0}")]
    NoIncident(usize),
    #[error("only a pcap or pcapng input can be exported as pcapng")]
    NotACaptureFile,
}

impl Session {
    /// The session of an analysis that ran its detectors (`None` for an overview only).
    pub fn new(analysis: Analysis, name: &str, bytes: usize, params: Params) -> Option<Session> {
        let report = analysis.report?;
        let histograms = score_histograms(&report);
        Some(Session {
            histograms,
            capture: analysis.capture,
            report,
            scored: analysis.scored,
            name: name.to_string(),
            bytes,
            params,
            truth: None,
            source: None,
        })
    }

    /// Keeps the file's bytes when they are a pcap or pcapng, for [`Session::pcapng`].
    pub fn keep_source(&mut self, bytes: Vec<u8>) {
        if self.capture.container.is_some() {
            self.source = Some(bytes);
        }
    }

    /// The packets to export: one incident's (by rank), or the primary verdict's flags (the
    /// union of every detector's for the seed preset).
    pub fn selection(report: &Report, incident: Option<usize>) -> Result<BTreeSet<u64>, SessionError> {
        if let Some(rank) = incident {
            let i = report.incidents.iter().find(|i| i.rank == rank).ok_or(SessionError::NoIncident(rank))?;
            return Ok(i.packets.iter().copied().collect());
        }
        Ok(match report.primary.as_ref().and_then(|p| report.detectors.get(p)) {
            Some(d) => d.flagged.iter().copied().collect(),
            None => report.detectors.values().flat_map(|d| d.flagged.iter().copied()).collect(),
        })
    }

    /// The flagged packets (or one incident's) as a pcapng, when the input was a capture file.
    fn pcapng(&self, incident: Option<usize>) -> Result<Vec<u8>, SessionError> {
        let source = self.source.as_ref().ok_or(SessionError::NotACaptureFile)?;
        let keep = Session::selection(&self.report, incident)?;
        crate::capture::pcap::export_pcapng(source, &keep).map_err(|e| SessionError::Export(e.to_string()))
    }

    pub fn report(&self) -> &Report {
        &self.report
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Flags again at these thresholds (the combined score's, and each engine's own line) and
    /// regroups the incidents; the evaluation, if any, follows.
    pub fn recut(&mut self, threshold: f64, engines: EngineThresholds) -> Result<(), SessionError> {
        let scored = self.scored.as_ref().ok_or(SessionError::NotRecuttable)?;
        for v in std::iter::once(threshold).chain(engines.iter().map(|(_, v)| v)) {
            if !v.is_finite() {
                return Err(SessionError::BadThreshold(v));
            }
        }
        self.params.context.threshold = threshold;
        self.params.context.engine_thresholds = engines;
        self.report = scored.report(&self.capture, &self.name, self.bytes, &self.params);
        Ok(())
    }

    /// Takes a labels file (`No.,label,attack`) and, optionally, the capture's attack table
    /// (`*.stats.json`). Labels of another capture are refused.
    pub fn set_labels(&mut self, labels: &[u8], stats: Option<&[u8]>) -> Result<(), SessionError> {
        let labels = Labels::from_csv(labels).map_err(SessionError::Labels)?;
        // Labels are per packet number: a file that misses most of this capture's packets, or
        // names many it does not have, belongs to another capture (a few rows either way: rows
        // skipped as unreadable).
        let known = self.capture.no.iter().filter(|no| labels.attack_of.contains_key(no)).count();
        let extra = labels.attack_of.len() - known;
        if known * 10 < self.capture.len() * 9 || extra * 10 > labels.attack_of.len() {
            return Err(SessionError::Labels(format!(
                "the labels name {known} of this capture's {} packets and {extra} packets it does not have: \
                 are they for another capture?",
                self.capture.len()
            )));
        }
        let windows = stats.map(attack_windows).transpose().map_err(SessionError::Labels)?;
        self.truth = Some(Truth { labels, windows });
        Ok(())
    }

    /// The evaluation at the current thresholds, when labels were given.
    pub fn evaluation(&self) -> Option<Evaluation> {
        let t = self.truth.as_ref()?;
        Some(evaluate(&self.report, &self.capture, &t.labels, t.windows.as_deref()))
    }

    /// The page's view (the first `limit` flagged packets) at the current thresholds.
    pub fn results(&self, limit: usize) -> ResultsView {
        let mut view = self.report.view_with_histograms(&self.capture, limit, self.histograms.clone());
        view.evaluation = self.evaluation();
        view.pcap_export = self.source.is_some();
        view
    }

    /// `file`, made at the current thresholds.
    pub fn export(&self, file: Export) -> Result<Contents, SessionError> {
        let failed = |e: &dyn std::fmt::Display| SessionError::Export(e.to_string());
        Ok(match file {
            Export::Report => Contents::Text(serde_json::to_string(&self.report).map_err(|e| failed(&e))?),
            Export::FlaggedCsv => {
                Contents::Text(self.report.flagged_csv(&self.capture).map_err(|e| failed(&e))?)
            }
            Export::Markdown => Contents::Text(crate::markdown::markdown(&self.report)),
            Export::Pcap { incident } => Contents::Bytes(self.pcapng(incident)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::DetectorId;
    use crate::pipeline::{NoProgress, run};

    fn session(csv: &[u8], params: Params) -> Session {
        let a = run(csv, "t.csv", &params, &mut NoProgress).expect("runs");
        Session::new(a, "t.csv", csv.len(), params).expect("detected")
    }

    fn sample() -> Vec<u8> {
        let mut s = String::from("No.,Time,Source,Destination,Protocol,Length,Info\n");
        for i in 0..400u32 {
            let (src, info, len) = if (200..240).contains(&i) {
                ("10.0.0.66", format!("4444  >  {} [SYN] Seq=0 Win=1024 Len=0", 1000 + i), 60)
            } else {
                (
                    "10.0.0.2",
                    format!("51000  >  443 [ACK] Seq={i} Ack=1 Win=500 Len={}", 100 + i % 7),
                    154 + i % 7,
                )
            };
            s.push_str(&format!(
                "{},{:.3},{src},10.0.0.10,TCP,{len},\"{info}\"\n",
                i + 1,
                f64::from(i) * 0.05
            ));
        }
        s.into_bytes()
    }

    /// The largest worker message, from a real analysis with labels (evaluation, incidents,
    /// scatter, histograms): it survives JSON, the page's encoding, unchanged — no NaN that
    /// JSON would turn into null, no field that does not come back.
    #[test]
    fn the_results_message_round_trips() {
        let csv = sample();
        for params in [Params::context(42), Params::seed(42)] {
            let mut s = session(&csv, params);
            let labels: String = std::iter::once("No.,label,attack\n".to_string())
                .chain((1..=400).map(|n| {
                    let attack = (201..=240).contains(&n);
                    format!("{n},{},{}\n", u8::from(attack), if attack { "syn_scan" } else { "" })
                }))
                .collect();
            s.set_labels(labels.as_bytes(), None).expect("labels");
            let view = s.results(5000);
            assert!(view.evaluation.is_some());
            let m = crate::protocol::FromWorker::Results { job: 4, view: Box::new(view) };
            let json = serde_json::to_string(&m).expect("serialises");
            let back: crate::protocol::FromWorker = serde_json::from_str(&json).unwrap_or_else(|e| {
                panic!("{e}: {}", &json[e.column().saturating_sub(300)..e.column() + 20])
            });
            // Compared as JSON again: an undefined figure (NaN) is not equal to itself.
            let again = serde_json::to_string(&back).expect("serialises");
            let at = again
                .bytes()
                .zip(json.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(again.len().min(json.len()));
            let around = |s: &str| s[at.saturating_sub(80)..(at + 40).min(s.len())].to_string();
            assert!(again == json, "differs at byte {at}: {} vs {}", around(&again), around(&json));
        }
    }

    #[test]
    fn a_recut_equals_a_fresh_run_at_that_threshold() {
        let csv = sample();
        let mut s = session(&csv, Params::context(42));
        let before = s.report().detectors[&DetectorId::Combined].count;
        s.recut(1.0, EngineThresholds::default()).expect("recuts");
        let fresh = session(&csv, {
            let mut p = Params::context(42);
            p.context.threshold = 1.0;
            p
        });
        let strip = |r: &Report| {
            let mut r = r.clone();
            r.timings_s.clear();
            r.detectors.values_mut().for_each(|d| d.timings_s.clear());
            r
        };
        assert_eq!(strip(s.report()), strip(fresh.report()));
        assert!(s.report().detectors[&DetectorId::Combined].count > before, "a lower threshold flags more");
        assert_eq!(s.report().detectors[&DetectorId::Combined].threshold, 1.0);
        let Ok(Contents::Text(md)) = s.export(Export::Markdown) else { panic!("a Markdown report") };
        assert!(
            md.contains("with a combined score of at least 1.\n"),
            "the Markdown says the threshold in use"
        );
    }

    #[test]
    fn engine_thresholds_move_each_engine_alone() {
        let mut s = session(&sample(), Params::context(42));
        let km = s.report().detectors[&DetectorId::Kmeans].count;
        s.recut(3.0, [(DetectorId::Iforest, 0.0)].into_iter().collect()).expect("recuts");
        assert!(
            s.report().detectors[&DetectorId::Iforest].count > 300,
            "iforest flags all but its lowest scores"
        );
        assert_eq!(s.report().detectors[&DetectorId::Kmeans].count, km);
        assert!(matches!(s.recut(f64::NAN, EngineThresholds::default()), Err(SessionError::BadThreshold(_))));
    }

    #[test]
    fn only_a_capture_file_exports_pcapng() {
        let s = session(&sample(), Params::context(42));
        assert_eq!(s.export(Export::Pcap { incident: None }), Err(SessionError::NotACaptureFile));
        assert!(matches!(Session::selection(s.report(), Some(99)), Err(SessionError::NoIncident(99))));
    }

    #[test]
    fn the_seed_preset_is_not_recut() {
        let mut s = session(&sample(), Params::seed(42));
        assert_eq!(s.recut(1.0, EngineThresholds::default()), Err(SessionError::NotRecuttable));
    }

    #[test]
    fn labels_evaluate_and_follow_the_threshold() {
        let csv = sample();
        let mut s = session(&csv, Params::context(42));
        assert!(s.evaluation().is_none());
        let mut labels = String::from("No.,label,attack\n");
        for i in 1..=400 {
            let attack = (201..=240).contains(&i);
            labels.push_str(&format!("{i},{},{}\n", u8::from(attack), if attack { "syn_scan" } else { "" }));
        }
        s.set_labels(labels.as_bytes(), None).expect("labels");
        let e = s.results(10).evaluation.expect("evaluated");
        assert_eq!(e.instances.len(), 1);
        s.recut(0.0, EngineThresholds::default()).expect("recuts");
        let all = s.evaluation().expect("evaluated");
        assert_eq!(all.flagged, 400, "threshold 0 flags every packet");
        assert!((all.recall - 1.0).abs() < 1e-12);
    }

    #[test]
    fn labels_of_another_capture_or_broken_are_refused() {
        let mut s = session(&sample(), Params::context(42));
        let other = s.set_labels(b"No.,label,attack\n9001,1,x\n", None).expect_err("another capture");
        assert!(other.to_string().contains("name 0 of this capture's 400 packets and 1"), "{other}");
        let mut smaller = String::from("No.,label,attack\n");
        for i in 1..=100 {
            smaller.push_str(&format!("{i},0,\n"));
        }
        let part = s.set_labels(smaller.as_bytes(), None).expect_err("a quarter of the packets");
        assert!(part.to_string().contains("name 100 of this capture's 400"), "{part}");
        let broken = s.set_labels(b"No.,label,attack\nx,1,y\n", None).expect_err("bad No.");
        assert!(broken.to_string().contains("line 2"), "{broken}");
        let all: String = std::iter::once("No.,label,attack\n".to_string())
            .chain((1..=400).map(|i| format!("{i},0,\n")))
            .collect();
        let stats = s.set_labels(all.as_bytes(), Some(b"{")).expect_err("bad stats");
        assert!(stats.to_string().contains("stats"), "{stats}");
        assert!(s.evaluation().is_none());
    }
}
