//! The browser glue: the only module (with `ui`) that touches web-sys, js-sys and wasm-bindgen.
//! It runs the worker side of [`crate::protocol`], spawns and talks to the worker from the
//! page, brings up WebGPU for the autoencoder, reads dropped files, and paints [`crate::chart::Chart`] display lists on canvases.

pub mod canvas;
pub mod client;
pub mod gpu;
pub mod helper;
pub mod worker_runtime;

use serde::Serialize;
use wasm_bindgen::JsValue;

/// Encodes a message for `postMessage` (plain objects and arrays, numbers as numbers).
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, String> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| format!("cannot encode a worker message: {e}"))
}

/// Encodes a message from the worker. The page's results (`Results`: up to 5,000 flagged
/// packets, the incidents, the scatter raster) cross as JSON strings: `postMessage` copies a
/// string at memory speed, where serde-wasm-bindgen builds every object and array through calls
/// into JS on both sides (lab-120k, a threshold move with 1,553 flagged packets: the worker's
/// answer took 127 ms as JS values). They cross as an array of strings, the message without its
/// scatter and flagged packets, then the scatter, then the packets [`ROWS_PER_PART`] at a time,
/// which the page decodes one part per task ([`Incoming`]): the 1M-packet capture's results are
/// 2.2 MB of JSON (1.7 MB the rows, 0.34 MB the scatter), and decoding them in one task took
/// the page 95–105 ms. Undefined figures cross
/// JSON as `null` and read back as `NaN` (`evaluate`'s serde helpers). A helper's `Helped` (a
/// score per packet and engine) crosses as one string. Every other message is a JS value.
pub fn encode_from_worker(msg: crate::protocol::FromWorker) -> Result<JsValue, String> {
    use crate::protocol::FromWorker;
    match msg {
        FromWorker::Results { job, mut view } => {
            let rows = std::mem::take(&mut view.flagged);
            let scatter = std::mem::take(&mut view.scatter);
            let parts = js_sys::Array::new();
            parts.push(&json(&FromWorker::Results { job, view })?);
            parts.push(&json(&scatter)?);
            for chunk in rows.chunks(ROWS_PER_PART) {
                parts.push(&json(chunk)?);
            }
            Ok(parts.into())
        }
        m @ FromWorker::Helped { .. } => json(&m),
        m => to_js(&m),
    }
}

/// Flagged packets per part of a `Results` message (about 340 kB of JSON, 15 ms to decode).
pub const ROWS_PER_PART: usize = 1_000;

/// `value` as a JSON string.
fn json<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, String> {
    serde_json::to_string(value)
        .map(|s| JsValue::from_str(&s))
        .map_err(|e| format!("cannot encode a worker message: {e}"))
}

/// A message from the worker as it arrived: whole, or a `Results` whose scatter and flagged
/// packets are still to decode, a part at a time ([`Parts::decode_next`]), each in a task of its own.
pub enum Incoming {
    Whole(crate::protocol::FromWorker),
    Parts(Parts),
}

/// A `Results` message with the parts of its scatter and flagged packets not yet decoded.
pub struct Parts {
    msg: crate::protocol::FromWorker,
    rest: js_sys::Array,
    next: u32,
}

impl Parts {
    /// Decodes the next part (the scatter, then the rows a part at a time); `true` when every
    /// part is in.
    pub fn decode_next(&mut self) -> Result<bool, String> {
        if self.next < self.rest.length() {
            let text = self.rest.get(self.next).as_string().ok_or("a worker message part is not text")?;
            let parse = |e: serde_json::Error| format!("cannot decode a worker message: {e}");
            if let crate::protocol::FromWorker::Results { view, .. } = &mut self.msg {
                if self.next == 1 {
                    view.scatter = serde_json::from_str(&text).map_err(parse)?;
                } else {
                    let rows: Vec<crate::report::FlaggedPacket> =
                        serde_json::from_str(&text).map_err(parse)?;
                    view.flagged.extend(rows);
                }
            }
            self.next += 1;
        }
        Ok(self.next >= self.rest.length())
    }

    /// The whole message (once [`Parts::decode_next`] has said every part is in).
    pub fn finish(self) -> crate::protocol::FromWorker {
        self.msg
    }
}

/// Starts decoding what [`encode_from_worker`] made: a `Results` message's head at once, its
/// scatter and rows left for [`Parts::decode_next`].
pub fn receive_from_worker(value: JsValue) -> Result<Incoming, String> {
    let parse = |s: &str| serde_json::from_str(s).map_err(|e| format!("cannot decode a worker message: {e}"));
    if let Some(s) = value.as_string() {
        return parse(&s).map(Incoming::Whole);
    }
    if js_sys::Array::is_array(&value) {
        let rest = js_sys::Array::from(&value);
        let head = rest.get(0).as_string().ok_or("a worker message part is not text")?;
        return Ok(Incoming::Parts(Parts { msg: parse(&head)?, rest, next: 1 }));
    }
    from_js(value).map(Incoming::Whole)
}

/// Decodes what [`encode_from_worker`] made, every part at once.
pub fn decode_from_worker(value: JsValue) -> Result<crate::protocol::FromWorker, String> {
    match receive_from_worker(value)? {
        Incoming::Whole(m) => Ok(m),
        Incoming::Parts(mut p) => {
            while !p.decode_next()? {}
            Ok(p.finish())
        }
    }
}

/// Runs `f` in a task of its own, `ms` milliseconds from now, in the page or a worker (the
/// global `setTimeout`); `false` where there is none.
pub fn set_timeout(f: impl FnOnce() + 'static, ms: u32) -> bool {
    use wasm_bindgen::JsCast;
    let global = js_sys::global();
    let Some(set_timeout) = js_sys::Reflect::get(&global, &"setTimeout".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    else {
        return false;
    };
    let later = wasm_bindgen::closure::Closure::once_into_js(f);
    set_timeout.call2(&global, &later, &JsValue::from(ms)).is_ok()
}

/// A promise and the function that resolves it.
pub(crate) fn promise() -> (js_sys::Promise, Option<js_sys::Function>) {
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
    (promise, resolve)
}

/// Resolves the promise of `f` (once).
pub(crate) fn resolve(f: &mut Option<js_sys::Function>) {
    if let Some(f) = f.take() {
        let _ = f.call0(&JsValue::NULL);
    }
}

/// Resolves in a later task (yields to the event loop: input, painting, other messages).
pub async fn next_task() {
    let (promise, mut resolve_fn) = promise();
    if set_timeout(move || resolve(&mut resolve_fn), 0) {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}

/// Decodes a message received from `postMessage`.
pub fn from_js<T: serde::de::DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("cannot decode a worker message: {e}"))
}

/// Offers `text` as a file download (a Blob URL clicked through a temporary link: no network).
pub fn download(file_name: &str, mime: &str, text: &str) {
    offer(file_name, mime, &JsValue::from_str(text));
}

/// Offers `bytes` as a file download.
pub fn download_bytes(file_name: &str, mime: &str, bytes: &[u8]) {
    offer(file_name, mime, &js_sys::Uint8Array::from(bytes));
}

fn offer(file_name: &str, mime: &str, part: &JsValue) {
    use wasm_bindgen::JsCast;
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let parts = js_sys::Array::of1(part);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Ok(a) = document.create_element("a").map(|a| a.unchecked_into::<web_sys::HtmlAnchorElement>()) {
        a.set_href(&url);
        a.set_download(file_name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Puts `text` on the clipboard (the browser may refuse without a user gesture; nothing is sent
/// anywhere).
pub fn copy_text(text: &str) {
    if let Some(w) = web_sys::window() {
        let _ = w.navigator().clipboard().write_text(text);
    }
}

/// The most worker memory an analysis may need: the worker is 32-bit WebAssembly, whose memory
/// cannot grow past 4 GiB; a little is kept back for the code and the stack.
pub const WORKER_MEMORY_BUDGET: f64 = 3.75 * 1024.0 * 1024.0 * 1024.0;

/// Worker memory per byte of capture at the end of an analysis, measured on a large file (the
/// cost is per packet; `node tests/e2e/memory.mjs`, README "Memory"): the default preset on the
/// 1M-packet CSV takes 1,413 MiB for 145 MB, 10.2×, rounded up. (Small files cost more per byte,
/// lab-120k 14×, but sit far below the limit; the seed preset and pcap files cost less.)
pub const WORKER_BYTES_PER_FILE_BYTE: f64 = 10.5;

/// The largest file the page analyses: past it the worker would run out of memory half-way,
/// after minutes. Such a file is refused before it is read (nothing is lost on screen), with the
/// command line as the way on.
pub fn too_big(size: f64) -> Option<String> {
    let limit = WORKER_MEMORY_BUDGET / WORKER_BYTES_PER_FILE_BYTE;
    (size > limit).then(|| {
        format!(
            "this file is {} and the page can analyse up to {} (an analysis needs about {}× the \
             file in the browser's memory, and a page's worker cannot use more than 4 GiB): \
             analyse it with the command line, `netsieve analyze FILE`, or cut it first \
             (editcap -c, or a smaller export from Wireshark)",
            crate::format::bytes(size),
            crate::format::bytes(limit),
            WORKER_BYTES_PER_FILE_BYTE
        )
    })
}

/// Registers the service worker (`sw.js`, from `tools/service-worker.js`) that caches the page
/// and both analysis workers, so that once loaded the page works with the network off. Where
/// the browser offers none (a `file:` page, an insecure origin) the page still works online.
pub fn register_service_worker() {
    let Some(window) = web_sys::window() else { return };
    let navigator = window.navigator();
    if !js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        return;
    }
    let registering = navigator.service_worker().register("./sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = wasm_bindgen_futures::JsFuture::from(registering).await {
            let message = format!("offline use is unavailable: the service worker did not register: {e:?}");
            web_sys::console::warn_1(&message.into());
        }
    });
}

/// Reads a chosen or dropped file's bytes (to be transferred to the worker).
pub async fn read_bytes(file: &web_sys::File) -> Result<js_sys::ArrayBuffer, String> {
    use wasm_bindgen::JsCast;
    let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await.map_err(|e| {
        format!("cannot read {}: {}", file.name(), e.as_string().unwrap_or_else(|| format!("{e:?}")))
    })?;
    buf.dyn_into::<js_sys::ArrayBuffer>().map_err(|_| format!("{} did not read as bytes", file.name()))
}

/// Reads a chosen or dropped file as UTF-8 text (bytes that are not UTF-8 become U+FFFD).
pub async fn read_text(file: &web_sys::File) -> Result<String, String> {
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .map_err(|e| format!("cannot read {}: {e:?}", file.name()))?;
    text.as_string().ok_or_else(|| format!("{} did not read as text", file.name()))
}
