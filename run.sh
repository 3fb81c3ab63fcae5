#!/usr/bin/env bash
# Install (if needed) and run Stackwise on its embedded defaults: bundled model, demo catalogue,
# local Chroma index and SQLite database under $STACKWISE_HOME (default ~/.local/share/stackwise).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
exec .venv/bin/stackwise "${@:-setup}"
