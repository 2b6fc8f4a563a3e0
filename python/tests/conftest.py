"""Shared fixtures: the `commonsnet` binary the tests compare with, and the bundled scenario."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOOD = ROOT / "datasets" / "examples" / "flood-north.json"


def cli_binary() -> Path:
    """$COMMONSNET_BIN, else the debug build in $CARGO_TARGET_DIR (or ./target)."""
    if "COMMONSNET_BIN" in os.environ:
        return Path(os.environ["COMMONSNET_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "commonsnet"


@pytest.fixture(scope="session")
def cli() -> Any:
    binary = cli_binary()
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build it first (cargo build --bin commonsnet)")

    def run(*args: str) -> str:
        done = subprocess.run([str(binary), *args], capture_output=True, text=True, check=True)
        return done.stdout

    return run


@pytest.fixture(scope="session")
def flood() -> dict[str, Any]:
    return json.loads(FLOOD.read_text())
