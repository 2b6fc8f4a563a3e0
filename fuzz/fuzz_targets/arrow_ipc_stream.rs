//! Arrow IPC streams (a table of a scenario directory, an HTTP part): the reader, then the
//! engine's validator on whatever is accepted.
#![no_main]

use commonsnet_fuzz::{quiet_contained_panics, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: quiet_contained_panics(), |data: &[u8]| {
    // Other magics go to the file and Parquet readers (their own targets).
    if data.starts_with(b"ARROW1") || data.starts_with(b"PAR1") {
        return;
    }
    validate(commonsnet_datasets::read_batches_from_bytes(data));
});
