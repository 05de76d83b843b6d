//! The detectors and their shared vocabulary: every detector produces [`Scores`] (one value per
//! packet, higher = more anomalous), a [`Threshold`] rule turns scores into [`Verdicts`], so
//! thresholding, comparison and charts are written once.
//!
//! Detectors follow linfa's shape: `X::params()` → `XParams` (consuming setters, defaults
//! documented) → `.check()` → `XValidParams` → `.fit(&data)` → fitted model → `.score(&data)`.
//! Every params type carries a `seed` (default 42).

pub mod autoencoder;
pub mod combine;
pub mod iforest;
pub mod kmeans;
pub mod random_forest;
pub mod rng;
mod tree;

use serde::{Deserialize, Serialize};

use crate::stats::percentile;

/// One score per packet, higher = more anomalous.
pub type Scores = Vec<f64>;

/// Which detector: the one name used by the pipeline, the report (its JSON keys, as
/// `shared/reference/compare.py` reads them), the page and the exports. Declared in the
/// order of the names, so maps keyed by it keep the report's alphabetical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorId {
    /// The seed preset's autoencoder, or the default preset's per-group autoencoder engine.
    Autoencoder,
    /// The default preset's combined score of its three engines.
    Combined,
    /// The default preset's isolation forests (one per feature group).
    Iforest,
    /// The seed preset's isolation forest refined by a random forest.
    IforestRf,
    /// k-means distance (the seed's two clusters, or the default preset's per-group engine).
    Kmeans,
}

impl DetectorId {
    pub const ALL: [DetectorId; 5] = [
        DetectorId::Autoencoder,
        DetectorId::Combined,
        DetectorId::Iforest,
        DetectorId::IforestRf,
        DetectorId::Kmeans,
    ];

    /// The name in the report and the exports (`iforest_rf`).
    pub fn name(self) -> &'static str {
        match self {
            DetectorId::Autoencoder => "autoencoder",
            DetectorId::Combined => "combined",
            DetectorId::Iforest => "iforest",
            DetectorId::IforestRf => "iforest_rf",
            DetectorId::Kmeans => "kmeans",
        }
    }

    /// The name for people.
    pub fn label(self) -> &'static str {
        match self {
            DetectorId::Autoencoder => "Autoencoder",
            DetectorId::Combined => "Combined score",
            DetectorId::Iforest => "Isolation forest (one per feature group)",
            DetectorId::IforestRf => "Isolation forest → random forest",
            DetectorId::Kmeans => "k-means distance",
        }
    }

    /// A few letters, where space is short.
    pub fn short(self) -> &'static str {
        match self {
            DetectorId::Autoencoder => "AE",
            DetectorId::Combined => "combined",
            DetectorId::Iforest => "IF",
            DetectorId::IforestRf => "IF→RF",
            DetectorId::Kmeans => "k-means",
        }
    }

    /// Its colour in the charts (CSS).
    pub fn colour(self) -> &'static str {
        match self {
            DetectorId::Autoencoder => "#d92d20",
            DetectorId::Combined => "#101828",
            DetectorId::Iforest | DetectorId::IforestRf => "#f79009",
            DetectorId::Kmeans => "#7a5af8",
        }
    }

    /// The detector of a report name (`iforest_rf`), if there is one.
    pub fn from_name(name: &str) -> Option<DetectorId> {
        DetectorId::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl std::fmt::Display for DetectorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// How a detector turns scores into flags.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Threshold {
    /// Flag scores strictly above the q-th percentile (linear interpolation, `numpy.percentile`).
    Percentile(f64),
    /// Flag scores strictly above the (1 − c) quantile, as scikit-learn's `contamination`.
    Contamination(f64),
    /// Flag scores strictly above a fixed value.
    Fixed(f64),
    /// Flag scores at or above a fixed value (a classifier's majority vote: probability ≥ ½).
    AtLeast(f64),
}

/// The outcome of a threshold: its value and the flagged row indices (ascending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    pub threshold: f64,
    pub flagged: Vec<usize>,
}

impl Threshold {
    /// The threshold value for these scores (`NaN` for no scores).
    pub fn value(&self, scores: &[f64]) -> f64 {
        let q = match *self {
            Threshold::Fixed(v) | Threshold::AtLeast(v) => return v,
            Threshold::Percentile(q) => q,
            Threshold::Contamination(c) => 100.0 * (1.0 - c),
        };
        percentile(scores, q).unwrap_or(f64::NAN)
    }

    /// Flags the scores strictly above the threshold. Ties at the threshold are not flagged,
    /// so a tied group can drop out entirely: that is the seed method.
    pub fn apply(&self, scores: &[f64]) -> Verdicts {
        let threshold = self.value(scores);
        let inclusive = matches!(self, Threshold::AtLeast(_));
        let flagged = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > threshold || (inclusive && **s == threshold))
            .map(|(i, _)| i)
            .collect();
        Verdicts { threshold, flagged }
    }
}

/// Why a detector could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectError {
    #[error("no packets to analyse")]
    NoPackets,
    #[error("invalid parameter {name}: {message}")]
    InvalidParam { name: &'static str, message: String },
    #[error("{0}")]
    Model(String),
    /// The compute backend asked for cannot run.
    #[error("{0}")]
    Backend(String),
    #[error("cancelled")]
    Cancelled,
}

pub(crate) fn invalid(name: &'static str, message: impl Into<String>) -> DetectError {
    DetectError::InvalidParam { name, message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_names_are_the_reports_and_ordered_like_them() {
        for d in DetectorId::ALL {
            assert_eq!(serde_json::to_value(d).ok(), Some(serde_json::Value::from(d.name())));
            assert_eq!(DetectorId::from_name(d.name()), Some(d));
        }
        let mut names: Vec<&str> = DetectorId::ALL.iter().map(|d| d.name()).collect();
        names.sort_unstable();
        assert_eq!(names, DetectorId::ALL.map(DetectorId::name));
        let mut sorted = DetectorId::ALL;
        sorted.sort();
        assert_eq!(sorted, DetectorId::ALL);
        assert_eq!(DetectorId::from_name("ae"), None);
    }

    #[test]
    fn percentile_threshold_is_strict() {
        let scores: Vec<f64> = (1..=1000).map(f64::from).collect();
        let v = Threshold::Percentile(99.9).apply(&scores);
        assert!((v.threshold - 999.001).abs() < 1e-9);
        assert_eq!(v.flagged, vec![999]);
    }

    #[test]
    fn a_tie_at_the_threshold_drops_the_whole_group() {
        let mut scores = vec![0.0; 990];
        scores.extend(std::iter::repeat_n(5.0, 10));
        let v = Threshold::Percentile(99.9).apply(&scores);
        assert_eq!(v.threshold, 5.0);
        assert!(v.flagged.is_empty());
    }

    #[test]
    fn contamination_flags_the_top_fraction() {
        let scores: Vec<f64> = (0..1000).map(f64::from).collect();
        let v = Threshold::Contamination(0.0045).apply(&scores);
        // 0.45 % of 1000 is 4.5: scikit-learn's quantile line flags 5.
        assert_eq!(v.flagged.len(), 5);
        assert!((v.threshold - 994.5045).abs() < 1e-9, "{}", v.threshold);
    }

    #[test]
    fn fixed_and_empty() {
        assert_eq!(Threshold::Fixed(1.0).apply(&[0.5, 1.0, 1.5]).flagged, vec![2]);
        assert_eq!(Threshold::AtLeast(1.0).apply(&[0.5, 1.0, 1.5]).flagged, vec![1, 2]);
        assert!(Threshold::Percentile(50.0).value(&[]).is_nan());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use proptest::prelude::*;

    use super::Threshold;

    proptest! {
        /// Every threshold flags exactly the scores above its value (at or above for `AtLeast`),
        /// in ascending row order; a percentile or contamination line never flags more rows
        /// than lie above its rank.
        #[test]
        fn thresholds_flag_exactly_the_scores_above_them(
            // Few distinct values, so ties at the line are common.
            scores in prop::collection::vec((-20i32..20).prop_map(|v| f64::from(v) / 4.0), 1..300),
            q in 0.0f64..=100.0,
        ) {
            let n = scores.len();
            for t in [Threshold::Percentile(q), Threshold::Contamination(q / 100.0), Threshold::Fixed(q / 10.0), Threshold::AtLeast(q / 10.0)] {
                let v = t.apply(&scores);
                prop_assert!(v.flagged.windows(2).all(|w| w[0] < w[1]), "{:?}: rows not ascending", t);
                let inclusive = matches!(t, Threshold::AtLeast(_));
                for (i, &s) in scores.iter().enumerate() {
                    let above = s > v.threshold || (inclusive && s == v.threshold);
                    prop_assert_eq!(v.flagged.binary_search(&i).is_ok(), above, "{:?} row {} score {} line {}", t, i, s, v.threshold);
                }
                let pct = match t {
                    Threshold::Percentile(q) => Some(q),
                    Threshold::Contamination(c) => Some(100.0 * (1.0 - c)),
                    _ => None,
                };
                if let Some(pct) = pct {
                    let rank = (pct / 100.0 * (n - 1) as f64).floor() as usize;
                    prop_assert!(v.flagged.len() < n - rank, "{:?}: {} of {} flagged", t, v.flagged.len(), n);
                }
            }
        }
    }
}
