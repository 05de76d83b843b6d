//! The worker side: listens for [`ToWorker`] messages, runs the [`pipeline`] on the bytes that
//! come with them (the autoencoder on the CPU or WebGPU, see [`super::gpu`]; the detectors that
//! do not need it in a [`super::helper`]), and posts [`FromWorker`] answers. Started by the
//! `worker` and `gpu_worker` binaries; a helper is the `worker` build answering `Help`.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};
use web_time::Instant;

use super::{encode_from_worker, from_js};
use crate::detect::autoencoder::{Compute, Preference};
use crate::pipeline::{self, Event, ProgressSink, Stage};
use crate::protocol::{ErrorReport, FromWorker, PROTOCOL_VERSION, ToWorker};
use crate::session::Session;

/// How many flagged packets the page's table receives (the CSV download has them all).
const FLAGGED_ROWS: usize = 5_000;

/// Progress messages are sent at most this often (ms), plus at every stage change.
const PROGRESS_EVERY_MS: u128 = 50;

thread_local! {
    /// The job being analysed, so that a panic is reported against it.
    static CURRENT_JOB: Cell<Option<u64>> = const { Cell::new(None) };
    /// The last finished analysis and its job, for `Recut` and `Labels`.
    static SESSION: RefCell<Option<(u64, Session)>> = const { RefCell::new(None) };
}

/// A panic (a bug, or a GPU device lost inside burn) traps the wasm instance. Inside an async
/// task that trap never reaches the page's `onerror`, so the hook tells the page itself.
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        if let Some(job) = CURRENT_JOB.get() {
            let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
            let message = format!("the analysis stopped on an internal error: {info}");
            post(&scope, FromWorker::Crashed { job, error: ErrorReport { message } });
        }
    }));
}

fn post(scope: &DedicatedWorkerGlobalScope, msg: FromWorker) {
    match encode_from_worker(msg) {
        Ok(v) => {
            if let Err(e) = scope.post_message(&v) {
                web_sys::console::error_2(&"netsieve worker: postMessage failed".into(), &e);
            }
        }
        Err(e) => web_sys::console::error_1(&e.into()),
    }
}

struct PostingSink {
    scope: DedicatedWorkerGlobalScope,
    job: u64,
    last: Option<(Stage, Instant)>,
}

impl ProgressSink for PostingSink {
    fn event(&mut self, event: Event<'_>) -> ControlFlow<()> {
        match event {
            Event::Progress { stage, fraction } => {
                let due = match self.last {
                    Some((s, t)) => s != stage || t.elapsed().as_millis() >= PROGRESS_EVERY_MS,
                    None => true,
                };
                if due {
                    self.last = Some((stage, Instant::now()));
                    post(&self.scope, FromWorker::Progress { job: self.job, stage, fraction });
                }
            }
            Event::Epoch(e) => post(
                &self.scope,
                FromWorker::Epoch { job: self.job, epoch: e.epoch, epochs: e.epochs, loss: e.loss },
            ),
            Event::Backend(note) => {
                post(&self.scope, FromWorker::Backend { job: self.job, note: note.clone() })
            }
            Event::StageDone { .. } => {}
            Event::Overview { capture, overview } => post(
                &self.scope,
                FromWorker::Overview {
                    job: self.job,
                    overview: Box::new(overview.clone()),
                    warnings: capture.warnings.clone(),
                    warnings_total: capture.warnings_total,
                    skipped_rows: capture.skipped_rows,
                },
            ),
        }
        ControlFlow::Continue(())
    }
}

async fn handle(scope: DedicatedWorkerGlobalScope, data: JsValue) {
    let msg = Reflect::get(&data, &"msg".into()).unwrap_or(JsValue::UNDEFINED);
    let request: ToWorker = match from_js(msg) {
        Ok(r) => r,
        Err(e) => {
            web_sys::console::error_1(&e.into());
            return;
        }
    };
    match request {
        ToWorker::Analyze { job, file_name, params, backend } => {
            CURRENT_JOB.set(Some(job));
            let started = Instant::now();
            let Some(buffer) = file_bytes(&scope, job, &data) else { return };
            let bytes = Uint8Array::new(&buffer).to_vec();
            // The JS copy goes to the helper, or is freed before we parse.
            let helper = if pipeline::helper_pays(&params, bytes.len()) {
                Some(super::helper::start(job, &file_name, &params, buffer))
            } else {
                release(&buffer);
                None
            };
            let compute = Compute {
                preference: backend,
                accelerator: match backend {
                    Preference::Cpu => Err("not asked for".into()),
                    Preference::Auto | Preference::Accelerator => super::gpu::accelerator().await,
                },
            };
            let mut sink = PostingSink { scope: scope.clone(), job, last: None };
            SESSION.set(None); // its memory is needed for this run
            let size = bytes.len();
            let answer =
                match pipeline::run_owned(bytes, &file_name, &params, &compute, &mut sink, helper).await {
                    Ok((analysis, kept)) => {
                        match Session::new(analysis, &file_name, size, *params).map(|mut s| {
                            if let Some(bytes) = kept {
                                s.keep_source(bytes);
                            }
                            s
                        }) {
                            None => done(job, started),
                            Some(session) => {
                                post(&scope, results(job, &session));
                                SESSION.set(Some((job, session)));
                                done(job, started)
                            }
                        }
                    }
                    Err(e) => FromWorker::Failed { job, error: e.into() },
                };
            post(&scope, answer);
            CURRENT_JOB.set(None);
            super::helper::warm_up_in(2_000); // for the next analysis
        }
        ToWorker::Help { job, file_name, params } => {
            CURRENT_JOB.set(Some(job));
            let Some(buffer) = file_bytes(&scope, job, &data) else { return };
            let bytes = Uint8Array::new(&buffer).to_vec();
            release(&buffer);
            let answer = match pipeline::help(&bytes, &file_name, &params).await {
                Ok(part) => FromWorker::Helped { job, part: Box::new(part) },
                Err(e) => FromWorker::Failed { job, error: e.into() },
            };
            post(&scope, answer);
            CURRENT_JOB.set(None);
        }
        ToWorker::Recut { job, threshold, engines } => {
            with_session(&scope, job, |s| s.recut(threshold, engines).map_err(ErrorReport::from));
        }
        ToWorker::Export { job, file } => {
            let answer = SESSION.with_borrow(|current| {
                let (_, session) = current.as_ref().filter(|(j, _)| *j == job)?;
                Some(match session.export(file) {
                    Ok(contents) => FromWorker::Exported { job, file, contents },
                    Err(e) => FromWorker::Rejected { job, error: e.into() },
                })
            });
            if let Some(answer) = answer {
                post(&scope, answer);
            }
        }
        ToWorker::Labels { job, labels, stats } => with_session(&scope, job, |s| {
            s.set_labels(labels.as_bytes(), stats.as_deref().map(str::as_bytes)).map_err(ErrorReport::from)
        }),
    }
}

/// Frees a JS copy of the file now rather than when the request's message is collected, at
/// the end of the analysis (`ArrayBuffer.prototype.transfer(0)` detaches it; in a browser
/// without it the copy stays until then).
fn release(buffer: &ArrayBuffer) {
    if let Ok(transfer) =
        Reflect::get(buffer, &"transfer".into()).and_then(|f| f.dyn_into::<js_sys::Function>())
    {
        let _ = transfer.call1(buffer, &0.into());
    }
}

/// The file's bytes sent beside a request, or `Failed` posted for `job`.
fn file_bytes(scope: &DedicatedWorkerGlobalScope, job: u64, data: &JsValue) -> Option<ArrayBuffer> {
    let buffer = Reflect::get(data, &"bytes".into()).ok().and_then(|b| b.dyn_into::<ArrayBuffer>().ok());
    if buffer.is_none() {
        let error = ErrorReport { message: "no file bytes came with the request".into() };
        post(scope, FromWorker::Failed { job, error });
    }
    buffer
}

fn done(job: u64, started: Instant) -> FromWorker {
    FromWorker::Done { job, seconds: started.elapsed().as_secs_f64(), memory_bytes: memory_bytes() }
}

/// Applies `change` to `job`'s session and posts its new results, or `Rejected` with the
/// change's error (the session is unchanged then). A job whose session is gone (a newer
/// analysis started) gets no answer: the page no longer waits for it.
fn with_session(
    scope: &DedicatedWorkerGlobalScope,
    job: u64,
    change: impl FnOnce(&mut Session) -> Result<(), ErrorReport>,
) {
    SESSION.with_borrow_mut(|current| {
        let Some((_, session)) = current.as_mut().filter(|(j, _)| *j == job) else { return };
        match change(session) {
            Ok(()) => post(scope, results(job, session)),
            Err(error) => post(scope, FromWorker::Rejected { job, error }),
        }
    });
}

/// The `Results` message of a session: the page's view.
fn results(job: u64, session: &Session) -> FromWorker {
    FromWorker::Results { job, view: Box::new(session.results(FLAGGED_ROWS)) }
}

/// Size of this worker's wasm linear memory.
fn memory_bytes() -> u64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|m| m.buffer().dyn_into::<ArrayBuffer>().ok())
        .map_or(0, |b| u64::from(b.byte_length()))
}

/// Installs the panic report and the message handler (each request runs as a local task:
/// training on WebGPU awaits its reads), then announces `Ready` (messages sent before are lost).
pub fn start() {
    report_panics();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let handler_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        wasm_bindgen_futures::spawn_local(handle(handler_scope.clone(), event.data()));
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget(); // lives as long as the worker
    post(&scope, FromWorker::Ready { version: PROTOCOL_VERSION });
    super::helper::warm_up();
}
