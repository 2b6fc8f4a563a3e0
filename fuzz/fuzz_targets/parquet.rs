//! Parquet tables (a table of a scenario directory, an HTTP part): the reader, then the
//! engine's validator on whatever is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let owned;
    let bytes = if data.starts_with(b"PAR1") {
        data
    } else {
        owned = [b"PAR1".as_slice(), data].concat();
        &owned
    };
    if let Ok(batches) = commonsnet_datasets::read_batches_from_bytes(bytes) {
        let _ = commonsnet_engine::scenario_from_batches(
            &batches,
            &batches,
            Some(&batches),
            None,
            None,
        );
    }
});
