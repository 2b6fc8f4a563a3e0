//! Arrow and Parquet input: the same scenario read from tables equals the JSON one, and bad
//! tables are reported with table, row and column.

use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use commonsnet_datasets::{read_scenario_dir, write_scenario_tables, TableFormat};
use commonsnet_engine::tables::scenario_to_tables;
use commonsnet_engine::{scenario_from_batches, scenario_from_json_str, solve_report};
use std::path::Path;
use std::sync::Arc;

fn example() -> commonsnet_engine::Scenario {
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
        s.name.as_deref(),
    )
    .unwrap();
    assert_eq!(back, s);
    assert_eq!(back.digest(), s.digest());
}

#[test]
fn arrow_ipc_and_parquet_directories_round_trip_and_solve_alike() {
    let s = example();
    let t = scenario_to_tables(&s).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let want = solve_report(&s);
    for (name, fmt) in [
        ("flood-north", TableFormat::ArrowIpc),
        ("flood-north-pq", TableFormat::Parquet),
    ] {
        let dir = tmp.path().join(name);
        write_scenario_tables(
            &dir,
            &t.resources,
            &t.needs,
            t.links.as_ref(),
            Some(&t.policy),
            fmt,
        )
        .unwrap();
        let mut back = read_scenario_dir(&dir).unwrap();
        back.name = s.name.clone();
        assert_eq!(back, s);
        let got = solve_report(&back);
        assert_eq!(got.summary.coverage_value, want.summary.coverage_value);
        assert_eq!(got.summary.cost, want.summary.cost);
        assert_eq!(got.allocations, want.allocations);
    }
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        cols.into_iter().map(|c| c.1).collect(),
    )
    .unwrap()
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
    assert!(
        has("resources", Some(1), "cap_seats", "not a finite number"),
        "{:#?}",
        err.issues
    );
    assert!(
        has("resources", Some(2), "cap_seats", "negative"),
        "{:#?}",
        err.issues
    );
    assert!(
        has("resources", None, "colour", "unknown column"),
        "{:#?}",
        err.issues
    );
    assert!(
        has("needs", Some(1), "dem_seats", "at least one dimension")
            || has("needs", Some(1), "demand", "missing"),
        "{:#?}",
        err.issues
    );
    assert!(
        has("needs", Some(1), "min_fill", "not a finite number"),
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
    use commonsnet_datasets::{read_scenario_dir, write_scenario_tables, TableFormat};
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
            let t = commonsnet_engine::tables::scenario_to_tables(&current).unwrap();
            let sub = dir.path().join(format!("{name}-{i}"));
            write_scenario_tables(
                &sub,
                &t.resources,
                &t.needs,
                t.links.as_ref(),
                Some(&t.policy),
                format,
            )
            .unwrap();
            let mut back = read_scenario_dir(&sub).unwrap();
            back.name = current.name.clone();
            assert_eq!(back, original, "{name} after {format:?}");
            current = back;
        }
    }
}

#[test]
fn csv_cells_that_do_not_parse_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("resources.csv"),
        "id,kind,cap_beds,skills\nr1,shelter,40,wheelchair;pets\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("needs.csv"),
        "id,kind,dem_beds,indivisible\nn1,shelter,4,false\nn2,shelter,four,true\n",
    )
    .unwrap();
    let e = commonsnet_datasets::read_scenario_dir(dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs.csv") && e.contains("line 3, column dem_beds"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("needs.csv"),
        "id,kind,dem_beds,indivisible\nn1,shelter,4,false\nn2,shelter,2,true\n",
    )
    .unwrap();
    let s = commonsnet_datasets::read_scenario_dir(dir.path()).unwrap();
    assert_eq!(s.resources[0].skills.len(), 2);
    assert!(s.needs[1].indivisible);
    let e = std::fs::write(
        dir.path().join("needs.csv"),
        "id,kind,dem_beds,colour\nn1,shelter,4,red\n",
    );
    e.unwrap();
    let e = commonsnet_datasets::read_scenario_dir(dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("colour"), "unknown columns are rejected: {e}");
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
        assert!(
            e.contains(&format!("needs.{ext}"))
                && e.contains("column dem_beds: expected numbers, found str"),
            "{e}"
        );
        write_batch(&path, &needs(Arc::new(Int32Array::from(vec![4]))), format).unwrap();
        let s = read_scenario_dir(dir.path()).unwrap();
        assert_eq!(s.resources[0].capacity["beds"], 40.0);
        assert_eq!(s.needs[0].demand["beds"], 4.0);
    }
}
