//! Arrow IPC files (a table of a scenario directory, an HTTP part): the reader, then the
//! engine's validator on whatever is accepted.
#![no_main]

use commonsnet_fuzz::{quiet_contained_panics, validate, with_magic};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: quiet_contained_panics(), |data: &[u8]| {
    let bytes = with_magic(data, b"ARROW1", b"ARROW1\0\0");
    validate(commonsnet_datasets::read_batches_from_bytes(&bytes));
});
