//! DIMACS assignment files (`.asn`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = commonsnet_datasets::dimacs::parse_asn(data) {
        assert_eq!(p.cost.len(), p.rows * p.cols);
    }
});
