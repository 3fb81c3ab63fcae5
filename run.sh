#!/usr/bin/env bash
# Install (if needed) and run Stackwise on its embedded defaults: bundled model, demo catalogue,
# local Chroma index and SQLite database under $STACKWISE_HOME (default ~/.local/share/stackwise).
# With no arguments: prepare everything, then serve the learner web app on http://127.0.0.1:7860.
# With arguments: run that stackwise command instead, e.g. ./run.sh ask "Which credentials cover AI ethics?"
set -euo pipefail
cd "$(dirname "$0")"
scripts/install.sh
if [ "$#" -eq 0 ]; then
  .venv/bin/stackwise setup
  exec .venv/bin/stackwise serve
fi
exec .venv/bin/stackwise "$@"
