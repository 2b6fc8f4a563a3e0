//! DIMACS min-cost flow files (`.min`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = commonsnet_datasets::dimacs::parse_min(data) {
        assert_eq!(p.supply.len(), p.nodes);
        assert!(p.source.iter().chain(&p.target).all(|&v| v < p.nodes));
    }
});
