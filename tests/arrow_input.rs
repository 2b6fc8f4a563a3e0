//! Arrow and Parquet input: the same scenario read from tables equals the JSON one, and bad
//! tables are reported with table, row and column.

use crate::common::process::{commonsnet, output_ok, refused_in_one_line};
use crate::common::{scenario_dir_error, write_files};
use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use commonsnet_datasets::{read_scenario_dir, write_scenario_tables, TableFormat};
use commonsnet_engine::tables::scenario_to_tables;
use commonsnet_engine::{scenario_from_batches, scenario_from_json_str, solve_report, Scenario};
use std::path::Path;
use std::sync::Arc;

fn example() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/examples/flood-north.json");
    scenario_from_json_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn tables_in_memory_give_the_same_scenario_and_digest() {
    let s = example();
    let t = scenario_to_tables(&s).unwrap();
    let back = scenario_from_batches(
        std::slice::from_ref(&t.resources),
        std::slice::from_ref(&t.needs),
        t.links.as_ref().map(std::slice::from_ref),
        Some(&t.policy),
        s.name(),
    )
    .unwrap();
    assert_eq!(back, s);
    assert_eq!(back.digest(), s.digest());
}

/// `s` written as a directory of tables in `format` at `dir`, and read back (named as `s`: a
/// directory holds no name).
fn through_table_dir(s: &Scenario, dir: &Path, format: TableFormat) -> Scenario {
    let t = scenario_to_tables(s).unwrap();
    write_scenario_tables(
        dir,
        &t.resources,
        &t.needs,
        t.links.as_ref(),
        Some(&t.policy),
        format,
    )
    .unwrap();
    read_scenario_dir(dir)
        .unwrap()
        .with_name(s.name().map(String::from))
}

#[test]
fn arrow_ipc_and_parquet_directories_round_trip_and_solve_alike() {
    let s = example();
    let tmp = tempfile::tempdir().unwrap();
    let want = solve_report(&s);
    for (name, fmt) in [
        ("flood-north", TableFormat::ArrowIpc),
        ("flood-north-pq", TableFormat::Parquet),
    ] {
        let back = through_table_dir(&s, &tmp.path().join(name), fmt);
        assert_eq!(back, s);
        let got = solve_report(&back);
        assert_eq!(got.summary.coverage_value, want.summary.coverage_value);
        assert_eq!(got.summary.cost, want.summary.cost);
        assert_eq!(got.allocations, want.allocations);
    }
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(cols.into_iter().map(|(n, a)| (n, a, true))).unwrap()
}

#[test]
fn bad_tables_name_table_row_and_column() {
    let resources = batch(vec![
        (
            "id",
            Arc::new(StringArray::from(vec!["r1", "r2", "r1"])) as ArrayRef,
        ),
        (
            "kind",
            Arc::new(StringArray::from(vec!["van", "van", "van"])),
        ),
        (
            "cap_seats",
            Arc::new(Float64Array::from(vec![4.0, f64::NAN, -1.0])),
        ),
        (
            "colour",
            Arc::new(StringArray::from(vec!["red", "blue", "green"])),
        ),
    ]);
    let needs = batch(vec![
        (
            "id",
            Arc::new(StringArray::from(vec!["n1", "n2"])) as ArrayRef,
        ),
        ("kind", Arc::new(StringArray::from(vec!["van", "van"]))),
        ("dem_seats", Arc::new(Int32Array::from(vec![Some(2), None]))),
        (
            "min_fill",
            Arc::new(Float64Array::from(vec![0.5, f64::INFINITY])),
        ),
    ]);
    let err = scenario_from_batches(&[resources], &[needs], None, None, None).unwrap_err();
    let has = |table: &str, row: Option<usize>, field: &str, msg: &str| {
        err.issues.iter().any(|i| {
            i.table == table
                && i.row == row
                && i.field.as_deref() == Some(field)
                && i.message.contains(msg)
        })
    };
    for (table, row, field, msg) in [
        ("resources", Some(1), "cap_seats", "not a finite number"),
        ("resources", Some(2), "cap_seats", "negative"),
        ("resources", None, "colour", "unknown column"),
        ("needs", Some(1), "min_fill", "not a finite number"),
    ] {
        assert!(
            has(table, row, field, msg),
            "{table} {row:?} {field} ~ {msg:?}: {:#?}",
            err.issues
        );
    }
    assert!(
        has("needs", Some(1), "dem_seats", "at least one dimension")
            || has("needs", Some(1), "demand", "missing"),
        "{:#?}",
        err.issues
    );
    assert!(
        has("resources", Some(2), "id", "duplicate id") || err.issues.len() >= 5,
        "{:#?}",
        err.issues
    );
}

#[test]
fn unsupported_column_types_are_reported_once() {
    let resources = batch(vec![
        ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
        ("kind", Arc::new(StringArray::from(vec!["van"]))),
        ("cap_seats", Arc::new(Float64Array::from(vec![4.0]))),
        ("skills", Arc::new(Float64Array::from(vec![1.0]))),
    ]);
    let needs = batch(vec![
        ("id", Arc::new(StringArray::from(vec!["n1"])) as ArrayRef),
        ("kind", Arc::new(StringArray::from(vec!["van"]))),
        ("dem_seats", Arc::new(Float64Array::from(vec![1.0]))),
    ]);
    let err = scenario_from_batches(&[resources], &[needs], None, None, None).unwrap_err();
    assert!(
        err.issues
            .iter()
            .any(|i| i.table == "resources" && i.field.as_deref() == Some("skills")),
        "{:#?}",
        err.issues
    );
}

#[test]
fn csv_parquet_arrow_round_trip_keeps_a_scenario_identical() {
    for name in commonsnet_datasets::generate::GENERATORS {
        let original = commonsnet_datasets::generate::generate_scenario(name, 1.0, 8).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut current = original.clone();
        for (i, format) in [
            TableFormat::Csv,
            TableFormat::Parquet,
            TableFormat::ArrowIpc,
        ]
        .into_iter()
        .enumerate()
        {
            let back = through_table_dir(&current, &dir.path().join(format!("{name}-{i}")), format);
            assert_eq!(back, original, "{name} after {format:?}");
            current = back;
        }
    }
}

#[test]
fn csv_cells_that_do_not_parse_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "resources.csv",
                "id,kind,cap_beds,skills\nr1,shelter,40,wheelchair;pets\n",
            ),
            (
                "needs.csv",
                "id,kind,dem_beds,indivisible\nn1,shelter,4,false\nn2,shelter,four,true\n",
            ),
        ],
    );
    let e = scenario_dir_error(dir.path());
    assert!(
        e.contains("needs[1].dem_beds: \"four\" is not a finite number (line 3) in needs.csv"),
        "{e}"
    );
    // The validator's problems of a row say its line too, CRLF or not (they named the row by
    // its index from 0 alone, two lines above it).
    for end in ["\n", "\r\n"] {
        let needs = [
            "id,kind,dem_beds,priority",
            "n1,shelter,4,1",
            "n2,shelter,2,-1",
            "",
        ];
        write_files(dir.path(), &[("needs.csv", &needs.join(end))]);
        let e = scenario_dir_error(dir.path());
        assert!(e.contains("needs[1].priority: "), "{e}");
        assert!(e.contains(" (line 3) in needs.csv"), "{end:?}: {e}");
    }
    let needs = "id,kind,dem_beds,indivisible\nn1,shelter,4,false\nn2,shelter,2,true\n";
    write_files(dir.path(), &[("needs.csv", needs)]);
    let s = read_scenario_dir(dir.path()).unwrap();
    assert_eq!(s.resources()[0].skills.len(), 2);
    assert!(s.needs()[1].indivisible);
    let needs = "id,kind,dem_beds,colour\nn1,shelter,4,red\n";
    write_files(dir.path(), &[("needs.csv", needs)]);
    let e = scenario_dir_error(dir.path());
    assert!(e.contains("colour"), "unknown columns are rejected: {e}");
    // A required column left out is one problem, not one a row (it was "missing required
    // field" for each).
    let needs = "id,dem_beds\nn1,4\nn2,2\nn3,1\n";
    write_files(dir.path(), &[("needs.csv", needs)]);
    let e = scenario_dir_error(dir.path());
    assert!(
        e.contains("needs.kind: no kind column: every row needs one"),
        "{e}"
    );
    assert!(!e.contains("missing required field"), "{e}");
}

/// Parquet and Arrow tables get their column types checked on reading: integers are welcome in
/// numeric columns, text in one is an error naming the file and the column.
#[test]
fn table_files_with_wrong_column_types_name_the_file_and_column() {
    use commonsnet_datasets::{read_scenario_dir, write_batch, TableFormat};
    let resources = batch(vec![
        ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
        ("kind", Arc::new(StringArray::from(vec!["shelter"]))),
        ("cap_beds", Arc::new(Int32Array::from(vec![40]))),
    ]);
    for format in [TableFormat::Parquet, TableFormat::ArrowIpc] {
        let dir = tempfile::tempdir().unwrap();
        let ext = format.extension();
        write_batch(
            &dir.path().join(format!("resources.{ext}")),
            &resources,
            format,
        )
        .unwrap();
        let needs = |dem: ArrayRef| {
            batch(vec![
                ("id", Arc::new(StringArray::from(vec!["n1"])) as ArrayRef),
                ("kind", Arc::new(StringArray::from(vec!["shelter"]))),
                ("dem_beds", dem),
            ])
        };
        let path = dir.path().join(format!("needs.{ext}"));
        write_batch(
            &path,
            &needs(Arc::new(StringArray::from(vec!["4"]))),
            format,
        )
        .unwrap();
        let e = read_scenario_dir(dir.path()).unwrap_err().to_string();
        // The type is named as Arrow names it.
        assert!(
            e.contains(&format!(
                "needs.dem_beds: expected numbers, found Utf8 (the column of needs.{ext})"
            )),
            "{e}"
        );
        write_batch(&path, &needs(Arc::new(Int32Array::from(vec![4]))), format).unwrap();
        let s = read_scenario_dir(dir.path()).unwrap();
        assert_eq!(s.resources()[0].capacity["beds"], 40.0);
        assert_eq!(s.needs()[0].demand["beds"], 4.0);
    }
}

/// Tables with columns of narrow Arrow types (8/16-bit integers, half floats, decimals,
/// fixed-size lists, dictionaries), written as arrow-rs writes them.
pub(crate) fn narrow_tables() -> (RecordBatch, RecordBatch) {
    use arrow_array::builder::{FixedSizeListBuilder, StringBuilder};
    use arrow_array::types::Int8Type;
    use arrow_array::{
        Decimal128Array, DictionaryArray, Float16Array, Int16Array, Int8Array, UInt16Array,
        UInt8Array,
    };
    type F16 = <arrow_array::types::Float16Type as arrow_array::ArrowPrimitiveType>::Native;
    let mut skills = FixedSizeListBuilder::new(StringBuilder::new(), 1);
    skills.values().append_value("boat");
    skills.append(true);
    skills.values().append_value("truck");
    skills.append(true);
    let kind: DictionaryArray<Int8Type> = vec!["rescue", "rescue"].into_iter().collect();
    let resources = batch(vec![
        (
            "id",
            Arc::new(StringArray::from(vec!["r1", "r2"])) as ArrayRef,
        ),
        ("kind", Arc::new(kind)),
        ("cap_crew", Arc::new(Int8Array::from(vec![3, 2]))),
        ("cap_seats", Arc::new(UInt16Array::from(vec![300, 12]))),
        (
            "cost",
            Arc::new(Float16Array::from(vec![
                F16::from_f32(1.5),
                F16::from_f32(0.25),
            ])),
        ),
        (
            "lat",
            Arc::new(
                Decimal128Array::from(vec![59_3300, 59_3100])
                    .with_precision_and_scale(8, 4)
                    .unwrap(),
            ),
        ),
        (
            "lon",
            Arc::new(
                Decimal128Array::from(vec![18_0600, 18_0700])
                    .with_precision_and_scale(8, 4)
                    .unwrap(),
            ),
        ),
        ("skills", Arc::new(skills.finish())),
    ]);
    let needs = batch(vec![
        (
            "id",
            Arc::new(StringArray::from(vec!["n1", "n2"])) as ArrayRef,
        ),
        (
            "kind",
            Arc::new(StringArray::from(vec!["rescue", "rescue"])),
        ),
        ("dem_crew", Arc::new(UInt8Array::from(vec![2, 2]))),
        ("dem_seats", Arc::new(Int16Array::from(vec![10, 4]))),
        ("priority", Arc::new(Int8Array::from(vec![3, 1]))),
    ]);
    (resources, needs)
}

/// A table with a column of a type no table column may have (an interval where a quantity
/// goes: refused before it is decoded).
fn refused_table() -> RecordBatch {
    batch(vec![
        ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
        ("kind", Arc::new(StringArray::from(vec!["rescue"]))),
        (
            "cap_crew",
            Arc::new(arrow_array::IntervalYearMonthArray::from(vec![3])),
        ),
    ])
}

fn write_ipc(path: &Path, b: &RecordBatch, stream: bool) {
    let bytes = commonsnet_datasets::frames::ipc_bytes(std::slice::from_ref(b), stream).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn narrow_arrow_columns_are_widened_and_other_types_refused_by_column() {
    let (resources, needs) = narrow_tables();
    for stream in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_ipc(&dir.path().join("resources.arrow"), &resources, stream);
        write_ipc(&dir.path().join("needs.arrow"), &needs, stream);
        let s = read_scenario_dir(dir.path()).unwrap();
        let r = &s.resources()[0];
        assert_eq!(r.kind, "rescue");
        assert_eq!((r.capacity["crew"], r.capacity["seats"]), (3.0, 300.0));
        assert_eq!((r.cost, r.lat, r.lon), (1.5, Some(59.33), Some(18.06)));
        assert!(s.resources()[1].skills.contains("truck"));
        assert_eq!(s.needs()[1].demand["seats"], 4.0);
        assert_eq!(s.needs()[0].priority, 3.0);
        assert!(solve_report(&s).summary.coverage_value > 0.0);

        write_ipc(
            &dir.path().join("resources.arrow"),
            &refused_table(),
            stream,
        );
        let e = read_scenario_dir(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("resources.arrow")
                && e.contains("column cap_crew: unsupported type Interval"),
            "{e}"
        );
    }
}

#[test]
fn the_cli_widens_narrow_arrow_columns_and_refuses_others_in_one_line() {
    let (resources, needs) = narrow_tables();
    let dir = tempfile::tempdir().unwrap();
    write_ipc(&dir.path().join("resources.arrow"), &resources, false);
    write_ipc(&dir.path().join("needs.arrow"), &needs, true);
    let solve = || {
        let mut cmd = commonsnet();
        cmd.arg("solve").arg(dir.path());
        cmd
    };
    let out = output_ok("commonsnet solve", &mut solve());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "optimal", "{v}");

    write_ipc(&dir.path().join("resources.arrow"), &refused_table(), false);
    let (_, err) = refused_in_one_line(&mut solve());
    assert!(
        err.contains("resources.arrow")
            && err.contains("column cap_crew: unsupported type Interval"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Damaged bytes are an error too, not a crash.
    std::fs::write(dir.path().join("resources.arrow"), b"ARROW1\0\0garbage").unwrap();
    let out = solve().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("resources.arrow"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn http_multipart_widens_narrow_arrow_parts_and_refuses_others_by_column() {
    use crate::common::server::{call, solve_multipart, Server};
    const ARROW_FILE: &str = "application/vnd.apache.arrow.file";
    let ipc = |b: &RecordBatch, stream: bool| {
        commonsnet_datasets::frames::ipc_bytes(std::slice::from_ref(b), stream).unwrap()
    };
    let s = Server::in_temp_dir(&[]);
    let (resources, needs) = narrow_tables();
    let r = solve_multipart(
        &s,
        &[
            ("resources", ARROW_FILE, &ipc(&resources, false)),
            ("needs", ARROW_FILE, &ipc(&needs, true)),
        ],
    );
    r.assert_status(200);
    assert_eq!(r.json()["summary"]["status"], "optimal");

    let r = solve_multipart(
        &s,
        &[
            ("resources", ARROW_FILE, &ipc(&refused_table(), true)),
            ("needs", ARROW_FILE, &ipc(&needs, false)),
        ],
    );
    r.assert_status(422);
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("\"resources\"") && msg.contains("column cap_crew: unsupported type Interval"),
        "{msg}"
    );
    // Every refused column of a part is named, each as a detail's field: one round of fixes
    // mends them all (the first one alone was named).
    let two_bad = batch(vec![
        ("id", Arc::new(StringArray::from(vec!["r1"])) as ArrayRef),
        ("kind", Arc::new(StringArray::from(vec!["rescue"]))),
        ("cap_crew", Arc::new(StringArray::from(vec!["3"]))),
        ("skills", Arc::new(Int32Array::from(vec![1]))),
    ]);
    let r = solve_multipart(
        &s,
        &[
            ("resources", ARROW_FILE, &ipc(&two_bad, false)),
            ("needs", ARROW_FILE, &ipc(&needs, false)),
        ],
    );
    r.assert_status(422);
    assert_eq!(
        r.json()["error"]["details"],
        serde_json::json!([
            {"table": "resources", "row": null, "field": "cap_crew",
             "message": "expected numbers, found Utf8 (the column of part \"resources\")"},
            {"table": "resources", "row": null, "field": "skills",
             "message": "expected lists of strings, found Int32 (the column of part \"resources\")"},
        ])
    );
    // The server is still up.
    assert_eq!(call("GET", &s.url("/healthz"), &[], None).status, 200);
}

/// A scenario folder's bad cells and columns are listed with every other problem of its
/// tables, each by table, row and field (the first bad CSV cell, or a Parquet column of the
/// wrong type, hid all the others).
#[test]
fn a_tables_bad_cells_do_not_hide_its_other_problems() {
    use commonsnet_datasets::read_scenario_dir;
    let dir = tempfile::tempdir().unwrap();
    let needs = "id,kind,dem_beds,indivisible,priority,min_fill\n\
                 n1,shelter,1,maybe,1,0\n\
                 n2,shelter,1,false,0,0\n\
                 n3,shelter,x,false,1,1.5\n";
    write_files(
        dir.path(),
        &[
            ("resources.csv", "id,kind,cap_beds\nr1,shelter,4\n"),
            ("needs.csv", needs),
        ],
    );
    let e = read_scenario_dir(dir.path()).unwrap_err();
    let commonsnet_datasets::DatasetError::Invalid(e) = e else {
        panic!("{e}");
    };
    let said: Vec<String> = e.issues.iter().map(ToString::to_string).collect();
    for want in [
        "needs[0].indivisible: \"maybe\" is not true or false (line 2) in needs.csv",
        "needs[2].dem_beds: \"x\" is not a finite number (line 4) in needs.csv",
        "needs[1].priority",
        "needs[2].min_fill",
    ] {
        assert!(said.iter().any(|s| s.starts_with(want)), "{want}: {said:?}");
    }
    // Strict readers of one table still stop at the cell.
    let e = commonsnet_datasets::read_batches(&dir.path().join("needs.csv")).unwrap_err();
    assert!(e.to_string().contains("line 2, column indivisible"), "{e}");
}

/// A `policy.json` or a table that is no readable file (a folder, a link to nothing) is
/// refused naming it: a `policy.json` folder was taken for no policy, and the scenario solved
/// under the default policy without a word; a `needs.csv` folder was "no needs table".
#[test]
fn a_scenario_file_that_cannot_be_read_is_refused_by_name() {
    for (name, make) in [
        ("policy.json", "folder"),
        ("policy.json", "dangling link"),
        ("needs.csv", "folder"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[("resources.csv", "id,kind,cap_beds\nr1,shelter,4\n")],
        );
        if name != "needs.csv" {
            write_files(
                dir.path(),
                &[("needs.csv", "id,kind,dem_beds\nn1,shelter,1\n")],
            );
        }
        let p = dir.path().join(name);
        if make == "folder" {
            std::fs::create_dir(&p).unwrap();
        } else {
            std::os::unix::fs::symlink(dir.path().join("gone.json"), &p).unwrap();
        }
        let e = read_scenario_dir(dir.path()).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!("{}: ", p.display())),
            "{name} as a {make}: {e}"
        );
    }
    // A file read as a folder is said to be one (it was "no resources table in x.json").
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.json");
    std::fs::write(&f, "{}").unwrap();
    let e = commonsnet_datasets::read_scenario(&f, Some(commonsnet_datasets::ScenarioFormat::Dir))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: is a file, not a scenario folder or archive (.zip, .tar, .tar.gz or .tgz)",
            f.display()
        )
    );
}

/// A CSV table's bad cells past the first 10,000 are counted with the scenario's problems: the
/// reader's line that counted them was passed on as one problem, so 12,000 bad cells were
/// "10,001 problem(s)" and "1 more problem(s) not listed". The CLI's line says the total too.
#[test]
fn a_tables_bad_cells_past_the_bound_are_counted_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let mut needs = String::from("id,kind,dem_beds,priority\n");
    for i in 0..12_000 {
        needs.push_str(&format!("n{i},shelter,1,x\n"));
    }
    write_files(
        dir.path(),
        &[
            ("resources.csv", "id,kind,cap_beds\nr1,shelter,4\n"),
            ("needs.csv", &needs),
        ],
    );
    let commonsnet_datasets::DatasetError::Invalid(e) = read_scenario_dir(dir.path()).unwrap_err()
    else {
        panic!("not refused as invalid input");
    };
    assert_eq!(
        (e.issues.len(), e.unlisted, e.total()),
        (10_001, 2_000, 12_000)
    );
    assert!(e.issues[..10_000]
        .iter()
        .all(|i| i.field.as_deref() == Some("priority")));
    assert_eq!(
        e.issues[10_000].to_string(),
        "scenario: 2000 more problem(s) not listed (the first 10000 are)"
    );
    let err = refused_in_one_line(commonsnet().arg("solve").arg(dir.path())).1;
    assert!(
        err.contains("invalid input: 12000 problem(s): needs[0].priority"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("; and 11980 more"), "{err}");
}

/// A name that begins or ends with white space (" r1", a skill "wheelchair ", a dimension
/// "beds ") is refused alike in JSON, CSV, Parquet and Arrow, naming its row and field: CSV had
/// read it trimmed and the others as written, so one scenario gave two plans. A stray quote
/// that joins CSV rows into one cell is refused by the line break it leaves in a name.
#[test]
fn names_are_read_as_written_and_refused_alike_in_every_format() {
    let spaced = serde_json::json!({
        "resources": [{"id": "r1", "kind": "shelter", "capacity": {"beds": 10},
                       "skills": ["wheelchair"]}],
        "needs": [{"id": "n1 ", "kind": "shelter", "demand": {"beds": 4},
                   "required_skills": ["wheelchair "]}]});
    let json = commonsnet_engine::scenario_from_value(&spaced).unwrap_err();
    let fields = |e: &commonsnet_engine::InvalidInput| -> Vec<(String, Option<usize>, String)> {
        e.issues
            .iter()
            .map(|i| (i.table.clone(), i.row, i.field.clone().unwrap_or_default()))
            .collect()
    };
    let want = vec![
        ("needs".to_string(), Some(0), "id".to_string()),
        (
            "needs".to_string(),
            Some(0),
            "required_skills[0]".to_string(),
        ),
    ];
    assert_eq!(fields(&json), want, "{json}");
    assert!(json.issues[0]
        .message
        .contains("begins or ends with white space"));
    // The same scenario as tables (made from the accepted-once reader, which does not apply
    // the rule to what a log gives back).
    let s = commonsnet_engine::input::scenario_from_logged_value(&spaced).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("csv", TableFormat::Csv),
        ("parquet", TableFormat::Parquet),
        ("arrow", TableFormat::ArrowIpc),
    ] {
        let t = scenario_to_tables(&s).unwrap();
        let dir = tmp.path().join(name);
        write_scenario_tables(&dir, &t.resources, &t.needs, None, None, format).unwrap();
        match read_scenario_dir(&dir) {
            Err(commonsnet_datasets::DatasetError::Invalid(e)) => {
                assert_eq!(fields(&e), want, "{name}: {e}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // A dimension with a trailing space in a CSV header, and a stray quote.
    let dir = tmp.path().join("header");
    std::fs::create_dir_all(&dir).unwrap();
    write_files(
        &dir,
        &[
            ("resources.csv", "id,kind,cap_beds \nr1,shelter,10\n"),
            ("needs.csv", "id,kind,dem_beds\nn1,shelter,4\n"),
        ],
    );
    let e = scenario_dir_error(&dir);
    assert!(
        e.contains(
            "resources[0].cap_beds : a dimension name \"beds \" begins or ends with white space"
        ),
        "{e}"
    );
    let quoted = "id,kind,cap_beds\nr1,\"shelter,10\nr2,shelter,5\nr3,shelter\",7\nr4,shelter,1\n";
    write_files(&dir, &[("resources.csv", quoted)]);
    let e = scenario_dir_error(&dir);
    assert!(
        e.contains("resources[0].kind: \"shelter,10\\nr2,shelter,5\\nr3,shelter\" holds a control character"),
        "{e}"
    );
}

/// A scenario folder with a file named almost as one it reads (`Links.csv`, `link.csv`,
/// `links.tsv`, `Policy.json`, `needs.CSV`) is refused, naming it: read as it stood, the
/// scenario went without those links or that policy. Other files are left alone.
#[test]
fn a_table_file_named_almost_right_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("resources.csv"), "id,kind,cap_l\nr1,w,1\nr2,w,1\n").unwrap();
    std::fs::write(dir.join("needs.csv"), "id,kind,dem_l\nn1,w,1\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "hand-made\n").unwrap();
    std::fs::write(dir.join("needs.csv~"), "an editor's backup\n").unwrap();
    read_scenario_dir(dir).expect("other files are left alone");
    // Beside the file the scenario reads for it, another of its name is no typo.
    std::fs::write(dir.join("needs.xlsx"), "a spreadsheet").unwrap();
    read_scenario_dir(dir).expect("needs.xlsx beside needs.csv");
    for typo in [
        "Links.csv",
        "links.CSV",
        "link.csv",
        "links.tsv",
        "Policy.json",
        "policy.yaml",
    ] {
        std::fs::write(dir.join(typo), "resource,need,cost\nr1,n1,5\n").unwrap();
        let e = read_scenario_dir(dir).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{typo} in ")) && e.contains("is not read"),
            "{typo}: {e}"
        );
        std::fs::remove_file(dir.join(typo)).unwrap();
    }
}

/// The files of a scenario folder, packed as `kind` (`zip`, `tar`, `tar.gz`) at `path`, under
/// `folder` inside the archive ("" for its root).
fn pack(path: &Path, kind: &str, folder: &str, files: &[(&str, Vec<u8>)]) {
    use std::io::Write;
    let inner = |name: &str| {
        if folder.is_empty() {
            name.to_string()
        } else {
            format!("{folder}/{name}")
        }
    };
    let out = std::fs::File::create(path).unwrap();
    match kind {
        "zip" => {
            let mut zip = zip::ZipWriter::new(out);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, bytes) in files {
                zip.start_file(inner(name), options).unwrap();
                zip.write_all(bytes).unwrap();
            }
            zip.finish().unwrap();
        }
        _ => {
            let sink: Box<dyn Write> = if kind == "tar.gz" {
                Box::new(flate2::write::GzEncoder::new(
                    out,
                    flate2::Compression::default(),
                ))
            } else {
                Box::new(out)
            };
            let mut tar = tar::Builder::new(sink);
            for (name, bytes) in files {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append_data(&mut header, inner(name), bytes.as_slice())
                    .unwrap();
            }
            tar.into_inner().unwrap().flush().unwrap();
        }
    }
}

/// A scenario folder packed as an archive (SPEC section 3: "a directory (or archive)") reads
/// as the folder does, at the archive's root or in one folder of it, in zip, tar and tar.gz,
/// by the CLI too (inferred from the extension); it is named after the archive. Files of two
/// folders, a misnamed table and a file that is not an archive are refused by name.
#[test]
fn a_scenario_folder_packed_as_an_archive_reads_as_the_folder() {
    let s = example();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("flood-north");
    let t = scenario_to_tables(&s).unwrap();
    write_scenario_tables(
        &dir,
        &t.resources,
        &t.needs,
        t.links.as_ref(),
        Some(&t.policy),
        TableFormat::Parquet,
    )
    .unwrap();
    let want = read_scenario_dir(&dir).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files.push(("README.txt".into(), b"packed by hand\n".to_vec()));
    let files: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    for kind in ["zip", "tar", "tar.gz"] {
        for folder in ["", "flood-north"] {
            let path = tmp.path().join(format!("flood-north.{kind}"));
            pack(&path, kind, folder, &files);
            let got = commonsnet_datasets::read_scenario(&path, None)
                .unwrap_or_else(|e| panic!("{kind} {folder:?}: {e}"));
            assert_eq!(got, want, "{kind} {folder:?}");
            assert_eq!(got.digest(), want.digest());
        }
    }
    // The CLI solves the archive as it solves the folder.
    let plan = |p: &Path| -> serde_json::Value {
        let out = output_ok("solve", commonsnet().arg("solve").arg(p));
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_object_mut().unwrap().remove("solve_ms");
        v
    };
    let zip = tmp.path().join("flood-north.zip");
    assert_eq!(plan(&zip), plan(&dir));
    // Two folders' files at one depth, a misnamed table, a file that is no archive.
    let named: Vec<String> = files.iter().map(|(n, _)| format!("a/{n}")).collect();
    let mut two: Vec<(&str, Vec<u8>)> = named
        .iter()
        .zip(&files)
        .map(|(n, (_, b))| (n.as_str(), b.clone()))
        .collect();
    two.push(("b/needs.csv", b"id,kind,dem_l\nn,w,1\n".to_vec()));
    let bad = tmp.path().join("two.zip");
    pack(&bad, "zip", "", &two);
    let e = commonsnet_datasets::read_scenario(&bad, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("stand in 2 folders of the archive (a, b)"),
        "{e}"
    );
    let mut typo: Vec<(&str, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| *n != "policy.json")
        .cloned()
        .collect();
    typo.push(("Policy.json", b"{}".to_vec()));
    pack(&bad, "zip", "scen", &typo);
    let e = commonsnet_datasets::read_scenario(&bad, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Policy.json in ") && e.contains("two.zip/scen is not read"),
        "{e}"
    );
    // A report written into a subfolder (`solve scen --out scen/out`) is left alone: the
    // shallowest folder is the scenario.
    let mut with_report = files.clone();
    with_report.push(("out/needs.csv", b"id,coverage\nx,1\n".to_vec()));
    let ok = tmp.path().join("with-report.tar.gz");
    pack(&ok, "tar.gz", "flood-north", &with_report);
    assert_eq!(
        commonsnet_datasets::read_scenario(&ok, None).unwrap(),
        want.with_name(Some("with-report".into()))
    );
    std::fs::write(&bad, b"not a zip").unwrap();
    let (_, line) = refused_in_one_line(commonsnet().arg("solve").arg(&bad));
    assert!(line.contains("two.zip: not a readable archive"), "{line}");
}

/// An archive's `policy.json` (or table) that is no file, a folder or a link entry, is
/// refused naming it, as a folder's is: it was skipped, and the scenario solved under the
/// default policy without a word.
#[test]
fn an_archived_scenario_file_that_is_no_file_is_refused_by_name() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let tables: [(&str, &[u8]); 2] = [
        ("resources.csv", b"id,kind,cap_beds\nr1,shelter,4\n"),
        ("needs.csv", b"id,kind,dem_beds\nn1,shelter,1\n"),
    ];
    for (kind, what) in [
        ("zip", "folder"),
        ("zip", "link"),
        ("tar", "folder"),
        ("tar", "link"),
    ] {
        let path = tmp.path().join(format!("s-{what}.{kind}"));
        let out = std::fs::File::create(&path).unwrap();
        if kind == "zip" {
            let mut zip = zip::ZipWriter::new(out);
            let options = zip::write::SimpleFileOptions::default();
            for (name, bytes) in tables {
                zip.start_file(name, options).unwrap();
                zip.write_all(bytes).unwrap();
            }
            if what == "folder" {
                zip.add_directory("policy.json", options).unwrap();
            } else {
                zip.add_symlink("policy.json", "other.json", options)
                    .unwrap();
            }
            zip.finish().unwrap();
        } else {
            let mut tar = tar::Builder::new(out);
            for (name, bytes) in tables {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                tar.append_data(&mut header, name, bytes).unwrap();
            }
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_mode(0o755);
            if what == "folder" {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_cksum();
                tar.append_data(&mut header, "policy.json/", std::io::empty())
                    .unwrap();
            } else {
                header.set_entry_type(tar::EntryType::Symlink);
                tar.append_link(&mut header, "policy.json", "other.json")
                    .unwrap();
            }
            tar.into_inner().unwrap().flush().unwrap();
        }
        let e = commonsnet_datasets::read_scenario(&path, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "{}: is a {what} in the archive, not a file",
                path.join("policy.json").display()
            ),
            "{kind}"
        );
    }
}
