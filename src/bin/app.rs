//! The page: mounts the Leptos UI. Built by Trunk for wasm32; a no-op natively.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    netsieve::browser::register_service_worker();
    leptos::mount::mount_to_body(netsieve::ui::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
