#!/usr/bin/env bash
# Installs what the build needs, when missing (Debian/Ubuntu; run as root or with sudo
# available), and builds the web console that `commonsnet serve` embeds:
# - HiGHS is built from source by highs-sys: cmake and a C++ compiler; bindgen needs libclang.
# - The console (web/) is built with Node.js >= 20.19 and npm from its lock file.
# `--test` also installs what the tests need beyond the build: Debian's chromium for the
# browser tests, Python's venv for the Python tests, PostgreSQL for the replica tests.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The Python tests make a virtualenv (Debian splits venv/ensurepip out of python3).
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3 python3-venv)
  # The replica tests start their own PostgreSQL server (initdb, pg_ctl) on 127.0.0.1.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The console's build tools (Vite 8) take Node.js ^20.19 or >= 22.12. Without such a Node the
# console is not built: the service still builds and runs, and `/` says how to build the
# console. The tests need it (`--test` fails instead).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)'; then
  echo "Node.js $(node --version 2>/dev/null || echo missing): the web console needs ^20.19 or >= 22.12 to build" >&2
  [ "${1:-}" = "--test" ] && exit 1
  echo "skipping the console build; the service builds and runs without it" >&2
  exit 0
fi
# The console: dependencies exactly as package-lock.json pins them, then the production build
# into web/dist (which api/build.rs embeds). npm's cache lives under ~/.cache.
export npm_config_cache="${npm_config_cache:-$HOME/.cache/npm}"
# Skipped when web/dist was built from the same sources: a rebuild rewrites dist, which makes
# cargo rebuild the service crate that embeds it.
cd web
stamp="$(cat package-lock.json index.html vite.config.ts tsconfig.json $(find src public -type f | sort) | sha256sum | cut -c1-16)"
if [ -f dist/.source-hash ] && [ "$(cat dist/.source-hash)" = "$stamp" ] && [ -d node_modules ]; then
  echo "web console: up to date (web/dist)"
else
  npm ci --no-audit --no-fund --loglevel=error
  npm run build --silent
  echo "$stamp" > dist/.source-hash
fi
