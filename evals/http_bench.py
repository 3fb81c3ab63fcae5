"""The http runtime's overhead against the in-process llama.cpp runtime on the same model.

Starts llama-cpp-python's OpenAI-compatible server on the bundled GGUF (127.0.0.1, same thread count as the
in-process model), then runs the same prompts both ways, alternating: greedy chats (``--max-tokens``) and the
grader's kind of call, a yes/no label distribution from log-probabilities. Prints the median seconds per call
of each, and the ratio http / in-process. Nothing asserts on timing. With ``--url`` it measures an already
running server instead (which then should serve the same model).

Run it alone on the machine (it loads the LLM twice: in this process and in the server)::

    flock /tmp/stackwise-model.lock python -m evals.http_bench --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable

from llm import assemble, get_spec, load_model
from llm.http_backend import HttpModel
from stackwise.loopback import llama_server
from stackwise.wiring import model_config

CHATS = [
    [{"role": "user", "content": "In one sentence: what is a unit test?"}],
    [{"role": "user", "content": "Name two uses of a Python dictionary."}],
]
CHOICES = [
    ([{"role": "user", "content": "Does this evidence show a passing unit test? 'All 12 tests passed.' "
                                  "Answer yes or no."}], ["yes", "no"]),
    ([{"role": "user", "content": "Is a linked list a data structure? Answer yes or no."}], ["yes", "no"]),
]


def _median(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed repetitions of each prompt")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--url", help="measure this running server instead of starting one")
    args = parser.parse_args(argv)

    cfg = model_config()
    spec = get_spec(cfg.model)
    local = load_model(cfg, "llama_cpp")
    with contextlib.ExitStack() as stack:
        if args.url:
            url = args.url
        else:
            t0 = time.perf_counter()
            url = stack.enter_context(llama_server(assemble(spec, cfg.models_path), alias=spec.name,
                                                   n_ctx=cfg.n_ctx, n_threads=cfg.n_threads))
            print(f"server {url} up in {time.perf_counter() - t0:.1f} s ({cfg.n_threads} threads)")
        remote = stack.enter_context(contextlib.closing(HttpModel(url)))
        rows = []
        for label, calls in (
            ("chat", [(lambda m, msgs=msgs: m.chat(msgs, max_tokens=args.max_tokens)) for msgs in CHATS]),
            ("label distribution", [(lambda m, msgs=msgs, o=o: m.choice_distribution(msgs, o))
                                    for msgs, o in CHOICES]),
        ):
            for call in calls:  # warm both (the prompt caches, the server's first request)
                call(local)
                call(remote)
            t_local = statistics.median(_median(lambda c=c: c(local), args.rounds) for c in calls)
            t_http = statistics.median(_median(lambda c=c: c(remote), args.rounds) for c in calls)
            rows.append((label, t_local, t_http))
    print(f"\nmodel {spec.name}; {args.rounds} rounds x {len(CHATS)} prompts each; median seconds per call")
    print(f"{'call':<20} {'in-process':>11} {'http':>9} {'http/in-process':>16}")
    for label, t_local, t_http in rows:
        print(f"{label:<20} {t_local:>11.3f} {t_http:>9.3f} {t_http / t_local:>15.2f}x")


if __name__ == "__main__":
    main()
