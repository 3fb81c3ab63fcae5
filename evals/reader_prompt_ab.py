"""A/B of the question reader's prompt versions on the same held-out items, in one run.

Every third item of ``evals/assistant_heldout`` (a set no tuning touches), hybrid mode, each version with a fresh
home so nothing is cached between them. Run: ``python -m evals.reader_prompt_ab [--versions 1 2] [--every 3]``
(about 15 minutes of the bundled model on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import assistant.reading as reading
from evals import question_sets as qs
from prompts import PromptNotFound, load_prompt
from stackwise.config import Settings, get_settings


def run_version(version: int, ids: list[str]) -> qs.SetRun:
    """The held-out items ``ids`` with the reader on ``assistant_read`` at ``version``."""

    def pinned(name: str, wanted: int | None = None):
        return load_prompt(name, version if name == "assistant_read" else wanted)

    reading.load_prompt = pinned  # the reader looks its prompt up when it is built, by the service below
    try:
        home = Path(tempfile.mkdtemp(prefix=f"stackwise-reader-v{version}-"))
        return qs.run(Settings(home=home, model_dir=get_settings().models_path), "heldout", ["hybrid"],
                      ids=ids, resume=False)
    finally:
        reading.load_prompt = load_prompt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--every", type=int, default=3, help="every N-th held-out item")
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error("--every must be positive")
    for version in args.versions:  # an unknown version is named before the model runs, not after
        try:
            load_prompt("assistant_read", version)
        except PromptNotFound as exc:
            parser.error(str(exc))
    ids = [i.id for i in qs.load_set("heldout").items][::args.every]
    for version in args.versions:
        run = run_version(version, ids)
        m = run.modes[0]
        print(f"v{version}: {m.ok}/{m.items} right; refusals {m.refusals_ok}/{m.refusals_expected}", flush=True)
        print(qs.render(run), flush=True)


if __name__ == "__main__":
    main()
