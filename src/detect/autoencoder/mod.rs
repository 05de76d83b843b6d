//! The seed method's deep autoencoder: d → 64 → (dropout 0.2) → 32 → 10 → 32 → (dropout 0.2)
//! → 64 → d, ReLU between, sigmoid out; Glorot-uniform weights, zero biases; Adam (Keras
//! defaults), MSE, shuffled mini-batches. Score = per-packet reconstruction MSE; flags above
//! the 99.9th percentile.
//!
//! Two trainers share this interface and the same weights ([`Net`]):
//! - a hand-written single-thread CPU trainer (`cpu`), the fast path, since burn's per-step
//!   overhead dominates at batch 32 for a network this small;
//! - the same network as a burn module (`burn_model`), trained on the device the caller passes
//!   (WebGPU in the browser; burn's `flex` CPU backend natively).
//!
//! `compute` says which one runs: the user's [`Preference`], or timing both on the capture.
//!
//! Scoring always runs the trained [`Net`] on the CPU, once per distinct input row.

mod burn_model;
mod compute;
mod cpu;
mod gemm;

use std::ops::ControlFlow;

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use burn_model::{AutoencoderConfig, BurnAutoencoder, train_burn};
pub use compute::{Accelerator, BackendNote, Compute, Preference, Trial, choose, train};
pub use cpu::StepProfile;
pub use gemm::Kernel;

use super::rng::{DetRng, below, rng};
use super::{DetectError, Scores, Threshold, invalid};
use crate::features::{Matrix, distinct_rows};

/// Hidden layer widths of the seed network (input and output have the feature width).
pub const HIDDEN: [usize; 5] = [64, 32, 10, 32, 64];
/// Layers whose (ReLU) output goes through dropout while training.
pub const DROPOUT_AFTER: [usize; 2] = [0, 3];

/// Hyper-parameters. Defaults (the seed notebook's): `epochs` 20, `batch_size` 32,
/// `learning_rate` 1e-3, Adam β1 0.9 / β2 0.999 / ε 1e-7, `dropout` 0.2, `percentile` 99.9,
/// `seed` 42. Where it trains is not a parameter of the method: see [`Compute`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderParams {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    pub dropout: f64,
    pub percentile: f64,
    pub seed: u64,
}

impl Default for AutoencoderParams {
    fn default() -> Self {
        AutoencoderParams {
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            dropout: 0.2,
            percentile: 99.9,
            seed: 42,
        }
    }
}

/// Parameters that passed [`AutoencoderParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct AutoencoderValidParams(AutoencoderParams);

impl AutoencoderValidParams {
    pub fn get(&self) -> &AutoencoderParams {
        &self.0
    }

    /// The same parameters with `n` (at least 1) epochs.
    pub(crate) fn with_epochs(mut self, n: usize) -> Self {
        self.0.epochs = n.max(1);
        self
    }
}

impl AutoencoderParams {
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }
    pub fn percentile(mut self, q: f64) -> Self {
        self.percentile = q;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn check(self) -> Result<AutoencoderValidParams, DetectError> {
        if self.epochs == 0 {
            return Err(invalid("epochs", "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(invalid("learning_rate", "must be a positive number"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(invalid("dropout", format!("must be in [0, 1), got {}", self.dropout)));
        }
        if !(0.0..=100.0).contains(&self.percentile) {
            return Err(invalid("percentile", format!("must be in [0, 100], got {}", self.percentile)));
        }
        if !(0.0..1.0).contains(&self.beta_1)
            || !(0.0..1.0).contains(&self.beta_2)
            || self.epsilon.is_nan()
            || self.epsilon <= 0.0
        {
            return Err(invalid("adam", "β1, β2 must be in [0, 1) and ε positive"));
        }
        Ok(AutoencoderValidParams(self))
    }
}

/// One dense layer: `w` is row-major `n_in × n_out` (`y = x·w + b`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub n_in: usize,
    pub n_out: usize,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// The network's weights, input to output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Net {
    pub layers: Vec<Dense>,
}

impl Net {
    /// Glorot-uniform weights (limit √(6 / (fan_in + fan_out))), zero biases, seeded.
    pub fn glorot(d: usize, r: &mut DetRng) -> Net {
        let mut dims = vec![d];
        dims.extend(HIDDEN);
        dims.push(d);
        let layers = dims
            .windows(2)
            .map(|io| {
                let (n_in, n_out) = (io[0], io[1]);
                let limit = (6.0 / (n_in + n_out) as f64).sqrt() as f32;
                let w = (0..n_in * n_out).map(|_| r.gen_range(-limit..limit)).collect();
                Dense { n_in, n_out, w, b: vec![0.0; n_out] }
            })
            .collect();
        Net { layers }
    }

    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// Reconstructs `rows` inputs (row-major, width `d`) without dropout.
    pub fn reconstruct(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut a = x.to_vec();
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let mut z = vec![0f32; rows * layer.n_out];
            cpu::affine(&a, rows, layer, &mut z);
            if l == last {
                z.iter_mut().for_each(|v| *v = cpu::sigmoid(*v));
            } else {
                z.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            a = z;
        }
        a
    }
}

/// What the trainer reports after each epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    pub epochs: usize,
    /// Mean training loss (MSE) over the epoch's samples.
    pub loss: f64,
    pub seconds: f64,
}

/// A fitted autoencoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Autoencoder {
    pub net: Net,
    pub history: Vec<EpochReport>,
    pub percentile: f64,
    /// Where the CPU trainer's time went (`None` when burn trained it).
    pub profile: Option<StepProfile>,
}

impl Autoencoder {
    pub fn params() -> AutoencoderParams {
        AutoencoderParams::default()
    }

    /// Per-row reconstruction MSE (mean over the columns); equal rows score equally.
    pub fn score(&self, data: &Matrix<f32>) -> Scores {
        let (distinct, of_row) = distinct_rows(data);
        let out = self.net.reconstruct(&distinct.data, distinct.rows);
        let d = data.cols;
        let per: Vec<f64> = (0..distinct.rows)
            .map(|r| {
                let x = distinct.row(r);
                let y = &out[r * d..(r + 1) * d];
                x.iter().zip(y).map(|(a, b)| f64::from((a - b) * (a - b))).sum::<f64>() / d as f64
            })
            .collect();
        of_row.iter().map(|&i| per[i as usize]).collect()
    }

    /// The reconstruction error over each set of columns separately (one [`Scores`] per set):
    /// which part of a packet the network could not reproduce.
    pub fn score_columns(&self, data: &Matrix<f32>, sets: &[Vec<usize>]) -> Vec<Scores> {
        let (distinct, of_row) = distinct_rows(data);
        let out = self.net.reconstruct(&distinct.data, distinct.rows);
        let d = data.cols;
        sets.iter()
            .map(|cols| {
                let per: Vec<f64> = (0..distinct.rows)
                    .map(|r| {
                        let (x, y) = (distinct.row(r), &out[r * d..(r + 1) * d]);
                        cols.iter().map(|&c| f64::from((x[c] - y[c]) * (x[c] - y[c]))).sum::<f64>()
                            / cols.len().max(1) as f64
                    })
                    .collect();
                of_row.iter().map(|&i| per[i as usize]).collect()
            })
            .collect()
    }

    pub fn threshold(&self) -> Threshold {
        Threshold::Percentile(self.percentile)
    }
}

impl AutoencoderValidParams {
    /// Trains on every row with the CPU trainer; `on_epoch` can cancel. [`train_burn`] trains
    /// on a burn device instead; [`train`] runs whichever [`choose`] picked.
    pub fn fit_cpu(
        &self,
        data: &Matrix<f32>,
        on_epoch: &mut dyn FnMut(&EpochReport) -> ControlFlow<()>,
    ) -> Result<Autoencoder, DetectError> {
        if data.rows == 0 {
            return Err(DetectError::NoPackets);
        }
        let p = &self.0;
        let mut net = Net::glorot(data.cols, &mut rng(p.seed, 0));
        let (history, profile) = cpu::train(&mut net, data, p, on_epoch)?;
        Ok(Autoencoder { net, history, percentile: p.percentile, profile: Some(profile) })
    }
}

/// The epoch's batches: a seeded shuffle of the row indices, cut in `batch_size` pieces.
pub(crate) fn epoch_order(rows: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    let mut r = rng(seed, 1_000_000 + epoch as u64);
    for i in (1..rows).rev() {
        let j = below(&mut r, i + 1);
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of an easy set: two one-hot columns and a length that depends on them.
    pub(crate) fn easy(n: usize) -> Matrix<f32> {
        let mut data = Vec::new();
        for i in 0..n {
            let a = (i % 3 == 0) as u8 as f32;
            data.extend_from_slice(&[a, 1.0 - a, if a > 0.0 { 0.9 } else { 0.1 + (i % 5) as f32 * 0.01 }]);
        }
        Matrix { rows: n, cols: 3, data }
    }

    #[test]
    fn parameter_rules() {
        let err = |p: AutoencoderParams| p.check().err();
        assert!(matches!(
            err(Autoencoder::params().epochs(0)),
            Some(DetectError::InvalidParam { name: "epochs", .. })
        ));
        assert!(matches!(
            err(Autoencoder::params().batch_size(0)),
            Some(DetectError::InvalidParam { name: "batch_size", .. })
        ));
        assert!(matches!(
            err(Autoencoder::params().learning_rate(0.0)),
            Some(DetectError::InvalidParam { name: "learning_rate", .. })
        ));
        assert!(matches!(
            err(Autoencoder::params().dropout(1.0)),
            Some(DetectError::InvalidParam { name: "dropout", .. })
        ));
        assert!(matches!(
            err(Autoencoder::params().percentile(101.0)),
            Some(DetectError::InvalidParam { name: "percentile", .. })
        ));
        let empty = Matrix { rows: 0, cols: 3, data: vec![] };
        let p = Autoencoder::params().check().expect("valid");
        assert_eq!(p.fit_cpu(&empty, &mut |_| ControlFlow::Continue(())).err(), Some(DetectError::NoPackets));
    }

    #[test]
    fn the_seed_network_has_8550_parameters_for_28_features() {
        let net = Net::glorot(28, &mut rng(42, 0));
        assert_eq!(net.parameter_count(), 8550);
        let l0 = &net.layers[0];
        let limit = (6.0f32 / 92.0).sqrt();
        assert!(l0.w.iter().all(|w| w.abs() <= limit));
        assert!(l0.b.iter().all(|&b| b == 0.0));
    }

    #[test]
    fn loss_falls_on_an_easy_set_and_cancel_stops() {
        let data = easy(600);
        let p = Autoencoder::params().epochs(15).check().expect("valid");
        let model = p.fit_cpu(&data, &mut |_| ControlFlow::Continue(())).expect("trains");
        let h = &model.history;
        assert_eq!(h.len(), 15);
        assert!(h[14].loss < h[0].loss * 0.5, "{:?}", h.iter().map(|e| e.loss).collect::<Vec<_>>());
        let s = model.score(&data);
        assert_eq!(s.len(), 600);
        assert_eq!(s[0], s[3], "equal rows score equally");
        let mut seen = 0;
        let cancelled = p.fit_cpu(&data, &mut |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert_eq!(cancelled.err(), Some(DetectError::Cancelled));
        assert_eq!(seen, 1);
    }

    #[test]
    fn same_seed_same_scores() {
        let data = easy(200);
        let p = Autoencoder::params().epochs(2).check().expect("valid");
        let go = |p: &AutoencoderValidParams| {
            p.fit_cpu(&data, &mut |_| ControlFlow::Continue(())).expect("trains").score(&data)
        };
        assert_eq!(go(&p), go(&p));
        let other = Autoencoder::params().epochs(2).seed(7).check().expect("valid");
        assert_ne!(go(&p), go(&other));
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = epoch_order(100, 42, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(100, 42, 0));
        assert_ne!(a, epoch_order(100, 42, 1));
    }
}
