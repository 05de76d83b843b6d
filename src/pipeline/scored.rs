//! The default preset after its engines have scored ([`Scored`]): what cutting the scores
//! again needs, at new combined and per-engine lines ([`EngineThresholds`]), without training
//! again. A fresh run, the page's slider and the CLI's `--threshold` all make their report
//! through [`Scored::report`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::{Params, finish};
use crate::capture::Capture;
use crate::detect::combine;
use crate::detect::{DetectorId, Threshold, Verdicts};
use crate::features::context::{self, COLUMNS};
use crate::features::scale::Surprise;
use crate::incidents;
use crate::report::{Details, DetectorReport, Report};

/// One engine of the default preset after scoring: its scores and its report without verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Engine {
    pub name: DetectorId,
    pub scores: Vec<f64>,
    pub report: DetectorReport,
}

/// Where each engine of the default preset draws its own line: an engine without an entry
/// flags its top `detector_percentile` %, a value flags scores strictly above it (on the
/// engine's surprise scale, the same scale as the combined score). In JSON, an object keyed by
/// the engines' report names (`{"iforest": 1.2}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EngineThresholds(BTreeMap<DetectorId, f64>);

impl EngineThresholds {
    /// `engine`'s own line (`None`: its top `detector_percentile` %).
    pub fn get(&self, engine: DetectorId) -> Option<f64> {
        self.0.get(&engine).copied()
    }

    /// Sets `engine`'s own line, or takes it back (`None`).
    pub fn set(&mut self, engine: DetectorId, value: Option<f64>) {
        match value {
            Some(v) => self.0.insert(engine, v),
            None => self.0.remove(&engine),
        };
    }

    /// The lines set, by engine.
    pub fn iter(&self) -> impl Iterator<Item = (DetectorId, f64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }
}

impl FromIterator<(DetectorId, f64)> for EngineThresholds {
    fn from_iter<I: IntoIterator<Item = (DetectorId, f64)>>(iter: I) -> Self {
        EngineThresholds(iter.into_iter().collect())
    }
}

/// The default preset after its engines have scored: what a new threshold needs to flag again
/// and regroup the incidents without training again (the page's slider; the CLI's
/// `--threshold` goes through the same [`Scored::report`]).
#[derive(Debug, Clone)]
pub struct Scored {
    ctx: context::Context,
    scale: Surprise,
    engines: Vec<Engine>,
    timings: BTreeMap<String, f64>,
    /// What grouping needs that no threshold changes.
    prepared: incidents::Prepared,
}

impl Scored {
    pub(super) fn new(
        ctx: context::Context,
        scale: Surprise,
        engines: Vec<Engine>,
        timings: BTreeMap<String, f64>,
    ) -> Scored {
        let prepared = incidents::Prepared::new(&ctx);
        Scored { ctx, scale, engines, timings, prepared }
    }

    /// The report at `params.context`'s thresholds: each engine's flags, the combined score,
    /// the incidents, and the combined flags: the packets at the threshold or above that a
    /// listed incident holds.
    pub fn report(&self, capture: &Capture, name: &str, bytes: usize, params: &Params) -> Report {
        let p = &params.context;
        let t = Instant::now();
        let row_no = &capture.no;
        let own = |engine: &Engine| {
            match p.engine_thresholds.get(engine.name) {
                Some(v) => Threshold::Fixed(v),
                None => Threshold::Percentile(p.detector_percentile),
            }
            .apply(&engine.scores)
        };
        let verdicts: Vec<Verdicts> = self.engines.iter().map(own).collect();
        let scores: Vec<&[f64]> = self.engines.iter().map(|e| e.scores.as_slice()).collect();
        let combined = combine::combine_surprises(p.combine, &scores);
        let mut combined_v = Threshold::AtLeast(p.threshold).apply(&combined);
        let by: Vec<(DetectorId, &[usize])> =
            self.engines.iter().zip(&verdicts).map(|(e, v)| (e.name, v.flagged.as_slice())).collect();
        let found = incidents::find_with(
            &incidents::Inputs {
                capture,
                context: &self.ctx,
                scale: &self.scale,
                combined: &combined,
                flagged: &combined_v.flagged,
                detectors: &by,
            },
            &self.prepared,
            &p.incidents,
        );
        // The combined verdict is the incidents' packets: a packet above the threshold that
        // no listed incident holds (a lone one, one of an ordinary host's busiest moments) is
        // not flagged; each engine's own entry still lists what it flagged.
        let listed: std::collections::HashSet<u64> =
            found.iter().flat_map(|i| i.packets.iter().copied()).collect();
        combined_v.flagged.retain(|&r| listed.contains(&capture.no[r]));
        let mut detectors = BTreeMap::new();
        for (e, v) in self.engines.iter().zip(&verdicts) {
            let mut r = DetectorReport::new(row_no, e.scores.clone(), v, e.report.params.clone());
            r.timings_s = e.report.timings_s.clone();
            r.details = e.report.details.clone();
            detectors.insert(e.name, r);
        }
        let feature_names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        detectors.insert(
            DetectorId::Combined,
            DetectorReport::new(
                row_no,
                combined,
                &combined_v,
                serde_json::json!({
                    "combine": p.combine, "threshold": p.threshold,
                }),
            )
            .details(Details {
                feature_columns: Some(feature_names.iter().map(|n| n.to_string()).collect()),
                ..Details::default()
            }),
        );
        let mut timings = self.timings.clone();
        timings.insert("incidents".into(), t.elapsed().as_secs_f64());
        finish(capture, name, bytes, params, detectors, timings, Some(DetectorId::Combined), found)
    }
}
