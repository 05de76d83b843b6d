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
//!
//! A [`Helper`] runs the steps that do not need the autoencoder ([`Preset::helper_steps`],
//! through [`help`]) on the other core while it trains: a second worker in the page, a thread
//! natively. Each step draws from its own seeded stream, so where a step runs changes no bit.

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
pub use stages::{Part, Step};

/// The steps of an analysis that run elsewhere ([`help`] in another worker or thread).
pub struct Helper {
    /// Ready once the helper has its work: a worker hears its helper only while it waits, so
    /// the analysis waits for this before its own steps (at once when the helper listens).
    pub handed: futures_lite::future::BoxedLocal<()>,
    /// What the helper's steps left, or why they could not run (the analysis then runs them
    /// itself).
    pub part: futures_lite::future::BoxedLocal<Result<Part, String>>,
}

/// Captures above this are analysed without a helper: it parses the capture and builds the
/// features again, so its memory comes on top of the analysis's (natively the 1M-packet CSV,
/// 145 MB, took 2.0 GB with a helper against 1.0 GB without, and was no faster).
pub const HELPER_MAX_BYTES: usize = 64 << 20;

/// Whether an analysis of `bytes` bytes with `params` is worth a helper: it detects, the
/// preset has steps to hand over, and the file is at most [`HELPER_MAX_BYTES`].
pub fn helper_pays(params: &Params, bytes: usize) -> bool {
    params.detect && bytes <= HELPER_MAX_BYTES && !params.preset.helper_steps().is_empty()
}

impl Helper {
    /// A helper already at work, whose part is `part`.
    pub fn working(part: futures_lite::future::BoxedLocal<Result<Part, String>>) -> Helper {
        Helper { handed: Box::pin(async {}), part }
    }
}

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

/// [`run_with`] on the CPU, blocking until it is done (every await in it is then ready at once),
/// with a [`thread_helper`] on the other core where it [pays](helper_pays).
pub fn run(
    bytes: &[u8],
    name: &str,
    params: &Params,
    sink: &mut impl ProgressSink,
) -> Result<Analysis, PipelineError> {
    let helper = helper_pays(params, bytes.len())
        .then(|| thread_helper(bytes.to_vec(), name.to_string(), params.clone()));
    futures_lite::future::block_on(run_with(bytes, name, params, &Compute::cpu(), sink, helper))
}

/// A [`Helper`] on a thread of its own: it parses `bytes` again (tens of milliseconds beside
/// the seconds of the steps it takes over) and runs [`help`]. Where threads cannot start (wasm
/// without them) it fails at once and the analysis runs those steps itself.
pub fn thread_helper(bytes: Vec<u8>, name: String, params: Params) -> Helper {
    let thread = std::thread::Builder::new()
        .name("netsieve-helper".into())
        .spawn(move || futures_lite::future::block_on(help(&bytes, &name, &params)));
    Helper::working(Box::pin(async move {
        let thread = thread.map_err(|e| format!("cannot start the helper thread: {e}"))?;
        match thread.join() {
            Ok(part) => part.map_err(|e| e.to_string()),
            Err(_) => Err("the helper thread panicked".to_string()),
        }
    }))
}

/// A helper's side of an analysis: parses `bytes` and runs the preset's
/// [`Preset::helper_steps`], returning what they leave (no progress: the analysis it helps
/// shows its own).
pub async fn help(bytes: &[u8], name: &str, params: &Params) -> Result<Part, PipelineError> {
    let capture = capture::parse(bytes)?;
    if capture.is_empty() {
        return Err(PipelineError::NoPackets);
    }
    let compute = Compute::cpu();
    let mut work = stages::Work::new(&capture, name, bytes.len(), params, &compute, BTreeMap::new());
    let mut ran = Vec::new();
    for step in params.preset.helper_steps() {
        let t = Instant::now();
        step.run(&mut work, &mut NoProgress).await?;
        ran.push((step, t.elapsed().as_secs_f64()));
    }
    Ok(work.into_part(ran))
}

/// Parses `bytes`, computes the overview and, when `params.detect`, runs the detectors, the
/// autoencoder where `compute` says, the steps a `helper` takes over there.
pub async fn run_with(
    bytes: &[u8],
    name: &str,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    helper: Option<Helper>,
) -> Result<Analysis, PipelineError> {
    let (capture, timings) = parse_stage(bytes, sink)?;
    after_parse(capture, name, bytes.len(), params, compute, sink, timings, helper).await
}

/// [`run_with`] on bytes it owns, which it frees once they are parsed: the page's worker
/// holds the file only there, and a large capture's bytes (145 MB for 1M packets) would
/// otherwise stay allocated under the features and scores. A pcap or pcapng is kept and
/// given back, for the pcapng export of flagged packets.
pub async fn run_owned(
    bytes: Vec<u8>,
    name: &str,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    helper: Option<Helper>,
) -> Result<(Analysis, Option<Vec<u8>>), PipelineError> {
    let size = bytes.len();
    let (capture, timings) = parse_stage(&bytes, sink)?;
    let kept = capture.container.is_some().then_some(bytes);
    let analysis = after_parse(capture, name, size, params, compute, sink, timings, helper).await?;
    Ok((analysis, kept))
}

/// The parse, with its progress and time.
fn parse_stage(
    bytes: &[u8],
    sink: &mut impl ProgressSink,
) -> Result<(Capture, BTreeMap<String, f64>), PipelineError> {
    let started = Instant::now();
    let mut timings = BTreeMap::new();
    go(sink.event(Event::Progress { stage: Stage::Parse, fraction: 0.0 }))?;
    let capture = capture::parse_with_progress(bytes, &mut |fraction| {
        sink.event(Event::Progress { stage: Stage::Parse, fraction })
    })
    .map_err(|e| {
        if e == ParseError::Cancelled { PipelineError::Cancelled } else { PipelineError::Parse(e) }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    timings.insert("parse".to_string(), seconds);
    go(sink.event(Event::StageDone { stage: Stage::Parse, seconds }))?;
    Ok((capture, timings))
}

/// Everything after the parse: the overview, then the detectors when `params.detect`.
#[allow(clippy::too_many_arguments)]
async fn after_parse(
    capture: Capture,
    name: &str,
    size: usize,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    mut timings: BTreeMap<String, f64>,
    helper: Option<Helper>,
) -> Result<Analysis, PipelineError> {
    let t = Instant::now();
    go(sink.event(Event::Progress { stage: Stage::Overview, fraction: 0.0 }))?;
    let overview = stats::overview(&capture);
    timings.insert("overview".to_string(), t.elapsed().as_secs_f64());
    go(sink.event(Event::Overview { capture: &capture, overview: &overview }))?;
    go(sink.event(Event::StageDone { stage: Stage::Overview, seconds: t.elapsed().as_secs_f64() }))?;

    // A capture without packets has an overview (0 packets) but nothing to detect.
    let (report, scored) = if params.detect && !capture.is_empty() {
        let (report, scored) = detect(&capture, name, size, params, compute, sink, timings, helper).await?;
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
/// the scores that [`Scored::report`] cuts again at other thresholds. With a `helper`, the
/// offloaded steps run there and their results are taken in before the first step that reads
/// them; a helper that fails leaves them to run here.
#[allow(clippy::too_many_arguments)]
pub async fn detect(
    capture: &Capture,
    name: &str,
    bytes: usize,
    params: &Params,
    compute: &Compute,
    sink: &mut impl ProgressSink,
    timings: BTreeMap<String, f64>,
    mut helper: Option<Helper>,
) -> Result<(Report, Option<Scored>), PipelineError> {
    if capture.is_empty() {
        return Err(PipelineError::NoPackets);
    }
    let preset = params.preset;
    let mut work = stages::Work::new(capture, name, bytes, params, compute, timings);
    let steps = if helper.is_some() { preset.own_steps() } else { preset.steps().to_vec() };
    if let Some(h) = &mut helper {
        (&mut h.handed).await;
    }
    for step in steps {
        if step.needs().iter().any(|s| s.offloads())
            && let Some(h) = helper.take()
        {
            join(h, &mut work, preset, sink).await?;
        }
        run_step(step, &mut work, sink).await?;
    }
    if let Some(h) = helper.take() {
        join(h, &mut work, preset, sink).await?;
    }
    work.finish()
}

/// Waits for the helper's part and takes it in, or runs its steps here if it failed.
async fn join(
    helper: Helper,
    work: &mut stages::Work<'_>,
    preset: Preset,
    sink: &mut impl ProgressSink,
) -> Result<(), PipelineError> {
    let offloaded: Vec<Step> = preset.steps().iter().copied().filter(|s| s.offloads()).collect();
    if let Some(first) = offloaded.first() {
        go(sink.event(Event::Progress { stage: first.stage(), fraction: 0.0 }))?;
    }
    let t = Instant::now();
    match helper.part.await {
        Ok(part) => {
            // How long the analysis waited for its helper (0: the helper was done first).
            work.time("helper_wait", t.elapsed().as_secs_f64());
            for &(step, seconds) in part.steps() {
                if step.offloads() {
                    go(sink.event(Event::StageDone { stage: step.stage(), seconds }))?;
                }
            }
            work.absorb(part);
        }
        Err(_) => {
            for step in offloaded {
                run_step(step, work, sink).await?;
            }
        }
    }
    Ok(())
}

/// Runs one step here, its stage shown from start to done.
async fn run_step(
    step: Step,
    work: &mut stages::Work<'_>,
    sink: &mut impl ProgressSink,
) -> Result<(), PipelineError> {
    let (stage, t) = (step.stage(), Instant::now());
    go(sink.event(Event::Progress { stage, fraction: 0.0 }))?;
    step.run(work, sink).await?;
    go(sink.event(Event::StageDone { stage, seconds: t.elapsed().as_secs_f64() }))
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
        // A stage the helper runs: the analysis stops when it comes to wait for it.
        let mut sink = Collect(Vec::new(), Some(Stage::IsolationForest));
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

    /// A report without its timings (which differ from run to run).
    fn untimed(mut r: Report) -> Report {
        r.timings_s.clear();
        for d in r.detectors.values_mut() {
            d.timings_s.clear();
            d.details.training.epoch_seconds = None;
        }
        r
    }

    fn quick(preset: Preset) -> Params {
        let mut p = Params { preset, ..Params::seed(42) };
        p.autoencoder.epochs = 2;
        p.context.autoencoder.epochs = 2;
        p
    }

    #[test]
    fn a_helper_changes_no_bit_of_either_preset() {
        let bytes = csv(600);
        for preset in [Preset::Seed, Preset::Context] {
            let p = quick(preset);
            let alone = |helper| {
                futures_lite::future::block_on(run_with(
                    &bytes,
                    "x.csv",
                    &p,
                    &Compute::cpu(),
                    &mut NoProgress,
                    helper,
                ))
                .expect("runs")
            };
            let one = alone(None);
            let two = alone(Some(thread_helper(bytes.clone(), "x.csv".into(), p.clone())));
            let (one, two) = (one.report.expect("report"), two.report.expect("report"));
            assert_eq!(untimed(one.clone()), untimed(two.clone()), "{preset:?}");
            // The helper's steps are timed as it ran them (the seed preset hands over none).
            for k in ["if", "helper_wait"] {
                assert!(two.timings_s.contains_key(k), "{preset:?}: {k}");
            }
            // A helper that fails leaves its steps to run here, with the same results.
            let failed = Helper::working(Box::pin(async { Err("no second core".to_string()) }));
            let three = alone(Some(failed)).report.expect("report");
            assert_eq!(untimed(one), untimed(three), "{preset:?}");
        }
    }

    #[test]
    fn a_helpers_part_reads_back_from_json_as_it_was() {
        let bytes = csv(300);
        let p = quick(Preset::Context);
        let part = futures_lite::future::block_on(help(&bytes, "x.csv", &p)).expect("helps");
        let ran: Vec<Step> = part.steps().iter().map(|(s, _)| *s).collect();
        assert_eq!(ran, vec![Step::Features, Step::Iforest]);
        // (An engine's report has no threshold yet: NaN, which equals nothing, so compare JSON.)
        let json = serde_json::to_string(&part).expect("serialises");
        let back: Part = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(serde_json::to_string(&back).expect("serialises"), json);
        assert_eq!(back.engines()[0].scores, part.engines()[0].scores);
        let p = quick(Preset::Seed);
        let part = futures_lite::future::block_on(help(&bytes, "x.csv", &p)).expect("helps");
        let back: Part = serde_json::from_str(&serde_json::to_string(&part).expect("ser")).expect("de");
        assert_eq!(back, part);
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
            None,
        ))
        .expect_err("fails");
        assert_eq!(err, PipelineError::NoPackets);
        assert_eq!(err.to_string(), "the capture has no packets to analyse");
    }
}
