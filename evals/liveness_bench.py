"""Liveness benchmark: how long a learner waits for the first token of a chat answer while grading runs.

One process, one loaded model shared by the assistant and the grader, as in ``stackwise serve``. Modes:
*idle* (no grading: the baseline), then *on* and *off* (the model's
:class:`~llm.priority.PriorityLock` with ``prioritise = False``: one first-come-first-served line,
the ordering before chat went first). In the grading modes:

1. ``--submissions`` demo submissions (the evidence set's test split) are submitted for background grading
   with model feedback on;
2. once the grading thread holds the model, ``--chats`` chats are sent one after another (``--gap`` seconds
   apart; ``--parallel`` sends them all at once), each an *info* question of the assistant's golden set,
   which the language model answers from catalogue text; the time to the first token of the answer is
   measured and the stream is closed (the learner's answer would go on; the benchmark needs only the wait);
3. the mode ends when grading has finished.

Printed: first-token p50/p90/max per mode, how many chats were sent while grading was still running,
grading throughput and the handovers (a background call pausing for a chat). Nothing here asserts on timing.

Run it alone on the machine (it loads the LLM)::

    flock /tmp/stackwise-model.lock python -m evals.liveness_bench --submissions 3 --chats 6
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from evals.grading_evidence import load_evidence_dir

GOLDEN = Path(__file__).resolve().parent / "assistant_golden.yaml"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def info_questions() -> list[str]:
    items = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    items = items["items"] if isinstance(items, dict) else items
    # the language model's route only ("ENGINE:" notes mark questions another route answers)
    return [i["question"] for i in items if i.get("kind") == "info" and "ENGINE" not in (i.get("note") or "")]


def first_token_seconds(assistant: Any, learner: str, question: str, full: bool = False) -> float:
    """Seconds until the assistant's stream yields its first text; then the stream is closed (``full``: read
    to the end, as a learner's browser does, so chats sent together also wait for each other's answers)."""
    started = time.perf_counter()
    first: float | None = None
    stream = assistant.stream(learner, question)
    try:
        for event in stream:
            if first is None and (event.type == "final" or (event.type == "token" and event.text)):
                first = time.perf_counter() - started
                if not full:
                    break
    finally:
        stream.close()
    return first if first is not None else time.perf_counter() - started


def run_mode(prioritise: bool | None, *, assistant: Any, grader: Any, model: Any, items: list, questions: list[str],
             chats: int, gap: float, parallel: bool, full: bool = False) -> dict[str, Any]:
    from grader.models import SubmissionIn

    model.lock.prioritise = prioritise is not False
    handovers_before = model.lock.handovers
    started = time.perf_counter()
    futures: list[Future] = []
    for item in items:
        _view, future = grader.submit_in_background(SubmissionIn(
            credential_id=item.credential, learner_id=f"bench-{uuid.uuid4().hex[:8]}",
            files=[("evidence.md", item.evidence.encode("utf-8"), "text/markdown")],
            reflection=item.reflection or ""))
        if future is not None:
            futures.append(future)
    deadline = time.monotonic() + 600
    while model.lock.held_priority is None and not all(f.done() for f in futures):  # until grading uses it
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)

    def one(n: int) -> tuple[float, bool]:
        grading = prioritise is None or not all(f.done() for f in futures)
        question = questions[n % len(questions)]
        return first_token_seconds(assistant, f"bench-chat-{uuid.uuid4().hex[:8]}", question, full), grading

    results: list[tuple[float, bool]] = []
    if parallel:
        with ThreadPoolExecutor(max_workers=chats) as pool:
            results = list(pool.map(one, range(chats)))
    else:
        for n in range(chats):
            results.append(one(n))
            time.sleep(gap)
    for f in futures:
        f.result(timeout=1800)
    grading_seconds = time.perf_counter() - started
    during = [s for s, grading in results if grading]
    return {
        "priority": {None: "idle", True: "on", False: "off"}[prioritise],
        "chats": len(results),
        "chats_during_grading": len(during),
        "first_token_p50_s": round(_percentile(during, 0.5), 2),
        "first_token_p90_s": round(_percentile(during, 0.9), 2),
        "first_token_max_s": round(max(during), 2) if during else None,
        "first_token_all_s": [round(s, 2) for s, _ in results],
        "submissions_graded": len(futures),
        "grading_wall_s": round(grading_seconds, 1),
        "handovers": model.lock.handovers - handovers_before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=3, help="demo submissions graded per mode")
    parser.add_argument("--chats", type=int, default=6, help="chats sent per mode")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between sequential chats")
    parser.add_argument("--parallel", action="store_true", help="send the chats all at once")
    parser.add_argument("--full", action="store_true", help="read every answer to the end (default with --parallel)")
    parser.add_argument("--modes", default="idle,on,off",
                        help="which modes, in order: idle (no grading: the baseline), on, off")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    from llm import load_model
    from stackwise.config import Settings, enforce_offline, get_settings
    from stackwise.wiring import assistant_service, grader_service, model_config

    enforce_offline()
    home = Path(tempfile.mkdtemp(prefix="stackwise-liveness-"))
    settings = Settings(home=home, model_dir=get_settings().models_path, grader_feedback=True)
    t0 = time.perf_counter()
    assistant = assistant_service(settings)
    grader = grader_service(settings)
    model = load_model(model_config(settings))
    if not hasattr(model, "lock"):
        parser.error(f"the {model.runtime} runtime has no priority lock to compare")
    assistant.warm_up()
    grader.scorer  # noqa: B018 - load the grading engine before timing
    print(f"set up in {time.perf_counter() - t0:.1f} s (home {home}, model {model.name} on {model.runtime})")

    items = [i for i in load_evidence_dir() if i.split == "test" and "injection" not in i.tags]
    questions = info_questions()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results = []
    for n, mode in enumerate(modes):
        batch = items[(n * args.submissions) % len(items):][: args.submissions] or items[: args.submissions]
        batch = [] if mode == "idle" else batch
        result = run_mode({"idle": None, "on": True, "off": False}[mode], assistant=assistant, grader=grader,
                          model=model, items=batch, questions=questions, chats=args.chats, gap=args.gap,
                          parallel=args.parallel, full=args.full or args.parallel)
        results.append(result)
        print(json.dumps(result))
    model.lock.prioritise = True
    print("\nchat first token while grading runs (seconds)")
    print(f"{'priority':>8} {'chats':>5} {'p50':>7} {'p90':>7} {'max':>7} {'handovers':>9} {'grading s':>9}")
    for r in results:
        print(f"{r['priority']:>8} {r['chats_during_grading']:>5} {r['first_token_p50_s']:>7} "
              f"{r['first_token_p90_s']:>7} {r['first_token_max_s']!s:>7} {r['handovers']:>9} "
              f"{r['grading_wall_s']:>9}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    grader.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
