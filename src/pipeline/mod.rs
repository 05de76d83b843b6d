//! Runs an analysis from a file's bytes to its [`Report`], stage by stage, reporting progress
//! through a [`ProgressSink`] that can cancel. The worker's sink posts messages, the CLI's
//! draws on stderr, tests collect events. [`Params::seed`] is the notebook's method.
//!
//! [`run_with`] is async because training on WebGPU awaits its reads; [`Compute`] says where
//! the autoencoder may train. [`run`] is the native, CPU-only shortcut that blocks on it.
//!
//! Detection is each preset's list of steps ([`Preset::steps`], `stages`), one per detector
//! (plus the default preset's features and its combined score); `scored` keeps the default
//! preset's scores to cut again at other thresholds.

mod scored;
mod stages;

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::capture::{self, Capture, ParseError};
use crate::detect::autoencoder::{AutoencoderParams, BackendNote, Compute, EpochReport};
use crate::detect::combine::Combine;
use crate::detect::iforest::IsolationForestParams;
use crate::detect::kmeans::KMeansParams;
use crate::detect::random_forest::RandomForestParams;
use crate::detect::{DetectError, DetectorId};
use crate::incidents::{self, IncidentParams};
use crate::report::{self, Agreement, DetectorReport, InputInfo, Report};
use crate::stats::{self, Overview};

pub use scored::{EngineThresholds, Scored};
pub use stages::Step;

/// A step of the analysis as the page and the CLI show it, in the order they run.
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
    /// A preset's step list ran a step before one whose results it reads (a bug).
    #[error("the analysis ran out of order: {0:?} had not run")]
    Missing(Step),
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
    let mut work = stages::Work::new(capture, name, bytes, params, compute, timings);
    for &step in params.preset.steps() {
        let (stage, t) = (step.stage(), Instant::now());
        go(sink.event(Event::Progress { stage, fraction: 0.0 }))?;
        step.run(&mut work, sink).await?;
        go(sink.event(Event::StageDone { stage, seconds: t.elapsed().as_secs_f64() }))?;
    }
    work.finish()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
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
