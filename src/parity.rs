//! Parity of the seed preset with the reference implementation (`shared/reference/results`):
//! reads the reference result JSONs and measures a [`Report`] against them. Every bound comes
//! from how much the reference's own libraries disagree with themselves over random seeds: the
//! autoencoder's from the reference runs given (seeds 42, 1, 2), the isolation forest's from
//! scikit-learn over 20 seeds ([`SeedSpread::scikit_learn`], measured by
//! `tools/sklearn_iforest_seeds.py` and committed in `parity/`), beside which Netsieve's own
//! spread over the same seeds is printed ([`SeedSpread::netsieve`], measured by
//! `netsieve parity --iforest-seeds 20`, [`iforest_seed_spread`]).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::capture::Capture;
use crate::detect::DetectorId::{self, Autoencoder, IforestRf, Kmeans};
use crate::detect::iforest::IsolationForestParams;
use crate::evaluate::{jaccard, spearman};
use crate::features::SeedFeatures;
use crate::report::Report;

/// One figure with its bound and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub value: f64,
    pub bound: String,
    pub verdict: Verdict,
}

/// Whether a figure is inside its bound, or printed without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Fail,
    /// No bound can be derived (one reference run gives no autoencoder envelope; a measure
    /// known to swing with the seed): printed, not judged.
    Reported,
}

impl Check {
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }
}

/// How an isolation forest disagrees with itself over seeds on one capture: the flagged count
/// of each seed and the Spearman correlation of each seed's scores with the reference's
/// seed-42 scores, and among all pairs of seeds. The JSON shape of
/// `tools/sklearn_iforest_seeds.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedSpread {
    pub what: String,
    pub capture: String,
    pub seeds: Vec<u64>,
    pub count: Vec<u64>,
    pub spearman_vs_seed_42: Vec<f64>,
    pub spearman_pairwise: Pairwise,
}

/// Summary of the pairwise Spearman correlations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pairwise {
    pub pairs: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl SeedSpread {
    /// scikit-learn 1.9.1 over seeds 0..19 on lab-120k (the reference's seed 42 is the
    /// reference run itself).
    pub fn scikit_learn() -> SeedSpread {
        Self::committed(include_str!("parity/iforest_seeds.sklearn.json"))
    }

    /// Netsieve's forest over the same seeds on lab-120k.
    pub fn netsieve() -> SeedSpread {
        Self::committed(include_str!("parity/iforest_seeds.netsieve.json"))
    }

    fn committed(json: &str) -> SeedSpread {
        // A committed file that does not parse is a build defect; the test below reads both.
        serde_json::from_str(json).unwrap_or_else(|e| panic!("committed seed spread: {e}"))
    }

    fn range<T: Copy + PartialOrd>(v: &[T]) -> Option<(T, T)> {
        let first = *v.first()?;
        Some(
            v.iter().fold((first, first), |(lo, hi), &x| {
                (if x < lo { x } else { lo }, if x > hi { x } else { hi })
            }),
        )
    }

    /// `min–max` of the counts.
    pub fn count_range(&self) -> Option<(u64, u64)> {
        Self::range(&self.count)
    }

    /// `min–max` of the Spearman correlations with seed 42's reference scores.
    pub fn spearman_range(&self) -> Option<(f64, f64)> {
        Self::range(&self.spearman_vs_seed_42)
    }

    /// How many seeds flagged fewer / more packets than `count`: where a run stands.
    pub fn count_rank(&self, count: u64) -> (usize, usize) {
        (self.count.iter().filter(|&&c| c < count).count(), self.count.iter().filter(|&&c| c > count).count())
    }

    /// How many seeds correlate less / more with the reference than `rho`.
    pub fn spearman_rank(&self, rho: f64) -> (usize, usize) {
        let v = &self.spearman_vs_seed_42;
        (v.iter().filter(|&&r| r < rho).count(), v.iter().filter(|&&r| r > rho).count())
    }

    /// The median of the counts.
    pub fn count_median(&self) -> f64 {
        let mut v: Vec<f64> = self.count.iter().map(|&c| c as f64).collect();
        v.sort_by(f64::total_cmp);
        crate::stats::percentile_sorted(&v, 50.0).unwrap_or(f64::NAN)
    }

    /// One line: counts and Spearman, min / median / max.
    pub fn summary(&self) -> String {
        let (lo, hi) = self.count_range().unwrap_or((0, 0));
        let (rlo, rhi) = self.spearman_range().unwrap_or((f64::NAN, f64::NAN));
        format!(
            "{} seeds: count {lo}–{hi} (median {}), Spearman vs reference {rlo:.4}–{rhi:.4}, pairwise {:.4}–{:.4} (median {:.4})",
            self.seeds.len(),
            self.count_median(),
            self.spearman_pairwise.min,
            self.spearman_pairwise.max,
            self.spearman_pairwise.median
        )
    }
}

/// Netsieve's isolation forest (the seed preset's features and parameters) over `seeds`: the
/// same measurement as `tools/sklearn_iforest_seeds.py`, against `reference`'s seed-42 scores.
pub fn iforest_seed_spread(
    capture: &Capture,
    file_name: &str,
    params: &IsolationForestParams,
    seeds: &[u64],
    reference: &Reference,
) -> Result<SeedSpread, crate::detect::DetectError> {
    let x = SeedFeatures::fit(capture).code_and_length(capture);
    let mut count = Vec::new();
    let mut vs_42 = Vec::new();
    let mut all: Vec<Vec<f64>> = Vec::new();
    for &seed in seeds {
        let forest = params.clone().seed(seed).fit(&x)?;
        let scores = forest.score(&x);
        count.push(forest.threshold().apply(&scores).flagged.len() as u64);
        vs_42.push(rho(
            &capture.no.iter().copied().zip(scores.iter().copied()).collect(),
            &reference.if_scores,
        ));
        all.push(scores);
    }
    let mut pairwise = Vec::new();
    for i in 0..all.len() {
        for k in i + 1..all.len() {
            pairwise.push(spearman(&all[i], &all[k]));
        }
    }
    pairwise.sort_by(f64::total_cmp);
    Ok(SeedSpread {
        what: format!(
            "Netsieve IsolationForest(contamination={}) on [label code(Protocol), Length]",
            params.contamination
        ),
        capture: file_name.to_string(),
        seeds: seeds.to_vec(),
        count,
        spearman_vs_seed_42: vs_42,
        spearman_pairwise: Pairwise {
            pairs: pairwise.len(),
            min: pairwise.first().copied().unwrap_or(f64::NAN),
            median: crate::stats::percentile_sorted(&pairwise, 50.0).unwrap_or(f64::NAN),
            max: pairwise.last().copied().unwrap_or(f64::NAN),
        },
    })
}

/// A reference run: flagged sets and scores keyed by `No.`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub name: String,
    detectors: BTreeMap<DetectorId, (HashSet<u64>, BTreeMap<u64, f64>)>,
    if_scores: BTreeMap<u64, f64>,
}

fn flagged(v: &Value) -> HashSet<u64> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default()
}

fn scores_by_no(row_no: &[u64], v: &Value) -> BTreeMap<u64, f64> {
    v.as_array()
        .map(|a| row_no.iter().zip(a).filter_map(|(no, s)| s.as_f64().map(|s| (*no, s))).collect())
        .unwrap_or_default()
}

impl Reference {
    /// Reads a `seed-anomaly-result/1` JSON (or a Netsieve report: same fields).
    pub fn from_json(name: &str, v: &Value) -> Result<Reference, String> {
        let row_no: Vec<u64> = v["row_no"]
            .as_array()
            .ok_or_else(|| format!("{name}: no row_no"))?
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        let mut detectors = BTreeMap::new();
        for d in [Autoencoder, IforestRf, Kmeans] {
            let det = &v["detectors"][d.name()];
            if det.is_object() {
                detectors.insert(d, (flagged(&det["flagged"]), scores_by_no(&row_no, &det["scores"])));
            }
        }
        let if_scores = scores_by_no(&row_no, &v["detectors"][IforestRf.name()]["if_scores"]);
        Ok(Reference { name: name.to_string(), detectors, if_scores })
    }

    fn flagged(&self, d: DetectorId) -> HashSet<u64> {
        self.detectors.get(&d).map(|x| x.0.clone()).unwrap_or_default()
    }

    fn scores(&self, d: DetectorId) -> &BTreeMap<u64, f64> {
        static EMPTY: BTreeMap<u64, f64> = BTreeMap::new();
        self.detectors.get(&d).map_or(&EMPTY, |x| &x.1)
    }
}

/// Spearman of two score maps over their common packet numbers.
fn rho(a: &BTreeMap<u64, f64>, b: &BTreeMap<u64, f64>) -> f64 {
    let (x, y): (Vec<f64>, Vec<f64>) = a.iter().filter_map(|(k, v)| b.get(k).map(|w| (*v, *w))).unzip();
    spearman(&x, &y)
}

/// Per-packet values of this report keyed by `No.`.
fn by_no(report: &Report, values: &[f64]) -> BTreeMap<u64, f64> {
    report.row_no.iter().copied().zip(values.iter().copied()).collect()
}

fn check(name: impl Into<String>, value: f64, bound: impl Into<String>, pass: bool) -> Check {
    let verdict = if pass { Verdict::Pass } else { Verdict::Fail };
    Check { name: name.into(), value, bound: bound.into(), verdict }
}

fn reported(name: impl Into<String>, value: f64, why: impl Into<String>) -> Check {
    Check { name: name.into(), value, bound: why.into(), verdict: Verdict::Reported }
}

/// Measures `report` against reference runs (the first is the seed-42 run; the others,
/// other autoencoder seeds, give the autoencoder's envelope). `spread`: scikit-learn's own
/// isolation-forest spread on this capture, when measured (the forest's bounds come from it;
/// without it they are a quarter of the reference's count and its Spearman floor of 0.98).
pub fn measure(report: &Report, refs: &[Reference], spread: Option<&SeedSpread>) -> Vec<Check> {
    let Some(main) = refs.first() else { return Vec::new() };
    let mut out = kmeans_checks(report, main);
    out.extend(forest_checks(report, main, spread));
    out.extend(autoencoder_checks(report, refs));
    out
}

/// The packet numbers `d` flagged.
fn flagged_set(report: &Report, d: DetectorId) -> HashSet<u64> {
    report.detectors.get(&d).map(|x| x.flagged.iter().copied().collect()).unwrap_or_default()
}

/// k-means: the count within 3 of the reference's, and the same packets.
fn kmeans_checks(report: &Report, main: &Reference) -> Vec<Check> {
    let km = flagged_set(report, Kmeans);
    let ref_km = main.flagged(Kmeans);
    let diff = km.len() as f64 - ref_km.len() as f64;
    let j = jaccard(&km, &ref_km);
    vec![
        check("kmeans count", km.len() as f64, format!("{} ± 3", ref_km.len()), diff.abs() <= 3.0),
        check("kmeans Jaccard vs reference", j, "≥ 0.9", j >= 0.9),
    ]
}

/// The isolation forest and the random forest: which tied (Protocol, Length) group crosses the
/// 0.45 % line moves the count with the seed, so the bounds are scikit-learn's own range over
/// seeds when it was measured on this capture.
fn forest_checks(report: &Report, main: &Reference, spread: Option<&SeedSpread>) -> Vec<Check> {
    let mut out = Vec::new();
    let forest = report.detectors.get(&IforestRf).map(|d| &d.details.forest);
    let if_count = forest.and_then(|f| f.if_count).unwrap_or(0) as u64;
    let if_scores = forest.and_then(|f| f.if_scores.as_deref());
    let r = rho(&by_no(report, if_scores.unwrap_or_default()), &main.if_scores);
    match spread.and_then(|s| Some((s, s.count_range()?, s.spearman_range()?))) {
        Some((s, (lo, hi), (rlo, _))) => {
            let (below, above) = s.count_rank(if_count);
            out.push(check(
                "iforest count",
                if_count as f64,
                format!(
                    "{lo}–{hi}: scikit-learn over {} seeds; {below} flag fewer, {above} more",
                    s.seeds.len()
                ),
                (lo..=hi).contains(&if_count),
            ));
            let (below, above) = s.spearman_rank(r);
            out.push(check(
                "iforest Spearman vs reference",
                r,
                format!("≥ {rlo:.4}: scikit-learn's seeds vs its seed 42; {below} lower, {above} higher"),
                r >= rlo,
            ));
        }
        None => {
            let n = main.flagged(IforestRf).len() as f64;
            out.push(check(
                "iforest count",
                if_count as f64,
                format!(
                    "{:.0}–{:.0}: reference ± 25 % (no seed spread measured on this capture)",
                    n * 0.75,
                    n * 1.25
                ),
                (if_count as f64 - n).abs() <= n * 0.25,
            ));
            out.push(check("iforest Spearman vs reference", r, "≥ 0.98", r >= 0.98));
        }
    }
    let if_set: HashSet<u64> =
        forest.and_then(|f| f.if_flagged.as_ref()).map(|f| f.iter().copied().collect()).unwrap_or_default();
    let j = jaccard(&if_set, &main.flagged(IforestRf));
    out.push(reported(
        "iforest Jaccard vs reference",
        j,
        "not judged: scikit-learn's own seeds overlap 0.25–0.90",
    ));
    let j = jaccard(&flagged_set(report, IforestRf), &if_set);
    out.push(check("random forest Jaccard vs its isolation forest", j, "≥ 0.9", j >= 0.9));
    out
}

/// The autoencoder: its count, and its scores' Spearman against each reference run within
/// the envelope the reference runs make among themselves.
fn autoencoder_checks(report: &Report, refs: &[Reference]) -> Vec<Check> {
    let ae = flagged_set(report, Autoencoder);
    let mut out =
        vec![check("autoencoder count", ae.len() as f64, "100–140", (100..=140).contains(&ae.len()))];
    let mut pair_rho = Vec::new();
    for i in 0..refs.len() {
        for k in i + 1..refs.len() {
            pair_rho.push(rho(refs[i].scores(Autoencoder), refs[k].scores(Autoencoder)));
        }
    }
    let floor = pair_rho.iter().copied().fold(f64::INFINITY, f64::min);
    let mine = by_no(report, report.detectors.get(&Autoencoder).map_or(&[][..], |d| &d.scores));
    for rf in refs {
        let r = rho(&mine, rf.scores(Autoencoder));
        let name = format!("autoencoder Spearman vs {}", rf.name);
        out.push(if floor.is_finite() {
            let bound = format!(
                "≥ {floor:.3} (reference seeds among themselves: {:.3}–{:.3})",
                floor,
                pair_rho.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            );
            check(name, r, bound, r >= floor)
        } else {
            reported(name, r, "not judged: one reference run gives no envelope")
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_spreads_are_the_same_measurement() {
        let (sk, ns) = (SeedSpread::scikit_learn(), SeedSpread::netsieve());
        assert_eq!(sk.capture, ns.capture);
        assert_eq!(sk.seeds, ns.seeds);
        for s in [&sk, &ns] {
            assert_eq!(s.count.len(), s.seeds.len());
            assert_eq!(s.spearman_vs_seed_42.len(), s.seeds.len());
            assert_eq!(s.spearman_pairwise.pairs, s.seeds.len() * (s.seeds.len() - 1) / 2);
        }
        assert_eq!(sk.count_range(), Some((426, 548)));
        assert_eq!(sk.count_rank(457), (1, 19));
    }

    #[test]
    fn rho_uses_common_packets() {
        let a: BTreeMap<u64, f64> = [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)].into();
        let b: BTreeMap<u64, f64> = [(2, 20.0), (3, 30.0), (4, 40.0), (9, 0.0)].into();
        assert!((rho(&a, &b) - 1.0).abs() < 1e-12);
    }
}
