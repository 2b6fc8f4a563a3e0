#!/usr/bin/env bash
# Executes every notebook headless (nbclient) in a virtualenv with the pinned packages.
# Outputs go to notebooks/out/ (executed copies and PNG plots); the committed notebooks stay
# stripped. COMMONSNET_BIN points at the binary (default: the debug build of the workspace).
set -euo pipefail
cd "$(dirname "$0")/.."
# The virtualenv of the Python tests (scripts/test.sh), which holds the `commonsnet` wheel and
# Ray: the notebooks import the engine in-process.
venv="${COMMONSNET_VENV:-$HOME/.cache/commonsnet-venv}"
"$venv/bin/python" -c "import commonsnet, ray" 2>/dev/null ||
  { echo "no commonsnet wheel in $venv: run scripts/test.sh (or pip install ./python ray) first" >&2; exit 1; }
"$venv/bin/pip" install -q --disable-pip-version-check -r notebooks/requirements.txt
target="${CARGO_TARGET_DIR:-target}"
export COMMONSNET_BIN="${COMMONSNET_BIN:-$target/debug/commonsnet}"
export COMMONSNET_ROOT="$PWD"
export NOTEBOOK_OUT="$PWD/notebooks/out"
mkdir -p "$NOTEBOOK_OUT"
"$venv/bin/python" - <<'PY'
import os, sys, nbformat
from pathlib import Path
from nbclient import NotebookClient
out = Path(os.environ["NOTEBOOK_OUT"])
for path in sorted(Path("notebooks").glob("*.ipynb")):
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": os.environ["COMMONSNET_ROOT"]}}).execute()
    nbformat.write(book, out / path.name)
    print(f"executed {path}")
for png in ["policies.png", "shadow_prices.png", "fairness.png", "lending.png", "sweep.png"]:
    assert (out / png).stat().st_size > 1000, png
print("plots:", ", ".join(sorted(p.name for p in out.glob("*.png"))))
PY
