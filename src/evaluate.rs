//! Agreement and evaluation measures: Jaccard overlap of flagged sets, Spearman rank
//! correlation of scores (average ranks for ties), ROC-AUC (Mann–Whitney, tie-corrected),
//! average precision, and labelled scoring against a `*.labels.csv` ground truth. The same
//! definitions as `shared/reference/compare.py`, so figures can be compared directly.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// |A ∩ B| / |A ∪ B| (1 for two empty sets).
pub fn jaccard<T: std::hash::Hash + Eq>(a: &HashSet<T>, b: &HashSet<T>) -> f64 {
    let union = a.union(b).count();
    if union == 0 { 1.0 } else { a.intersection(b).count() as f64 / union as f64 }
}

/// 1-based ranks, ties sharing their mean rank (`scipy.stats.rankdata`).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && x[order[j]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j - 1) as f64 / 2.0 + 1.0;
        for &k in &order[i..j] {
            r[k] = avg;
        }
        i = j;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 { f64::NAN } else { sab / (saa * sbb).sqrt() }
}

/// Spearman rank correlation (NaN when fewer than 3 values or one side is constant).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.len() < 3 {
        return f64::NAN;
    }
    pearson(&ranks(a), &ranks(b))
}

/// Area under the ROC curve of `scores` for boolean labels (NaN without both classes).
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    let r = ranks(scores);
    let sum: f64 = r.iter().zip(labels).filter(|(_, l)| **l).map(|(r, _)| r).sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Average precision (area under the precision–recall curve, step-wise, ties grouped).
pub fn average_precision(labels: &[bool], scores: &[f64]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    if pos == 0.0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            if labels[order[j]] {
                tp += 1.0;
            }
            seen += 1.0;
            j += 1;
        }
        let recall = tp / pos;
        ap += (recall - last_recall) * (tp / seen);
        last_recall = recall;
        i = j;
    }
    ap
}

/// Ground truth for a capture: per packet number, attack name (`None` = benign).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub attack_of: BTreeMap<u64, Option<String>>,
}

impl Labels {
    /// Reads `No.,label,attack`.
    pub fn from_csv(bytes: &[u8]) -> Result<Labels, String> {
        let mut reader = csv::Reader::from_reader(bytes);
        let mut attack_of = BTreeMap::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("labels line {}: {e}", i + 2))?;
            let no: u64 = rec
                .get(0)
                .unwrap_or("")
                .trim()
                .parse()
                .map_err(|_| format!("labels line {}: bad No.", i + 2))?;
            let label = rec.get(1).unwrap_or("0").trim() == "1";
            let attack = rec.get(2).map(str::trim).filter(|a| !a.is_empty());
            attack_of.insert(no, if label { Some(attack.unwrap_or("attack").to_string()) } else { None });
        }
        Ok(Labels { attack_of })
    }
}

/// A figure that can be undefined (`NaN`: a precision with nothing flagged, a ROC-AUC without
/// both classes) crosses JSON as `null` and comes back as `NaN`, not as an error.
pub mod undefined {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() { s.serialize_f64(*v) } else { s.serialize_none() }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// How one detector does against labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    #[serde(with = "undefined")]
    pub roc_auc: f64,
    #[serde(with = "undefined")]
    pub average_precision: f64,
    #[serde(with = "undefined")]
    pub precision: f64,
    #[serde(with = "undefined")]
    pub recall: f64,
    pub true_positives: usize,
    pub flagged: usize,
    /// Attack name → (flagged packets of it, its packets). An attack counts as detected when
    /// at least one of its packets is flagged.
    pub per_attack: BTreeMap<String, (usize, usize)>,
    pub attacks_detected: usize,
    pub attacks_total: usize,
}

/// Scores a detector's flags (packet numbers) and per-row scores (aligned with `row_no`).
pub fn score_against(labels: &Labels, row_no: &[u64], scores: &[f64], flagged: &[u64]) -> LabelScore {
    let flagged: HashSet<u64> = flagged.iter().copied().collect();
    let y: Vec<bool> =
        row_no.iter().map(|no| labels.attack_of.get(no).is_some_and(Option::is_some)).collect();
    let tp = row_no.iter().zip(&y).filter(|(no, l)| **l && flagged.contains(no)).count();
    let positives = y.iter().filter(|&&l| l).count();
    let mut per_attack: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for no in row_no {
        if let Some(Some(a)) = labels.attack_of.get(no) {
            let e = per_attack.entry(a.clone()).or_default();
            e.1 += 1;
            if flagged.contains(no) {
                e.0 += 1;
            }
        }
    }
    LabelScore {
        roc_auc: roc_auc(&y, scores),
        average_precision: average_precision(&y, scores),
        precision: if flagged.is_empty() { f64::NAN } else { tp as f64 / flagged.len() as f64 },
        recall: if positives == 0 { f64::NAN } else { tp as f64 / positives as f64 },
        true_positives: tp,
        flagged: flagged.len(),
        attacks_detected: per_attack.values().filter(|(hit, _)| *hit > 0).count(),
        attacks_total: per_attack.len(),
        per_attack,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 10.0, 30.0]), vec![1.5, 3.0, 1.5, 4.0]);
    }

    #[test]
    fn spearman_of_monotone_and_reversed() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&a, &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&a, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(spearman(&a, &[1.0, 1.0, 1.0, 1.0]).is_nan());
    }

    #[test]
    fn auc_and_ap_by_hand() {
        let y = [false, false, true, true];
        assert!((roc_auc(&y, &[0.1, 0.4, 0.35, 0.8]) - 0.75).abs() < 1e-12);
        assert!((roc_auc(&y, &[0.5; 4]) - 0.5).abs() < 1e-12);
        // ranking: 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 0.5*1 + 0.5*(2/3)
        assert!((average_precision(&y, &[0.1, 0.4, 0.35, 0.8]) - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn jaccard_sets() {
        let a: HashSet<u32> = [1, 2, 3].into();
        let b: HashSet<u32> = [2, 3, 4].into();
        assert!((jaccard(&a, &b) - 0.5).abs() < 1e-12);
        assert_eq!(jaccard::<u32>(&HashSet::new(), &HashSet::new()), 1.0);
    }

    #[test]
    fn label_scoring_counts_attacks() {
        let labels =
            Labels::from_csv(b"No.,label,attack\n1,0,\n2,1,scan\n3,1,scan\n4,1,exfil\n").expect("labels");
        let s = score_against(&labels, &[1, 2, 3, 4], &[0.0, 0.9, 0.1, 0.2], &[2]);
        assert_eq!(s.true_positives, 1);
        assert_eq!(s.attacks_detected, 1);
        assert_eq!(s.attacks_total, 2);
        assert_eq!(s.per_attack["scan"], (1, 2));
        assert!((s.precision - 1.0).abs() < 1e-12);
    }
}
