//! The page side of the worker: spawns it, decodes its messages (a large `Results` a part per
//! task, the messages after it held until it is whole, so that they arrive in order), sends it
//! files (transferring the `ArrayBuffer`, no copy) and terminates it on cancel. There are two builds of the same
//! worker ([`WorkerKind`]): the page starts the small one unless WebGPU may train.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

use super::{Incoming, next_task, receive_from_worker, to_js};
use crate::protocol::{FromWorker, ToWorker};

/// Which build of the analysis worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerKind {
    /// CPU only (3 MB of wasm).
    Cpu,
    /// With burn's WebGPU runtime (18 MB of wasm: V8 compiling it slows the first analysis by
    /// seconds, so it is only loaded where it can be used).
    WebGpu,
    /// The CPU build as an analysing worker's helper ([`super::helper`]), named so that it
    /// knows not to start a helper of its own.
    Helper,
}

impl WorkerKind {
    /// Where Trunk puts the worker's loader, relative to the page (works from a sub-path).
    fn url(self) -> &'static str {
        match self {
            WorkerKind::Cpu | WorkerKind::Helper => "./worker_loader.js",
            WorkerKind::WebGpu => "./gpu_worker_loader.js",
        }
    }

    /// The worker's name (`self.name` inside it).
    pub fn name(self) -> &'static str {
        match self {
            WorkerKind::Cpu => "netsieve",
            WorkerKind::WebGpu => "netsieve-webgpu",
            WorkerKind::Helper => "netsieve-helper",
        }
    }
}

/// A running analysis worker. Dropping it terminates the worker.
pub struct WorkerClient {
    worker: Worker,
    inbox: Rc<RefCell<Inbox>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl WorkerClient {
    /// Spawns the worker; `on_message` receives every decoded answer, `on_error` a failure to
    /// load or run it.
    pub fn spawn(
        kind: WorkerKind,
        on_message: impl FnMut(FromWorker) + 'static,
        mut on_error: impl FnMut(String) + 'static,
    ) -> Result<Self, String> {
        let options = web_sys::WorkerOptions::new();
        options.set_name(kind.name());
        let worker = Worker::new_with_options(kind.url(), &options)
            .map_err(|e| format!("cannot start the worker: {e:?}"))?;
        let inbox = Rc::new(RefCell::new(Inbox {
            waiting: VecDeque::new(),
            decoding: false,
            closed: false,
            deliver: Rc::new(RefCell::new(on_message)),
        }));
        let arrived = inbox.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            arrived.borrow_mut().waiting.push_back(event.data());
            Inbox::drain(&arrived);
        });
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let message = Reflect::get(&event, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "the analysis worker stopped unexpectedly".into());
            on_error(message);
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WorkerClient { worker, inbox, _on_message: on_message, _on_error: on_error })
    }

    /// Sends a request with the file's bytes, transferring the buffer to the worker.
    pub fn send(&self, request: &ToWorker, bytes: &ArrayBuffer) -> Result<(), String> {
        let envelope = Object::new();
        Reflect::set(&envelope, &"msg".into(), &to_js(request)?).map_err(|e| format!("{e:?}"))?;
        Reflect::set(&envelope, &"bytes".into(), bytes).map_err(|e| format!("{e:?}"))?;
        let transfer = Array::of1(bytes);
        self.worker
            .post_message_with_transfer(&envelope, &transfer)
            .map_err(|e| format!("cannot send the file to the worker: {e:?}"))
    }
}

impl Drop for WorkerClient {
    fn drop(&mut self) {
        self.inbox.borrow_mut().closed = true;
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

/// The worker's messages in the order they came, decoded and handed on one by one. A message
/// that comes in parts is decoded a part per task; what arrives meanwhile waits behind it.
struct Inbox {
    waiting: VecDeque<JsValue>,
    /// A message is being decoded in parts.
    decoding: bool,
    /// The client was dropped: nothing more is handed on.
    closed: bool,
    deliver: Rc<RefCell<dyn FnMut(crate::protocol::FromWorker)>>,
}

impl Inbox {
    /// Hands on the waiting messages until one comes in parts, which goes on in later tasks.
    fn drain(this: &Rc<RefCell<Inbox>>) {
        loop {
            let (value, deliver) = {
                let mut inbox = this.borrow_mut();
                if inbox.decoding || inbox.closed {
                    return;
                }
                let Some(value) = inbox.waiting.pop_front() else { return };
                (value, inbox.deliver.clone())
            };
            match receive_from_worker(value) {
                Ok(Incoming::Whole(msg)) => (deliver.borrow_mut())(msg),
                Ok(Incoming::Parts(mut parts)) => {
                    this.borrow_mut().decoding = true;
                    let this = this.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let whole = loop {
                            next_task().await;
                            if this.borrow().closed {
                                return;
                            }
                            match parts.decode_next() {
                                Ok(true) => break Some(parts.finish()),
                                Ok(false) => {}
                                Err(e) => {
                                    web_sys::console::error_1(&e.into());
                                    break None;
                                }
                            }
                        };
                        if let Some(msg) = whole {
                            (deliver.borrow_mut())(msg);
                        }
                        this.borrow_mut().decoding = false;
                        Inbox::drain(&this);
                    });
                    return;
                }
                Err(e) => web_sys::console::error_1(&e.into()),
            }
        }
    }
}
