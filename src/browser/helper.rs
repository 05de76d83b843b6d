//! The analysing worker's helper: a second worker (the CPU build, nested in the first) that
//! runs the steps that do not need the autoencoder ([`pipeline::help`]) on the other core
//! while the first trains it. The file's bytes are transferred to it (the first worker has its
//! own copy in wasm memory by then), it parses them again and answers `Helped` with what its
//! steps left; the first takes that in before the combined score ([`pipeline::Helper`]).
//!
//! The helper lives for one analysis: it is terminated once it has answered or when the
//! analysis no longer waits for it (an error, a cancel that ends the first worker ends it too),
//! so its memory is given back at once.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Function, Promise};
use wasm_bindgen::JsValue;

use super::client::{WorkerClient, WorkerKind};
use crate::pipeline::{Helper, Params, Part};
use crate::protocol::{FromWorker, ToWorker};

/// Files above this are analysed without a helper. Its memory comes on top of the first
/// worker's (it parses the capture and builds the features again): about 0.7 GB at 64 MiB of
/// CSV, past which the tab's memory matters more than the seconds it saves.
pub const HELPER_MAX_BYTES: f64 = 64.0 * 1024.0 * 1024.0;

/// Whether an analysis of `bytes` with `params` gets a helper.
pub fn wanted(params: &Params, bytes: f64) -> bool {
    params.detect && bytes <= HELPER_MAX_BYTES && !params.preset.helper_steps().is_empty()
}

/// The helper's state, shared by its message handler and the future that waits for it.
#[derive(Default)]
struct Shared {
    client: Option<WorkerClient>,
    /// The request, until the helper says `Ready`.
    pending: Option<(ToWorker, ArrayBuffer)>,
    answer: Option<Result<Part, String>>,
    resolve: Option<Function>,
}

impl Shared {
    fn answer(&mut self, answer: Result<Part, String>) {
        if self.answer.is_none() {
            self.answer = Some(answer);
            if let Some(resolve) = self.resolve.take() {
                let _ = resolve.call0(&JsValue::NULL);
            }
        }
    }
}

/// Ends the helper when the analysis stops waiting for it, answered or not (dropped outside the
/// helper's own callbacks: the future runs as the analysis's task).
struct Ending(Rc<RefCell<Shared>>);

impl Drop for Ending {
    fn drop(&mut self) {
        let client = self.0.borrow_mut().client.take();
        drop(client);
    }
}

/// Starts a helper for job `job` and sends it `bytes` (transferred); the future resolves with
/// its part, or with why there is none (the analysis then runs those steps itself).
pub fn start(job: u64, file_name: &str, params: &Params, bytes: ArrayBuffer) -> Helper {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let mut resolve = None;
    let promise = Promise::new(&mut |r, _| resolve = Some(r));
    shared.borrow_mut().resolve = resolve;
    shared.borrow_mut().pending = Some((
        ToWorker::Help { job, file_name: file_name.to_string(), params: Box::new(params.clone()) },
        bytes,
    ));
    let on_message = {
        let shared = shared.clone();
        move |msg: FromWorker| {
            let mut s = shared.borrow_mut();
            match msg {
                FromWorker::Ready { .. } => {
                    let sent = match (s.pending.take(), &s.client) {
                        (Some((request, bytes)), Some(c)) => c.send(&request, &bytes),
                        _ => Ok(()),
                    };
                    if let Err(e) = sent {
                        s.answer(Err(e));
                    }
                }
                FromWorker::Helped { job: j, part } if j == job => s.answer(Ok(*part)),
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
    match WorkerClient::spawn(WorkerKind::Cpu, on_message, on_error) {
        Ok(client) => shared.borrow_mut().client = Some(client),
        Err(e) => shared.borrow_mut().answer(Err(e)),
    }
    let ending = Ending(shared);
    Box::pin(async move {
        let waiting = ending.0.borrow().answer.is_none();
        if waiting {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        }
        let answer = ending.0.borrow_mut().answer.take();
        let answer = answer.unwrap_or_else(|| Err("the helper gave no answer".into()));
        if let Err(e) = &answer {
            let message = format!("netsieve: the helper worker failed ({e}); its detectors run here");
            web_sys::console::warn_1(&message.into());
        }
        drop(ending);
        answer
    })
}
