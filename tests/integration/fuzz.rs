//! Every input the fuzzer (`./x fuzz`) once found failing, kept in `tests/fixtures/fuzz/`, read
//! again with the fuzz target's checks (no panic, `Capture::check`, the overview and contextual
//! features, `pcap::check_export`; the memory bound is the fuzz target's own, rerun by `./x fuzz`).

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
        c.check().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let _ = netsieve::stats::overview(&c);
        let _ = netsieve::features::context::build(&c);
        if c.container.is_some() {
            capture::pcap::check_export(&bytes, &c).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    assert!(n > 0, "no fuzz regression inputs in {}", dir.display());
}
