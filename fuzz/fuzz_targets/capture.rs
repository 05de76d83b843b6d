//! Fuzzes what a dropped file reaches before any detector: the readers (CSV, pcap, pcapng:
//! `capture::parse` picks by magic number), the overview, the default preset's Info parsing and
//! contextual features, and the pcapng export of a pcap input. Checks, beyond "no panic":
//!
//! - memory: the peak heap while reading stays under `PEAK_PER_BYTE` × the input plus
//!   `PEAK_FIXED` (a counting allocator measures it);
//! - the capture is consistent: one entry per packet in every column, Info spans inside the text;
//! - a pcap/pcapng input exported with all its packets reads back with the same packets.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use netsieve::capture;

/// Heap bytes a read may peak at per input byte, and on top of that (interners, the first
/// chunks of every column).
const PEAK_PER_BYTE: usize = 16;
const PEAK_FIXED: usize = 4 << 20;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fuzz_target!(|data: &[u8]| {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let parsed = capture::parse(data);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let bound = PEAK_PER_BYTE * data.len() + PEAK_FIXED;
    assert!(peak <= bound, "reading {} bytes peaked at {peak} heap bytes (bound {bound})", data.len());
    let Ok(c) = parsed else { return };

    c.check().unwrap_or_else(|e| panic!("{e}"));
    let _ = netsieve::stats::overview(&c);
    let _ = netsieve::features::context::build(&c);
    if c.container.is_some() {
        capture::pcap::check_export(data, &c).unwrap_or_else(|e| panic!("{e}"));
    }
});
