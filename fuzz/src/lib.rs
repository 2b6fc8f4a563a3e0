//! What the four table targets (Arrow IPC file and stream, Parquet, CSV) share: the panic-hook
//! policy, the magic that routes an input to its reader, and the validator after the reader.

use arrow_array::RecordBatch;
use std::borrow::Cow;

/// Reading a table contains panics of the third-party decoders (arrow-rs) and reports them as
/// errors: they do not take the process down, so by default they are not crashes here (their
/// message is silenced). Set COMMONSNET_FUZZ_STRICT=1 to abort on every panic, contained or
/// not, to find decoder bugs: each one found goes to `regressions/parquet/` (or the target's
/// folder), which `tests/parsers.rs` reads back. A panic that escapes `read_table` aborts in
/// either mode.
pub fn quiet_contained_panics() {
    if std::env::var_os("COMMONSNET_FUZZ_STRICT").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    } else {
        // The reader keeps contained panics quiet for the CLI and the service.
        commonsnet_datasets::frames::report_contained_panics();
    }
}

/// `data` as a file of the format whose magic is `magic`: readers recognise files by it, so
/// every input gets one (`prefix`, the magic with its padding) unless it starts with it.
pub fn with_magic<'a>(data: &'a [u8], magic: &[u8], prefix: &[u8]) -> Cow<'a, [u8]> {
    if data.starts_with(magic) {
        Cow::Borrowed(data)
    } else {
        Cow::Owned([prefix, data].concat())
    }
}

/// The engine's validator on whatever the reader accepted, as every table of a scenario.
pub fn validate(read: Result<Vec<RecordBatch>, commonsnet_datasets::frames::TableError>) {
    if let Ok(batches) = read {
        let _ = commonsnet_engine::scenario_from_batches(
            &batches,
            &batches,
            Some(&batches),
            None,
            None,
        );
    }
}
