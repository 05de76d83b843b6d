//! A whole report against ground truth: every score's ROC-AUC and average precision, the
//! primary verdict's precision and recall, each **attack instance** (from a `*.stats.json`
//! attack table, or runs of labelled packets) and whether it was flagged inside an incident
//! whose actor is the attacker, and the **false incidents** (none of whose packets is an
//! attack packet). `netsieve evaluate` prints it; the page will show the same.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::evaluate::{LabelScore, Labels, score_against};

/// One attack of a capture's attack table (`attack_windows_rel` of a `*.stats.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackWindow {
    pub kind: String,
    #[serde(default)]
    pub host: String,
    pub win_start: f64,
    pub win_end: f64,
    #[serde(default)]
    pub rule: AttackRule,
}

/// Who the attacker is, as the attack table says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackRule {
    #[serde(default)]
    pub macs: Vec<String>,
    #[serde(default)]
    pub ips: Vec<String>,
}

/// Reads the attack table of a `*.stats.json`.
pub fn attack_windows(stats_json: &[u8]) -> Result<Vec<AttackWindow>, String> {
    #[derive(Deserialize)]
    struct Stats {
        attack_windows_rel: Vec<AttackWindow>,
    }
    serde_json::from_slice::<Stats>(stats_json)
        .map(|s| s.attack_windows_rel)
        .map_err(|e| format!("stats file: {e}"))
}

/// One attack instance: its labelled packets and who did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub attack: String,
    pub start: f64,
    pub end: f64,
    /// Rows (indices into the capture) of its labelled packets.
    #[serde(skip)]
    pub rows: Vec<usize>,
    pub packets: usize,
    /// The attacker's addresses and MACs, when the attack table names them; otherwise the
    /// source of the instance's first packet.
    pub attacker: Vec<String>,
}

/// Attack instances: from the attack table when there is one (labelled packets of that attack
/// inside its window), else runs of one attack's labelled packets less than 30 s apart.
pub fn instances(
    labels: &Labels,
    capture: &crate::capture::Capture,
    windows: Option<&[AttackWindow]>,
) -> Vec<Instance> {
    let labelled: Vec<(usize, &str)> = (0..capture.len())
        .filter_map(|i| labels.attack_of.get(&capture.no[i]).and_then(|a| a.as_deref()).map(|a| (i, a)))
        .collect();
    let make = |attack: &str, rows: Vec<usize>, attacker: Vec<String>| {
        let start = rows.iter().map(|&r| capture.time[r]).fold(f64::INFINITY, f64::min);
        let end = rows.iter().map(|&r| capture.time[r]).fold(f64::NEG_INFINITY, f64::max);
        let attacker = if attacker.is_empty() {
            rows.first().map(|&r| vec![capture.packet(r).source.to_string()]).unwrap_or_default()
        } else {
            attacker
        };
        Instance { attack: attack.to_string(), start, end, packets: rows.len(), rows, attacker }
    };
    match windows {
        Some(ws) => ws
            .iter()
            .map(|w| {
                let rows: Vec<usize> = labelled
                    .iter()
                    .filter(|(i, a)| {
                        *a == w.kind
                            && capture.time[*i] >= w.win_start - 1e-6
                            && capture.time[*i] <= w.win_end + 1e-6
                    })
                    .map(|(i, _)| *i)
                    .collect();
                let attacker = w.rule.ips.iter().chain(&w.rule.macs).cloned().collect();
                make(&w.kind, rows, attacker)
            })
            .filter(|inst| inst.packets > 0)
            .collect(),
        None => {
            let mut runs: Vec<(String, Vec<usize>)> = Vec::new();
            let mut open: BTreeMap<&str, usize> = BTreeMap::new();
            for &(i, a) in &labelled {
                match open.get(a) {
                    Some(&k) if capture.time[i] - capture.time[*runs[k].1.last().unwrap_or(&i)] < 30.0 => {
                        runs[k].1.push(i)
                    }
                    _ => {
                        open.insert(a, runs.len());
                        runs.push((a.to_string(), vec![i]));
                    }
                }
            }
            runs.into_iter().map(|(a, rows)| make(&a, rows, Vec::new())).collect()
        }
    }
}

/// How an instance fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceResult {
    #[serde(flatten)]
    pub instance: Instance,
    /// Its packets flagged by the primary verdict.
    pub flagged: usize,
    /// The best-ranked incident that holds one of its flagged packets and whose actor is the
    /// attacker.
    pub incident: Option<usize>,
    /// Best-ranked incident holding one of its packets, whoever the actor.
    pub any_incident: Option<usize>,
}

/// The labelled evaluation of an analysis: every score's ROC-AUC and average precision, the
/// primary verdict's precision and recall, each instance, and the false incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The detector whose verdict is evaluated (the report's primary, else its first).
    pub primary: Option<crate::detect::DetectorId>,
    #[serde(with = "crate::evaluate::undefined")]
    pub threshold: f64,
    pub scores: BTreeMap<crate::detect::DetectorId, LabelScore>,
    #[serde(with = "crate::evaluate::undefined")]
    pub precision: f64,
    #[serde(with = "crate::evaluate::undefined")]
    pub recall: f64,
    pub flagged: usize,
    pub instances: Vec<InstanceResult>,
    pub instances_found: usize,
    pub incidents: usize,
    /// Ranks of incidents none of whose packets is an attack packet.
    pub false_incidents: Vec<usize>,
}

/// MAC key for comparing a rule's MAC with a capture's vendor names.
fn mac_tail(s: &str) -> Option<String> {
    let t = s.rsplit_once('_').map_or(s, |(_, t)| t).to_ascii_lowercase();
    let parts: Vec<&str> = t.split(':').collect();
    (parts.len() >= 3 && parts.iter().all(|p| p.len() == 2)).then(|| parts[parts.len() - 3..].join(":"))
}

fn is_attacker(actor_addresses: &[String], attacker: &[String]) -> bool {
    actor_addresses
        .iter()
        .any(|a| attacker.iter().any(|b| a == b || (mac_tail(a).is_some() && mac_tail(a) == mac_tail(b))))
}

/// Evaluates a report against labels (and the attack table, when given).
pub fn evaluate(
    report: &crate::report::Report,
    capture: &crate::capture::Capture,
    labels: &Labels,
    windows: Option<&[AttackWindow]>,
) -> Evaluation {
    let scores: BTreeMap<crate::detect::DetectorId, LabelScore> = report
        .detectors
        .iter()
        .map(|(k, d)| (*k, score_against(labels, &report.row_no, &d.scores, &d.flagged)))
        .collect();
    let primary = report.primary.or_else(|| report.detectors.keys().next().copied());
    let (precision, recall, flagged, threshold) = primary
        .and_then(|p| Some((scores.get(&p)?, report.detectors.get(&p)?)))
        .map(|(s, d)| (s.precision, s.recall, s.flagged, d.threshold))
        .unwrap_or((f64::NAN, f64::NAN, 0, f64::NAN));
    let flagged_set: HashSet<u64> = primary
        .and_then(|p| report.detectors.get(&p))
        .map(|d| d.flagged.iter().copied().collect())
        .unwrap_or_default();
    let incident_of: Vec<HashSet<u64>> =
        report.incidents.iter().map(|i| i.packets.iter().copied().collect()).collect();
    let instances: Vec<InstanceResult> = instances(labels, capture, windows)
        .into_iter()
        .map(|inst| {
            let nos: Vec<u64> = inst.rows.iter().map(|&r| capture.no[r]).collect();
            let flagged = nos.iter().filter(|n| flagged_set.contains(n)).count();
            let holds = |k: usize| nos.iter().any(|n| incident_of[k].contains(n));
            let any_incident =
                (0..report.incidents.len()).find(|&k| holds(k)).map(|k| report.incidents[k].rank);
            let incident = (0..report.incidents.len())
                .find(|&k| holds(k) && is_attacker(&report.incidents[k].actor_addresses, &inst.attacker))
                .map(|k| report.incidents[k].rank);
            InstanceResult { instance: inst, flagged, incident, any_incident }
        })
        .collect();
    let false_incidents = report
        .incidents
        .iter()
        .filter(|i| !i.packets.iter().any(|n| labels.attack_of.get(n).is_some_and(Option::is_some)))
        .map(|i| i.rank)
        .collect();
    Evaluation {
        primary,
        threshold,
        precision,
        recall,
        flagged,
        instances_found: instances.iter().filter(|i| i.incident.is_some()).count(),
        instances,
        incidents: report.incidents.len(),
        false_incidents,
        scores,
    }
}
