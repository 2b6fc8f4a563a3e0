#!/usr/bin/env bash
# Creates the peers' virtualenv (default $HOME/.cache/commonsnet-peers-venv) with pinned versions.
set -euo pipefail
venv="${PEERS_VENV:-$HOME/.cache/commonsnet-peers-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$(dirname "$0")/requirements.txt"
echo "$venv"
