"""Input the engine refuses instead of settling silently: a column given twice in a table, a
key given twice in a policy or a simulate spec."""

from __future__ import annotations

import json

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
