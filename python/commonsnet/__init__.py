"""CommonsNet in-process: solve allocation scenarios, generate the pilot scenarios, and run
seeded simulation batches, with the engine of the ``commonsnet`` CLI and service.

Tables go in and come out as Arrow through the C data interface, without a copy of their
buffers: pyarrow Tables and RecordBatches, polars DataFrames (``__arrow_c_stream__``) and pandas
DataFrames are accepted; results are pyarrow Tables (``Result.to_polars``).

The GIL is released while the engine works, so several Python threads can solve at once.
"""

from __future__ import annotations

import atexit
import decimal
import json
import math
import numbers
import operator
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping, Sequence

import pyarrow as pa

from . import _commonsnet

# The interpreter's end calls engine calls still running (on daemon threads) off and waits for
# them: none may run on through the end of the process.
atexit.register(_commonsnet._shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_commonsnet._after_fork)
from .errors import CommonsNetError, EngineError, InvalidArgument, InvalidScenario

if TYPE_CHECKING:
    import polars

__all__ = [
    "CommonsNetError",
    "EngineError",
    "InvalidArgument",
    "InvalidScenario",
    "Result",
    "Scenario",
    "generate",
    "simulate",
    "solve",
    "__version__",
]

__version__: str = _commonsnet.__version__

Status = Literal["optimal", "feasible", "infeasible", "time_limit", "error"]
TableName = Literal["allocations", "needs", "resources", "why"]

# Runs held in memory per engine call; `simulate` calls in chunks of this many.
_CHUNK = 100_000


def _utf8(text: str) -> bool:
    """Whether ``text`` is UTF-8 text (no lone surrogate, as ``"\\ud800"`` gives)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unwritable(value: Any) -> str | None:
    """Why JSON cannot carry ``value``, met as a scenario's leaf: a NaN or an infinity, a
    pandas missing value, a date, any object of no JSON kind. None when it can, or when it is
    a container (its items are looked at one by one)."""
    if isinstance(value, str):
        return None if _utf8(value) else f"{value!r} holds a lone surrogate, which UTF-8 cannot carry"
    if value is None or isinstance(value, (bool, int)):
        return None
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        # A 0-d array (``np.array(2.5)``) or a scalar: as the Python value it holds.
        item = value.item()
        if type(item).__module__ != "numpy":
            return _unwritable(item)
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        try:
            x = float(value)
        except ValueError:  # a signalling NaN (`Decimal("sNaN")`)
            x = math.nan
        return None if math.isfinite(x) else f"{value} is not a finite number"
    if isinstance(value, Mapping):
        # A key is a name (a dimension, a field): a bad one is named at its map.
        bad = [k for k in value if isinstance(k, str) and not _utf8(k)]
        return f"the name {bad[0]!r} holds a lone surrogate, which UTF-8 cannot carry" if bad else None
    if isinstance(value, (list, tuple, set, frozenset)):
        return None
    if type(value).__module__ == "numpy" and (
        getattr(value, "ndim", 0) > 0 or getattr(getattr(value, "dtype", None), "kind", "") in ("b", "i", "u")
    ):
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return f"{value} is a missing value: leave the field out, or give None"
    return f"{type(value).__name__} {value!r} is not a JSON value"


def _items(value: Any) -> Any:
    """The items of a container ``value`` as (key, item) pairs; none for a leaf."""
    if isinstance(value, Mapping):
        return value.items()
    if isinstance(value, (list, tuple)):
        return enumerate(value)
    if _is_sequence_like(value):
        return enumerate(_json_value(value))
    return ()


def _first_unwritable(value: Any, path: list[str | int]) -> tuple[list[str | int], str] | None:
    """The path of the first leaf in ``value`` that JSON cannot carry, and why
    (``_unwritable``)."""
    why = _unwritable(value)
    if why is not None:
        return path, why
    for key, item in _items(value):
        found = _first_unwritable(item, [*path, key])
        if found is not None:
            return found
    return None


def _all_unwritable(value: Any, path: list[str | int], out: list[tuple[list[str | int], str]]) -> None:
    """Every leaf in ``value`` that JSON cannot carry, with its path and why, into ``out``."""
    if _first_unwritable(value, path) is None:
        return
    why = _unwritable(value)
    if why is not None:
        out.append((path, why))
        return
    for key, item in _items(value):
        _all_unwritable(item, [*path, key], out)


def _writable_copy(value: Any) -> Any:
    """``value`` with every leaf JSON cannot carry as None (sets and arrays as lists), and
    every key it cannot carry left out (not the whole map: the engine would add a problem of
    its own for the row)."""
    if isinstance(value, Mapping):
        return {k: _writable_copy(v) for k, v in value.items() if not (isinstance(k, str) and not _utf8(k))}
    if _unwritable(value) is not None:
        return None
    if isinstance(value, (list, tuple)) or _is_sequence_like(value):
        return [_writable_copy(v) for _, v in _items(value)]
    return value


def _scenario_json(data: Mapping[str, Any], at: list[str | int] | None = None) -> str:
    """A scenario dict (or its part at path ``at``) as JSON text; a NaN or infinity, or a value
    of no JSON kind (``pd.NA``, a date), is refused naming its table, row and field, as the
    engine names a bad cell (``json.dumps`` would write ``NaN``, which is no JSON, or raise a
    TypeError naming nothing). Every such value is named, and so is every other problem the
    engine finds in a whole scenario (the values left out), as one refusal lists them all."""
    found: list[tuple[list[str | int], str]] = []
    _all_unwritable(data, list(at or []), found)
    if not found:
        return _dumps(data)
    issues: list[dict[str, Any]] = []
    for path, x in found:
        table, row, rest = "scenario", None, path
        if path and path[0] in ("resources", "needs", "links") and len(path) > 1 and isinstance(path[1], int):
            table, row, rest = str(path[0]), path[1], path[2:]
        elif path and path[0] == "policy":
            table, rest = "policy", path[1:]
        # As the engine spells a field: `capacity.u`, `skills[0]`.
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".") or None
        issues.append({"table": table, "row": row, "field": field, "message": x})
    unlisted = 0
    at_most = ""
    if at is None:
        # The engine's own issues, with those values left out; its issue on a field whose
        # value was left out is the one above.
        try:
            _commonsnet.validate_json(_dumps(_writable_copy(data)))
        except InvalidScenario as e:
            # Ours by row: each of the engine's problems is looked up among its row's alone (a
            # scan of all ours for each took 27 s for 20,000 rows).
            by_row: dict[tuple[Any, Any], list[str]] = {}
            for i in issues:
                by_row.setdefault((i["table"], i["row"]), []).append(str(i["field"] or ""))

            def ours(d: dict[str, Any]) -> bool:
                theirs = str(d.get("field") or "")
                mine = by_row.get((d.get("table"), d.get("row")), [])
                return bool(theirs) and any(m == theirs or m.startswith((theirs + ".", theirs + "[")) for m in mine)

            # Its line counting what it did not list is not a problem: its count joins ours. Those
            # it did not list cannot be told from ours, so the counts are then at most.
            unlisted += e.unlisted
            at_most = "up to " if e.unlisted else ""
            issues += [d for d in (e.details[:-1] if e.unlisted else e.details) if not ours(d)]
    total = len(issues) + unlisted
    if len(issues) > _commonsnet.MAX_ISSUES:
        unlisted += len(issues) - _commonsnet.MAX_ISSUES
        del issues[_commonsnet.MAX_ISSUES :]
    if unlisted:
        more = f"{at_most}{unlisted} more problem(s) not listed (the first {_commonsnet.MAX_ISSUES} are)"
        issues.append({"table": "scenario", "row": None, "field": None, "message": more})
    first = issues[0]
    where = f"{first['table']}[{first['row']}].{first['field']}" if first["row"] is not None else f"{first['table']}.{first['field']}"
    raise InvalidScenario(f"invalid scenario: {at_most}{total} problem(s); first: {where}: {first['message']}", issues, unlisted)


def _is_sequence_like(value: Any) -> bool:
    """A set, or a numpy array: what ``_json_value`` writes as a list."""
    return isinstance(value, (set, frozenset)) or (type(value).__module__ == "numpy" and getattr(value, "ndim", 0) > 0)


def _json_value(value: Any) -> Any:
    """What ``json.dumps`` cannot write by itself, as JSON: a numpy scalar as its Python value
    (``np.int64(3)`` from a DataFrame), a numpy array as a list, a set (SPEC's skills are sets)
    as a sorted list."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        # A mapping that is no dict (`MappingProxyType`, `ChainMap`).
        return dict(value)
    if isinstance(value, decimal.Decimal) or (isinstance(value, numbers.Real) and type(value).__module__ != "numpy"):
        # `Fraction`, `Decimal`: as the float they are nearest.
        return float(value)
    if type(value).__module__ == "numpy":
        if getattr(value, "ndim", 0) > 0:
            return value.tolist()
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            # (`item()` of a long double is a long double again.)
            return float(value)
        item = getattr(value, "item", None)
        if callable(item):
            out = item()
            if type(out).__module__ != "numpy":
                return out
    raise TypeError(f"{type(value).__name__} {value!r} is not a JSON value")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_value, allow_nan=False)


def _scale(value: Any) -> Any:
    """A generator's scale as the number it was written as: a numpy float narrower than a
    double (``np.float32(0.2)``) by its shortest digits, 0.2, not the double it widens to
    (0.20000000298023224, which named the scenario). Anything else as given, for the engine
    to check."""
    if type(value).__module__ == "numpy" and isinstance(value, numbers.Real) and not isinstance(value, (float, numbers.Integral)):
        try:
            return float(str(value))
        except ValueError:
            return value
    return value


def _whole(value: Any) -> int | None:
    """``value`` as a Python int if it is a whole number (a numpy integer included, not a bool);
    else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _check_threads(threads: int | None) -> int | None:
    """``threads`` as the engine takes it: a whole number in [1, MAX_THREADS] (a numpy integer
    becomes a Python int), or None (all cores)."""
    if threads is None:
        return None
    top = _commonsnet.MAX_THREADS
    whole = _whole(threads)
    if whole is None or not 1 <= whole <= top:
        raise InvalidArgument(f"threads must be a whole number in [1, {top}], not {threads!r}")
    return whole


def _table(batch: pa.RecordBatch) -> pa.Table:
    return pa.Table.from_batches([batch])


@dataclass(frozen=True)
class Result:
    """A solved scenario: the summary (SPEC section 3) and the result tables."""

    summary: dict[str, Any]
    allocations: pa.Table
    needs: pa.Table
    resources: pa.Table
    #: With ``explain=True``: why each need not served in full is served as it is.
    why: pa.Table | None = None

    @property
    def status(self) -> Status:
        return self.summary["status"]

    @property
    def solver(self) -> str:
        return self.summary["solver"]

    @property
    def objective(self) -> float | None:
        return self.summary["objective"]

    def to_polars(self, table: TableName = "allocations") -> "polars.DataFrame":
        """One of the result tables as a polars DataFrame (zero copy where polars can)."""
        import polars

        t = getattr(self, table)
        if t is None:
            raise ValueError(f"no {table} table (solve with explain=True for why)")
        return polars.from_arrow(t)  # type: ignore[return-value]

    @classmethod
    def _of(cls, solved: tuple[str, pa.RecordBatch, pa.RecordBatch, pa.RecordBatch, pa.RecordBatch | None]) -> "Result":
        summary, allocations, needs, resources, why = solved
        return cls(
            summary=json.loads(summary),
            allocations=_table(allocations),
            needs=_table(needs),
            resources=_table(resources),
            why=None if why is None else _table(why),
        )


@dataclass(frozen=True)
class Scenario:
    """A scenario as tables (SPEC section 3): what ``generate`` returns and ``solve`` takes."""

    name: str
    resources: pa.Table
    needs: pa.Table
    policy: dict[str, Any] = field(default_factory=dict)
    links: pa.Table | None = None


def _arrow(obj: Any, what: str) -> Any:
    """An object the engine can read through the Arrow C stream interface: a table. One column
    (a pandas or polars Series, a pyarrow Array or ChunkedArray) is no table, and a frame Arrow
    cannot convert is refused here, each as an ``InvalidArgument`` naming the table."""
    # pandas first: its own `__arrow_c_stream__` keeps a filtered or indexed frame's index as a
    # column, which the engine would refuse as unknown.
    if type(obj).__module__.split(".")[0] == "pandas":
        if not hasattr(obj, "columns"):
            raise InvalidArgument(f"{what}: expected a table (a DataFrame), got a pandas {type(obj).__name__}")
        # A float column's NaN becomes a null, a missing cell: pandas' own meaning of NaN (a
        # table read to pandas from Arrow has NaN wherever a number was missing), where
        # pyarrow and polars refuse a NaN as no finite number.
        try:
            return pa.Table.from_pandas(obj, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as e:
            raise InvalidArgument(f"{what}: the pandas DataFrame cannot be read as Arrow: {e}") from e
    if isinstance(obj, (pa.Array, pa.ChunkedArray)):
        raise InvalidArgument(f"{what}: expected a table, got one column (a pyarrow {type(obj).__name__})")
    if type(obj).__module__.split(".")[0] == "polars" and type(obj).__name__ == "Series":
        raise InvalidArgument(f"{what}: expected a table (a DataFrame), got a polars Series")
    if hasattr(obj, "__arrow_c_stream__"):
        # Through pyarrow, which imports what any producer exports (still without copying the
        # buffers): polars exports an all-null column with a buffer arrow-rs refuses.
        if not isinstance(obj, (pa.Table, pa.RecordBatchReader)):
            try:
                return pa.RecordBatchReader.from_stream(obj)
            except (pa.ArrowException, ValueError, TypeError) as e:
                raise InvalidArgument(f"{what}: cannot read its Arrow stream: {e}") from e
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    hint = " (a polars LazyFrame: call .collect() first)" if type(obj).__name__ == "LazyFrame" else ""
    raise InvalidArgument(
        f"{what}: expected a pyarrow Table or RecordBatch, a polars or pandas DataFrame, "
        f"or any object with __arrow_c_stream__; got {type(obj).__name__}{hint}"
    )


def _looks_like_path(text: str) -> bool:
    """Whether a scenario given as text is a path rather than JSON: an existing file or folder,
    or a name ending in ``.json`` (short, on one line)."""
    t = text.strip()
    if "\n" in t or len(t) > 4096:
        return False
    return t.lower().endswith(".json") or os.path.exists(t)


def _policy(policy: Any) -> Mapping[str, Any] | None:
    """``policy=`` as a dict (or None): a policy name or other value is refused, naming it."""
    if policy is None or isinstance(policy, Mapping):
        return policy
    raise InvalidArgument(
        f"policy must be a dict of SPEC's policy fields, e.g. {{'objective': 'coverage'}}, not {policy!r}"
    )


def solve(
    scenario: Mapping[str, Any] | str | Scenario | None = None,
    *,
    resources: Any = None,
    needs: Any = None,
    links: Any = None,
    policy: Mapping[str, Any] | None = None,
    name: str | None = None,
    explain: bool = False,
    threads: int | None = None,
) -> Result:
    """Solve a scenario: a dict or JSON text of SPEC section 3, a ``Scenario`` of tables, or
    ``resources`` and ``needs`` (and optional ``links``) tables with a ``policy`` dict.

    ``explain=True`` adds the ``why`` table. ``threads`` caps the engine's threads (default: all
    cores). Raises ``InvalidScenario`` (with ``details``) for input the engine rejects. The
    GIL is released while it runs; Ctrl-C calls the solve off (the LP solver stops at its next
    iteration) and raises ``KeyboardInterrupt``."""
    threads = _check_threads(threads)
    policy = _policy(policy)
    if isinstance(scenario, Scenario):
        if resources is not None or needs is not None or links is not None:
            raise TypeError("give a scenario or tables, not both")
        resources, needs, links = scenario.resources, scenario.needs, scenario.links
        policy = {**scenario.policy, **(policy or {})}
        name = name or scenario.name
        scenario = None
    if scenario is not None:
        if resources is not None or needs is not None or links is not None:
            raise TypeError("give a scenario or tables, not both")
        if isinstance(scenario, os.PathLike) or (
            isinstance(scenario, str) and not scenario.lstrip().startswith("{") and _looks_like_path(scenario)
        ):
            raise InvalidArgument(
                f"scenario: {os.fspath(scenario)!r} is a path; a str is read as JSON text: "
                "pass json.load(open(path)) (a dict), or its text"
            )
        if not isinstance(scenario, (str, Mapping)):
            raise InvalidArgument(
                f"scenario must be a dict, JSON text or a Scenario, not a {type(scenario).__name__}"
            )
        if isinstance(scenario, str):
            text = scenario
            if policy is not None or name is not None:
                raise TypeError("policy= and name= go with a dict or tables; put them in the scenario's JSON")
        else:
            data = dict(scenario)
            if policy is not None:
                data["policy"] = {**(data.get("policy") or {}), **policy}
            if name is not None:
                data["name"] = name
            text = _scenario_json(data)
        return Result._of(_commonsnet.solve_json(text, explain, threads))
    if resources is None or needs is None:
        raise TypeError("give a scenario, or both resources and needs tables")
    return Result._of(
        _commonsnet.solve_tables(
            _arrow(resources, "resources"),
            _arrow(needs, "needs"),
            None if links is None else _arrow(links, "links"),
            None if policy is None else _scenario_json(dict(policy), at=["policy"]),
            name,
            explain,
            threads,
        )
    )


def generate(name: str, seed: int = 0, scale: float = 1.0, *, timed: bool = False) -> Scenario:
    """A pilot generator's scenario (``urban``, ``rural``, ``intentional``, ``disaster``) as
    tables, the same as ``commonsnet generate NAME --seed SEED --scale SCALE``."""
    whole = _whole(seed)
    if whole is None or not 0 <= whole < 2**64:
        raise InvalidArgument(f"seed must be a whole number in [0, 2^64), not {seed!r}")
    label, resources, needs, policy = _commonsnet.generate(name, whole, _scale(scale), timed)
    return Scenario(name=label, resources=_table(resources), needs=_table(needs), policy=json.loads(policy))


# The pilot generators' names (`commonsnet generate`); any other `generator` is a path.
_GENERATORS: tuple[str, ...] = tuple(_commonsnet.GENERATORS)


def _spec(
    generator: str | None,
    scenario: Mapping[str, Any] | None,
    scenarios: int | None,
    scale: float | None,
    seed: int,
    timed: bool | None,
    policies: Sequence[str],
    replicates: int,
    perturb: Mapping[str, float] | None,
    time_limit_s: float,
    explain: bool,
) -> str:
    if (generator is None) == (scenario is None):
        raise TypeError("give one of generator (a name, or a scenario's file or folder) and scenario (a dict or a Scenario)")
    if isinstance(scenario, Scenario):
        # Its tables as the JSON form, checked as `solve` checks them: the spec is text (a Ray
        # sweep ships it to its workers).
        scenario = json.loads(
            _commonsnet.scenario_json_from_tables(
                _arrow(scenario.resources, "resources"),
                _arrow(scenario.needs, "needs"),
                None if scenario.links is None else _arrow(scenario.links, "links"),
                _scenario_json(dict(scenario.policy), at=["policy"]) if scenario.policy else None,
                scenario.name,
            )
        )
    if scenario is not None and not isinstance(scenario, Mapping):
        # JSON text or a path raised a bare TypeError or ValueError from dict().
        raise InvalidArgument(
            f"scenario must be a dict in SPEC's JSON form or a Scenario, not {type(scenario).__name__}: "
            "read JSON text with json.loads; give a scenario's file or folder as generator=PATH, "
            "as the CLI's `commonsnet simulate --generator PATH`"
        )
    path = None
    if generator is not None and not (isinstance(generator, str) and generator in _GENERATORS):
        # As the CLI's `--generator`: a name, else a scenario file or folder.
        if not isinstance(generator, (str, os.PathLike)) or not os.path.exists(generator):
            raise InvalidArgument(
                f"generator {os.fspath(generator) if isinstance(generator, (str, os.PathLike)) else generator!r} "
                f"is neither a generator ({', '.join(_GENERATORS)}) nor a scenario file or folder"
            )
        path, generator = os.path.abspath(os.fspath(generator)), None
    if isinstance(policies, str):
        # As the CLI's `--policies greedy,coverage`.
        policies = [p.strip() for p in policies.split(",")]
    elif isinstance(policies, (set, frozenset)):
        # A set has no order of its own: its iteration order (with the hash seed) was the
        # rows' order. Sorted by name.
        policies = sorted(policies)
    # Whole numbers checked here, by the names and ranges the CLI gives them (2**64 reached
    # the engine as a float, True as `true`, -1 as "not >= 0" where 0 was "at least 1").
    whole_seed = _whole(seed)
    if whole_seed is None or not 0 <= whole_seed < 2**64:
        raise InvalidArgument(f"seed must be a whole number in [0, 2^64), not {seed!r}")
    counts = {"scenarios": scenarios, "replicates": replicates}
    for what, value in counts.items():
        if value is None:
            # Not given: the generator's 10 (refused with a scenario of its own when given).
            continue
        whole = _whole(value)
        # Below 2^64 as the engine reads counts (2**80 reached it as a float, named as one).
        if whole is None or not 1 <= whole < 2**64:
            raise InvalidArgument(f"{what} must be a whole number of at least 1 (below 2^64), not {value!r}")
        counts[what] = whole
    spec: dict[str, Any] = {
        "scenarios": counts["scenarios"],
        "scale": _scale(scale),
        "seed": whole_seed,
        "timed": timed,
        "policies": list(policies),
        "replicates": counts["replicates"],
        "perturb": dict(perturb or {}),
        "time_limit_s": time_limit_s,
        "explain": explain,
    }
    if generator is not None:
        spec["generator"] = generator
    elif path is not None:
        spec["path"] = path
    else:
        spec["scenario"] = dict(scenario or {})
        _scenario_json(spec["scenario"])
    found = _first_unwritable(spec, [])
    if found is not None:
        path, why = found
        raise InvalidArgument(f"{'.'.join(str(p) for p in path)}: {why}")
    return _dumps(spec)


def simulate(
    generator: str | os.PathLike[str] | None = None,
    *,
    scenario: Mapping[str, Any] | Scenario | None = None,
    scenarios: int | None = None,
    scale: float | None = None,
    seed: int = 0,
    timed: bool | None = None,
    policies: Sequence[str] = ("greedy", "coverage", "maxmin"),
    replicates: int = 1,
    perturb: Mapping[str, float] | None = None,
    time_limit_s: float = 60.0,
    explain: bool = False,
    threads: int | None = None,
) -> pa.Table:
    """Scenarios x policies x replicates, one row per run: the same table as ``commonsnet
    simulate`` with the same arguments (only the measured ``solve_ms`` differs). Runs are seeded
    by their (scenario, replicate) index, so the table does not depend on ``threads``.

    ``generator`` is a pilot generator's name or, as the CLI's ``--generator``, a scenario's
    file or folder; ``scenario`` a scenario of its own, a dict in SPEC's JSON form or a
    ``Scenario`` of tables (``generate``'s, or edited in polars). ``scenarios`` (at least 1,
    default 10), ``scale`` (default 1) and ``timed`` (default False) are the generator's, and
    refused with a scenario of its own (one scenario: ``replicates`` repeats it), as the CLI
    refuses them with a file. At most 10,000,000 runs in all. Ctrl-C stops the runs and raises
    ``KeyboardInterrupt`` once the runs under way have finished (``time_limit_s`` bounds each)."""
    threads = _check_threads(threads)
    spec = _spec(generator, scenario, scenarios, scale, seed, timed, policies, replicates, perturb, time_limit_s, explain)
    total = _commonsnet.simulate_total(spec)
    parts = [
        _commonsnet.simulate_runs(spec, start, min(start + _CHUNK, total), threads)
        for start in range(0, total, _CHUNK)
    ]
    return pa.Table.from_batches(parts)
