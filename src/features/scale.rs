//! Scaling fitted on one capture and applied to any: [`Surprise`] maps each column to how far
//! into the fitted distribution's upper tail a value sits, `−log₁₀(1 − F(v))` divided by
//! [`MAX_SURPRISE`] (F = the mid-rank share of fitted values below it): the median is about
//! 0.06, the top 1 % 0.4, the top 0.01 % 0.8. Columns in packets, bytes, bits and shares become
//! comparable, the common range is squeezed together and the extremes are spread out, which is
//! where isolation, distance and reconstruction error look. The fitted state is plain data
//! (serde): knots at fixed levels, dense in the top 1 %, so a model fitted on one capture can
//! score another.

use serde::{Deserialize, Serialize};

use super::Matrix;

/// Surprise is capped here (1 in 100,000).
pub const MAX_SURPRISE: f64 = 5.0;

/// The levels knots are kept at: every 1/1024, then 512 more from 0.99 to 0.99999.
fn levels() -> Vec<f64> {
    let mut l: Vec<f64> = (0..=1024).map(|j| f64::from(j) / 1024.0).collect();
    l.extend((0..=512).map(|k| 1.0 - libm::pow(10.0, -2.0 - 3.0 * f64::from(k) / 512.0)));
    l.sort_by(f64::total_cmp);
    l.dedup();
    l
}

/// Per column, the fitted values at [`levels`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surprise {
    pub levels: Vec<f64>,
    pub knots: Vec<Vec<f64>>,
}

impl Surprise {
    /// Fits on the rows of `m`.
    pub fn fit(m: &Matrix<f32>) -> Surprise {
        let levels = levels();
        let knots = (0..m.cols)
            .map(|c| {
                let mut col: Vec<f64> = (0..m.rows).map(|r| f64::from(m.data[r * m.cols + c])).collect();
                col.sort_by(f64::total_cmp);
                if col.is_empty() {
                    return Vec::new();
                }
                levels.iter().map(|&l| col[(l * (col.len() - 1) as f64).round() as usize]).collect()
            })
            .collect();
        Surprise { levels, knots }
    }

    /// The share of fitted values below `v` (ties count half), in `[0, 1]`.
    pub fn share_below(&self, c: usize, v: f64) -> f64 {
        let k = &self.knots[c];
        let l = &self.levels;
        if k.is_empty() {
            return 0.5;
        }
        let lo = k.partition_point(|&x| x < v);
        let hi = k.partition_point(|&x| x <= v);
        if hi > lo {
            return (l[lo] + l[hi - 1]) / 2.0;
        }
        if lo == 0 {
            return 0.0;
        }
        if lo == k.len() {
            return 1.0;
        }
        let (v0, v1) = (k[lo - 1], k[lo]);
        l[lo - 1] + (l[lo] - l[lo - 1]) * (v - v0) / (v1 - v0)
    }

    /// `−log₁₀(1 − share_below)`, capped at [`MAX_SURPRISE`], over [`MAX_SURPRISE`]: in `[0, 1]`.
    pub fn tail(&self, c: usize, v: f64) -> f64 {
        let rest = (1.0 - self.share_below(c, v)).max(libm::pow(10.0, -MAX_SURPRISE));
        -libm::log10(rest) / MAX_SURPRISE
    }

    /// The scaled matrix.
    pub fn transform(&self, m: &Matrix<f32>) -> Matrix<f32> {
        let data =
            m.data.iter().enumerate().map(|(i, &v)| self.tail(i % m.cols, f64::from(v)) as f32).collect();
        Matrix { rows: m.rows, cols: m.cols, data }
    }

    /// The fitted value at percentile `q` (0–100) of column `c`, from the nearest knot.
    pub fn percentile(&self, c: usize, q: f64) -> f64 {
        let k = &self.knots[c];
        if k.is_empty() {
            return 0.0;
        }
        let at = self.levels.partition_point(|&l| l < q / 100.0 - 1e-12).min(k.len() - 1);
        k[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_unsurprising_the_top_is_spread_out() {
        let m = Matrix { rows: 100_000, cols: 1, data: (0..100_000).map(|i| i as f32).collect() };
        let s = Surprise::fit(&m);
        assert!((s.tail(0, 50_000.0) - 0.5f64.log10().abs() / MAX_SURPRISE).abs() < 0.01);
        assert!((s.tail(0, 99_000.0) - 2.0 / MAX_SURPRISE).abs() < 0.01, "{}", s.tail(0, 99_000.0));
        assert!((s.tail(0, 99_990.0) - 4.0 / MAX_SURPRISE).abs() < 0.02, "{}", s.tail(0, 99_990.0));
        assert_eq!(s.tail(0, 1e9), 1.0);
        assert!(s.tail(0, -5.0) == 0.0);
        assert_eq!(s.percentile(0, 99.0), 98_999.0);
    }

    #[test]
    fn a_rare_flag_stands_far_from_the_mass_at_zero() {
        let mut data = vec![0.0; 9_999];
        data.push(1.0);
        let s = Surprise::fit(&Matrix { rows: 10_000, cols: 1, data });
        assert!(s.tail(0, 0.0) < 0.07, "{}", s.tail(0, 0.0));
        assert!(s.tail(0, 1.0) > 0.7, "{}", s.tail(0, 1.0));
        assert_eq!(s.percentile(0, 50.0), 0.0);
    }

    #[test]
    fn fitted_state_round_trips_and_scores_another_capture() {
        let a = Matrix { rows: 5000, cols: 2, data: (0..10000u16).map(|i| f32::from(i % 97)).collect() };
        let s = Surprise::fit(&a);
        let json = serde_json::to_string(&s).expect("json");
        let back: Surprise = serde_json::from_str(&json).expect("back");
        let b = Matrix { rows: 1, cols: 2, data: vec![200.0, 1.0] };
        assert_eq!(back.transform(&b).data, s.transform(&b).data);
        assert_eq!(s.transform(&b).data[0], 1.0);
    }
}
