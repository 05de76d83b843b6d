//! The detection stages of each preset ([`Step`]), in the order they run. Each step fits and
//! scores one detector over the features its preset names (or builds the features the
//! preset's detectors share, or combines their scores), reports progress through the sink and
//! stops when the sink cancels. A fourth detector, or another combined score, is one more
//! step in a preset's list; the list can be split between workers by what each step needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::scored::{Engine, Scored};
use super::{Event, Params, PipelineError, Preset, ProgressSink, Stage, finish, go, to_json};
use crate::capture::Capture;
use crate::detect::autoencoder::{self, Compute};
use crate::detect::combine;
use crate::detect::rng::{rng, sample_without_replacement};
use crate::detect::{DetectError, DetectorId, Threshold, Verdicts};
use crate::features::context::{self, COLUMNS, Group};
use crate::features::scale::Surprise;
use crate::features::{Matrix, NUMERIC_COLUMNS, SeedFeatures};
use crate::report::{Clusters, Details, DetectorReport, ForestCounts, Report, Training};

/// One stage of a preset's detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// seed: the autoencoder on one-hot Protocol and min-max scaled Length.
    SeedAutoencoder,
    /// seed: the isolation forest on the protocol code and Length; its flags are the random
    /// forest's labels.
    SeedIsolationForest,
    /// seed: the random forest trained on the isolation forest's flags (`iforest_rf`).
    SeedRandomForest,
    /// seed: k-means (k = 2) on standard-scaled No., Time and Length.
    SeedKMeans,
    /// default: the contextual features, their surprise scaling and the group weights.
    Features,
    /// default: one isolation forest per feature group.
    Iforest,
    /// default: k-means's distance to the nearest centroid, per feature group.
    KMeans,
    /// default: the autoencoder's reconstruction error, per feature group.
    Autoencoder,
    /// default: the combined score of the engines, its flags and the incidents.
    Incidents,
}

const SEED: [Step; 4] =
    [Step::SeedAutoencoder, Step::SeedIsolationForest, Step::SeedRandomForest, Step::SeedKMeans];
const CONTEXT: [Step; 5] = [Step::Features, Step::Iforest, Step::KMeans, Step::Autoencoder, Step::Incidents];

impl Preset {
    /// The preset's detection stages, in the order they run.
    pub fn steps(self) -> &'static [Step] {
        match self {
            Preset::Seed => &SEED,
            Preset::Context => &CONTEXT,
        }
    }

    /// The detectors whose scores the preset's combined score combines (the default preset's
    /// engines, each with its own line: `EngineThresholds`), in the order they run.
    pub fn engines(self) -> Vec<DetectorId> {
        self.steps().iter().filter_map(|s| s.engine()).collect()
    }

    /// What a helper (a second worker, a second thread) runs while the analysis trains its
    /// autoencoder: the steps that [`Step::offloads`] and the steps they need, in list order.
    pub fn helper_steps(self) -> Vec<Step> {
        let steps = self.steps();
        steps
            .iter()
            .copied()
            .filter(|s| s.offloads() || steps.iter().any(|o| o.offloads() && o.needs().contains(s)))
            .collect()
    }

    /// What the analysis runs itself while a helper runs [`Preset::helper_steps`]: every step
    /// that does not offload (the features both need are built on both sides).
    pub fn own_steps(self) -> Vec<Step> {
        self.steps().iter().copied().filter(|s| !s.offloads()).collect()
    }
}

impl Step {
    /// The stage the page and the CLI show while it runs.
    pub fn stage(self) -> Stage {
        match self {
            Step::SeedAutoencoder | Step::Autoencoder => Stage::Autoencoder,
            Step::SeedIsolationForest | Step::Iforest => Stage::IsolationForest,
            Step::SeedRandomForest => Stage::RandomForest,
            Step::SeedKMeans | Step::KMeans => Stage::KMeans,
            Step::Features => Stage::Features,
            Step::Incidents => Stage::Incidents,
        }
    }

    /// The detector whose report entry the step writes, if any.
    pub fn detector(self) -> Option<DetectorId> {
        match self {
            Step::SeedAutoencoder | Step::Autoencoder => Some(DetectorId::Autoencoder),
            Step::SeedRandomForest => Some(DetectorId::IforestRf),
            Step::SeedKMeans | Step::KMeans => Some(DetectorId::Kmeans),
            Step::Iforest => Some(DetectorId::Iforest),
            Step::Incidents => Some(DetectorId::Combined),
            Step::SeedIsolationForest | Step::Features => None,
        }
    }

    /// The engine the step scores, for the steps whose scores a combined score combines.
    pub fn engine(self) -> Option<DetectorId> {
        match self {
            Step::Iforest | Step::KMeans | Step::Autoencoder => self.detector(),
            _ => None,
        }
    }

    /// The steps whose results this one reads (the isolation forest's flags, the features,
    /// the engines' scores).
    pub fn needs(self) -> &'static [Step] {
        match self {
            Step::SeedRandomForest => &[Step::SeedIsolationForest],
            Step::Iforest | Step::KMeans | Step::Autoencoder => &[Step::Features],
            Step::Incidents => &[Step::Features, Step::Iforest, Step::KMeans, Step::Autoencoder],
            _ => &[],
        }
    }

    /// Whether the step runs in a helper beside the autoencoder. A step that may reads neither
    /// the autoencoder's results nor the device it trains on (a WebGPU device belongs to one
    /// worker), and nothing before the combined score reads its results; of those, the helper
    /// takes what balances the two sides, as measured on lab-120k. Default: the isolation
    /// forests alone, as long as the autoencoder and k-means together (natively 2.4 s against
    /// 1.2 + 0.8 s, in the page 2.8 s against 1.5 + 1.6 s; each side builds the features,
    /// 1.1 s): the page's drop to incidents went from 10.3 s to 7.3–8.4 s. Seed: nothing. Its
    /// forests and k-means take 0.6 s natively beside 10 s of training, and in the page the
    /// analysis was slower with them beside it (17.5–18.5 s against 15.4 s; with the faster
    /// kernel, 11.89 s against 11.85 s: no gain).
    pub fn offloads(self) -> bool {
        matches!(self, Step::Iforest)
    }

    /// Runs the step on `work`.
    pub(super) async fn run(
        self,
        work: &mut Work<'_>,
        sink: &mut impl ProgressSink,
    ) -> Result<(), PipelineError> {
        match self {
            Step::SeedAutoencoder => work.seed_autoencoder(sink).await,
            Step::SeedIsolationForest => work.seed_isolation_forest(),
            Step::SeedRandomForest => work.seed_random_forest(),
            Step::SeedKMeans => work.seed_kmeans(),
            Step::Features => {
                work.context_features();
                Ok(())
            }
            Step::Iforest => work.context_iforest(sink),
            Step::KMeans => work.context_kmeans(),
            Step::Autoencoder => work.context_autoencoder(sink).await,
            Step::Incidents => work.incidents(),
        }
    }
}

fn failed(stage: Stage) -> impl Fn(DetectError) -> PipelineError {
    move |e: DetectError| {
        if e == DetectError::Cancelled { PipelineError::Cancelled } else { PipelineError::Detect(stage, e) }
    }
}

/// A trained autoencoder, where it trained and why, and how long choosing and training took.
struct Trained {
    model: autoencoder::Autoencoder,
    backend: autoencoder::BackendNote,
    choose_s: f64,
    fit_s: f64,
}

/// Chooses where the autoencoder trains (`Event::Backend`), then trains it on `x`, each epoch an
/// `Event::Epoch` and the stage's progress: the one way both presets train it.
async fn train_autoencoder(
    compute: &Compute,
    valid: &autoencoder::AutoencoderValidParams,
    x: &Matrix<f32>,
    sink: &mut impl ProgressSink,
) -> Result<Trained, PipelineError> {
    let fail = failed(Stage::Autoencoder);
    let t = Instant::now();
    let (on, backend) = autoencoder::choose(compute, valid, x).await.map_err(&fail)?;
    let choose_s = t.elapsed().as_secs_f64();
    go(sink.event(Event::Backend(&backend)))?;
    let t = Instant::now();
    let model = autoencoder::train(on, valid, x, &mut |e| {
        sink.event(Event::Epoch(e))?;
        sink.event(Event::Progress { stage: Stage::Autoencoder, fraction: e.epoch as f64 / e.epochs as f64 })
    })
    .await
    .map_err(&fail)?;
    Ok(Trained { model, backend, choose_s, fit_s: t.elapsed().as_secs_f64() })
}

/// The seed isolation forest's result, which the random forest learns from.
struct ForestFlags {
    scores: Vec<f64>,
    verdicts: Verdicts,
    seconds: f64,
}

/// The default preset's features as its engines see them.
struct ContextInputs {
    ctx: context::Context,
    scale: Surprise,
    /// Surprise-scaled, one column per [`COLUMNS`] entry.
    x: Matrix<f32>,
    /// Per column, the square root of its group's weight ([`group_weights`]): distance-based
    /// engines see each group with its weight (squared distances add the weights up).
    sqrt_weights: Vec<f64>,
    /// Each group with its column indices, in [`Group::ALL`] order.
    groups: Vec<(Group, Vec<usize>)>,
}

impl ContextInputs {
    fn build(capture: &Capture) -> ContextInputs {
        let ctx = context::build(capture);
        let scale = Surprise::fit(&ctx.values);
        let x = scale.transform(&ctx.values);
        let sqrt_weights = group_weights().iter().map(|w| w.sqrt()).collect();
        let groups = Group::ALL
            .iter()
            .map(|&g| (g, COLUMNS.iter().enumerate().filter(|(_, c)| c.group == g).map(|(i, _)| i).collect()))
            .collect();
        ContextInputs { ctx, scale, x, sqrt_weights, groups }
    }

    /// Rows `rows` of the features, each column times its weight's square root.
    fn weighted_rows<T>(&self, rows: &[usize], to: impl Fn(f64) -> T) -> Matrix<T> {
        let (w, cols) = (&self.sqrt_weights, self.x.cols);
        let mut data = Vec::with_capacity(rows.len() * cols);
        for &r in rows {
            let row = &self.x.data[r * cols..(r + 1) * cols];
            data.extend(row.iter().zip(w).map(|(&v, &w)| to(f64::from(v) * w)));
        }
        Matrix { rows: rows.len(), cols, data }
    }

    /// An engine's per-group scores of every row, `score` applied to the weighted features a
    /// block of [`SCORE_BLOCK`] rows at a time: a weighted copy of a million packets' features
    /// would take 400 MB as `f64`. Each row's scores depend on that row alone, so the blocks
    /// change no bit.
    fn score_weighted<T>(
        &self,
        to: impl Fn(f64) -> T + Copy,
        mut score: impl FnMut(&Matrix<T>, &[Vec<usize>]) -> Vec<Vec<f64>>,
    ) -> Vec<Vec<f64>> {
        let (n, sets) = (self.x.rows, self.group_columns());
        let mut out: Vec<Vec<f64>> = (0..sets.len()).map(|_| Vec::with_capacity(n)).collect();
        for start in (0..n).step_by(SCORE_BLOCK) {
            let rows: Vec<usize> = (start..(start + SCORE_BLOCK).min(n)).collect();
            for (o, s) in out.iter_mut().zip(score(&self.weighted_rows(&rows, to), &sets)) {
                o.extend(s);
            }
        }
        out
    }

    fn group_columns(&self) -> Vec<Vec<usize>> {
        self.groups.iter().map(|(_, c)| c.clone()).collect()
    }

    /// An engine's score from its per-group scores: each engine scores every feature group on
    /// its own (one view per group, as KitNET's ensemble does), and a packet's score is its most
    /// surprising view, weighted by the group's importance. An attack extreme in one view is
    /// not averaged away by the others.
    fn views(&self, per_group: Vec<Vec<f64>>) -> Vec<f64> {
        let s: Vec<(f64, Vec<f64>)> = per_group
            .iter()
            .zip(&self.groups)
            .map(|(g, (grp, _))| (grp.importance(), combine::surprise(g)))
            .collect();
        (0..self.x.rows).map(|i| s.iter().map(|(w, v)| w * v[i]).fold(0.0, f64::max)).collect()
    }
}

/// Rows per block when the distance-based engines score every packet.
const SCORE_BLOCK: usize = 65_536;

/// Feature weights: a group of `n` columns weighs `importance · √n` in all, split evenly over
/// its columns, so a group of many columns counts more than a group of one, but not `n` times
/// more.
fn group_weights() -> Vec<f64> {
    let size = |g: Group| COLUMNS.iter().filter(|c| c.group == g).count() as f64;
    COLUMNS.iter().map(|c| c.group.importance() / size(c.group).sqrt()).collect()
}

/// Rows to fit on: all of them, or `max` drawn without replacement (seeded), ascending.
fn fit_rows(n: usize, max: usize, seed: u64, stream: u64) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut r = rng(seed, stream);
    let mut rows = sample_without_replacement(&mut r, n, max);
    rows.sort_unstable();
    rows
}

/// What a helper's steps leave for the analysis ([`Preset::helper_steps`]): the seed preset's
/// detector reports, the default preset's engines, their timings. It crosses between workers
/// as JSON; every score reads back as the very `f64` written (`float_roundtrip`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    detectors: BTreeMap<DetectorId, DetectorReport>,
    engines: Vec<Engine>,
    timings: BTreeMap<String, f64>,
    /// Each step the helper ran, with its seconds.
    steps: Vec<(Step, f64)>,
}

impl Part {
    /// The steps the helper ran, with their seconds.
    pub fn steps(&self) -> &[(Step, f64)] {
        &self.steps
    }

    #[cfg(test)]
    pub(super) fn engines(&self) -> &[Engine] {
        &self.engines
    }
}

/// What the steps of one analysis share: the capture and settings, and what each step leaves
/// for the next.
pub(super) struct Work<'a> {
    capture: &'a Capture,
    name: &'a str,
    bytes: usize,
    params: &'a Params,
    compute: &'a Compute,
    timings: BTreeMap<String, f64>,
    /// The seed preset's finished detectors.
    detectors: BTreeMap<DetectorId, DetectorReport>,
    seed_features: Option<SeedFeatures>,
    forest_flags: Option<ForestFlags>,
    context: Option<ContextInputs>,
    engines: Vec<Engine>,
    scored: Option<(Report, Scored)>,
}

impl<'a> Work<'a> {
    pub(super) fn new(
        capture: &'a Capture,
        name: &'a str,
        bytes: usize,
        params: &'a Params,
        compute: &'a Compute,
        timings: BTreeMap<String, f64>,
    ) -> Work<'a> {
        Work {
            capture,
            name,
            bytes,
            params,
            compute,
            timings,
            detectors: BTreeMap::new(),
            seed_features: None,
            forest_flags: None,
            context: None,
            engines: Vec::new(),
            scored: None,
        }
    }

    /// What this analysis's steps left that another analysis of the same capture needs: a
    /// helper's answer. `steps` are the steps run, with their seconds.
    pub(super) fn into_part(self, steps: Vec<(Step, f64)>) -> Part {
        let offloaded: Vec<Step> = steps.iter().map(|(s, _)| *s).collect();
        let mut detectors = self.detectors;
        detectors.retain(|id, _| offloaded.iter().any(|s| s.detector() == Some(*id)));
        Part { detectors, engines: self.engines, timings: self.timings, steps }
    }

    /// Records a timing of the analysis (seconds).
    pub(super) fn time(&mut self, name: &str, seconds: f64) {
        self.timings.insert(name.to_string(), seconds);
    }

    /// Takes in what a helper's steps left, as if they had run here.
    pub(super) fn absorb(&mut self, part: Part) {
        let own = self.timings.clone();
        self.detectors.extend(part.detectors);
        self.engines.extend(part.engines);
        self.timings.extend(part.timings);
        // What both sides ran (the parse, the features) is timed as this side saw it.
        self.timings.extend(own);
    }

    /// The report once every step has run, and for the default preset the scores that
    /// [`Scored::report`] cuts again at other thresholds.
    pub(super) fn finish(self) -> Result<(Report, Option<Scored>), PipelineError> {
        match self.params.preset {
            Preset::Seed => Ok((
                finish(
                    self.capture,
                    self.name,
                    self.bytes,
                    self.params,
                    self.detectors,
                    self.timings,
                    None,
                    Vec::new(),
                ),
                None,
            )),
            Preset::Context => {
                let (report, scored) = self.scored.ok_or(PipelineError::Missing(Step::Incidents))?;
                Ok((report, Some(scored)))
            }
        }
    }

    fn seed_features(&mut self) -> &SeedFeatures {
        self.seed_features.get_or_insert_with(|| SeedFeatures::fit(self.capture))
    }

    async fn seed_autoencoder(&mut self, sink: &mut impl ProgressSink) -> Result<(), PipelineError> {
        let fail = failed(Stage::Autoencoder);
        let (capture, params) = (self.capture, self.params);
        let t = Instant::now();
        let features = self.seed_features();
        let columns = features.one_hot_columns();
        let x = features.one_hot_length(capture);
        let prep = t.elapsed().as_secs_f64();
        let p = &params.autoencoder;
        let valid = p.clone().check().map_err(&fail)?;
        let trained = train_autoencoder(self.compute, &valid, &x, sink).await?;
        let (model, backend, choose_s, fit) =
            (trained.model, trained.backend, trained.choose_s, trained.fit_s);
        let t_score = Instant::now();
        let scores = model.score(&x);
        let verdicts = model.threshold().apply(&scores);
        let score_s = t_score.elapsed().as_secs_f64();
        let report = DetectorReport::new(&capture.no, scores, &verdicts, to_json(p))
            .details(Details {
                feature_columns: Some(columns),
                training: Training {
                    input_dim: Some(x.cols),
                    backend: Some(backend.backend.clone()),
                    backend_reason: Some(backend.reason.clone()),
                    params_total: Some(model.net.parameter_count()),
                    loss_history: Some(model.history.iter().map(|e| e.loss).collect()),
                    epoch_seconds: Some(model.history.iter().map(|e| e.seconds).collect()),
                },
                ..Details::default()
            })
            .timing("prep", prep)
            .timing("choose_backend", choose_s)
            .timing("fit", fit)
            .timing("score", score_s);
        // Where a training step's time went, when the CPU trainer ran (`fit_step_forward`, …).
        let report = model
            .profile
            .iter()
            .flat_map(|p| p.parts())
            .fold(report, |r, (part, s)| r.timing(&format!("fit_step_{part}"), s));
        self.detectors.insert(DetectorId::Autoencoder, report);
        for (k, v) in [("ae_prep", prep), ("ae_backend", choose_s), ("ae_fit", fit), ("ae_score", score_s)] {
            self.timings.insert(k.into(), v);
        }
        Ok(())
    }

    fn seed_isolation_forest(&mut self) -> Result<(), PipelineError> {
        let (capture, params) = (self.capture, self.params);
        let t = Instant::now();
        let x = self.seed_features().code_and_length(capture);
        let forest = params.iforest.clone().fit(&x).map_err(failed(Stage::IsolationForest))?;
        let scores = forest.score(&x);
        let verdicts = forest.threshold().apply(&scores);
        self.forest_flags = Some(ForestFlags { scores, verdicts, seconds: t.elapsed().as_secs_f64() });
        Ok(())
    }

    fn seed_random_forest(&mut self) -> Result<(), PipelineError> {
        let t = Instant::now();
        let flags = self.forest_flags.take().ok_or(PipelineError::Missing(Step::SeedIsolationForest))?;
        let (capture, p) = (self.capture, self.params);
        let x = self.seed_features().code_and_length(capture);
        let row_no = &capture.no;
        let mut labels = vec![false; capture.len()];
        for &i in &flags.verdicts.flagged {
            labels[i] = true;
        }
        let rf = p.random_forest.clone().fit(&x, &labels).map_err(failed(Stage::RandomForest))?;
        let rf_scores = rf.score(&x);
        // scikit-learn predicts the anomaly class when its mean probability is at least one half.
        let rf_verdicts = Threshold::AtLeast(0.5).apply(&rf_scores);
        let rf_s = t.elapsed().as_secs_f64();
        let mut if_flagged: Vec<u64> = flags.verdicts.flagged.iter().map(|&i| row_no[i]).collect();
        if_flagged.sort_unstable();
        let params = serde_json::json!({ "iforest": p.iforest, "random_forest": p.random_forest });
        let report = DetectorReport::new(row_no, rf_scores, &rf_verdicts, params)
            .details(Details {
                forest: ForestCounts {
                    if_count: Some(if_flagged.len()),
                    if_flagged: Some(if_flagged),
                    if_threshold: Some(flags.verdicts.threshold),
                    if_scores: Some(flags.scores),
                    forests: None,
                },
                ..Details::default()
            })
            .timing("if", flags.seconds)
            .timing("rf", rf_s);
        self.detectors.insert(DetectorId::IforestRf, report);
        self.timings.insert("if".into(), flags.seconds);
        self.timings.insert("rf".into(), rf_s);
        Ok(())
    }

    fn seed_kmeans(&mut self) -> Result<(), PipelineError> {
        let (capture, p) = (self.capture, self.params);
        let t = Instant::now();
        let x = self.seed_features().numeric(capture);
        let km = p.kmeans.clone().fit(&x).map_err(failed(Stage::KMeans))?;
        let scores = km.score(&x);
        let verdicts = Threshold::Percentile(p.kmeans_percentile).apply(&scores);
        let seconds = t.elapsed().as_secs_f64();
        let params = serde_json::json!({ "kmeans": p.kmeans, "percentile": p.kmeans_percentile });
        let report = DetectorReport::new(&capture.no, scores, &verdicts, params)
            .details(Details {
                feature_columns: Some(NUMERIC_COLUMNS.map(String::from).into()),
                clusters: Clusters {
                    cluster_sizes: Some(km.cluster_sizes.clone()),
                    inertia: Some(km.inertia),
                },
                ..Details::default()
            })
            .timing("kmeans", seconds);
        self.detectors.insert(DetectorId::Kmeans, report);
        self.timings.insert("kmeans".into(), seconds);
        Ok(())
    }

    fn context_features(&mut self) -> &ContextInputs {
        if self.context.is_none() {
            let t = Instant::now();
            self.context = Some(ContextInputs::build(self.capture));
            self.timings.insert("features".into(), t.elapsed().as_secs_f64());
        }
        self.context.as_ref().expect("just built")
    }

    /// An engine's scores into the list the combined score reads.
    fn engine(
        &mut self,
        name: DetectorId,
        scores: Vec<f64>,
        params: serde_json::Value,
        seconds: f64,
        details: Details,
    ) {
        let unflagged = Verdicts { threshold: f64::NAN, flagged: Vec::new() };
        let report = DetectorReport::new(&self.capture.no, Vec::new(), &unflagged, params)
            .timing("fit_score", seconds)
            .details(details);
        self.timings.insert(
            match name {
                DetectorId::Iforest => "if",
                DetectorId::Kmeans => "kmeans",
                _ => "ae",
            }
            .into(),
            seconds,
        );
        self.engines.push(Engine { name, scores, report });
    }

    fn context_iforest(&mut self, sink: &mut impl ProgressSink) -> Result<(), PipelineError> {
        let t = Instant::now();
        let params = self.params;
        let p = &params.context.iforest;
        let inputs = self.context_features();
        let mut per_group = Vec::with_capacity(inputs.groups.len());
        for (k, (_, cols)) in inputs.groups.iter().enumerate() {
            let xg = inputs.x.columns(cols);
            let forest = p
                .clone()
                .seed(p.seed.wrapping_add(k as u64))
                .fit(&xg)
                .map_err(failed(Stage::IsolationForest))?;
            per_group.push(forest.score(&xg));
            let fraction = (k + 1) as f64 / inputs.groups.len() as f64;
            go(sink.event(Event::Progress { stage: Stage::IsolationForest, fraction }))?;
        }
        let scores = inputs.views(per_group);
        let forests = inputs.groups.len();
        let details = Details {
            forest: ForestCounts { forests: Some(forests), ..ForestCounts::default() },
            ..Details::default()
        };
        self.engine(DetectorId::Iforest, scores, to_json(p), t.elapsed().as_secs_f64(), details);
        Ok(())
    }

    fn context_kmeans(&mut self) -> Result<(), PipelineError> {
        let t = Instant::now();
        let params = self.params;
        let (p, seed, n) = (&params.context, params.seed, self.capture.len());
        let inputs = self.context_features();
        let fit_on = inputs.weighted_rows(&fit_rows(n, p.kmeans_rows, seed, 101), |v| v);
        let km = if fit_on.rows >= p.kmeans.k {
            Some(p.kmeans.clone().fit(&fit_on).map_err(failed(Stage::KMeans))?)
        } else {
            None
        };
        let scores = km.as_ref().map_or_else(
            || vec![0.0; n],
            |m| inputs.views(inputs.score_weighted(|v| v, |x, sets| m.score_columns(x, sets))),
        );
        let details = Details {
            clusters: Clusters { cluster_sizes: km.as_ref().map(|m| m.cluster_sizes.clone()), inertia: None },
            fit_rows: Some(fit_on.rows),
            ..Details::default()
        };
        self.engine(DetectorId::Kmeans, scores, to_json(&p.kmeans), t.elapsed().as_secs_f64(), details);
        Ok(())
    }

    async fn context_autoencoder(&mut self, sink: &mut impl ProgressSink) -> Result<(), PipelineError> {
        let fail = failed(Stage::Autoencoder);
        let t = Instant::now();
        let (params, compute) = (self.params, self.compute);
        let (p, seed, n) = (&params.context, params.seed, self.capture.len());
        let inputs = self.context_features();
        let train_on = inputs.weighted_rows(&fit_rows(n, p.autoencoder_rows, seed, 102), |v| v as f32);
        let valid = p.autoencoder.clone().check().map_err(&fail)?;
        let Trained { model, backend, .. } = train_autoencoder(compute, &valid, &train_on, sink).await?;
        let scores =
            inputs.views(inputs.score_weighted(|v| v as f32, |x, sets| model.score_columns(x, sets)));
        let details = Details {
            fit_rows: Some(train_on.rows),
            training: Training {
                backend: Some(backend.backend.clone()),
                backend_reason: Some(backend.reason.clone()),
                loss_history: Some(model.history.iter().map(|e| e.loss).collect()),
                ..Training::default()
            },
            ..Details::default()
        };
        self.engine(
            DetectorId::Autoencoder,
            scores,
            to_json(&p.autoencoder),
            t.elapsed().as_secs_f64(),
            details,
        );
        Ok(())
    }

    fn incidents(&mut self) -> Result<(), PipelineError> {
        let inputs = self.context.take().ok_or(PipelineError::Missing(Step::Features))?;
        for engine in Preset::Context.engines() {
            if !self.engines.iter().any(|e| e.name == engine) {
                let step =
                    CONTEXT.into_iter().find(|s| s.engine() == Some(engine)).unwrap_or(Step::Incidents);
                return Err(PipelineError::Missing(step));
            }
        }
        // In the preset's order, wherever each engine ran: the combined score adds them up in it.
        let mut engines = std::mem::take(&mut self.engines);
        let order = Preset::Context.engines();
        engines.sort_by_key(|e| order.iter().position(|&o| o == e.name));
        let scored = Scored::new(inputs.ctx, inputs.scale, engines, self.timings.clone());
        let report = scored.report(self.capture, self.name, self.bytes, self.params);
        self.scored = Some((report, scored));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_runs_after_the_steps_it_needs() {
        for preset in [Preset::Seed, Preset::Context] {
            let steps = preset.steps();
            for (i, step) in steps.iter().enumerate() {
                for need in step.needs() {
                    assert!(steps[..i].contains(need), "{preset:?}: {step:?} needs {need:?} first");
                }
            }
        }
    }

    #[test]
    fn a_helper_and_the_analysis_share_the_steps_between_them() {
        for preset in [Preset::Seed, Preset::Context] {
            let (own, helper) = (preset.own_steps(), preset.helper_steps());
            for step in preset.steps() {
                assert!(own.contains(step) || helper.contains(step), "{preset:?}: {step:?} runs nowhere");
                assert!(!(step.offloads() && own.contains(step)), "{preset:?}: {step:?} runs twice");
            }
            // The helper has what its steps need; the analysis has what its own steps need,
            // or waits for the helper.
            for (i, step) in helper.iter().enumerate() {
                for need in step.needs() {
                    assert!(helper[..i].contains(need), "{preset:?} helper: {step:?} needs {need:?}");
                }
            }
            for (i, step) in own.iter().enumerate() {
                for need in step.needs() {
                    assert!(
                        need.offloads() || own[..i].contains(need),
                        "{preset:?}: {step:?} needs {need:?}"
                    );
                }
            }
        }
        assert_eq!(Preset::Context.helper_steps(), vec![Step::Features, Step::Iforest]);
        assert_eq!(
            Preset::Context.own_steps(),
            vec![Step::Features, Step::KMeans, Step::Autoencoder, Step::Incidents]
        );
        assert_eq!(Preset::Seed.own_steps(), Preset::Seed.steps());
        assert!(Preset::Seed.helper_steps().is_empty());
    }

    #[test]
    fn the_default_preset_combines_its_three_engines() {
        assert_eq!(
            Preset::Context.engines(),
            vec![DetectorId::Iforest, DetectorId::Kmeans, DetectorId::Autoencoder]
        );
        assert!(Preset::Seed.engines().is_empty());
        // Every detector of the seed's report has its step.
        let seed: Vec<DetectorId> = Preset::Seed.steps().iter().filter_map(|s| s.detector()).collect();
        assert_eq!(seed, vec![DetectorId::Autoencoder, DetectorId::IforestRf, DetectorId::Kmeans]);
    }
}
