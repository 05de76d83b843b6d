//! The analysis web worker with burn's WebGPU runtime built in (feature `webgpu`). The page
//! starts it instead of `worker` when the browser offers a WebGPU adapter. A no-op natively.

#[cfg(target_arch = "wasm32")]
fn main() {
    netsieve::browser::worker_runtime::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
