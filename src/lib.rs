//! Netsieve: a network-traffic anomaly analyzer for Wireshark CSV exports that runs entirely in
//! the browser (and natively as a command-line tool).
//!
//! # The dependency rule
//!
//! Data flows one way and modules only depend on modules above them in this list:
//!
//! ```text
//! capture   (bytes → packets)                      core: no web-sys / leptos / wasm-bindgen
//!   → stats (overview)   → features (matrices, scalers)
//!   → detect (autoencoder, isolation forest → random forest, k-means, combined score)
//!   → evaluate (agreement and label measures) → incidents (group, explain, filter)
//!   → report (the one result type) → assess (a report against labels), markdown (its export)
//!   → pipeline (run the stages, report progress) → session (a finished analysis, cut again)
//!   → protocol (page ⇄ worker messages)
//! chart     (pure geometry → display list; depends on result types only)
//! format    (number formatting; used by every layer, uses nothing)
//! browser, ui (behind the `web` feature: the only home of web-sys, js-sys, wasm-bindgen, leptos)
//! ```
//!
//! The core builds and tests with `--no-default-features`; a core module that imports a web
//! crate breaks that build.

pub mod assess;
pub mod capture;
pub mod chart;
#[cfg(feature = "cli")]
pub mod cli;
pub mod detect;
pub mod evaluate;
pub mod features;
pub mod format;
pub mod incidents;
pub mod markdown;
pub mod parity;
pub mod pipeline;
pub mod protocol;
pub mod report;
pub mod session;
pub mod stats;
pub mod timing;

#[cfg(feature = "web")]
pub mod browser;
#[cfg(feature = "web")]
pub mod ui;
