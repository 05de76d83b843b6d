//! One combined score from several detectors. Each detector's scores are first put on one
//! scale, their **surprise**: `−log₁₀` of the share of packets scoring at least as high in
//! this capture (3 = the top 0.1 %). The combination then keeps what each detector is good
//! at: [`Combine::Max`] (the default) takes the most surprised detector, so the one detector
//! that sees a DNS tunnel is not averaged away by two that see nothing; [`Combine::Mean`] and
//! [`Combine::RankMean`] are kept for comparison (`netsieve evaluate` measures all three).

use serde::{Deserialize, Serialize};

use super::Scores;

/// How detectors' surprises combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The largest surprise.
    Max,
    /// The mean surprise.
    Mean,
    /// The mean of the detectors' rank fractions (a plain rank average).
    RankMean,
}

impl Combine {
    pub const ALL: [Combine; 3] = [Combine::Max, Combine::Mean, Combine::RankMean];

    pub fn name(self) -> &'static str {
        match self {
            Combine::Max => "max",
            Combine::Mean => "mean",
            Combine::RankMean => "rank_mean",
        }
    }
}

/// `−log₁₀(share of scores ≥ s)` for each score `s` (ties share the surprise of the group).
pub fn surprise(scores: &[f64]) -> Scores {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Packets i..=j tie; j + 1 packets score at least this high.
        let s = -libm::log10((j + 1) as f64 / n as f64);
        for &k in &order[i..=j] {
            out[k] = s;
        }
        i = j + 1;
    }
    out
}

/// Combines per-detector scores (each aligned with the packets), turning each into its
/// surprise first.
pub fn combine(how: Combine, detectors: &[&[f64]]) -> Scores {
    let s: Vec<Scores> = detectors.iter().map(|d| surprise(d)).collect();
    let refs: Vec<&[f64]> = s.iter().map(Vec::as_slice).collect();
    combine_surprises(how, &refs)
}

/// Combines scores that are already surprises (the default preset's engines score each packet
/// by the surprise of its most surprising view).
pub fn combine_surprises(how: Combine, detectors: &[&[f64]]) -> Scores {
    let Some(first) = detectors.first() else { return Vec::new() };
    let n = first.len();
    match how {
        Combine::Max | Combine::Mean => {
            let s = detectors;
            (0..n)
                .map(|i| {
                    let it = s.iter().map(|d| d[i]);
                    if how == Combine::Max {
                        it.fold(0.0, f64::max)
                    } else {
                        it.sum::<f64>() / s.len() as f64
                    }
                })
                .collect()
        }
        Combine::RankMean => {
            let r: Vec<Vec<f64>> = detectors.iter().map(|d| crate::evaluate::ranks(d)).collect();
            (0..n).map(|i| r.iter().map(|d| d[i] / n as f64).sum::<f64>() / r.len() as f64).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surprise_of_the_top_packet_and_of_ties() {
        let scores: Vec<f64> = (0..1000).map(f64::from).collect();
        let s = surprise(&scores);
        assert!((s[999] - 3.0).abs() < 1e-12);
        assert!(s[0].abs() < 1e-12);
        let tied = surprise(&[5.0, 5.0, 1.0, 0.0]);
        assert!((tied[0] - (-(0.5f64).log10())).abs() < 1e-12);
        assert_eq!(tied[0], tied[1]);
    }

    #[test]
    fn max_keeps_the_one_detector_that_sees_it_and_a_rank_mean_drowns_it() {
        // Packet 0 is the top of detector a only; b and c see nothing special in it.
        let n = 1000;
        let a: Vec<f64> = (0..n).map(|i| if i == 0 { 100.0 } else { f64::from(i % 50) }).collect();
        let b: Vec<f64> = (0..n).map(|i| f64::from((i * 7) % 1000)).collect();
        let c: Vec<f64> = (0..n).map(|i| f64::from((i * 13) % 997)).collect();
        let max = combine(Combine::Max, &[&a, &b, &c]);
        let top = (0..n as usize).max_by(|&x, &y| max[x].total_cmp(&max[y])).expect("top");
        assert!(max[0] >= 3.0 - 1e-9);
        assert!(max[top] - max[0] < 1e-9, "packet 0 is among the top of the max");
        let mean = combine(Combine::RankMean, &[&a, &b, &c]);
        let better = mean.iter().filter(|&&m| m > mean[0]).count();
        assert!(better > 100, "a rank average buries it: {better} packets above");
    }
}
