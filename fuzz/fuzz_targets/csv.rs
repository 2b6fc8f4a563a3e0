//! CSV tables of a scenario directory (typed by column name, `;`-separated sets): the reader
//! `read_batches` uses for a `.csv` file, then the engine's validator.
#![no_main]

use commonsnet_fuzz::{quiet_contained_panics, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: quiet_contained_panics(), |data: &[u8]| {
    // Other magics go to the Arrow and Parquet readers (their own targets).
    if data.starts_with(b"ARROW1") || data.starts_with(b"PAR1") {
        return;
    }
    validate(commonsnet_datasets::frames::read_table(data, true));
});
