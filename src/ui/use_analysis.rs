//! `use_analysis`: the one place where the UI talks to the analysis worker. Components read its
//! signals and call `run` / `cancel`; none of them touches `web_sys::Worker`.

use std::collections::VecDeque;
use std::sync::Arc;

use js_sys::ArrayBuffer;
use leptos::prelude::*;

use crate::browser::client::{WorkerClient, WorkerKind};
use crate::browser::gpu;
use crate::capture::Warning;
use crate::detect::autoencoder::{BackendNote, Preference};
use crate::pipeline::{EngineThresholds, Params, Stage};
use crate::protocol::{FromWorker, PROTOCOL_VERSION, ToWorker};
use crate::report::ResultsView;
use crate::session::{Contents, Export};
use crate::stats::Overview;

/// Where an analysis stands; shown as `data-phase` on `[data-testid="analysis"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Running,
    Done,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Running => "running",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

/// The parse warnings of the current capture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Warnings {
    pub kept: Vec<Warning>,
    pub total: usize,
    pub skipped_rows: usize,
}

/// What the hook gives components. `Copy`: pass it around freely.
#[derive(Clone, Copy)]
pub struct UseAnalysis {
    pub phase: ReadSignal<Phase>,
    pub progress: ReadSignal<Option<(Stage, f64)>>,
    pub overview: ReadSignal<Option<Arc<Overview>>>,
    pub warnings: ReadSignal<Warnings>,
    pub error: ReadSignal<Option<String>>,
    pub file_name: ReadSignal<Option<String>>,
    pub seconds: ReadSignal<Option<f64>>,
    /// How many analyses were started (shown as `data-run`, so tests can tell runs apart).
    pub runs: ReadSignal<u64>,
    /// The worker's wasm memory after the last analysis, in bytes.
    pub memory: ReadSignal<Option<u64>>,
    /// Autoencoder training: (epoch, epochs) of the last finished epoch.
    pub epoch: ReadSignal<Option<(usize, usize)>>,
    /// Training loss per finished epoch.
    pub losses: ReadSignal<Vec<f64>>,
    /// Where the autoencoder trains and why.
    pub backend: ReadSignal<Option<BackendNote>>,
    /// The detectors' results (`None` until they are all done), at the current thresholds.
    pub results: ReadSignal<Option<Arc<ResultsView>>>,
    /// Why the last threshold change or labels file was refused (the results stand).
    pub rejected: ReadSignal<Option<String>>,
    /// Milliseconds from the last threshold change sent to its results shown.
    pub cut_ms: ReadSignal<Option<f64>>,
    inner: StoredValue<Inner, LocalStorage>,
    set: Setters,
}

#[derive(Clone, Copy)]
struct Setters {
    phase: WriteSignal<Phase>,
    progress: WriteSignal<Option<(Stage, f64)>>,
    overview: WriteSignal<Option<Arc<Overview>>>,
    warnings: WriteSignal<Warnings>,
    error: WriteSignal<Option<String>>,
    file_name: WriteSignal<Option<String>>,
    seconds: WriteSignal<Option<f64>>,
    runs: WriteSignal<u64>,
    memory: WriteSignal<Option<u64>>,
    epoch: WriteSignal<Option<(usize, usize)>>,
    losses: WriteSignal<Vec<f64>>,
    backend: WriteSignal<Option<BackendNote>>,
    results: WriteSignal<Option<Arc<ResultsView>>>,
    rejected: WriteSignal<Option<String>>,
    cut_ms: WriteSignal<Option<f64>>,
}

/// A request about the finished analysis (a new threshold, labels): at most one is with the
/// worker at a time; while it works, the newest of each kind waits (older ones are dropped, so
/// a dragged slider never queues up work).
#[derive(Default)]
struct Follow {
    /// Sent at (ms, `performance.now()`), when one is with the worker.
    busy: Option<f64>,
    cut: Option<(f64, EngineThresholds)>,
    labels: Option<(String, Option<String>)>,
}

struct Inner {
    client: Option<WorkerClient>,
    /// Which worker build `client` runs.
    kind: WorkerKind,
    ready: bool,
    job: u64,
    /// A request waiting for the worker's `Ready`.
    pending: Option<(ToWorker, ArrayBuffer)>,
    follow: Follow,
    /// While results wait for their own task ([`UseAnalysis::show_results`]), the messages
    /// that came after them, in order.
    held: Option<VecDeque<FromWorker>>,
}

/// Creates the analysis state and spawns the worker.
pub fn use_analysis() -> UseAnalysis {
    let (phase, set_phase) = signal(Phase::Idle);
    let (progress, set_progress) = signal(None);
    let (overview, set_overview) = signal(None);
    let (warnings, set_warnings) = signal(Warnings::default());
    let (error, set_error) = signal(None);
    let (file_name, set_file_name) = signal(None);
    let (seconds, set_seconds) = signal(None);
    let (runs, set_runs) = signal(0);
    let (memory, set_memory) = signal(None);
    let (epoch, set_epoch) = signal(None);
    let (losses, set_losses) = signal(Vec::new());
    let (results, set_results) = signal(None);
    let (backend, set_backend) = signal(None);
    let (rejected, set_rejected) = signal(None);
    let (cut_ms, set_cut_ms) = signal(None);
    let analysis = UseAnalysis {
        phase,
        progress,
        overview,
        warnings,
        error,
        file_name,
        seconds,
        runs,
        memory,
        epoch,
        losses,
        backend,
        results,
        rejected,
        cut_ms,
        inner: StoredValue::new_local(Inner {
            client: None,
            kind: WorkerKind::Cpu,
            ready: false,
            job: 0,
            pending: None,
            follow: Follow::default(),
            held: None,
        }),
        set: Setters {
            phase: set_phase,
            progress: set_progress,
            overview: set_overview,
            warnings: set_warnings,
            error: set_error,
            file_name: set_file_name,
            seconds: set_seconds,
            runs: set_runs,
            memory: set_memory,
            epoch: set_epoch,
            losses: set_losses,
            backend: set_backend,
            results: set_results,
            rejected: set_rejected,
            cut_ms: set_cut_ms,
        },
    };
    analysis.respawn(WorkerKind::Cpu);
    analysis
}

impl UseAnalysis {
    /// Analyses a file's bytes with `params`, the autoencoder on `backend` (the buffer is
    /// transferred to the worker). Unless `backend` is the CPU, a browser with a WebGPU adapter
    /// gets the worker build with WebGPU in it.
    pub fn run(&self, file_name: String, bytes: ArrayBuffer, params: Params, backend: Preference) {
        if self.phase.get_untracked() == Phase::Running {
            // A new file while one is analysed: the old analysis stops (its worker is ended).
            self.respawn(self.inner.with_value(|i| i.kind));
        }
        let job = self.inner.with_value(|i| i.job) + 1;
        self.inner.update_value(|i| i.job = job);
        self.set.file_name.set(Some(file_name.clone()));
        self.set.error.set(None);
        self.set.overview.set(None);
        self.set.warnings.set(Warnings::default());
        self.set.seconds.set(None);
        self.set.progress.set(None);
        self.set.epoch.set(None);
        self.set.losses.set(Vec::new());
        self.set.backend.set(None);
        self.set.results.set(None);
        self.set.rejected.set(None);
        self.set.cut_ms.set(None);
        self.inner.update_value(|i| i.follow = Follow::default());
        self.set.runs.update(|n| *n += 1);
        self.set.phase.set(Phase::Running);
        let request = ToWorker::Analyze { job, file_name, params: Box::new(params), backend };
        let this = *self;
        wasm_bindgen_futures::spawn_local(async move {
            let kind = if backend != Preference::Cpu && gpu::adapter_available().await {
                WorkerKind::WebGpu
            } else {
                WorkerKind::Cpu
            };
            // Cancelled, or another run started, while the adapter was probed.
            if this.inner.with_value(|i| i.job) != job {
                return;
            }
            this.send(kind, request, bytes);
        });
    }

    /// Sends a request to a worker of `kind`, starting one if needed (it waits for `Ready`).
    fn send(&self, kind: WorkerKind, request: ToWorker, bytes: ArrayBuffer) {
        if self.inner.with_value(|i| i.client.is_none() || i.kind != kind) {
            let job = self.inner.with_value(|i| i.job);
            self.respawn(kind);
            self.inner.update_value(|i| i.job = job); // the request is not stale
        }
        let sent = self.inner.try_update_value(|i| match (&i.client, i.ready) {
            (None, _) => Err("the analysis worker could not be started".to_string()),
            (Some(c), true) => c.send(&request, &bytes),
            (Some(_), false) => {
                i.pending = Some((request, bytes));
                Ok(())
            }
        });
        if let Some(Err(message)) = sent {
            self.fail(message);
        }
    }

    /// Flags again at `threshold` (the combined score) and `engines` (each engine's own line)
    /// without training again; the results, incidents, evaluation and downloads follow.
    pub fn recut(&self, threshold: f64, engines: EngineThresholds) {
        self.inner.update_value(|i| i.follow.cut = Some((threshold, engines)));
        self.follow_up();
    }

    /// Evaluates the analysis against a labels file (and its attack table); kept for the
    /// analysis that is running when there is one, and for every threshold after.
    pub fn labels(&self, labels: String, stats: Option<String>) {
        self.set.rejected.set(None);
        self.inner.update_value(|i| i.follow.labels = Some((labels, stats)));
        self.follow_up();
    }

    /// Asks the worker for `file` at the current thresholds; it is offered for download when it
    /// comes (the worker makes the downloads only when asked, so the slider builds none).
    pub fn export(&self, file: Export) {
        if self.phase.get_untracked() != Phase::Done {
            return;
        }
        let sent = self.inner.try_update_value(|i| {
            let request = ToWorker::Export { job: i.job, file };
            match &i.client {
                Some(c) => c.send(&request, &ArrayBuffer::new(0)),
                None => Err("the analysis worker is gone: run the analysis again".to_string()),
            }
        });
        if let Some(Err(message)) = sent {
            self.set.rejected.set(Some(message));
        }
    }

    fn follow_up(&self) {
        if self.phase.get_untracked() != Phase::Done {
            return;
        }
        let sent = self.inner.try_update_value(|i| {
            if i.follow.busy.is_some() {
                return Ok(());
            }
            let job = i.job;
            let request = if let Some((labels, stats)) = i.follow.labels.take() {
                ToWorker::Labels { job, labels, stats }
            } else if let Some((threshold, engines)) = i.follow.cut.take() {
                ToWorker::Recut { job, threshold, engines }
            } else {
                return Ok(());
            };
            i.follow.busy = Some(now_ms());
            match &i.client {
                Some(c) => c.send(&request, &ArrayBuffer::new(0)),
                None => Err("the analysis worker is gone: run the analysis again".to_string()),
            }
        });
        if let Some(Err(message)) = sent {
            self.inner.update_value(|i| i.follow.busy = None);
            self.set.rejected.set(Some(message));
        }
    }

    /// A follow-up request was answered: note how long it took and send the next one.
    fn followed(&self) {
        let sent = self.inner.try_update_value(|i| i.follow.busy.take()).flatten();
        if let Some(t) = sent {
            self.set.cut_ms.set(Some(now_ms() - t));
            self.follow_up();
        }
    }

    /// Stops the running analysis: the worker is terminated and a fresh one started.
    pub fn cancel(&self) {
        if self.phase.get_untracked() != Phase::Running {
            return;
        }
        self.respawn(self.inner.with_value(|i| i.kind));
        self.set.progress.set(None);
        self.set.phase.set(Phase::Idle);
        self.set.error.set(Some("analysis cancelled".into()));
    }

    /// A file that could not even be read: shown as this run's failure, nothing is sent.
    pub fn refuse(&self, file_name: String, message: String) {
        self.set.file_name.set(Some(file_name));
        self.set.results.set(None);
        self.set.overview.set(None);
        self.fail(message);
    }

    fn fail(&self, message: String) {
        self.set.error.set(Some(message));
        self.set.phase.set(Phase::Failed);
    }

    /// Drops a broken worker, but not from inside its own callback; the next run starts a
    /// fresh one.
    fn forget_worker(&self) {
        let this = *self;
        let forget = move || {
            this.inner.update_value(|i| {
                i.client = None;
                i.ready = false;
            })
        };
        set_timeout(forget, std::time::Duration::ZERO);
    }

    /// Shows new results in a task of their own: receiving a large answer (the 1M-packet
    /// file's) and building its components in one task made it 116–189 ms long, over the 100 ms
    /// a page may block (`tests/e2e/longtask.mjs`: about 40 % decoding, 55 % building). The
    /// messages that come meanwhile (`Done`) are held and then handled in order, so a person
    /// (and a test) never sees the analysis done before its results.
    fn show_results(&self, view: Arc<ResultsView>) {
        let job = self.inner.with_value(|i| i.job);
        self.inner.update_value(|i| i.held = Some(VecDeque::new()));
        let this = *self;
        let show = move || {
            if this.inner.with_value(|i| i.job) == job {
                this.set.results.set(Some(view));
                this.followed();
            }
            let mut rest = this.inner.try_update_value(|i| i.held.take()).flatten().unwrap_or_default();
            while let Some(msg) = rest.pop_front() {
                this.on_message(msg);
                // Another `Results` among them holds what follows it again.
                let again = this.inner.try_update_value(|i| match &mut i.held {
                    Some(held) => {
                        held.extend(rest.drain(..));
                        true
                    }
                    None => false,
                });
                if again == Some(true) {
                    break;
                }
            }
        };
        set_timeout(show, std::time::Duration::ZERO);
    }

    fn respawn(&self, kind: WorkerKind) {
        let this = *self;
        let on_message = move |msg: FromWorker| this.on_message(msg);
        let on_error = move |message: String| {
            if this.phase.get_untracked() == Phase::Running {
                this.fail(message);
            }
            this.forget_worker();
        };
        let client = WorkerClient::spawn(kind, on_message, on_error);
        let failed = self.inner.try_update_value(|i| {
            i.kind = kind;
            i.ready = false;
            i.pending = None;
            i.job += 1; // answers of the old worker are stale
            match client {
                Ok(c) => {
                    i.client = Some(c);
                    None
                }
                Err(e) => {
                    i.client = None;
                    Some(e)
                }
            }
        });
        if let Some(Some(message)) = failed {
            self.fail(message);
        }
    }

    fn on_message(&self, msg: FromWorker) {
        let mut msg = Some(msg);
        self.inner.update_value(|i| {
            if let Some(held) = &mut i.held {
                held.extend(msg.take());
            }
        });
        let Some(msg) = msg else { return };
        if let FromWorker::Ready { version } = msg {
            let result = self.inner.try_update_value(|i| {
                i.ready = true;
                match (i.pending.take(), &i.client) {
                    (Some((request, bytes)), Some(c)) => c.send(&request, &bytes),
                    _ => Ok(()),
                }
            });
            if version != PROTOCOL_VERSION {
                self.fail(format!(
                    "the worker speaks protocol {version}, the page {PROTOCOL_VERSION}: reload the page"
                ));
            } else if let Some(Err(message)) = result {
                self.fail(message);
            }
            return;
        }
        let current = self.inner.with_value(|i| i.job);
        if msg.job() != Some(current) {
            return;
        }
        match msg {
            // A helper's answer goes to the worker it helps, never to the page.
            FromWorker::Ready { .. } | FromWorker::Helped { .. } => {}
            FromWorker::Progress { stage, fraction, .. } => self.set.progress.set(Some((stage, fraction))),
            FromWorker::Overview { overview, warnings, warnings_total, skipped_rows, .. } => {
                self.set.warnings.set(Warnings { kept: warnings, total: warnings_total, skipped_rows });
                self.set.overview.set(Some(Arc::from(overview)));
            }
            FromWorker::Backend { note, .. } => self.set.backend.set(Some(note)),
            FromWorker::Epoch { epoch, epochs, loss, .. } => {
                self.set.epoch.set(Some((epoch, epochs)));
                self.set.losses.update(|l| l.push(loss));
            }
            FromWorker::Exported { file, contents, .. } => match contents {
                Contents::Text(text) => crate::browser::download(&file.file_name(), file.mime(), &text),
                Contents::Bytes(bytes) => {
                    crate::browser::download_bytes(&file.file_name(), file.mime(), &bytes)
                }
            },
            FromWorker::Results { view, .. } => self.show_results(Arc::from(view)),
            FromWorker::Rejected { error, .. } => {
                self.set.rejected.set(Some(error.message));
                self.followed();
            }
            FromWorker::Done { seconds, memory_bytes, .. } => {
                self.set.memory.set(Some(memory_bytes));
                self.set.seconds.set(Some(seconds));
                self.set.progress.set(None);
                self.set.phase.set(Phase::Done);
                self.follow_up(); // labels given while it ran
            }
            FromWorker::Failed { error, .. } => {
                self.set.progress.set(None);
                self.fail(error.message);
            }
            FromWorker::Crashed { error, .. } => {
                self.set.progress.set(None);
                self.fail(error.message);
                self.forget_worker();
            }
        }
    }
}

/// The page's clock, in milliseconds.
fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}
