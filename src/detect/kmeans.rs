//! k-means distance scoring: linfa-clustering's `KMeans` (k-means++ initialisation, `n_runs`
//! restarts keeping the lowest inertia, seeded), then each row's score is its **mean**
//! Euclidean distance to all centroids, as the seed notebook computed it.

use linfa::prelude::*;
use linfa_clustering::KMeans as LinfaKMeans;
use ndarray::Array2;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use super::{DetectError, Scores, invalid};
use crate::features::Matrix;

/// Hyper-parameters. Defaults: `k` 2, `n_runs` 10, `max_iterations` 300, `tolerance` 1e-4,
/// `seed` 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    pub k: usize,
    pub n_runs: usize,
    pub max_iterations: u64,
    pub tolerance: f64,
    pub seed: u64,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams { k: 2, n_runs: 10, max_iterations: 300, tolerance: 1e-4, seed: 42 }
    }
}

/// Parameters that passed [`KMeansParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

impl KMeansParams {
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }
    pub fn n_runs(mut self, n: usize) -> Self {
        self.n_runs = n;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn check(self) -> Result<KMeansValidParams, DetectError> {
        if self.k == 0 {
            return Err(invalid("k", "must be at least 1"));
        }
        if self.n_runs == 0 {
            return Err(invalid("n_runs", "must be at least 1"));
        }
        if self.max_iterations == 0 {
            return Err(invalid("max_iterations", "must be at least 1"));
        }
        if self.tolerance.is_nan() || self.tolerance <= 0.0 {
            return Err(invalid("tolerance", "must be positive"));
        }
        Ok(KMeansValidParams(self))
    }
    pub fn fit(self, data: &Matrix<f64>) -> Result<KMeans, DetectError> {
        self.check()?.fit(data)
    }
}

/// Fitted centroids (row-major, `k × d`) and cluster sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    pub centroids: Matrix<f64>,
    pub cluster_sizes: Vec<usize>,
    pub inertia: f64,
}

impl KMeans {
    pub fn params() -> KMeansParams {
        KMeansParams::default()
    }
}

impl KMeansValidParams {
    pub fn fit(&self, data: &Matrix<f64>) -> Result<KMeans, DetectError> {
        let p = &self.0;
        if data.rows == 0 {
            return Err(DetectError::NoPackets);
        }
        if data.rows < p.k {
            return Err(invalid(
                "k",
                format!("{} clusters need at least {} packets, got {}", p.k, p.k, data.rows),
            ));
        }
        let records = Array2::from_shape_vec((data.rows, data.cols), data.data.clone())
            .map_err(|e| DetectError::Model(e.to_string()))?;
        let dataset = DatasetBase::from(records);
        let model = LinfaKMeans::params_with_rng(p.k, Xoshiro256Plus::seed_from_u64(p.seed))
            .n_runs(p.n_runs)
            .max_n_iterations(p.max_iterations)
            .tolerance(p.tolerance)
            .fit(&dataset)
            .map_err(|e| DetectError::Model(format!("k-means: {e}")))?;
        let c = model.centroids();
        let centroids = Matrix { rows: c.nrows(), cols: c.ncols(), data: c.iter().copied().collect() };
        let mut cluster_sizes = vec![0; p.k];
        let mut inertia = 0.0;
        for r in 0..data.rows {
            let (best, d2) = (0..centroids.rows)
                .map(|k| (k, sq_dist(data.row(r), centroids.row(k))))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            cluster_sizes[best] += 1;
            inertia += d2;
        }
        Ok(KMeans { centroids, cluster_sizes, inertia })
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

impl KMeans {
    /// Mean Euclidean distance of each row to the centroids.
    pub fn score(&self, data: &Matrix<f64>) -> Scores {
        let k = self.centroids.rows as f64;
        (0..data.rows)
            .map(|r| {
                (0..self.centroids.rows)
                    .map(|c| sq_dist(data.row(r), self.centroids.row(c)).sqrt())
                    .sum::<f64>()
                    / k
            })
            .collect()
    }

    /// For each set of columns, the distance of each row to its nearest centroid (nearest over
    /// all columns) counted over those columns only: which part of a packet is far from the
    /// traffic it is most like.
    pub fn score_columns(&self, data: &Matrix<f64>, sets: &[Vec<usize>]) -> Vec<Scores> {
        let nearest: Vec<usize> = (0..data.rows)
            .map(|r| {
                (0..self.centroids.rows)
                    .map(|c| (c, sq_dist(data.row(r), self.centroids.row(c))))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(0, |(c, _)| c)
            })
            .collect();
        sets.iter()
            .map(|cols| {
                (0..data.rows)
                    .map(|r| {
                        let (x, c) = (data.row(r), self.centroids.row(nearest[r]));
                        cols.iter().map(|&j| (x[j] - c[j]) * (x[j] - c[j])).sum::<f64>().sqrt()
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_rules() {
        assert!(matches!(KMeans::params().k(0).check(), Err(DetectError::InvalidParam { name: "k", .. })));
        assert!(matches!(
            KMeans::params().n_runs(0).check(),
            Err(DetectError::InvalidParam { name: "n_runs", .. })
        ));
        let one = Matrix { rows: 1, cols: 1, data: vec![1.0] };
        assert!(matches!(KMeans::params().fit(&one), Err(DetectError::InvalidParam { name: "k", .. })));
        let empty = Matrix { rows: 0, cols: 1, data: vec![] };
        assert_eq!(KMeans::params().fit(&empty).err(), Some(DetectError::NoPackets));
    }

    #[test]
    fn two_blobs_and_hand_checked_scores() {
        let data = Matrix { rows: 4, cols: 1, data: vec![0.0, 0.0, 10.0, 10.0] };
        let model = KMeans::params().fit(&data).expect("fits");
        let mut c = model.centroids.data.clone();
        c.sort_by(f64::total_cmp);
        assert_eq!(c, vec![0.0, 10.0]);
        assert_eq!(model.cluster_sizes, vec![2, 2]);
        // a point at 0 is 0 from one centroid and 10 from the other: mean 5
        let s = model.score(&Matrix { rows: 2, cols: 1, data: vec![0.0, 20.0] });
        assert_eq!(s, vec![5.0, 15.0]);
        let near = model.score_columns(&Matrix { rows: 2, cols: 1, data: vec![0.0, 20.0] }, &[vec![0]]);
        assert_eq!(near, vec![vec![0.0, 10.0]]);
    }
}
