//! Random forest classifier with scikit-learn's `RandomForestClassifier` semantics, used by
//! the seed method to "refine" the isolation forest: 100 trees, each on a bootstrap sample of
//! n rows, Gini splits over `max(1, ⌊√d⌋)` randomly drawn non-constant features per node,
//! thresholds half-way between neighbouring values, grown until pure; the forest's score is
//! the mean of the trees' leaf probabilities of the positive class.
//!
//! Why not linfa-ensemble: its `EnsembleLearner` draws features once per *tree*, not per
//! split, so with two features half its trees would see only one of them, and linfa-trees
//! re-sorts every node's rows; on 121k rows × 100 trees that is minutes, not the second the
//! seed method takes. Rows are grouped into weighted distinct points here, which gives the
//! same splits as working row by row.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::rng::{DetRng, below, rng};
use super::tree::{Tree, mean_value};
use super::{DetectError, Scores, invalid};
use crate::features::{Matrix, distinct_rows};

/// Hyper-parameters. Defaults: `n_trees` 100, `seed` 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomForestParams {
    pub n_trees: usize,
    pub seed: u64,
}

impl Default for RandomForestParams {
    fn default() -> Self {
        RandomForestParams { n_trees: 100, seed: 42 }
    }
}

/// Parameters that passed [`RandomForestParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForestValidParams(RandomForestParams);

impl RandomForestParams {
    pub fn n_trees(mut self, n: usize) -> Self {
        self.n_trees = n;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn check(self) -> Result<RandomForestValidParams, DetectError> {
        if self.n_trees == 0 {
            return Err(invalid("n_trees", "must be at least 1"));
        }
        Ok(RandomForestValidParams(self))
    }
    /// Checks the parameters and fits on rows `x` with boolean labels `y` (true = positive).
    pub fn fit(self, x: &Matrix<f32>, y: &[bool]) -> Result<RandomForest, DetectError> {
        self.check()?.fit(x, y)
    }
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomForest {
    trees: Vec<Tree>,
}

impl RandomForest {
    pub fn params() -> RandomForestParams {
        RandomForestParams::default()
    }
}

/// A distinct (row, label) point with its bootstrap weight.
#[derive(Debug, Clone, Copy)]
struct Point {
    x: usize,
    positive: bool,
    w: f64,
}

impl RandomForestValidParams {
    pub fn fit(&self, x: &Matrix<f32>, y: &[bool]) -> Result<RandomForest, DetectError> {
        if x.rows == 0 {
            return Err(DetectError::NoPackets);
        }
        if y.len() != x.rows {
            return Err(invalid("labels", format!("{} labels for {} rows", y.len(), x.rows)));
        }
        let (distinct, of_row) = distinct_rows(x);
        // Each (distinct row, label) pair is one point; rows map onto points.
        let mut point_of: HashMap<(u32, bool), usize> = HashMap::new();
        let mut base: Vec<Point> = Vec::new();
        let row_point: Vec<usize> = of_row
            .iter()
            .zip(y)
            .map(|(&d, &label)| {
                *point_of.entry((d, label)).or_insert_with(|| {
                    base.push(Point { x: d as usize, positive: label, w: 0.0 });
                    base.len() - 1
                })
            })
            .collect();
        let max_features = ((x.cols as f64).sqrt().floor() as usize).max(1);
        let n = x.rows;
        let trees = (0..self.0.n_trees)
            .map(|t| {
                let mut r = rng(self.0.seed, 10_000 + t as u64);
                let mut points = base.clone();
                for _ in 0..n {
                    points[row_point[below(&mut r, n)]].w += 1.0;
                }
                points.retain(|p| p.w > 0.0);
                let mut tree = Tree::default();
                grow(&distinct, &mut points, max_features, &mut r, &mut tree);
                tree
            })
            .collect();
        Ok(RandomForest { trees })
    }
}

fn gini(pos: f64, total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    let p = pos / total;
    1.0 - p * p - (1.0 - p) * (1.0 - p)
}

/// Best Gini split of `points` on `feature`: (threshold, proxy improvement).
fn best_split(x: &Matrix<f32>, points: &mut [Point], feature: usize) -> Option<(f64, f64)> {
    let value = |p: &Point| f64::from(x.data[p.x * x.cols + feature]);
    points.sort_by(|a, b| value(a).total_cmp(&value(b)));
    let total: f64 = points.iter().map(|p| p.w).sum();
    let total_pos: f64 = points.iter().filter(|p| p.positive).map(|p| p.w).sum();
    let (mut left_w, mut left_pos) = (0.0, 0.0);
    let mut best: Option<(f64, f64)> = None;
    for i in 0..points.len() - 1 {
        left_w += points[i].w;
        if points[i].positive {
            left_pos += points[i].w;
        }
        let (v, next) = (value(&points[i]), value(&points[i + 1]));
        if next <= v + 1e-7 {
            continue;
        }
        let right_w = total - left_w;
        let proxy = -left_w * gini(left_pos, left_w) - right_w * gini(total_pos - left_pos, right_w);
        if best.is_none_or(|(_, b)| proxy > b) {
            let mut t = v / 2.0 + next / 2.0;
            if t >= next {
                t = v;
            }
            best = Some((t, proxy));
        }
    }
    best
}

fn grow(
    x: &Matrix<f32>,
    points: &mut [Point],
    max_features: usize,
    r: &mut DetRng,
    tree: &mut Tree,
) -> usize {
    let total: f64 = points.iter().map(|p| p.w).sum();
    let pos: f64 = points.iter().filter(|p| p.positive).map(|p| p.w).sum();
    // A leaf holds the weighted share of the positive class.
    let p_positive = if total > 0.0 { pos / total } else { 0.0 };
    if points.len() < 2 || pos == 0.0 || pos == total {
        return tree.leaf(p_positive);
    }
    // Visit features in random order until `max_features` non-constant ones were tried.
    let mut features: Vec<usize> = (0..x.cols).collect();
    let mut tried = 0;
    let mut best: Option<(usize, f64, f64)> = None;
    while !features.is_empty() && tried < max_features {
        let f = features.swap_remove(below(r, features.len()));
        if let Some((t, proxy)) = best_split(x, points, f) {
            tried += 1;
            if best.is_none_or(|(_, _, b)| proxy > b) {
                best = Some((f, t, proxy));
            }
        }
    }
    let Some((feature, threshold, _)) = best else {
        return tree.leaf(p_positive);
    };
    let at = tree.reserve();
    points.sort_by(|a, b| {
        let (va, vb) = (x.data[a.x * x.cols + feature], x.data[b.x * x.cols + feature]);
        va.total_cmp(&vb)
    });
    let mid = points.partition_point(|p| f64::from(x.data[p.x * x.cols + feature]) <= threshold);
    let (l, rgt) = points.split_at_mut(mid);
    let left = grow(x, l, max_features, r, tree);
    let right = grow(x, rgt, max_features, r, tree);
    tree.split(at, feature, threshold, left, right);
    at
}

impl RandomForest {
    /// Mean probability of the positive class over the trees, per row.
    pub fn score(&self, x: &Matrix<f32>) -> Scores {
        mean_value(&self.trees, x, |mean| mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_rules() {
        assert!(matches!(
            RandomForest::params().n_trees(0).check(),
            Err(DetectError::InvalidParam { name: "n_trees", .. })
        ));
        let x = Matrix { rows: 2, cols: 2, data: vec![0.0; 4] };
        assert!(matches!(
            RandomForest::params().fit(&x, &[true]),
            Err(DetectError::InvalidParam { name: "labels", .. })
        ));
        let empty = Matrix { rows: 0, cols: 2, data: vec![] };
        assert_eq!(RandomForest::params().fit(&empty, &[]).err(), Some(DetectError::NoPackets));
    }

    #[test]
    fn gini_of_hand_checked_nodes() {
        assert_eq!(gini(0.0, 4.0), 0.0);
        assert!((gini(2.0, 4.0) - 0.5).abs() < 1e-12);
        assert!((gini(1.0, 4.0) - 0.375).abs() < 1e-12);
    }

    #[test]
    fn split_threshold_is_half_way() {
        let x = Matrix { rows: 4, cols: 1, data: vec![1.0, 2.0, 10.0, 11.0] };
        let mut pts: Vec<Point> = (0..4).map(|i| Point { x: i, positive: i >= 2, w: 1.0 }).collect();
        let (t, proxy) = best_split(&x, &mut pts, 0).expect("a split");
        assert_eq!(t, 6.0);
        assert_eq!(proxy, 0.0, "both sides pure");
    }

    #[test]
    fn reproduces_separable_labels_on_its_training_rows() {
        let rows: Vec<[f32; 2]> = (0..400).map(|i| [(i % 4) as f32, (40 + i % 50) as f32]).collect();
        let y: Vec<bool> = rows.iter().map(|r| r[0] == 3.0 && r[1] > 80.0).collect();
        let x = Matrix { rows: rows.len(), cols: 2, data: rows.iter().flatten().copied().collect() };
        let forest = RandomForest::params().fit(&x, &y).expect("fits");
        let s = forest.score(&x);
        for (score, label) in s.iter().zip(&y) {
            assert_eq!(*score >= 0.5, *label, "score {score}");
        }
        assert_eq!(s, RandomForest::params().fit(&x, &y).expect("fits").score(&x), "seeded");
    }
}
