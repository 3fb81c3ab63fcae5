"""The ``stackwise`` command line: a thin adapter over the domains' public functions.

Every command turns domain errors into a one-line message and a non-zero exit code; no tracebacks.
Heavy libraries (torch, chromadb, llama.cpp) are imported inside commands so ``--help`` is instant.
One module per domain registers its commands on :data:`app` (:mod:`stackwise.cli.common`):
:mod:`~stackwise.cli.catalogue`, :mod:`~stackwise.cli.assistant`, :mod:`~stackwise.cli.grader`,
:mod:`~stackwise.cli.review`, :mod:`~stackwise.cli.issuance`, :mod:`~stackwise.cli.evaluation`,
:mod:`~stackwise.cli.serve` (web and Telegram),
:mod:`~stackwise.cli.worker` (grading workers) and :mod:`~stackwise.cli.model` (model and ``setup``).
"""

from __future__ import annotations

import sys

import typer

from stackwise.config import enforce_offline

enforce_offline()

# the command modules register in this order, which is the order `stackwise --help` lists
from stackwise.cli import catalogue, assistant, serve, grader, worker, review, evaluation, issuance, model, database  # noqa: E402,F401  # isort: skip
from stackwise.cli.common import app  # noqa: E402

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
