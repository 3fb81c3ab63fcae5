#!/usr/bin/env bash
# Install (if needed), then run the linter and the test suite, real model included.
#   ./test.sh            what CI runs: every test, and a slice of each evaluation set on the real model
#   ./test.sh --full     also every other item of those sets (the red-team splits item by item: much longer)
# Any other arguments go to pytest (e.g. ./test.sh tests/test_planner.py -x).
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--full" ]; then
  export STACKWISE_TEST_FULL=1
  shift
fi
scripts/install.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
