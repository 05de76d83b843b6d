//! WebGPU for the autoencoder. In the worker: asks the browser for an adapter
//! (`navigator.gpu.requestAdapter()`), then brings up burn's WebGPU device on it, once per
//! worker (burn's runtime starts only once), and hands it to the core as an
//! [`Accelerator`]; where there is none, the error says why in words the page can show. On the
//! page: [`adapter_available`] tells which worker build to start.

use std::cell::RefCell;

#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
use burn::prelude::Device;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::detect::autoencoder::Accelerator;

thread_local! {
    /// The outcome of the first bring-up, kept for the worker's life.
    static ACCELERATOR: RefCell<Option<Result<Accelerator, String>>> = const { RefCell::new(None) };
    /// Whether the page's first probe found an adapter.
    static ADAPTER: RefCell<Option<bool>> = const { RefCell::new(None) };
}

/// Whether this browser gives a WebGPU adapter (probed once).
pub async fn adapter_available() -> bool {
    if let Some(known) = ADAPTER.with_borrow(|a| *a) {
        return known;
    }
    let found = probe().await.is_ok();
    ADAPTER.set(Some(found));
    found
}

/// The WebGPU accelerator, or why this browser has none.
pub async fn accelerator() -> Result<Accelerator, String> {
    if let Some(known) = ACCELERATOR.with_borrow(Clone::clone) {
        return known;
    }
    let outcome = bring_up().await;
    ACCELERATOR.set(Some(outcome.clone()));
    outcome
}

#[cfg(all(target_arch = "wasm32", feature = "webgpu"))]
async fn bring_up() -> Result<Accelerator, String> {
    let adapter = probe().await?;
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("the WebGPU adapter ({adapter}) could not start: {e}"))?;
    Ok(Accelerator { device, name: format!("WebGPU ({adapter})") })
}

/// burn's WebGPU runtime is only compiled into the wasm32 worker (feature `webgpu`).
#[cfg(not(all(target_arch = "wasm32", feature = "webgpu")))]
async fn bring_up() -> Result<Accelerator, String> {
    probe().await?;
    Err("this build has no WebGPU trainer (it is built into the worker with the webgpu feature)".into())
}

/// Asks for an adapter; returns a short description of it.
async fn probe() -> Result<String, String> {
    let get = |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok();
    let navigator = get(&js_sys::global(), "navigator").unwrap_or(JsValue::UNDEFINED);
    let gpu = get(&navigator, "gpu").filter(|g| !g.is_undefined() && !g.is_null());
    let Some(gpu) = gpu else {
        return Err("this browser has no WebGPU here (navigator.gpu is missing)".into());
    };
    let request = get(&gpu, "requestAdapter")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or("navigator.gpu.requestAdapter is missing")?;
    let promise: Promise = request
        .call0(&gpu)
        .ok()
        .and_then(|p| p.dyn_into().ok())
        .ok_or("navigator.gpu.requestAdapter() failed")?;
    let adapter = JsFuture::from(promise)
        .await
        .map_err(|e| format!("navigator.gpu.requestAdapter() failed: {}", js_text(&e)))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("WebGPU gives no adapter here (navigator.gpu.requestAdapter() returned null)".into());
    }
    let info = get(&adapter, "info").unwrap_or(JsValue::UNDEFINED);
    let text = |key| get(&info, key).and_then(|v| v.as_string()).filter(|s| !s.is_empty());
    let name = [text("vendor"), text("architecture"), text("description")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(if name.is_empty() { "unnamed adapter".into() } else { name })
}

fn js_text(v: &JsValue) -> String {
    v.as_string()
        .or_else(|| v.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| format!("{v:?}"))
}
