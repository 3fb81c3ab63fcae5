#!/usr/bin/env bash
# Create .venv and install Stackwise with its pinned dependencies (idempotent; fast when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required" >&2; exit 1; }
  "$PYTHON" -m venv .venv
fi
# headless Chromium for the browser tests (Debian package; nothing is downloaded by the test tools)
if [ "${STACKWISE_SKIP_CHROMIUM:-0}" != 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q chromium chromium-driver
  else
    echo "warning: browser tests need Chromium: sudo apt-get install -y chromium chromium-driver" >&2
  fi
fi
# PostgreSQL for the store tests on a real server (tests/pg_server.py runs initdb/pg_ctl from the Debian package)
if [ "${STACKWISE_SKIP_POSTGRES:-0}" != 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q postgresql
  else
    echo "warning: the PostgreSQL tests need the server binaries: sudo apt-get install -y postgresql" >&2
  fi
fi
stamp=.venv/.stackwise-installed
want="$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
  # torch is pinned to the CPU build (see README); constraints keep transitive versions to a verified set.
  # llama-cpp-python builds from source: skip its multimodal library (mtmd), which Stackwise never loads and
  # which is a third of the compile.
  export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
  echo "$want" > "$stamp"
fi
