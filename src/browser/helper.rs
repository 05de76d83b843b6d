//! The analysing worker's helper: a second worker (the CPU build, nested in the first) that
//! runs the steps [`pipeline::help`] takes over on the other core while the first trains the
//! autoencoder. The file's bytes are transferred to it (the first worker has its own copy in
//! wasm memory by then), it parses them again and answers `Helped` with what its steps left;
//! the first takes that in before the combined score ([`pipeline::Helper`]).
//!
//! The first worker hears its helper only while it waits (its analysis runs without yielding),
//! so a helper is started ahead, as a spare, when the first worker starts and soon after each
//! analysis: by the time a file comes it has said `Ready` and the work is handed over at once.
//! A helper serves one analysis and is ended when the analysis stops waiting for it (answered,
//! failed, or the first worker ended by a cancel), so its memory is given back at once.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Function};

use super::client::{WorkerClient, WorkerKind};
use super::{promise, resolve};
use crate::pipeline::{Helper, Params, Part};

use crate::protocol::{FromWorker, ToWorker};

/// A helper's state, shared by its message handler and the futures that wait for it.
#[derive(Default)]
struct Shared {
    client: Option<WorkerClient>,
    ready: bool,
    /// The request, until the helper says `Ready`.
    pending: Option<(ToWorker, ArrayBuffer)>,
    /// Resolved once the request is sent (or cannot be).
    handed: Option<Function>,
    answer: Option<Result<Part, String>>,
    answered: Option<Function>,
}

impl Shared {
    /// Sends the request if there is one and the helper listens.
    fn hand_over(&mut self) {
        if !self.ready {
            return;
        }
        if let (Some((request, bytes)), Some(c)) = (self.pending.take(), &self.client) {
            if let Err(e) = c.send(&request, &bytes) {
                self.answer(Err(e));
            }
            resolve(&mut self.handed);
        }
    }

    fn answer(&mut self, answer: Result<Part, String>) {
        if self.answer.is_none() {
            self.answer = Some(answer);
        }
        self.pending = None;
        resolve(&mut self.handed);
        resolve(&mut self.answered);
    }
}

thread_local! {
    /// The helper started ahead for the next analysis.
    static SPARE: RefCell<Option<Rc<RefCell<Shared>>>> = const { RefCell::new(None) };
}

fn spawn() -> Rc<RefCell<Shared>> {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let on_message = {
        let shared = shared.clone();
        move |msg: FromWorker| {
            let mut s = shared.borrow_mut();
            match msg {
                FromWorker::Ready { .. } => {
                    s.ready = true;
                    s.hand_over();
                }
                FromWorker::Helped { part, .. } => s.answer(Ok(*part)),
                FromWorker::Failed { error, .. } | FromWorker::Crashed { error, .. } => {
                    s.answer(Err(error.message))
                }
                _ => {}
            }
        }
    };
    let on_error = {
        let shared = shared.clone();
        move |message: String| shared.borrow_mut().answer(Err(message))
    };
    match WorkerClient::spawn(WorkerKind::Helper, on_message, on_error) {
        Ok(client) => shared.borrow_mut().client = Some(client),
        Err(e) => shared.borrow_mut().answer(Err(e)),
    }
    shared
}

/// Starts a spare helper for the next analysis, unless this worker is a helper itself or has
/// one waiting.
pub fn warm_up() {
    let scope: web_sys::DedicatedWorkerGlobalScope = wasm_bindgen::JsCast::unchecked_into(js_sys::global());
    if scope.name() == WorkerKind::Helper.name() {
        return;
    }
    SPARE.with_borrow_mut(|spare| {
        if spare.is_none() {
            *spare = Some(spawn());
        }
    });
}

/// [`warm_up`] in `ms` milliseconds: after an analysis, so that the spare's start (V8 compiling
/// its module on the other core) does not slow the page drawing the results.
pub fn warm_up_in(ms: u32) {
    if !super::set_timeout(warm_up, ms) {
        warm_up();
    }
}

/// Ends the helper when the analysis stops waiting for it, answered or not (dropped outside the
/// helper's own callbacks: the futures run as the analysis's task).
struct Ending(Rc<RefCell<Shared>>);

impl Drop for Ending {
    fn drop(&mut self) {
        let client = self.0.borrow_mut().client.take();
        drop(client);
    }
}

/// Gives job `job` to the spare helper (or a new one) with `bytes` (transferred).
pub fn start(job: u64, file_name: &str, params: &Params, bytes: ArrayBuffer) -> Helper {
    let shared = SPARE.with_borrow_mut(Option::take).unwrap_or_else(spawn);
    let (handed, handed_fn) = promise();
    let (answered, answered_fn) = promise();
    {
        let mut s = shared.borrow_mut();
        s.handed = handed_fn;
        s.answered = answered_fn;
        if s.answer.is_some() {
            // The spare had already failed: nothing will be handed over.
            resolve(&mut s.handed);
            resolve(&mut s.answered);
        } else {
            let params = Box::new(params.clone());
            s.pending = Some((ToWorker::Help { job, file_name: file_name.to_string(), params }, bytes));
            s.hand_over();
        }
    }
    let waiting = shared.clone();
    let ending = Ending(shared);
    Helper {
        handed: Box::pin(async move {
            let sent = waiting.borrow().handed.is_none();
            if !sent {
                let _ = wasm_bindgen_futures::JsFuture::from(handed).await;
            }
        }),
        part: Box::pin(async move {
            let waiting = ending.0.borrow().answer.is_none();
            if waiting {
                let _ = wasm_bindgen_futures::JsFuture::from(answered).await;
            }
            let answer = ending.0.borrow_mut().answer.take();
            let answer = answer.unwrap_or_else(|| Err("the helper gave no answer".into()));
            if let Err(e) = &answer {
                let message = format!("netsieve: the helper worker failed ({e}); its detectors run here");
                web_sys::console::warn_1(&message.into());
            }
            drop(ending);
            answer
        }),
    }
}
