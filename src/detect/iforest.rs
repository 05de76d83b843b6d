//! Isolation forest with scikit-learn's semantics (`IsolationForest`): random sub-samples of
//! `max_samples = min(256, n)` rows drawn without replacement, fully random splits (a random
//! non-constant feature, a uniform threshold in `[min, max)`), depth limit
//! `ceil(log2(max_samples))`, path length `depth + c(leaf size)`, score `2^(−E[h]/c(max_samples))`
//! (scikit-learn's `-score_samples`; higher = more anomalous) and `contamination` as the share
//! of rows flagged.
//!
//! No maintained, seedable crate does this, so it is written here in linfa's shape.

use serde::{Deserialize, Serialize};

use super::rng::{DetRng, rng, sample_without_replacement, uniform};
use super::tree::{Tree, mean_value};
use super::{DetectError, Scores, Threshold, invalid};
use crate::features::Matrix;

const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Average path length of an unsuccessful search in a binary search tree of `n` points: the
/// normaliser `c(n)` of the isolation forest paper (0 for n ≤ 1, 1 for n = 2).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * (libm::log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Hyper-parameters. Defaults: `n_trees` 100, `max_samples` `min(256, n)`, `contamination`
/// 0.0045 (the seed notebook's), `seed` 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForestParams {
    pub n_trees: usize,
    /// `None`: `min(256, n)`.
    pub max_samples: Option<usize>,
    pub contamination: f64,
    pub seed: u64,
}

/// Parameters that passed [`IsolationForestParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForestValidParams(IsolationForestParams);

impl Default for IsolationForestParams {
    fn default() -> Self {
        IsolationForestParams { n_trees: 100, max_samples: None, contamination: 0.0045, seed: 42 }
    }
}

impl IsolationForestParams {
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }
    pub fn max_samples(mut self, n: usize) -> Self {
        self.max_samples = Some(n);
        self
    }
    pub fn contamination(mut self, c: f64) -> Self {
        self.contamination = c;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn check(self) -> Result<IsolationForestValidParams, DetectError> {
        if self.n_trees == 0 {
            return Err(invalid("n_trees", "must be at least 1"));
        }
        if self.max_samples == Some(0) {
            return Err(invalid("max_samples", "must be at least 1"));
        }
        if !(self.contamination > 0.0 && self.contamination <= 0.5) {
            return Err(invalid("contamination", format!("must be in (0, 0.5], got {}", self.contamination)));
        }
        Ok(IsolationForestValidParams(self))
    }

    /// Checks the parameters and fits.
    pub fn fit(self, data: &Matrix<f32>) -> Result<IsolationForest, DetectError> {
        self.check()?.fit(data)
    }
}

/// A fitted isolation forest.
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    trees: Vec<Tree>,
    max_samples: usize,
    contamination: f64,
}

impl IsolationForest {
    pub fn params() -> IsolationForestParams {
        IsolationForestParams::default()
    }
}

impl IsolationForestValidParams {
    pub fn fit(&self, data: &Matrix<f32>) -> Result<IsolationForest, DetectError> {
        let p = &self.0;
        if data.rows == 0 {
            return Err(DetectError::NoPackets);
        }
        let max_samples = p.max_samples.unwrap_or(256).min(data.rows);
        let max_depth = libm::log2(max_samples.max(2) as f64).ceil() as usize;
        let trees = (0..p.n_trees)
            .map(|t| {
                let mut r = rng(p.seed, t as u64 + 1);
                let mut idx = sample_without_replacement(&mut r, data.rows, max_samples);
                let mut tree = Tree::default();
                build(data, &mut idx, 0, max_depth, &mut r, &mut tree);
                tree
            })
            .collect();
        Ok(IsolationForest { trees, max_samples, contamination: p.contamination })
    }
}

/// Grows the subtree over `idx`, returning its node index.
fn build(
    data: &Matrix<f32>,
    idx: &mut [usize],
    depth: usize,
    max_depth: usize,
    r: &mut DetRng,
    tree: &mut Tree,
) -> usize {
    // A leaf holds the path length to it plus the expected rest for the rows it holds.
    let path = depth as f64 + average_path_length(idx.len());
    if idx.len() < 2 || depth >= max_depth {
        return tree.leaf(path);
    }
    // Draw features in random order until one is not constant in this node.
    let mut features: Vec<usize> = (0..data.cols).collect();
    let mut split = None;
    while !features.is_empty() {
        let k = (uniform(r, 0.0, features.len() as f64) as usize).min(features.len() - 1);
        let f = features.swap_remove(k);
        let (lo, hi) = idx.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
            let v = f64::from(data.data[i * data.cols + f]);
            (lo.min(v), hi.max(v))
        });
        if hi > lo + 1e-7 {
            let mut t = uniform(r, lo, hi);
            if t >= hi {
                t = lo;
            }
            split = Some((f, t));
            break;
        }
    }
    let Some((feature, threshold)) = split else {
        return tree.leaf(path);
    };
    let at = tree.reserve();
    // Partition: values <= threshold first.
    let mut mid = 0;
    for j in 0..idx.len() {
        if f64::from(data.data[idx[j] * data.cols + feature]) <= threshold {
            idx.swap(mid, j);
            mid += 1;
        }
    }
    let (l, rgt) = idx.split_at_mut(mid);
    let left = build(data, l, depth + 1, max_depth, r, tree);
    let right = build(data, rgt, depth + 1, max_depth, r, tree);
    tree.split(at, feature, threshold, left, right);
    at
}

impl IsolationForest {
    /// `2^(−mean path length / c(max_samples))` per row, in `(0, 1]`; higher = more anomalous.
    /// Rows with equal values get equal scores (each distinct row is scored once).
    pub fn score(&self, data: &Matrix<f32>) -> Scores {
        let norm = average_path_length(self.max_samples);
        mean_value(&self.trees, data, |mean| if norm > 0.0 { libm::pow(2.0, -mean / norm) } else { 1.0 })
    }

    /// The rule that turns this forest's scores into flags.
    pub fn threshold(&self) -> Threshold {
        Threshold::Contamination(self.contamination)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: &[[f32; 2]]) -> Matrix<f32> {
        Matrix { rows: rows.len(), cols: 2, data: rows.iter().flatten().copied().collect() }
    }

    #[test]
    fn c_of_n() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // scikit-learn: _average_path_length([256]) = 10.244770920116851
        assert!((average_path_length(256) - 10.244_770_920_116_851).abs() < 1e-9);
        assert!((average_path_length(3) - (2.0 * (2f64.ln() + EULER_GAMMA) - 4.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn parameter_rules() {
        assert!(matches!(
            IsolationForest::params().n_trees(0).check(),
            Err(DetectError::InvalidParam { name: "n_trees", .. })
        ));
        assert!(matches!(
            IsolationForest::params().contamination(0.0).check(),
            Err(DetectError::InvalidParam { name: "contamination", .. })
        ));
        assert!(matches!(
            IsolationForest::params().contamination(0.6).check(),
            Err(DetectError::InvalidParam { name: "contamination", .. })
        ));
        assert!(IsolationForest::params().contamination(0.5).check().is_ok());
        assert!(matches!(
            IsolationForest::params().max_samples(0).check(),
            Err(DetectError::InvalidParam { name: "max_samples", .. })
        ));
        assert_eq!(IsolationForest::params().fit(&m(&[])).err(), Some(DetectError::NoPackets));
    }

    #[test]
    fn an_outlier_scores_highest() {
        let mut rows: Vec<[f32; 2]> = (0..200).map(|i| [(i % 3) as f32, 60.0 + (i % 7) as f32]).collect();
        rows.push([9.0, 9000.0]);
        let data = m(&rows);
        let forest = IsolationForest::params().fit(&data).expect("fits");
        let s = forest.score(&data);
        let top = s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
        assert_eq!(top, Some(200));
        assert!(s.iter().all(|&v| v > 0.0 && v <= 1.0));
        // fewer than 256 rows: max_samples is n
        assert_eq!(forest.max_samples, 201);
    }

    #[test]
    fn constant_data_gives_equal_scores() {
        let data = m(&[[1.0, 60.0]; 50]);
        let s = IsolationForest::params().fit(&data).expect("fits").score(&data);
        assert!(s.iter().all(|&v| v == s[0]));
        // every tree is one leaf of 50: path c(50), score 2^(-c(50)/c(50)) = 0.5
        assert!((s[0] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn same_seed_same_scores() {
        let rows: Vec<[f32; 2]> = (0..500).map(|i| [(i % 5) as f32, (i * 37 % 1500) as f32]).collect();
        let data = m(&rows);
        let a = IsolationForest::params().fit(&data).expect("fits").score(&data);
        let b = IsolationForest::params().fit(&data).expect("fits").score(&data);
        let c = IsolationForest::params().seed(7).fit(&data).expect("fits").score(&data);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
