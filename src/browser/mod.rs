//! The browser glue: the only module (with `ui`) that touches web-sys, js-sys and wasm-bindgen.
//! It runs the worker side of [`crate::protocol`], spawns and talks to the worker from the
//! page, brings up WebGPU for the autoencoder, reads dropped files, and paints [`crate::chart::Chart`] display lists on canvases.

pub mod canvas;
pub mod client;
pub mod gpu;
pub mod worker_runtime;

use serde::Serialize;
use wasm_bindgen::JsValue;

/// Encodes a message for `postMessage` (plain objects and arrays, numbers as numbers).
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, String> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| format!("cannot encode a worker message: {e}"))
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
