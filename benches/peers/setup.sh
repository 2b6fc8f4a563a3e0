#!/usr/bin/env bash
# Creates the peers' virtualenv (default $HOME/.cache/commonsnet-peers-venv) with pinned versions,
# and installs LEMON 1.3.1 (Debian's liblemon-dev) for the C++ peer.
set -euo pipefail
# LEMON (C++), compiled by run.py: Debian's package.
if [ ! -f /usr/include/lemon/network_simplex.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq liblemon-dev >/dev/null
fi
venv="${PEERS_VENV:-$HOME/.cache/commonsnet-peers-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$(dirname "$0")/requirements.txt"
echo "$venv"
