//! The analysis web worker: installs the message handler. Built by Trunk for wasm32; a no-op
//! natively.

#[cfg(target_arch = "wasm32")]
fn main() {
    netsieve::browser::worker_runtime::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
