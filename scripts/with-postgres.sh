#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on 127.0.0.1 (Debian's `postgresql`:
# initdb and pg_ctl in a temporary folder, trust authentication, stopped and removed at the
# end) and COMMONSNET_TEST_PG=postgres://commonsnet@127.0.0.1:PORT in its environment.
# As root the server runs as the `postgres` user (PostgreSQL refuses root).
#   bash scripts/with-postgres.sh cargo test --test integration -- http::
set -euo pipefail
bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
dir="$(mktemp -d)"
run=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$dir"
  run=(runuser -u postgres --)
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
stop() {
  "${run[@]}" "$bin/pg_ctl" -w -m fast -D "$dir/data" stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${run[@]}" "$bin/initdb" -A trust -U commonsnet -E UTF8 --no-sync -D "$dir/data" >/dev/null
"${run[@]}" "$bin/pg_ctl" -w -D "$dir/data" -l "$dir/log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
export COMMONSNET_TEST_PG="postgres://commonsnet@127.0.0.1:$port"
"$@"
