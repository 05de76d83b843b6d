//! Runs an analysis from a file's bytes to its [`Report`], stage by stage, reporting progress
//! through a [`ProgressSink`] that can cancel. The worker's sink posts messages, the CLI's
//! draws on stderr, tests collect events. [`Params::seed`] is the notebook's method.
//!
//! [`run_with`] is async because training on WebGPU awaits its reads; [`Compute`] says where
//! the autoencoder may train. [`run`] is the native, CPU-only shortcut that blocks on it.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::capture::{self, Capture, ParseError};
use crate::detect::autoencoder::{self, AutoencoderParams, BackendNote, Compute, EpochReport};
use crate::detect::combine::{self, Combine};
use crate::detect::iforest::IsolationForestParams;
use crate::detect::kmeans::KMeansParams;
use crate::detect::random_forest::RandomForestParams;
use crate::detect::rng::{rng, sample_without_replacement};
use crate::detect::{DetectError, DetectorId, Threshold, Verdicts};
use crate::features::context::{self, COLUMNS, Group};
use crate::features::scale::Surprise;
use crate::features::{self, Matrix};
use crate::incidents::{self, IncidentParams};
use crate::report::{
    self, Agreement, Clusters, Details, DetectorReport, ForestCounts, InputInfo, Report, Training,
};
use crate::stats::{self, Overview};

/// A step of the analysis, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    Parse,
    Overview,
    /// The default preset's contextual features.
    Features,
    Autoencoder,
    IsolationForest,
    RandomForest,
    KMeans,
    /// The combined score and the incidents.
    Incidents,
}

impl Stage {
    /// The stage's name in the page's markup (`data-stage`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Overview => "overview",
            Stage::Features => "features",
            Stage::Autoencoder => "autoencoder",
            Stage::IsolationForest => "isolation_forest",
            Stage::RandomForest => "random_forest",
            Stage::KMeans => "kmeans",
            Stage::Incidents => "incidents",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Parse => "Reading the capture",
            Stage::Overview => "Computing the overview",
            Stage::Features => "Contextual features",
            Stage::Incidents => "Combined score and incidents",
            Stage::Autoencoder => "Training the autoencoder",
            Stage::IsolationForest => "Isolation forest",
            Stage::RandomForest => "Random forest",
            Stage::KMeans => "k-means",
        }
    }
}

/// Which analysis runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The seed notebook's method, exactly (length and protocol only).
    #[default]
    Seed,
    /// The same engines on contextual features, a combined score and incidents.
    Context,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Seed => "seed",
            Preset::Context => "context",
        }
    }
}

/// The default preset's settings. Each engine looks at every feature group on its own (a view)
/// and scores a packet by its most surprising view: one isolation forest of 100 trees on
/// 256-row samples per group; k-means with k = 8 (3 restarts) fitted on up to 20,000 rows,
/// distance to the nearest centroid per group; the seed autoencoder's network trained 10
/// epochs at batch 64 on up to 20,000 rows, reconstruction error per group. Each detector flags
/// its top 0.1 %; combined = the mean of the three engines' surprise ([`Combine::Mean`]),
/// flagged at 3.0 (on average the engines put the packet in the top 0.1 % of some view);
/// incidents split after 30 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextParams {
    pub iforest: IsolationForestParams,
    pub kmeans: KMeansParams,
    pub kmeans_rows: usize,
    pub autoencoder: AutoencoderParams,
    pub autoencoder_rows: usize,
    /// Each detector's own flags: scores above this percentile.
    pub detector_percentile: f64,
    /// Engines whose own line is set by value instead (the page's advanced sliders).
    #[serde(default)]
    pub engine_thresholds: EngineThresholds,
    pub combine: Combine,
    /// Packets whose combined score is at least this are flagged.
    pub threshold: f64,
    pub incidents: IncidentParams,
}

impl ContextParams {
    pub fn new(seed: u64) -> ContextParams {
        ContextParams {
            iforest: IsolationForestParams::default()
                .n_trees(100)
                .max_samples(256)
                .contamination(0.001)
                .seed(seed),
            kmeans: KMeansParams::default().k(8).n_runs(3).seed(seed),
            kmeans_rows: 20_000,
            autoencoder: AutoencoderParams::default().epochs(10).batch_size(64).seed(seed),
            autoencoder_rows: 20_000,
            detector_percentile: 99.9,
            engine_thresholds: EngineThresholds::default(),
            combine: Combine::Mean,
            threshold: 3.0,
            incidents: IncidentParams::default(),
        }
    }
}

/// Everything an analysis can be told. [`Params::seed`] is the seed notebook's method,
/// [`Params::context`] the default preset; every random choice follows `seed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    #[serde(default)]
    pub preset: Preset,
    pub seed: u64,
    /// Run the detectors (false: overview only).
    pub detect: bool,
    pub autoencoder: AutoencoderParams,
    pub iforest: IsolationForestParams,
    pub random_forest: RandomForestParams,
    pub kmeans: KMeansParams,
    /// k-means flags scores above this percentile.
    pub kmeans_percentile: f64,
    /// The default preset's settings (used when `preset` is [`Preset::Context`]).
    #[serde(default = "default_context")]
    pub context: ContextParams,
}

fn default_context() -> ContextParams {
    ContextParams::new(42)
}

impl Params {
    /// The seed notebook's method, with every seed set to `seed`.
    pub fn seed(seed: u64) -> Params {
        Params {
            preset: Preset::Seed,
            seed,
            detect: true,
            autoencoder: AutoencoderParams::default().seed(seed),
            iforest: IsolationForestParams::default().seed(seed),
            random_forest: RandomForestParams::default().seed(seed),
            kmeans: KMeansParams::default().seed(seed),
            kmeans_percentile: 99.9,
            context: ContextParams::new(seed),
        }
    }

    /// The default preset: the same engines on contextual features, with every seed `seed`.
    pub fn context(seed: u64) -> Params {
        Params { preset: Preset::Context, ..Params::seed(seed) }
    }

    /// Parse and overview only.
    pub fn overview_only() -> Params {
        Params { detect: false, ..Params::seed(42) }
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::seed(42)
    }
}

/// What a running analysis tells its caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// `fraction` of `stage` is done (0.0–1.0).
    Progress { stage: Stage, fraction: f64 },
    /// The capture is parsed and summarised; models still run after this.
    Overview { capture: &'a Capture, overview: &'a Overview },
    /// Where the autoencoder trains, and why (sent before its first epoch).
    Backend(&'a BackendNote),
    /// The autoencoder finished an epoch.
    Epoch(&'a EpochReport),
    /// A stage finished.
    StageDone { stage: Stage, seconds: f64 },
}

/// Receives events; returning `Break` cancels the analysis.
pub trait ProgressSink {
    fn event(&mut self, event: Event<'_>) -> ControlFlow<()>;
}

/// A sink that ignores events and never cancels.
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn event(&mut self, _: Event<'_>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// Why an analysis stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{}: {}", .0.label(), .1)]
    Detect(Stage, DetectError),
    #[error("the capture has no packets to analyse")]
    NoPackets,
    #[error("cancelled")]
    Cancelled,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct Analysis {
    pub capture: Capture,
    pub overview: Overview,
    /// `None` when detection was not asked for or the capture has no packets.
    pub report: Option<Report>,
    /// The default preset's scores, kept to cut again at other thresholds.
    pub scored: Option<Scored>,
}

fn go(flow: ControlFlow<()>) -> Result<(), PipelineError> {
    if flow.is_break() { Err(PipelineError::Cancelled) } else { Ok(()) }
}

/// [`run_with`] on the CPU, blocking until it is done (every await in it is then ready at once).
pub fn run(
    bytes: &[u8],
    name: &str,
    params: &Params,
    sink: &mut impl ProgressSink,
) -> Result<Analysis, PipelineError> {
    futures_lite::future::block_on(run_with(bytes, name, params, &Compute::cpu(), sink))
}

/// Parses `bytes`, computes the overview and, when `params.detect`, runs the detectors, the
/// autoencoder where `compute` says.
pub async fn run_with(
    bytes: &[u8],
    name: &str,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
) -> Result<Analysis, PipelineError> {
    let started = Instant::now();
    let mut timings = BTreeMap::new();
    go(sink.event(Event::Progress { stage: Stage::Parse, fraction: 0.0 }))?;
    let capture = capture::parse_with_progress(bytes, &mut |fraction| {
        sink.event(Event::Progress { stage: Stage::Parse, fraction })
    })
    .map_err(|e| {
        if e == ParseError::Cancelled { PipelineError::Cancelled } else { PipelineError::Parse(e) }
    })?;
    timings.insert("parse".to_string(), started.elapsed().as_secs_f64());
    go(sink.event(Event::StageDone { stage: Stage::Parse, seconds: started.elapsed().as_secs_f64() }))?;

    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::Overview, fraction: 0.0 }))?;
    let overview = stats::overview(&capture);
    timings.insert("overview".to_string(), t.elapsed().as_secs_f64());
    go(sink.event(Event::Overview { capture: &capture, overview: &overview }))?;
    go(sink.event(Event::StageDone { stage: Stage::Overview, seconds: t.elapsed().as_secs_f64() }))?;

    // A capture without packets has an overview (0 packets) but nothing to detect.
    let (report, scored) = if params.detect && !capture.is_empty() {
        let (report, scored) = detect(&capture, name, bytes.len(), params, compute, sink, timings).await?;
        (Some(report), scored)
    } else {
        (None, None)
    };
    Ok(Analysis { capture, overview, report, scored })
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Runs the preset's detectors on a parsed capture: the report, and for the default preset
/// the scores that [`Scored::report`] cuts again at other thresholds.
pub async fn detect(
    capture: &Capture,
    name: &str,
    bytes: usize,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    timings: BTreeMap<String, f64>,
) -> Result<(Report, Option<Scored>), PipelineError> {
    if capture.is_empty() {
        return Err(PipelineError::NoPackets);
    }
    match params.preset {
        Preset::Seed => Ok((detect_seed(capture, name, bytes, params, compute, sink, timings).await?, None)),
        Preset::Context => {
            let (report, scored) =
                detect_context(capture, name, bytes, params, compute, sink, timings).await?;
            Ok((report, Some(scored)))
        }
    }
}

fn failed(stage: Stage) -> impl Fn(DetectError) -> PipelineError {
    move |e: DetectError| {
        if e == DetectError::Cancelled { PipelineError::Cancelled } else { PipelineError::Detect(stage, e) }
    }
}

/// Runs the three detectors of the seed method on a parsed capture.
async fn detect_seed(
    capture: &Capture,
    name: &str,
    bytes: usize,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    mut timings: BTreeMap<String, f64>,
) -> Result<Report, PipelineError> {
    let fail = failed;
    let row_no = &capture.no;
    let mut detectors = BTreeMap::new();

    // Autoencoder.
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::Autoencoder, fraction: 0.0 }))?;
    let (x, columns) = features::one_hot_length_scaled(capture);
    let prep = t.elapsed().as_secs_f64();
    let valid = params.autoencoder.clone().check().map_err(fail(Stage::Autoencoder))?;
    let t_choose = Instant::now();
    let (on, backend) = autoencoder::choose(compute, &valid, &x).await.map_err(fail(Stage::Autoencoder))?;
    let choose_s = t_choose.elapsed().as_secs_f64();
    go(sink.event(Event::Backend(&backend)))?;
    let t_fit = Instant::now();
    let model = autoencoder::train(on, &valid, &x, &mut |e| {
        sink.event(Event::Epoch(e))?;
        sink.event(Event::Progress { stage: Stage::Autoencoder, fraction: e.epoch as f64 / e.epochs as f64 })
    })
    .await
    .map_err(fail(Stage::Autoencoder))?;
    let fit = t_fit.elapsed().as_secs_f64();
    let t_score = Instant::now();
    let scores = model.score(&x);
    let verdicts = model.threshold().apply(&scores);
    let score_s = t_score.elapsed().as_secs_f64();
    detectors.insert(
        DetectorId::Autoencoder,
        DetectorReport::new(row_no, scores, &verdicts, to_json(&params.autoencoder))
            .details(Details {
                feature_columns: Some(columns.clone()),
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
            .timing("score", score_s),
    );
    timings.insert("ae_prep".into(), prep);
    timings.insert("ae_backend".into(), choose_s);
    timings.insert("ae_fit".into(), fit);
    timings.insert("ae_score".into(), score_s);
    go(sink.event(Event::StageDone { stage: Stage::Autoencoder, seconds: t.elapsed().as_secs_f64() }))?;

    // Isolation forest, then the random forest on its labels.
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::IsolationForest, fraction: 0.0 }))?;
    let x = features::protocol_code_and_length(capture);
    let forest = params.iforest.clone().fit(&x).map_err(fail(Stage::IsolationForest))?;
    let if_scores = forest.score(&x);
    let if_verdicts = forest.threshold().apply(&if_scores);
    let if_s = t.elapsed().as_secs_f64();
    go(sink.event(Event::StageDone { stage: Stage::IsolationForest, seconds: if_s }))?;

    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::RandomForest, fraction: 0.0 }))?;
    let mut labels = vec![false; capture.len()];
    for &i in &if_verdicts.flagged {
        labels[i] = true;
    }
    let rf = params.random_forest.clone().fit(&x, &labels).map_err(fail(Stage::RandomForest))?;
    let rf_scores = rf.score(&x);
    // scikit-learn predicts the anomaly class when its mean probability is at least one half.
    let rf_verdicts = Threshold::AtLeast(0.5).apply(&rf_scores);
    let rf_s = t.elapsed().as_secs_f64();
    let mut if_flagged: Vec<u64> = if_verdicts.flagged.iter().map(|&i| row_no[i]).collect();
    if_flagged.sort_unstable();
    detectors.insert(
        DetectorId::IforestRf,
        DetectorReport::new(
            row_no,
            rf_scores,
            &rf_verdicts,
            serde_json::json!({
                "iforest": params.iforest, "random_forest": params.random_forest,
            }),
        )
        .details(Details {
            forest: ForestCounts {
                if_count: Some(if_flagged.len()),
                if_flagged: Some(if_flagged),
                if_threshold: Some(if_verdicts.threshold),
                if_scores: Some(if_scores),
                forests: None,
            },
            ..Details::default()
        })
        .timing("if", if_s)
        .timing("rf", rf_s),
    );
    timings.insert("if".into(), if_s);
    timings.insert("rf".into(), rf_s);
    go(sink.event(Event::StageDone { stage: Stage::RandomForest, seconds: rf_s }))?;

    // k-means.
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::KMeans, fraction: 0.0 }))?;
    let x = features::numeric_columns_scaled(capture);
    let km = params.kmeans.clone().fit(&x).map_err(fail(Stage::KMeans))?;
    let km_scores = km.score(&x);
    let km_verdicts = Threshold::Percentile(params.kmeans_percentile).apply(&km_scores);
    let km_s = t.elapsed().as_secs_f64();
    detectors.insert(
        DetectorId::Kmeans,
        DetectorReport::new(
            row_no,
            km_scores,
            &km_verdicts,
            serde_json::json!({
                "kmeans": params.kmeans, "percentile": params.kmeans_percentile,
            }),
        )
        .details(Details {
            feature_columns: Some(["No.", "Time", "Length"].map(String::from).into()),
            clusters: Clusters { cluster_sizes: Some(km.cluster_sizes.clone()), inertia: Some(km.inertia) },
            ..Details::default()
        })
        .timing("kmeans", km_s),
    );
    timings.insert("kmeans".into(), km_s);
    go(sink.event(Event::StageDone { stage: Stage::KMeans, seconds: km_s }))?;

    Ok(finish(capture, name, bytes, params, detectors, timings, None, Vec::new()))
}

#[allow(clippy::too_many_arguments)]
fn finish(
    capture: &Capture,
    name: &str,
    bytes: usize,
    params: &Params,
    detectors: BTreeMap<DetectorId, DetectorReport>,
    mut timings: BTreeMap<String, f64>,
    primary: Option<DetectorId>,
    incidents: Vec<incidents::Incident>,
) -> Report {
    let total: f64 = timings.values().sum();
    timings.insert("total".into(), total);
    // The combined score is not a detector of its own in the agreement table.
    let own: BTreeMap<DetectorId, DetectorReport> =
        detectors.iter().filter(|(k, _)| **k != DetectorId::Combined).map(|(k, v)| (*k, v.clone())).collect();
    Report {
        schema: report::SCHEMA.to_string(),
        tool: format!("netsieve {}", env!("CARGO_PKG_VERSION")),
        preset: params.preset,
        primary,
        input: InputInfo { name: name.to_string(), bytes },
        rows: capture.len(),
        protocols: capture.protocols.len(),
        params: to_json(params),
        row_no: capture.no.clone(),
        agreement: Agreement::of(&own),
        detectors,
        incidents,
        timings_s: timings,
        versions: report::versions(),
    }
}

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

/// Each group with its column indices, in [`Group::ALL`] order.
fn group_columns() -> Vec<(Group, Vec<usize>)> {
    Group::ALL
        .iter()
        .map(|&g| (g, COLUMNS.iter().enumerate().filter(|(_, c)| c.group == g).map(|(i, _)| i).collect()))
        .collect()
}

fn take_cols<T: Copy>(m: &Matrix<T>, cols: &[usize]) -> Matrix<T> {
    let mut data = Vec::with_capacity(m.rows * cols.len());
    for r in 0..m.rows {
        let row = m.row(r);
        data.extend(cols.iter().map(|&c| row[c]));
    }
    Matrix { rows: m.rows, cols: cols.len(), data }
}

fn take_rows<T: Copy>(m: &Matrix<T>, rows: &[usize]) -> Matrix<T> {
    let mut data = Vec::with_capacity(rows.len() * m.cols);
    for &r in rows {
        data.extend_from_slice(m.row(r));
    }
    Matrix { rows: rows.len(), cols: m.cols, data }
}

/// The default preset: contextual features, the isolation forest, k-means and the autoencoder
/// on them, the combined score and the incidents.
async fn detect_context(
    capture: &Capture,
    name: &str,
    bytes: usize,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    mut timings: BTreeMap<String, f64>,
) -> Result<(Report, Scored), PipelineError> {
    let p = &params.context;
    let row_no = &capture.no;
    let n = capture.len();

    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::Features, fraction: 0.0 }))?;
    let ctx = context::build(capture);
    let scale = Surprise::fit(&ctx.values);
    let x = scale.transform(&ctx.values);
    // Distance-based detectors see each group with its weight (squared distances add up the
    // weights). Built when needed and dropped after, to keep a million packets within budget.
    let w: Vec<f64> = group_weights().iter().map(|w| w.sqrt()).collect();
    let weighted = |i: usize, v: f32| f64::from(v) * w[i % x.cols];
    let features_s = t.elapsed().as_secs_f64();
    timings.insert("features".into(), features_s);
    go(sink.event(Event::StageDone { stage: Stage::Features, seconds: features_s }))?;

    // Each engine scores every feature group on its own (one view per group, as KitNET's
    // ensemble does); its score for a packet is the most surprising view, weighted by the
    // group's importance. An attack extreme in one view is not averaged away by the others.
    let groups = group_columns();
    let views = |per_group: Vec<Vec<f64>>| -> Vec<f64> {
        let s: Vec<(f64, Vec<f64>)> = per_group
            .iter()
            .zip(&groups)
            .map(|(g, (grp, _))| (grp.importance(), combine::surprise(g)))
            .collect();
        (0..n).map(|i| s.iter().map(|(w, v)| w * v[i]).fold(0.0, f64::max)).collect()
    };

    // Isolation forest: one per group.
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::IsolationForest, fraction: 0.0 }))?;
    let mut per_group = Vec::with_capacity(groups.len());
    for (k, (_, cols)) in groups.iter().enumerate() {
        let xg = take_cols(&x, cols);
        let forest = p
            .iforest
            .clone()
            .seed(p.iforest.seed.wrapping_add(k as u64))
            .fit(&xg)
            .map_err(failed(Stage::IsolationForest))?;
        per_group.push(forest.score(&xg));
        go(sink.event(Event::Progress {
            stage: Stage::IsolationForest,
            fraction: (k + 1) as f64 / groups.len() as f64,
        }))?;
    }
    let if_scores = views(per_group);
    let if_s = t.elapsed().as_secs_f64();
    timings.insert("if".into(), if_s);
    go(sink.event(Event::StageDone { stage: Stage::IsolationForest, seconds: if_s }))?;

    // k-means.
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::KMeans, fraction: 0.0 }))?;
    let xw = Matrix {
        rows: x.rows,
        cols: x.cols,
        data: x.data.iter().enumerate().map(|(i, &v)| weighted(i, v)).collect::<Vec<f64>>(),
    };
    let fit_on = take_rows(&xw, &fit_rows(n, p.kmeans_rows, params.seed, 101));
    let km = if fit_on.rows >= p.kmeans.k {
        Some(p.kmeans.clone().fit(&fit_on).map_err(failed(Stage::KMeans))?)
    } else {
        None
    };
    let cols: Vec<Vec<usize>> = groups.iter().map(|(_, c)| c.clone()).collect();
    let km_scores = km.as_ref().map_or_else(|| vec![0.0; n], |m| views(m.score_columns(&xw, &cols)));
    drop(xw);
    let km_s = t.elapsed().as_secs_f64();
    timings.insert("kmeans".into(), km_s);
    go(sink.event(Event::StageDone { stage: Stage::KMeans, seconds: km_s }))?;

    // Autoencoder.
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::Autoencoder, fraction: 0.0 }))?;
    let xw32 = Matrix {
        rows: x.rows,
        cols: x.cols,
        data: x.data.iter().enumerate().map(|(i, &v)| weighted(i, v) as f32).collect::<Vec<f32>>(),
    };
    let train_on = take_rows(&xw32, &fit_rows(n, p.autoencoder_rows, params.seed, 102));
    let valid = p.autoencoder.clone().check().map_err(failed(Stage::Autoencoder))?;
    let (on, backend) =
        autoencoder::choose(compute, &valid, &train_on).await.map_err(failed(Stage::Autoencoder))?;
    go(sink.event(Event::Backend(&backend)))?;
    let model = autoencoder::train(on, &valid, &train_on, &mut |e| {
        sink.event(Event::Epoch(e))?;
        sink.event(Event::Progress { stage: Stage::Autoencoder, fraction: e.epoch as f64 / e.epochs as f64 })
    })
    .await
    .map_err(failed(Stage::Autoencoder))?;
    let ae_scores = views(model.score_columns(&xw32, &cols));
    let ae_s = t.elapsed().as_secs_f64();
    timings.insert("ae".into(), ae_s);
    go(sink.event(Event::StageDone { stage: Stage::Autoencoder, seconds: ae_s }))?;

    let engine = |name: DetectorId, scores: Vec<f64>, params: serde_json::Value, seconds: f64| Engine {
        name,
        report: DetectorReport::new(
            row_no,
            Vec::new(),
            &Verdicts { threshold: f64::NAN, flagged: Vec::new() },
            params,
        )
        .timing("fit_score", seconds),
        scores,
    };
    let mut iforest = engine(DetectorId::Iforest, if_scores, to_json(&p.iforest), if_s);
    iforest.report.details.forest.forests = Some(groups.len());
    let mut kmeans = engine(DetectorId::Kmeans, km_scores, to_json(&p.kmeans), km_s);
    kmeans.report.details.clusters.cluster_sizes = km.as_ref().map(|m| m.cluster_sizes.clone());
    kmeans.report.details.fit_rows = Some(fit_on.rows);
    let mut ae = engine(DetectorId::Autoencoder, ae_scores, to_json(&p.autoencoder), ae_s);
    ae.report.details.fit_rows = Some(train_on.rows);
    ae.report.details.training = Training {
        backend: Some(backend.backend.clone()),
        backend_reason: Some(backend.reason.clone()),
        loss_history: Some(model.history.iter().map(|e| e.loss).collect()),
        ..Training::default()
    };
    let scored = Scored { ctx, scale, engines: [iforest, kmeans, ae], timings };

    go(sink.event(Event::Progress { stage: Stage::Incidents, fraction: 0.0 }))?;
    let report = scored.report(capture, name, bytes, params);
    let inc_s = report.timings_s.get("incidents").copied().unwrap_or(0.0);
    go(sink.event(Event::StageDone { stage: Stage::Incidents, seconds: inc_s }))?;
    Ok((report, scored))
}

/// One engine of the default preset after scoring: its scores and its report without verdicts.
#[derive(Debug, Clone)]
struct Engine {
    name: DetectorId,
    scores: Vec<f64>,
    report: DetectorReport,
}

/// Where each engine of the default preset draws its own line: `None` is its top
/// `detector_percentile` %, a value flags scores strictly above it (on the engine's surprise
/// scale, the same scale as the combined score).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineThresholds {
    pub iforest: Option<f64>,
    pub kmeans: Option<f64>,
    pub autoencoder: Option<f64>,
}

impl EngineThresholds {
    /// The engines that have their own line, in the order the page shows them.
    pub const ENGINES: [DetectorId; 3] = [DetectorId::Iforest, DetectorId::Kmeans, DetectorId::Autoencoder];

    fn slot(&mut self, engine: DetectorId) -> Option<&mut Option<f64>> {
        match engine {
            DetectorId::Iforest => Some(&mut self.iforest),
            DetectorId::Kmeans => Some(&mut self.kmeans),
            DetectorId::Autoencoder => Some(&mut self.autoencoder),
            DetectorId::Combined | DetectorId::IforestRf => None,
        }
    }

    /// `engine`'s own line (`None`: its top `detector_percentile` %, or not an engine).
    pub fn get(&self, engine: DetectorId) -> Option<f64> {
        let mut copy = *self;
        copy.slot(engine).and_then(|v| *v)
    }

    /// Sets `engine`'s own line; a detector that is not an engine is ignored.
    pub fn set(&mut self, engine: DetectorId, value: Option<f64>) {
        if let Some(slot) = self.slot(engine) {
            *slot = value;
        }
    }
}

/// The default preset after its engines have scored: what a new threshold needs to flag again
/// and regroup the incidents without training again (the page's slider; the CLI's
/// `--threshold` goes through the same [`Scored::report`]).
#[derive(Debug, Clone)]
pub struct Scored {
    ctx: context::Context,
    scale: Surprise,
    engines: [Engine; 3],
    timings: BTreeMap<String, f64>,
}

impl Scored {
    /// The report at `params.context`'s thresholds: each engine's flags, the combined score
    /// and its flags, and the incidents.
    pub fn report(&self, capture: &Capture, name: &str, bytes: usize, params: &Params) -> Report {
        let p = &params.context;
        let t = Instant::now();
        let row_no = &capture.no;
        let own = |engine: &Engine| {
            match p.engine_thresholds.get(engine.name) {
                Some(v) => Threshold::Fixed(v),
                None => Threshold::Percentile(p.detector_percentile),
            }
            .apply(&engine.scores)
        };
        let verdicts: Vec<Verdicts> = self.engines.iter().map(own).collect();
        let scores: Vec<&[f64]> = self.engines.iter().map(|e| e.scores.as_slice()).collect();
        let combined = combine::combine_surprises(p.combine, &scores);
        let combined_v = Threshold::AtLeast(p.threshold).apply(&combined);
        let by: Vec<(DetectorId, &[usize])> =
            self.engines.iter().zip(&verdicts).map(|(e, v)| (e.name, v.flagged.as_slice())).collect();
        let found = incidents::find(
            &incidents::Inputs {
                capture,
                context: &self.ctx,
                scale: &self.scale,
                combined: &combined,
                flagged: &combined_v.flagged,
                detectors: &by,
            },
            &p.incidents,
        );
        let mut detectors = BTreeMap::new();
        for (e, v) in self.engines.iter().zip(&verdicts) {
            let mut r = DetectorReport::new(row_no, e.scores.clone(), v, e.report.params.clone());
            r.timings_s = e.report.timings_s.clone();
            r.details = e.report.details.clone();
            detectors.insert(e.name, r);
        }
        let feature_names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        detectors.insert(
            DetectorId::Combined,
            DetectorReport::new(
                row_no,
                combined,
                &combined_v,
                serde_json::json!({
                    "combine": p.combine, "threshold": p.threshold,
                }),
            )
            .details(Details {
                feature_columns: Some(feature_names.iter().map(|n| n.to_string()).collect()),
                ..Details::default()
            }),
        );
        let mut timings = self.timings.clone();
        timings.insert("incidents".into(), t.elapsed().as_secs_f64());
        finish(capture, name, bytes, params, detectors, timings, Some(DetectorId::Combined), found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<String>, Option<Stage>);

    impl ProgressSink for Collect {
        fn event(&mut self, event: Event<'_>) -> ControlFlow<()> {
            let (name, stage) = match event {
                Event::Progress { stage, .. } => (format!("{stage:?}"), Some(stage)),
                Event::Overview { overview, .. } => (format!("overview {}", overview.packets), None),
                Event::Backend(b) => (format!("backend {}", b.backend), None),
                Event::Epoch(e) => (format!("epoch {}", e.epoch), None),
                Event::StageDone { stage, .. } => (format!("done {stage:?}"), None),
            };
            self.0.push(name);
            if stage.is_some() && stage == self.1 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }

    fn csv(n: usize) -> Vec<u8> {
        let mut s = String::from("No.,Time,Source,Destination,Protocol,Length,Info\n");
        for i in 0..n {
            let proto = ["TCP", "QUIC", "DNS"][i % 3];
            s.push_str(&format!("{},{}.0,a,b,{proto},{},x\n", i + 1, i, 60 + (i * 37) % 1400));
        }
        s.into_bytes()
    }

    #[test]
    fn overview_only_reports_stages_in_order() {
        let mut sink = Collect(Vec::new(), None);
        let a = run(&csv(1), "x.csv", &Params::overview_only(), &mut sink).expect("runs");
        assert_eq!(a.overview.packets, 1);
        assert!(a.report.is_none());
        assert_eq!(sink.0, vec!["Parse", "done Parse", "Overview", "overview 1", "done Overview"]);
    }

    #[test]
    fn a_sink_can_cancel() {
        let mut sink = Collect(Vec::new(), Some(Stage::Overview));
        assert_eq!(
            run(&csv(3), "x.csv", &Params::overview_only(), &mut sink).err(),
            Some(PipelineError::Cancelled)
        );
        let mut sink = Collect(Vec::new(), Some(Stage::KMeans));
        let mut p = Params::seed(42);
        p.autoencoder.epochs = 1;
        assert_eq!(run(&csv(300), "x.csv", &p, &mut sink).err(), Some(PipelineError::Cancelled));
    }

    #[test]
    fn the_seed_pipeline_reports_every_detector() {
        let mut p = Params::seed(42);
        p.autoencoder.epochs = 2;
        let mut sink = Collect(Vec::new(), None);
        let a = run(&csv(400), "x.csv", &p, &mut sink).expect("runs");
        let r = a.report.expect("report");
        assert_eq!(r.rows, 400);
        for name in [DetectorId::Autoencoder, DetectorId::IforestRf, DetectorId::Kmeans] {
            let d = &r.detectors[&name];
            assert_eq!(d.scores.len(), 400, "{name}");
            assert_eq!(d.count, d.flagged.len(), "{name}");
        }
        assert!(sink.0.contains(&"epoch 2".to_string()));
        assert!(sink.0.contains(&"backend CPU".to_string()));
        assert_eq!(r.detectors[&DetectorId::Autoencoder].details.training.backend.as_deref(), Some("CPU"));
        let json = serde_json::to_value(&r).expect("json");
        assert!(json["detectors"]["iforest_rf"]["if_scores"].is_array());
        assert_eq!(json["row_no"][0], 1);
    }

    #[test]
    fn zero_packets_is_a_clear_error() {
        let a = run(&csv(0), "x.csv", &Params::seed(42), &mut NoProgress).expect("an overview");
        assert!(a.report.is_none());
        let err = futures_lite::future::block_on(detect(
            &a.capture,
            "x.csv",
            0,
            &Params::seed(42),
            &Compute::cpu(),
            &mut NoProgress,
            BTreeMap::new(),
        ))
        .expect_err("fails");
        assert_eq!(err, PipelineError::NoPackets);
        assert_eq!(err.to_string(), "the capture has no packets to analyse");
    }
}
