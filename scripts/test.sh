#!/usr/bin/env bash
# Every test: the Rust workspace (unit, integration, HTTP against a real server), then the web
# console's type check, unit tests (Vitest) and end-to-end tests in headless Chromium against
# the debug binary the Rust tests built. Prints the counts of each.
set -euo pipefail
cd "$(dirname "$0")/.."
# .ci/run has set up already.
[ "${COMMONSNET_SETUP_DONE:-}" = 1 ] || bash scripts/setup.sh --test
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export npm_config_cache="${npm_config_cache:-$HOME/.cache/npm}"

log="$(mktemp)"
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep 'test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo "rust tests: ${passed} passed, ${failed} failed"
[ "$status" -eq 0 ] || exit "$status"

# The HTTP tests again, with every server they start on PostgreSQL instead of SQLite (the same
# tests against both stores; the replica tests have their own PostgreSQL). The filters are in
# tests/on-postgres.txt: left out are the replica tests (they choose their store), the
# crash-loop test of the single-process runner (across replicas the bound is per run:
# replicas::a_run_claimed_too_often_is_an_error_row) and its store-fault pause (across
# replicas a run not stored is claimed again).
set +e
bash scripts/with-postgres.sh cargo test --test integration -- $(grep -v '^#' tests/on-postgres.txt) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
echo "rust tests on PostgreSQL: ${passed} passed"
[ "$status" -eq 0 ] || exit "$status"

cd web
npm run --silent check
npm test --silent
# The browser tests drive the binary `cargo test` just built (it embeds web/dist).
cargo build --quiet --bin commonsnet
E2E_OUT="${E2E_OUT:-$PWD/e2e/out}" npm run --silent e2e
cd ..

# Python: the extension built by maturin into the same target dir as the tests (debug), as a
# wheel installed into a fresh virtualenv with the pinned test requirements, then pytest.
venv="${COMMONSNET_VENV:-$HOME/.cache/commonsnet-venv}"
python3 -m venv --clear "$venv"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/pip}"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt
wheels="$(mktemp -d)"
"$venv/bin/maturin" build --quiet --manifest-path python/Cargo.toml --profile dev --out "$wheels"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$wheels"/commonsnet-*.whl
rm -rf "$wheels"
COMMONSNET_BIN="$CARGO_TARGET_DIR/debug/commonsnet" "$venv/bin/pytest" -q python/tests
