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

use serde::{Deserialize, Serialize};

use crate::stats::percentile_sorted;

/// One score per packet, higher = more anomalous.
pub type Scores = Vec<f64>;

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
        let mut sorted = scores.to_vec();
        sorted.sort_by(f64::total_cmp);
        percentile_sorted(&sorted, q).unwrap_or(f64::NAN)
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
