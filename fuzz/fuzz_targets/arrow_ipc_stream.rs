//! Arrow IPC streams (a table of a scenario directory, an HTTP part): the reader, then the
//! engine's validator on whatever is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Other magics go to the file and Parquet readers (their own targets).
    if data.starts_with(b"ARROW1") || data.starts_with(b"PAR1") {
        return;
    }
    if let Ok(batches) = commonsnet_datasets::read_batches_from_bytes(data) {
        let _ = commonsnet_engine::scenario_from_batches(
            &batches,
            &batches,
            Some(&batches),
            None,
            None,
        );
    }
});
