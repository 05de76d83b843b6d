//! The one native integration test binary (every test binary relinks burn and linfa, so one
//! binary saves minutes). Modules inside use the real captures in `../shared/data`.

mod cli;
mod detect;
mod filters;
mod formats;
mod fuzz;
mod overview;
mod pcap;

use std::path::PathBuf;

/// `../shared` beside the checkout (or `$NETSIEVE_SHARED`).
pub fn shared() -> PathBuf {
    std::env::var_os("NETSIEVE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

pub fn data(name: &str) -> PathBuf {
    shared().join("data").join(name)
}

pub fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
