//! Every input the fuzzer (`./x fuzz`) once found failing, kept in `tests/fixtures/fuzz/`, read
//! again with the fuzz target's checks (no panic, consistent columns, finite times, a pcap's
//! export holds its packets; the memory bound is the fuzz target's own, rerun by `./x fuzz`).

use std::collections::BTreeSet;

use netsieve::capture;

#[test]
fn inputs_the_fuzzer_found_read_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures/fuzz") {
        let path = entry.expect("an entry").path();
        let bytes = crate::read(&path);
        n += 1;
        let Ok(c) = capture::parse(&bytes) else { continue };
        for len in [c.time.len(), c.source.len(), c.destination.len(), c.length.len(), c.info_span.len()] {
            assert_eq!(len, c.len(), "{}: a column's length", path.display());
        }
        assert!(c.time.iter().all(|t| t.is_finite()), "{}: a time is not finite", path.display());
        let _ = netsieve::stats::overview(&c);
        let _ = netsieve::features::context::build(&c);
        if c.container.is_some() {
            let all: BTreeSet<u64> = (1..=c.len() as u64).collect();
            let out = capture::pcap::export_pcapng(&bytes, &all).expect("exports");
            assert_eq!(capture::parse(&out).expect("reads back").len(), c.len(), "{}", path.display());
        }
    }
    assert!(n > 0, "no fuzz regression inputs in {}", dir.display());
}
