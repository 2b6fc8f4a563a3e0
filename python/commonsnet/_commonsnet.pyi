"""The compiled engine (Rust, PyO3). Use the functions of ``commonsnet`` instead."""

from typing import Any

import pyarrow as pa

__version__: str
MAX_THREADS: int
MAX_ISSUES: int
GENERATORS: list[str]

_Solved = tuple[str, pa.RecordBatch, pa.RecordBatch, pa.RecordBatch, pa.RecordBatch | None]

def solve_json(text: str, explain: bool = False, threads: int | None = None) -> _Solved: ...
def validate_json(text: str) -> None: ...
def solve_tables(
    resources: Any,
    needs: Any,
    links: Any | None = None,
    policy: str | None = None,
    name: str | None = None,
    explain: bool = False,
    threads: int | None = None,
) -> _Solved: ...
def generate(
    name: str, seed: int, scale: float = 1.0, timed: bool = False
) -> tuple[str, pa.RecordBatch, pa.RecordBatch, str]: ...
def scenario_json_from_tables(
    resources: Any,
    needs: Any,
    links: Any | None = None,
    policy: str | None = None,
    name: str | None = None,
) -> str: ...
def simulate_total(spec: str) -> int: ...
def simulate_runs(spec: str, start: int, end: int, threads: int | None = None) -> pa.RecordBatch: ...
def simulate_error_rows(spec: str, start: int, end: int, message: str) -> pa.RecordBatch: ...
def _panic_inside_the_engine(message: str) -> None: ...
def _shutdown() -> None: ...
def _after_fork() -> None: ...
