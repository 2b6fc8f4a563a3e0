//! Parsers against hostile input: benchmark headers that claim more than their file holds are
//! refused naming the line (before anything is allocated for them), and JSON keys given twice
//! are refused with their path wherever a scenario, a policy or events are read. Also what
//! `commonsnet solve` does with benchmark files: exact objectives, options that do not apply
//! refused, a reader that goes away.

use crate::common::alloc::largest_allocation;
use crate::common::process::{commonsnet, output_into_closed_pipe, refused_in_one_line, solve_ok};
use crate::common::{scenario_dir_error, temp_file, write_files};
use commonsnet_datasets::dimacs::{parse_asn, parse_min, parse_orlib_assign};
use commonsnet_datasets::orlib::parse_gap;
use commonsnet_engine::input::{parse_json, JsonError};
use std::path::Path;

/// Run `f` and check that no single allocation it made reached 256 MiB: a parser that
/// sized a buffer by the header would ask for gigabytes (or abort) before noticing that
/// the data is missing. Measured, not timed: a debug build on a busy machine took over 2 s
/// to read 2,000,000 honest numbers.
fn quick<T>(f: impl FnOnce() -> T) -> T {
    let (out, largest) = largest_allocation(f);
    assert!(largest < 256 << 20, "one allocation of {largest} bytes");
    out
}

/// The check itself: a buffer sized by a claim is seen (reserved, never touched).
#[test]
fn a_buffer_sized_by_a_claim_is_seen() {
    let (v, largest) = largest_allocation(|| Vec::<u64>::with_capacity(40_000_000));
    assert_eq!(v.capacity(), 40_000_000);
    assert!(largest >= 320_000_000, "{largest}");
    let ((), small) = largest_allocation(|| drop(vec![0u8; 1000]));
    assert!(small < 1 << 20, "{small}");
}

/// Check that `parse` refuses its input without a buffer sized by a claim (see [`quick`]) with an error that starts by
/// naming `line`; the error.
#[track_caller]
fn refused_at_line<T, E: std::fmt::Display>(
    line: usize,
    parse: impl FnOnce() -> Result<T, E>,
) -> String {
    let Err(e) = quick(parse) else {
        panic!("accepted; expected an error at line {line}");
    };
    let e = e.to_string();
    assert!(e.starts_with(&format!("line {line}:")), "{e}");
    e
}

#[test]
fn dimacs_headers_that_claim_more_than_the_file_are_refused_naming_the_line() {
    // The report's file: 5 lines, a billion arcs declared.
    let text = b"c tiny\np min 4 1000000000\nn 1 1\nn 4 -1\na 1 4 0 1 1\n";
    let e = refused_at_line(2, || parse_min(text));
    assert!(e.contains("1000000000 arcs"), "{e}");
    // Many nodes, few bytes.
    refused_at_line(1, || parse_min(b"p min 100000000 0\n"));
    refused_at_line(3, || {
        parse_asn(b"c x\nc y\np asn 4 900000000\nn 1\na 1 3 5\n")
    });
    refused_at_line(1, || parse_asn(b"p asn 50000000 1\nn 1\na 1 2 5\n"));
}

#[test]
fn a_sparse_assignment_file_cannot_ask_for_a_huge_dense_matrix() {
    // 1,000 left nodes (declared by `n` lines) and 4,000 right ones in 6 kB: a 4M-cell matrix
    // (32 MB) for one arc.
    let mut text = String::new();
    let nodes = 5_000;
    text.push_str(&format!("p asn {nodes} 1\n"));
    for i in 1..=1000 {
        text.push_str(&format!("n {i}\n"));
    }
    text.push_str("a 1 1001 3\n");
    assert!(text.len() >= nodes, "the node count fits the file");
    let e = refused_at_line(1, || parse_asn(text.as_bytes()));
    assert!(e.contains("1000 left x 4000 right"), "{e}");
    // The real instances still read.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/instances");
    let p =
        parse_asn(&std::fs::read(root.join("mincostflow/netgen/netgen_assign_p11.asn")).unwrap())
            .unwrap();
    assert_eq!((p.rows, p.cols), (200, 200));
}

#[test]
fn orlib_headers_that_claim_more_than_the_file_are_refused_naming_the_line() {
    // The report's file: an assignment header of 100,000 (10^10 costs, 80 GB).
    refused_at_line(1, || parse_orlib_assign(b"100000\n1 2 3\n"));
    refused_at_line(3, || parse_orlib_assign(b"\n\n  3\n1 2 3\n"));
    assert!(parse_orlib_assign(b"2\n1 2\n3 4\n").is_ok());
    // GAP: one instance of 10,000 x 10,000 (10^8 pairs, 1.6 GB), and the multi-instance
    // layout whose second instance claims the same.
    refused_at_line(1, || parse_gap(b"10000 10000\n1 2 3\n"));
    refused_at_line(7, || parse_gap(b"2\n1 1\n5\n2\n9\n\n10000 10000\n1 2\n"));
    let ok = parse_gap(b"2\n1 1\n5\n2\n9\n1 2\n1 2\n3 4\n5\n").unwrap();
    assert_eq!(ok.len(), 2);
}

/// The reviewer's `gbig3.gap`: 1,000 x 1,000 (4 MB) whose last capacity is -1. The engine
/// refused it, but only after building a scenario of a million links (2.28 GB); the reader
/// now refuses the number itself, naming its line, before any scenario is made.
#[test]
fn a_gap_number_the_engine_would_refuse_is_refused_by_the_reader() {
    let n = 1000;
    let row = vec!["1"; n].join(" ");
    let mut text = format!("{n} {n}\n");
    for _ in 0..2 * n {
        text.push_str(&row);
        text.push('\n');
    }
    text.push_str(&vec!["1"; n - 1].join(" "));
    text.push_str(" -1\n");
    let e = refused_at_line(2 * n + 2, || parse_gap(text.as_bytes()));
    assert!(
        e.ends_with("a capacity must be in [0, 1000000000000], found -1"),
        "{e}"
    );
}

/// The reviewer's `sparse.asn`: comment lines bought matrix cells (945 kB of comments asked
/// for 963 MB). The matrix is paid for by arc lines only.
#[test]
fn comment_lines_do_not_pay_for_an_assignment_matrix() {
    let mut text = "c ".repeat(200_000) + "\n";
    text.push_str("p asn 4000 1\n");
    for i in 1..=2000 {
        text.push_str(&format!("n {i}\n"));
    }
    text.push_str("a 1 2001 3\n");
    // 2,000 x 2,000 cells: 400 kB of comments bought 51M before, one arc line buys none now.
    let e = refused_at_line(2, || parse_asn(text.as_bytes()));
    assert!(e.contains("2000 left x 2000 right"), "{e}");
}

#[test]
fn duplicate_keys_in_scenario_files_are_refused_with_their_path() {
    let (_dir, f) = temp_file(
        "dup.json",
        r#"{"resources": [{"id": "r", "kind": "k", "capacity": {"u": 10, "u": 0}}],
            "needs": [{"id": "n", "kind": "k", "demand": {"u": 1}}]}"#,
    );
    // serde_json alone keeps the last value (what the engine used to solve with: capacity 0).
    let lax: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(lax["resources"][0]["capacity"]["u"], 0);
    let e = commonsnet_datasets::read_scenario(&f, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("resources[0].capacity.u: duplicate key"), "{e}");

    // The CLI says it on one line and exits 2.
    let (_, err) = refused_in_one_line(commonsnet().arg("solve").arg(&f));
    assert!(err.contains("resources[0].capacity.u"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn duplicate_keys_in_policy_json_are_refused_with_their_path() {
    let s = commonsnet_engine::scenario_from_json_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/flood-north.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let t = commonsnet_engine::tables::scenario_to_tables(&s).unwrap();
    let dir = tempfile::tempdir().unwrap();
    commonsnet_datasets::write_scenario_tables(
        dir.path(),
        &t.resources,
        &t.needs,
        t.links.as_ref(),
        None,
        commonsnet_datasets::TableFormat::ArrowIpc,
    )
    .unwrap();
    let twice = r#"{"objective": "coverage", "fairness": {"min_share": 0.5, "min_share": 0}}"#;
    write_files(dir.path(), &[("policy.json", twice)]);
    let e = scenario_dir_error(dir.path());
    assert!(
        e.contains("policy.fairness.min_share: duplicate key"),
        "{e}"
    );
    write_files(dir.path(), &[("policy.json", r#"{"objective": "cost"}"#)]);
    commonsnet_datasets::read_scenario_dir(dir.path()).unwrap();
}

#[test]
fn duplicate_keys_in_events_are_named_by_event_and_field() {
    let text = br#"[{"type": "need_added", "need": {"id": "n9", "kind": "k", "demand": {"u": 1}}},
                    {"type": "need_withdrawn", "id": "n1", "id": "n2"}]"#;
    let Err(JsonError::DuplicateKey(d)) = parse_json(text) else {
        panic!("accepted");
    };
    assert_eq!(d.path_string(), "[1].id");
    let i = d.issue("events");
    assert_eq!(
        (i.table.as_str(), i.row, i.field.as_deref()),
        ("events", Some(1), Some("id"))
    );
    // Without the duplicate, the same text parses to what serde_json gives.
    let fine = br#"[{"type": "need_withdrawn", "id": "n1"}]"#;
    assert_eq!(
        parse_json(fine).unwrap(),
        serde_json::from_slice::<serde_json::Value>(fine).unwrap()
    );
}

/// Refresh the table seeds of the fuzz targets (`fuzz/seeds/{arrow_ipc_file,arrow_ipc_stream,
/// parquet,csv}`): the bundled scenario's tables in every format, and tables with narrow column
/// types. Run with `cargo test --test integration write_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/seeds; run with --ignored to refresh them"]
fn write_fuzz_seeds() {
    use commonsnet_datasets::frames::ipc_bytes;
    use commonsnet_datasets::{write_batch, TableFormat};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("fuzz/seeds");
    let s = commonsnet_engine::scenario_from_json_str(
        &std::fs::read_to_string(root.join("datasets/examples/flood-north.json")).unwrap(),
    )
    .unwrap();
    let t = commonsnet_engine::tables::scenario_to_tables(&s).unwrap();
    let mut tables = vec![
        ("resources", t.resources.clone()),
        ("needs", t.needs.clone()),
    ];
    if let Some(l) = &t.links {
        tables.push(("links", l.clone()));
    }
    let (narrow_resources, narrow_needs) = crate::arrow_input::narrow_tables();
    let narrow = [
        ("narrow_resources", narrow_resources),
        ("narrow_needs", narrow_needs),
    ];
    for (name, b) in tables.iter().chain(narrow.iter()) {
        let one = std::slice::from_ref(b);
        std::fs::write(
            seeds.join(format!("arrow_ipc_file/{name}.arrow")),
            ipc_bytes(one, false).unwrap(),
        )
        .unwrap();
        std::fs::write(
            seeds.join(format!("arrow_ipc_stream/{name}.arrows")),
            ipc_bytes(one, true).unwrap(),
        )
        .unwrap();
    }
    for (name, b) in &tables {
        write_batch(
            &seeds.join(format!("parquet/{name}.parquet")),
            b,
            TableFormat::Parquet,
        )
        .unwrap();
        write_batch(&seeds.join(format!("csv/{name}.csv")), b, TableFormat::Csv).unwrap();
    }
}

/// Inputs the fuzz targets once failed on (`fuzz/regressions/<target>/`), through the same
/// entry points: none may panic out of the reader or abort the process. A text parser must
/// refuse its input; a table reader may decode it (a file some decoder once failed on can be
/// well-formed enough for another), and then the engine's validator runs on what it read, as
/// in the fuzz target.
#[test]
fn fuzz_regressions_do_not_crash() {
    use commonsnet_datasets::{frames, read_batches_from_bytes};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    // As fuzz/src/lib.rs's `validate`: every table of a scenario is what the reader accepted.
    let validate = |read: Result<Vec<arrow_array::RecordBatch>, frames::TableError>| {
        let as_every_table =
            |b| commonsnet_engine::scenario_from_batches(b, b, Some(b), None, None);
        let _ = read.as_deref().map(as_every_table);
    };
    let mut seen = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let bytes = std::fs::read(&file).unwrap();
            let refused = match target.as_str() {
                "parquet" | "arrow_ipc_file" | "arrow_ipc_stream" => {
                    validate(read_batches_from_bytes(&bytes));
                    true
                }
                "csv" => {
                    validate(frames::read_table(&bytes, true));
                    true
                }
                "dimacs_min" => parse_min(&bytes).is_err(),
                "dimacs_asn" => parse_asn(&bytes).is_err(),
                "orlib_assign" => parse_orlib_assign(&bytes).is_err(),
                "orlib_gap" => parse_gap(&bytes).is_err(),
                "scenario_json" => {
                    commonsnet_engine::input::scenario_from_json_slice(&bytes).is_err()
                }
                other => panic!("no entry point for regression target {other}"),
            };
            assert!(refused, "{} is malformed but was accepted", file.display());
            seen += 1;
        }
    }
    assert!(seen > 0);
}

/// A damaged Parquet file on which a third-party decoder panics (one each of the panic sites a
/// mutation run found: page, RLE and bit-packing decoders, metadata, bit chunks) is refused
/// in one line, `malformed Parquet data`, naming the file: no "thread panicked" and backtrace
/// on the error output before it (the panic is contained, and not printed).
#[test]
fn a_parquet_file_the_decoder_panics_on_is_refused_in_one_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for name in [
        "arrow-buffer-bit-chunk-iterator-panic",
        "parquet-bit-util-panic",
        "parquet-column-page-panic",
        "parquet-metadata-panic",
        "parquet-rle-decoder-panic",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            root.join("seeds/parquet/needs.parquet"),
            dir.path().join("needs.parquet"),
        )
        .unwrap();
        std::fs::copy(
            root.join(format!("regressions/parquet/{name}.parquet")),
            dir.path().join("resources.parquet"),
        )
        .unwrap();
        let (_, err) = refused_in_one_line(
            commonsnet()
                .arg("solve")
                .arg(dir.path())
                .env("RUST_BACKTRACE", "1"),
        );
        assert!(
            err.contains("resources.parquet: malformed Parquet data: the file is damaged"),
            "{name}: {err}"
        );
    }
}

/// The Parquet file on which polars-parquet (this crate's reader once) asked the allocator for
/// ~2^61 bytes (an abort, not a panic) is refused with a clear error by the arrow-rs reader.
#[test]
fn a_parquet_page_claiming_exabytes_is_an_error() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions/parquet/polars-parquet-page-validity-huge-allocation.parquet");
    let err =
        commonsnet_datasets::read_batches_from_bytes(&std::fs::read(path).unwrap()).unwrap_err();
    assert!(
        err.to_string().starts_with("not a readable Parquet file"),
        "{err}"
    );
}

/// A benchmark file in the temporary directory `dir`, named `name`.
fn bench_file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The reviewer's `big.min` (5 units on an arc of cost 2^63 - 1) and `negcyc2.min` (a negative
/// cycle of two arcs of capacity 2^63 - 2): objectives beyond 64 bits were printed through an
/// `f64` (4.611686018427388e19). Every digit is printed now, in either sense.
#[test]
fn objectives_beyond_64_bits_are_printed_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let big = bench_file(
        &dir,
        "big.min",
        "p min 2 1\nn 1 5\nn 2 -5\na 1 2 0 9223372036854775807 9223372036854775807\n",
    );
    let out = solve_ok(&[&big]);
    assert!(
        out.starts_with(r#"{"status":"optimal","objective":46116860184273879035,"#),
        "{out}"
    );
    let neg = bench_file(
        &dir,
        "negcyc2.min",
        "p min 2 2\na 1 2 0 9223372036854775806 -1\na 2 1 0 9223372036854775806 -1\n",
    );
    let out = solve_ok(&[&neg]);
    assert!(
        out.contains(r#""objective":-18446744073709551612,"#),
        "{out}"
    );
    let out = solve_ok(&[&neg, &"--sense", &"max"]);
    // Maximising -1 per unit: nothing flows.
    assert!(out.contains(r#""objective":0,"#), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "optimal");
}

/// The reviewer's `par.asn`: arcs 1 -> 2 of costs 3 and 8. `--sense max` answered 3 (the
/// reader kept the cheaper arc, then the costs were negated); the best arc in the instance's
/// sense counts.
#[test]
fn parallel_assignment_arcs_count_in_the_instance_sense() {
    let dir = tempfile::tempdir().unwrap();
    let par = bench_file(&dir, "par.asn", "p asn 2 2\nn 1\na 1 2 3\na 1 2 8\n");
    let line = |sense: &str| {
        let out = solve_ok(&[&par, &"--sense", &sense]);
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()
    };
    assert_eq!(line("min")["objective"], 3);
    assert_eq!(line("max")["objective"], 8);
    // The line says its sense as a GAP instance's summary does (it did not, so a profit of
    // 8 read as a cost).
    assert_eq!(line("max")["sense"], "max");
    assert_eq!(line("min").get("sense"), None);
}

/// DIMACS assignment asks for a perfect matching: sides of different sizes have none (a
/// review's files were answered with a partial matching, where the same network as `.min`
/// is infeasible), and a flow network without a flow is infeasible whatever negative loops it
/// holds (it was called unbounded).
#[test]
fn instances_without_a_feasible_answer_are_infeasible() {
    let dir = tempfile::tempdir().unwrap();
    let status = |name: &str, text: &str| {
        let f = bench_file(&dir, name, text);
        let out = solve_ok(&[&f]);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        (
            v["status"].as_str().unwrap().to_string(),
            v["reason"].clone(),
        )
    };
    let (s, why) = status("wide.asn", "p asn 3 1\nn 1\nn 2\na 1 3 5\n");
    assert_eq!(s, "infeasible", "{why}");
    assert!(
        why.as_str()
            .unwrap()
            .contains("2 left nodes and 1 right nodes"),
        "{why}"
    );
    assert_eq!(
        status("tall.asn", "p asn 3 1\nn 1\na 1 2 5\n").0,
        "infeasible"
    );
    assert_eq!(
        status("square.asn", "p asn 2 1\nn 1\na 1 2 5\n").0,
        "optimal"
    );
    let (s, why) = status(
        "loop.min",
        "p min 2 1\nn 1 5\na 2 2 0 9223372036854775807 -1\n",
    );
    assert_eq!(s, "infeasible", "{why}");
    assert_eq!(why, "supplies sum to 5, not 0");
    let stranded = "p min 2 1\nn 1 1\nn 2 -1\na 1 1 0 9223372036854775807 -1\n";
    assert_eq!(status("stranded.min", stranded).0, "infeasible");
}

/// Options that do not apply to the input's format were dropped without a word (`--out` that
/// wrote nothing, `--sense max` on a scenario solved as its policy says): they are refused,
/// on one line with exit code 2, before anything is read or written.
#[test]
fn options_that_do_not_apply_to_the_format_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let min = bench_file(
        &dir,
        "ok.min",
        "p min 3 2\nn 1 4\nn 3 -4\na 1 2 0 5 3\na 2 3 0 5 2\n",
    );
    let asn = bench_file(
        &dir,
        "a.asn",
        "p asn 4 4\nn 1\nn 2\na 1 3 1\na 1 4 5\na 2 3 2\na 2 4 9\n",
    );
    let assign = bench_file(&dir, "a.txt", "2\n1 2\n3 4\n");
    let gap = bench_file(&dir, "g.gap", "1 2\n3 4\n1 1\n2\n");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/flood-north.json");
    let out_dir = dir.path().join("out");
    let out = out_dir.as_os_str();
    let refused = |args: &[&std::ffi::OsStr], want: &[&str]| {
        let (stdout, err) = refused_in_one_line(commonsnet().arg("solve").args(args));
        assert!(stdout.is_empty());
        for w in want {
            assert!(err.contains(w), "{args:?}: {err}");
        }
        assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
    };
    let o = |s: &'static str| std::ffi::OsStr::new(s);
    refused(
        &[
            min.as_os_str(),
            o("--out"),
            out,
            o("--plan"),
            o("--explain"),
        ],
        &[
            "is read as dimacs-min",
            "--out, --plan, --explain",
            "min-cost flow solver",
        ],
    );
    refused(
        &[asn.as_os_str(), o("--threads"), o("2")],
        &["dimacs-asn", "--threads"],
    );
    refused(
        &[
            assign.as_os_str(),
            o("--format"),
            o("orlib-assign"),
            o("--plan"),
        ],
        &["orlib-assign", "--plan", "assignment solver"],
    );
    refused(
        &[asn.as_os_str(), o("--flow-method"), o("cost-scaling")],
        &["--flow-method (for DIMACS .min files)"],
    );
    refused(
        &[
            gap.as_os_str(),
            o("--format"),
            o("orlib-gap"),
            o("--flow-method"),
            o("network-simplex"),
        ],
        &["orlib-gap", "--flow-method"],
    );
    refused(
        &[scenario.as_os_str(), o("--sense"), o("max")],
        &["scenario-json", "--sense (for benchmark instances"],
    );
    refused(
        &[scenario.as_os_str(), o("--out-format"), o("csv")],
        &["--out-format (it is the format of --out's tables)"],
    );
    // What applies still runs.
    solve_ok(&[&min, &"--sense", &"max", &"--flow-method", &"cost-scaling"]);
    solve_ok(&[
        &gap,
        &"--format",
        &"orlib-gap",
        &"--sense",
        &"max",
        &"--plan",
        &"--threads",
        &"1",
    ]);
}

/// `--threads` is bounded as a policy's `threads` is (4,000 threads took 50 s to start).
#[test]
fn a_thread_count_beyond_the_engine_bound_is_refused() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/flood-north.json");
    for n in ["4000", "0"] {
        let (_, err) = refused_in_one_line(
            commonsnet()
                .arg("solve")
                .arg(&scenario)
                .args(["--threads", n]),
        );
        assert!(err.contains("is not a thread count in 1..=1024"), "{err}");
    }
}

/// A reader that closes the pipe (`commonsnet solve FILE --plan | head -c 10`) made the
/// `println!` panic (exit 101). The command now stops quietly with status 0. The pipe's read
/// end is closed before the command starts, so every write meets a gone reader.
#[test]
fn a_closed_standard_output_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let min = bench_file(
        &dir,
        "ok.min",
        "p min 3 2\nn 1 4\nn 3 -4\na 1 2 0 5 3\na 2 3 0 5 2\n",
    );
    let gap = bench_file(&dir, "g.gap", "2\n1 1\n5\n2\n9\n1 2\n1 2\n3 4\n5\n");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/flood-north.json");
    let cases: [Vec<&std::ffi::OsStr>; 3] = [
        vec![scenario.as_os_str(), "--plan".as_ref()],
        vec![min.as_os_str()],
        vec![
            gap.as_os_str(),
            "--format".as_ref(),
            "orlib-gap".as_ref(),
            "--plan".as_ref(),
        ],
    ];
    for args in cases {
        let out = output_into_closed_pipe(commonsnet().arg("solve").args(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
