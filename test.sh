#!/usr/bin/env bash
# Install (if needed), then run the linter and the whole test suite, real model included.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
