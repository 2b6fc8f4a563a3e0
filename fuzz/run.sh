#!/usr/bin/env bash
# Run every CommonsNet fuzz target for a given number of seconds each, then print, per target,
# the executions libFuzzer made and the crashes (and OOMs, timeouts, leaks) it saved.
#
#   bash fuzz/run.sh 600              # every target, 600 s each
#   bash fuzz/run.sh 60 csv parquet   # only these targets
#
# Needs nightly Rust and cargo-fuzz (`cargo install cargo-fuzz`). Seeds come from
# fuzz/seeds/<target>/ (committed; refresh the table seeds with
# `cargo test --test integration write_fuzz_seeds -- --ignored`) and fuzz/regressions/<target>/
# (inputs that once failed, kept as tests by tests/parsers.rs); the corpus libFuzzer grows is
# fuzz/corpus/<target>/, crash inputs land in fuzz/artifacts/<target>/, logs in
# fuzz/logs/<target>.log. Reproduce a crash with `cargo +nightly fuzz run <target> <file>`.
#
# The table targets (arrow_ipc_file, arrow_ipc_stream, parquet, csv) do not count panics that
# the readers contain (they become errors). Set
# COMMONSNET_FUZZ_STRICT=1 to count those too, e.g. to report them upstream.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/commonsnet-fuzz-target, apart from the main
# build: the sanitizer flags would rebuild everything there), FUZZ_BUILD_FLAGS (extra `cargo fuzz` flags, e.g. `--debug-assertions`),
# FUZZ_RSS_MB (default 2048) and FUZZ_MALLOC_MB (default 1024): an input that makes a parser
# allocate more than that is reported as a crash (`oom-*`), which is what header-driven
# allocations look like.
set -u -o pipefail

seconds="${1:-}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: bash fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 2
fi
shift

cd "$(dirname "$0")/.." || exit 2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/commonsnet-fuzz-target}"
rss="${FUZZ_RSS_MB:-2048}"
malloc="${FUZZ_MALLOC_MB:-1024}"
# shellcheck disable=SC2206
build_flags=(${FUZZ_BUILD_FLAGS:-})

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz on nightly is needed: rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "building ${#targets[@]} target(s)..."
if ! cargo +nightly fuzz build "${build_flags[@]}"; then
    echo "build failed" >&2
    exit 1
fi

mkdir -p fuzz/logs
declare -A runs status
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    seed_dirs=()
    [ -d "fuzz/seeds/$t" ] && seed_dirs+=("fuzz/seeds/$t")
    [ -d "fuzz/regressions/$t" ] && seed_dirs+=("fuzz/regressions/$t")
    log="fuzz/logs/$t.log"
    # Failures of this run only: artifacts newer than this stamp.
    touch "fuzz/logs/$t.start"
    echo "== $t: ${seconds}s"
    cargo +nightly fuzz run "${build_flags[@]}" "$t" "fuzz/corpus/$t" "${seed_dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb="$rss" -malloc_limit_mb="$malloc" \
        -print_final_stats=1 >"$log" 2>&1
    status[$t]=$?
    # libFuzzer's final stats ("stat::number_of_executed_units: N"); after a crash, the last
    # "#N" progress line.
    n=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {if (NR) print s}')
    if [ -z "$n" ]; then
        n=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    fi
    runs[$t]="${n:-0}"
done

echo
printf '%-18s %14s %8s %6s %9s %6s %s\n' target executions crashes ooms timeouts leaks exit
total_bad=0
for t in "${targets[@]}"; do
    count() {
        find "fuzz/artifacts/$t" -maxdepth 1 -name "$1-*" -newer "fuzz/logs/$t.start" 2>/dev/null |
            wc -l
    }
    c=$(count crash)
    o=$(count oom)
    to=$(count timeout)
    l=$(count leak)
    total_bad=$((total_bad + c + o + to + l))
    printf '%-18s %14s %8s %6s %9s %6s %s\n' "$t" "${runs[$t]}" "$c" "$o" "$to" "$l" "${status[$t]}"
done
echo
if [ "$total_bad" -gt 0 ]; then
    echo "inputs that failed are in fuzz/artifacts/<target>/; logs in fuzz/logs/"
    exit 1
fi
