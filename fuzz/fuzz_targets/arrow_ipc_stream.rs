//! Arrow IPC streams (a table of a scenario directory, an HTTP part): the reader, then the
//! engine's validator on whatever is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // Reading a table contains panics of the third-party decoders (polars) and reports
        // them as errors: they do not take the process down, so by default they are not
        // crashes here. Set COMMONSNET_FUZZ_STRICT=1 to abort on every panic, contained or
        // not (to find and report decoder bugs); a panic that escapes `read_table` aborts in
        // either mode.
        if std::env::var_os("COMMONSNET_FUZZ_STRICT").is_none() {
            std::panic::set_hook(Box::new(|_| {}));
        }
    },
    |data: &[u8]| {
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
    }
);
