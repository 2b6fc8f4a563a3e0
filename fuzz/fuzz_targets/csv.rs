//! CSV tables of a scenario directory (typed by column name, `;`-separated sets): the reader
//! `read_batches` uses for a `.csv` file, then the engine's validator.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Other magics go to the Arrow and Parquet readers (their own targets).
    if data.starts_with(b"ARROW1") || data.starts_with(b"PAR1") {
        return;
    }
    if let Ok(batches) = commonsnet_datasets::frames::read_table(data, true) {
        let _ = commonsnet_engine::scenario_from_batches(
            &batches,
            &batches,
            Some(&batches),
            None,
            None,
        );
    }
});
