"""Input the engine refuses instead of settling silently: a column given twice in a table, a
key given twice in a policy or a simulate spec."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

import commonsnet
from commonsnet import _commonsnet


def test_a_column_given_twice_is_refused_naming_table_and_column() -> None:
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    cap = next(c for c in s.resources.column_names if c.startswith("cap_"))
    twice = s.resources.append_column(cap, s.resources.column(cap))
    assert twice.column_names.count(cap) == 2
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(resources=twice, needs=s.needs, policy=s.policy)
    assert isinstance(e.value, ValueError)
    assert {"table": "resources", "row": None, "field": cap, "message": "duplicate column: a column may appear only once in a table"} in e.value.details, e.value.details
    assert f"resources.{cap}: duplicate column" in str(e.value)
    # The same table with the column once solves.
    assert commonsnet.solve(resources=s.resources, needs=s.needs, policy=s.policy).status == "optimal"


def test_a_column_of_the_wrong_type_is_one_problem_of_the_column() -> None:
    """Integer ids are one problem of the `id` column, naming its type, not one a row."""
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    at = s.needs.schema.get_field_index("id")
    numbered = s.needs.set_column(at, "id", pa.array(range(s.needs.num_rows), pa.int64()))
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(resources=s.resources, needs=numbered, policy=s.policy)
    assert e.value.details == [
        {"table": "needs", "row": None, "field": "id", "message": "expected strings, found Int64"}
    ], e.value.details[:3]


def test_a_policy_key_given_twice_is_refused_naming_it() -> None:
    s = commonsnet.generate("urban", seed=1, scale=0.2)

    def solve(policy: str) -> object:
        return _commonsnet.solve_tables(s.resources, s.needs, None, policy, None, False, None)

    assert json.loads(solve('{"objective": "coverage"}')[0])["status"] == "optimal"
    with pytest.raises(commonsnet.InvalidScenario) as e:
        solve('{"objective": "cost", "objective": "coverage"}')
    assert isinstance(e.value, ValueError)
    assert [(d["table"], d["row"], d["field"]) for d in e.value.details] == [("policy", None, "objective")]
    assert "duplicate key" in e.value.details[0]["message"]
    assert "policy.objective: duplicate key" in str(e.value)
    with pytest.raises(commonsnet.InvalidArgument, match="policy is not JSON"):
        solve('{"objective": ')


def test_a_simulate_spec_key_given_twice_is_refused_naming_its_path() -> None:
    with pytest.raises(commonsnet.InvalidArgument, match=r"spec: duplicate key generator"):
        _commonsnet.simulate_total('{"generator": "urban", "generator": "disaster"}')
    spec = '{"scenario": {"name": "a", "name": "b", "resources": [], "needs": []}}'
    with pytest.raises(commonsnet.InvalidArgument, match=r"spec: duplicate key scenario\.name"):
        _commonsnet.simulate_total(spec)
    assert _commonsnet.simulate_total('{"generator": "urban", "scenarios": 2, "replicates": 1, "policies": ["greedy"]}') == 2


FLOOD = {
    "resources": [{"id": "r", "kind": "k", "capacity": {"u": 2.0}}],
    "needs": [{"id": "n", "kind": "k", "demand": {"u": 1.0}}],
}


def test_a_non_finite_number_in_a_dict_is_refused_naming_row_and_field() -> None:
    bad = {**FLOOD, "resources": [{"id": "r", "kind": "k", "capacity": {"u": float("nan")}}]}
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad)
    assert e.value.details == [{"table": "resources", "row": 0, "field": "capacity.u", "message": "nan is not a finite number"}]
    assert "resources[0].capacity.u" in str(e.value)
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(resources=s.resources, needs=s.needs, policy={"cost_weight": float("inf")})
    assert [(d["table"], d["row"], d["field"]) for d in e.value.details] == [("policy", None, "cost_weight")]
    with pytest.raises(commonsnet.InvalidArgument, match=r"perturb\.demand: nan is not a finite number"):
        commonsnet.simulate("urban", scenarios=1, perturb={"demand": float("nan")})
    assert commonsnet.solve(FLOOD).status == "optimal"


def test_a_non_finite_number_does_not_hide_the_other_problems() -> None:
    """A refusal lists every problem: the NaN and the infinity, and what the engine finds
    besides (a negative capacity, an id given twice). It listed the NaN alone."""
    bad = {
        "resources": [
            {"id": "r", "kind": "k", "capacity": {"u": float("nan")}},
            {"id": "r", "kind": "k", "capacity": {"u": -1.0}},
        ],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": float("inf")}}],
    }
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad)
    found = [(d["table"], d["row"], d["field"]) for d in e.value.details]
    assert found[:2] == [("resources", 0, "capacity.u"), ("needs", 0, "demand.u")], found
    assert ("resources", 1, "capacity.u") in found, found
    assert any(d["row"] == 1 and "id" in str(d["field"]) for d in e.value.details), e.value.details
    assert len(found) == len(set(found)), found
    assert str(e.value).startswith(f"invalid scenario: {len(found)} problem(s); first: resources[0].capacity.u: nan")


def test_a_value_of_no_json_kind_in_a_dict_is_refused_naming_row_and_field() -> None:
    """pandas' missing values and dates in a dict (``df.to_dict("records")``) are refused like
    a NaN, naming their row and field; they raised a bare TypeError naming nothing. Numbers of
    other kinds (``Fraction``, ``Decimal``) and mappings that are no dict are read as what they
    are."""
    import datetime
    import types
    from decimal import Decimal
    from fractions import Fraction

    import pandas as pd

    def need(**fields: object) -> dict[str, object]:
        return {"resources": FLOOD["resources"], "needs": [{**FLOOD["needs"][0], **fields}]}

    for value, said in [
        (pd.NA, "<NA> is a missing value: leave the field out, or give None"),
        (pd.NaT, "NaT is a missing value: leave the field out, or give None"),
        (datetime.date(2026, 12, 7), "date datetime.date(2026, 12, 7) is not a JSON value"),
        (Decimal("sNaN"), "sNaN is not a finite number"),
    ]:
        with pytest.raises(commonsnet.InvalidScenario) as e:
            commonsnet.solve(need(priority=value))
        assert e.value.details == [{"table": "needs", "row": 0, "field": "priority", "message": said}]
    plain = commonsnet.solve(need(priority=2.5)).needs.to_pylist()
    import numpy as np

    for value in (Fraction(5, 2), Decimal("2.5"), np.array(2.5), np.float32(2.5)):
        assert commonsnet.solve(need(priority=value)).needs.to_pylist() == plain
    proxied = need(demand=types.MappingProxyType({"u": 1.0}))
    assert commonsnet.solve(proxied).needs.to_pylist() == commonsnet.solve(FLOOD).needs.to_pylist()


def test_a_refusal_past_its_bound_counts_every_problem() -> None:
    """A refusal lists the first 10,000 problems and counts the rest, with a NaN found on the
    Python side too: the engine's line that counted its own was taken as one more problem
    ("10001 problem(s)" for 12,001). Those the engine did not list may repeat the NaN's (its
    issue on the field left out), so the counts are then said as at most."""
    bad = {"resources": [{"id": "r", "kind": "k", "capacity": {"u": float("nan")}}], "needs": [{}] * 4000}
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad)
    assert len(e.value.details) == 10_001
    assert e.value.unlisted == 2_001
    assert e.value.details[0] == {"table": "resources", "row": 0, "field": "capacity.u", "message": "nan is not a finite number"}
    assert e.value.details[-1]["message"] == "up to 2001 more problem(s) not listed (the first 10000 are)"
    assert str(e.value).startswith("invalid scenario: up to 12001 problem(s); first: resources[0].capacity.u: nan")
    # The engine's own refusal says as much.
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve({"resources": [], "needs": [{}] * 4000})
    assert (len(e.value.details), e.value.unlisted) == (10_001, 2_000)
    assert str(e.value).startswith("invalid scenario: 12000 problem(s); first: needs[0]")


@pytest.mark.parametrize("threads", [0, 1025, 20_000])
def test_threads_are_bounded_before_a_pool_is_built(threads: int) -> None:
    with pytest.raises(ValueError, match="threads"):
        commonsnet.solve(FLOOD, threads=threads)
    with pytest.raises(ValueError, match="threads"):
        commonsnet.simulate("urban", scenarios=1, scale=0.2, policies=["greedy"], threads=threads)


def test_simulate_arguments_of_the_wrong_kind_are_refused() -> None:
    for args, match in [
        ({"time_limit_s": -1.0}, "time_limit_s must be a positive number of seconds"),
        ({"time_limit_s": 0.0}, "time_limit_s must be a positive number of seconds"),
        ({"explain": 1}, "explain must be True or False"),
        ({"timed": "yes"}, "timed must be True or False"),
    ]:
        with pytest.raises(commonsnet.InvalidArgument, match=match):
            commonsnet.simulate("urban", scenarios=1, scale=0.2, policies=["greedy"], **args)  # type: ignore[arg-type]


def test_simulate_names_what_a_scenario_must_be() -> None:
    # JSON text, a path: a bare TypeError or ValueError from dict() before (a Scenario of
    # tables is taken: test_simulate.py).
    for given, hint in [(json.dumps(FLOOD), "json.loads"), ("/tmp/flood.json", "generator=PATH")]:
        with pytest.raises(commonsnet.InvalidArgument, match="scenario must be a dict") as e:
            commonsnet.simulate(scenario=given, policies=["greedy"])  # type: ignore[arg-type]
        assert hint in str(e.value)


def test_a_dicts_name_and_a_null_policy_are_taken_as_given() -> None:
    assert commonsnet.solve(FLOOD, name="drill").summary["name"] == "drill"
    got = commonsnet.solve({**FLOOD, "policy": None}, policy={"objective": "cost"})
    assert got.status == "optimal"
    with pytest.raises(TypeError, match="name="):
        commonsnet.solve(json.dumps(FLOOD), name="drill")


def test_whole_number_arguments_out_of_range_are_invalid_arguments() -> None:
    for bad in (-1, 2**70, True):
        with pytest.raises(commonsnet.InvalidArgument, match="threads"):
            commonsnet.solve(FLOOD, threads=bad)
        with pytest.raises(commonsnet.InvalidArgument, match="threads"):
            commonsnet.simulate("urban", scenarios=1, threads=bad)
    for bad in (-1, 2**64, True):
        with pytest.raises(commonsnet.InvalidArgument, match="seed"):
            commonsnet.generate("urban", seed=bad)


def test_a_table_that_is_no_table_is_an_invalid_argument_naming_it() -> None:
    """One column (a pyarrow ChunkedArray or Array, a polars or pandas Series) given as a table
    is an InvalidArgument naming the table, not a bare ValueError or AttributeError."""
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    s = commonsnet.generate("urban", seed=1, scale=0.2)
    column = s.needs.column("id")
    for bad in (column, column.combine_chunks(), pl.from_arrow(s.needs)["id"], s.needs.to_pandas()["id"]):
        with pytest.raises(commonsnet.InvalidArgument, match="^needs: ") as e:
            commonsnet.solve(resources=s.resources, needs=bad, policy=s.policy)
        assert "table" in str(e.value)
        with pytest.raises(commonsnet.InvalidArgument, match="^resources: "):
            commonsnet.solve(resources=bad, needs=s.needs, policy=s.policy)
    # Past the package's own checks, the engine says the same of a stream of no record batches.
    with pytest.raises(commonsnet.InvalidArgument, match="^links: "):
        _commonsnet.solve_tables(s.resources, s.needs, column)
    assert isinstance(pa.chunked_array([[1]]), pa.ChunkedArray)
    assert isinstance(pd.Series([1]), pd.Series)


def test_a_pandas_frame_arrow_cannot_convert_is_an_invalid_argument() -> None:
    """A pandas object column holding text where numbers go ('high' as a priority) is refused
    naming the table and the column, not with pyarrow's ArrowInvalid."""
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    needs = s.needs.to_pandas()
    needs["priority"] = needs["priority"].astype(object)
    needs.loc[0, "priority"] = "high"
    with pytest.raises(commonsnet.InvalidArgument, match="^needs: .*priority"):
        commonsnet.solve(resources=s.resources, needs=needs, policy=s.policy)


def test_a_nan_in_a_pandas_frame_is_a_missing_cell() -> None:
    """pandas' NaN in a float column is a missing cell, as pandas means it (a table read to
    pandas from Arrow has NaN wherever a number was missing): the plan is the one of the same
    cell null, where pyarrow refuses a NaN naming its row and field."""
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    needs = s.needs.to_pandas()
    needs["priority"] = needs["priority"].astype(float)
    needs.loc[3, "priority"] = float("nan")
    got = commonsnet.solve(resources=s.resources, needs=needs, policy=s.policy)
    nulled = s.needs.set_column(
        s.needs.schema.get_field_index("priority"),
        "priority",
        pa.array([None if i == 3 else v for i, v in enumerate(s.needs["priority"].to_pylist())], pa.float64()),
    )
    want = commonsnet.solve(resources=s.resources, needs=nulled, policy=s.policy)
    assert got.summary["objective"] == want.summary["objective"]
    assert got.summary["input_digest"] == want.summary["input_digest"]
    with pytest.raises(commonsnet.InvalidScenario) as e:
        nan = nulled.set_column(
            nulled.schema.get_field_index("priority"),
            "priority",
            pa.array([float("nan") if v is None else v for v in nulled["priority"].to_pylist()], pa.float64()),
        )
        commonsnet.solve(resources=s.resources, needs=nan, policy=s.policy)
    assert any(d["row"] == 3 and d["field"] == "priority" for d in e.value.details), e.value.details


def test_what_is_no_scenario_is_an_invalid_argument(tmp_path: Path) -> None:
    """A path (as a Path or as a str naming a .json file or a folder), bytes or a list given as
    the scenario is refused saying what to give (a bare TypeError, or 'not valid JSON', before;
    a folder's path as a str was 'not valid JSON' still)."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(FLOOD))
    for given in (path, str(path), "other.json", str(tmp_path)):
        with pytest.raises(commonsnet.InvalidArgument, match="is a path"):
            commonsnet.solve(given)  # type: ignore[arg-type]
    for given in (b"{}", [1, 2]):
        with pytest.raises(commonsnet.InvalidArgument, match="scenario must be a dict"):
            commonsnet.solve(given)  # type: ignore[arg-type]
    assert commonsnet.solve(path.read_text()).status == "optimal"


@pytest.mark.parametrize("policy", ["coverage", ["objective"], 3])
def test_a_policy_that_is_no_dict_is_an_invalid_argument(policy: object) -> None:
    s = commonsnet.generate("urban", seed=1, scale=0.2)
    with pytest.raises(commonsnet.InvalidArgument, match="^policy must be a dict"):
        commonsnet.solve(resources=s.resources, needs=s.needs, policy=policy)  # type: ignore[arg-type]
    with pytest.raises(commonsnet.InvalidArgument, match="^policy must be a dict"):
        commonsnet.solve(s, policy=policy)  # type: ignore[arg-type]
    with pytest.raises(commonsnet.InvalidArgument, match="^policy must be a dict"):
        commonsnet.solve(FLOOD, policy=policy)  # type: ignore[arg-type]


def test_a_polars_frame_with_an_all_null_column_is_read() -> None:
    """polars exports a column of nulls only (an optional column left unset) with a buffer the
    engine's Arrow import refused, naming no column; read through pyarrow it solves."""
    import polars as pl

    resources = pl.DataFrame({"id": ["r"], "kind": ["k"], "cap_u": [2.0], "lat": [None]})
    needs = pl.DataFrame({"id": ["n1", "n2"], "kind": ["k", "k"], "dem_u": [1.0, 1.0], "lat": [None, None]})
    assert resources.schema["lat"] == pl.Null
    r = commonsnet.solve(resources=resources, needs=needs)
    assert r.status == "optimal"
    assert r.summary["needs_served"] == 2


def test_numpy_scalars_and_sets_are_taken_as_their_values() -> None:
    """Values taken from a DataFrame are numpy scalars, and SPEC's skills are sets: both were
    refused with a bare TypeError (or, for a seed, as 'not a whole number')."""
    import numpy as np

    scenario = {
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": np.float64(2.0)}, "skills": {"boat"}}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": np.int64(1)}, "required_skills": frozenset({"boat"})}],
    }
    r = commonsnet.solve(scenario, threads=np.int64(1))
    assert r.status == "optimal"
    assert r.summary["needs_served"] == 1
    a = commonsnet.generate("urban", np.int64(3), scale=0.2)
    b = commonsnet.generate("urban", 3, scale=0.2)
    assert a.needs.equals(b.needs)
    runs = commonsnet.simulate("urban", scenarios=np.int64(1), scale=0.2, seed=np.uint32(3), policies=["greedy"])
    assert runs.num_rows == 1
    # A numpy NaN is named as a float NaN is.
    bad = {**FLOOD, "resources": [{"id": "r", "kind": "k", "capacity": {"u": np.float32("nan")}}]}
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad)
    assert [(d["table"], d["row"], d["field"]) for d in e.value.details] == [("resources", 0, "capacity.u")]
    with pytest.raises(commonsnet.InvalidArgument):
        commonsnet.generate("urban", np.bool_(True))
    # A long double, an array of skills, and a NaN inside a set or an array.
    odd = {
        "resources": [{"id": "r", "kind": "k", "capacity": {"u": np.longdouble(2)}, "skills": np.array(["boat"])}],
        "needs": [{"id": "n", "kind": "k", "demand": {"u": 1.0}, "required_skills": ["boat"]}],
    }
    assert commonsnet.solve(odd).summary["needs_served"] == 1
    for holder, at in (({float("nan")}, "skills[0]"), (np.array([1.0, np.nan]), "skills[1]")):
        bad = {**FLOOD, "resources": [{"id": "r", "kind": "k", "capacity": {"u": 2.0}, "skills": holder}]}
        with pytest.raises(commonsnet.InvalidScenario) as e:
            commonsnet.solve(bad)
        first = e.value.details[0]
        assert (first["table"], first["row"], first["field"]) == ("resources", 0, at), e.value.details
        assert first["message"] == "nan is not a finite number"


def test_a_policy_given_twice_is_refused_as_the_cli_refuses_it() -> None:
    """Two runs of one policy per scenario would be summed as that policy's by any group-by."""
    with pytest.raises(commonsnet.InvalidArgument, match="policies: greedy given twice"):
        commonsnet.simulate("urban", scenarios=1, scale=0.2, policies=["greedy", "coverage", "greedy"])


def test_a_lone_surrogate_is_refused_naming_row_and_field() -> None:
    """A str with a lone surrogate ("\\ud800", as a bad decode leaves) cannot be UTF-8: it was
    refused as 'not valid JSON', naming nothing. Now by row and field, a name by its map."""
    bad_id = {"resources": FLOOD["resources"], "needs": [{**FLOOD["needs"][0], "id": "n\ud800"}]}
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad_id)
    assert e.value.details == [
        {"table": "needs", "row": 0, "field": "id", "message": "'n\\ud800' holds a lone surrogate, which UTF-8 cannot carry"}
    ], e.value.details
    bad_dim = {"resources": FLOOD["resources"], "needs": [{**FLOOD["needs"][0], "demand": {"u\udfff": 1.0}}]}
    with pytest.raises(commonsnet.InvalidScenario) as e:
        commonsnet.solve(bad_dim)
    # Named once, at its map: the rest of the row is read as given (the engine's problem of
    # a row left out whole was listed too).
    assert e.value.details[0] == {"table": "needs", "row": 0, "field": "demand", "message": "the name 'u\\udfff' holds a lone surrogate, which UTF-8 cannot carry"}, e.value.details
    assert all(d["field"] is not None for d in e.value.details), e.value.details


def test_a_numpy_float32_scale_is_the_number_written() -> None:
    """`scale=np.float32(0.2)` is the generator's scale 0.2: it widened to 0.20000000298023224,
    which named the scenario and sized it."""
    import numpy as np

    plain = commonsnet.generate("urban", seed=1, scale=0.2)
    narrow = commonsnet.generate("urban", seed=1, scale=np.float32(0.2))
    assert narrow.name == plain.name
    assert narrow.needs.equals(plain.needs)
    names = [
        commonsnet.simulate("urban", scenarios=1, scale=scale, policies=["greedy"]).column("scenario").to_pylist()
        for scale in (0.2, np.float32(0.2))
    ]
    assert names[0] == names[1] and names[0][0].startswith("urban-x0.2-"), names
