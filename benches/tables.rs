//! The hops a scenario table takes on its way to the model (issue 17, point 6), on a table of
//! 200,000 needs and 20,000 resources with three dimensions:
//!
//! - file bytes -> Arrow record batches (`frames::read_table`), per format (CSV, Parquet,
//!   Arrow IPC file);
//! - record batches -> validated `Scenario` (`scenario_from_batches`: Arrow cells become the
//!   validator's rows, which the one validator shared with JSON input checks and converts);
//! - the same rows as JSON values -> validated `Scenario` (`scenario_from_value`): the
//!   validator alone, so the difference is the cost of the Arrow -> rows step.
//!
//!     cargo bench --bench tables [-- --needs N --resources R --reps K]
//!
//! Prints one JSON line of medians over `--reps` repetitions, in milliseconds.

use commonsnet_datasets::{frames, instances::allocation_value, write_batch, TableFormat};
use commonsnet_engine::tables::scenario_to_tables;
use std::time::Instant;

#[path = "shared/flags.rs"]
mod flags;
use flags::{arg, median};

/// Median wall time of `reps` calls of `f`, in milliseconds.
fn median_ms<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                let out = f();
                let ms = t.elapsed().as_secs_f64() * 1e3;
                drop(out);
                ms
            })
            .collect(),
    )
}

fn main() {
    let (needs, resources) = (arg("--needs", 200_000), arg("--resources", 20_000));
    let reps = arg("--reps", 5usize).max(1);
    let value = allocation_value(needs, resources, 3, 1.5, 7);
    let s = commonsnet_engine::scenario_from_value(&value).expect("valid scenario");
    let tables = scenario_to_tables(&s).expect("tables");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut out = serde_json::Map::new();
    out.insert("needs".into(), needs.into());
    out.insert("resources".into(), resources.into());
    for format in [
        TableFormat::Csv,
        TableFormat::Parquet,
        TableFormat::ArrowIpc,
    ] {
        let path = dir.path().join(format!("needs.{}", format.extension()));
        write_batch(&path, &tables.needs, format).expect("write");
        let bytes = std::fs::read(&path).expect("read");
        let csv = format == TableFormat::Csv;
        let ms = median_ms(reps, || frames::read_table(&bytes, csv).expect("table"));
        out.insert(format!("read_{}_ms", format.extension()), ms.into());
        out.insert(format!("{}_bytes", format.extension()), bytes.len().into());
    }
    let (r, n) = (
        std::slice::from_ref(&tables.resources),
        std::slice::from_ref(&tables.needs),
    );
    let batches_ms = median_ms(reps, || {
        commonsnet_engine::scenario_from_batches(r, n, None, Some(&tables.policy), None)
            .expect("valid")
    });
    let value_ms = median_ms(reps, || {
        commonsnet_engine::scenario_from_value(&value).expect("valid")
    });
    out.insert("batches_to_scenario_ms".into(), batches_ms.into());
    out.insert("json_rows_to_scenario_ms".into(), value_ms.into());
    println!("{}", serde_json::Value::Object(out));
}
