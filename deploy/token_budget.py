"""Tokens the grader's model calls cost for one 5-criterion submission (the sizing in deploy/README.md).

It builds the exact messages the grader sends for each 5-criterion item of the labelled grading evidence
(``evals/grading_evidence/items.yaml``, demo catalogue) and counts them with the bundled model's tokenizer
and chat template. No model is loaded and nothing is generated, so it runs in seconds on any machine:

    python deploy/token_budget.py            # a table and the mean per submission
    python deploy/token_budget.py --json

What the grader asks a model per submission (shipped combiner: questions ``none``):
- the injection judge: one yes/no question per passage it asks about (:class:`grader.injection.InjectionDetector`);
  the system prompt and worked examples are the same for every request (a prefix-caching server computes
  them once), the passage is new; the answer is read from the log-probabilities of one token;
- the feedback writer: one chat request (:class:`grader.feedback.FeedbackWriter`), whose completion is capped
  at its ``max_tokens``.
The judge's passages are those asked when no passage looks like an attack (each answer taken as "no"), the
usual case; an attack makes it ask about the parts of a flagged passage too. The check questions
(``questions=both``), which a refitted combiner may read, are counted as well, for a course team that turns
them on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ITEMS = REPO / "evals" / "grading_evidence" / "items.yaml"


class _Recorder:
    """A passage judge that answers "no" to everything and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def p_yes(self, passages):
        self.asked.extend(passages)
        return [0.0 for _ in passages]


def tokenizer():
    """The bundled model's tokenizer (converted from the GGUF once, into the cache the transformers runtime uses)."""
    from llm import assemble
    from llm.registry import get_spec
    from llm.transformers_backend import load_tokenizer
    from stackwise.config import get_settings

    settings = get_settings()
    spec = get_spec(settings.model)
    path = assemble(spec, settings.models_path)
    return load_tokenizer(path, settings.models_path / f"{spec.filename}.hf-tokenizer",
                          spec.sha256 or f"{spec.filename}:{spec.size}")


def count(tok, messages: list[dict[str, str]]) -> int:
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return len(tok(text, add_special_tokens=False)["input_ids"])


def measure() -> dict:
    from grader.checks import CheckReader
    from grader.engine import credential_specs
    from grader.feedback import FeedbackWriter
    from grader.grading import combine, pseudonymise, rubric_terms
    from grader.injection import InjectionDetector
    from grader.injection_judge import ModelJudge
    from knowledge import load_catalogue
    from stackwise.config import BUNDLED_CATALOGUE

    tok = tokenizer()
    catalogue = load_catalogue(BUNDLED_CATALOGUE)
    judge = ModelJudge(lambda: None)
    head = judge.head()
    head_tokens = count(tok, head)
    writer = FeedbackWriter(model=None)  # type: ignore[arg-type]  # only its messages are built
    checks = CheckReader(model=None, questions="both")  # type: ignore[arg-type]
    rows = []
    for item in yaml.safe_load(ITEMS.read_text())["items"]:
        credential = catalogue.credentials[item["credential"]]
        if len(credential.rubric.criteria) != 5:
            continue
        evidence = pseudonymise(combine([item["evidence"]], None), names=[], identifiers=[]).text
        recorder = _Recorder()
        InjectionDetector(recorder).scan(evidence, rubric_terms(credential))
        passage_tokens = [count(tok, [*head, judge.question(p, "PASSAGE-0000")]) - head_tokens
                          for p in recorder.asked]
        feedback = count(tok, writer.messages(credential, evidence, item["labels"]))
        specs = credential_specs(credential)
        prefix = checks.prefix(credential.title, specs, evidence)
        n_questions = sum(1 + (s.n_levels - 1) for s in specs)  # one letters + (levels - 1) checks each
        rows.append({"id": item["id"], "credential": credential.id, "evidence_tokens": len(tok(evidence)["input_ids"]),
                     "judge_passages": len(recorder.asked), "judge_new_tokens": sum(passage_tokens),
                     "feedback_prompt": feedback, "checks_prefix": count(tok, prefix),
                     "checks_questions": n_questions})
    return {"items": len(rows), "judge_head_tokens": head_tokens, "feedback_max_tokens": writer.max_tokens,
            "rows": rows}


def summary(result: dict) -> dict:
    rows = result["rows"]
    mean = {k: round(statistics.mean(r[k] for r in rows), 1) for k in
            ("evidence_tokens", "judge_passages", "judge_new_tokens", "feedback_prompt", "checks_prefix",
             "checks_questions")}
    # shipped grader: judge passages (prefix cached) + one feedback request (prompt + completion cap)
    mean["prompt_tokens"] = round(mean["judge_new_tokens"] + mean["feedback_prompt"], 1)
    mean["completion_tokens_max"] = result["feedback_max_tokens"] + mean["judge_passages"]  # one token a passage
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args()
    result = measure()
    result["mean"] = summary(result)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'item':<10} {'evidence':>8} {'passages':>8} {'judge new':>9} {'feedback':>8} {'checks pfx':>10}")
    for r in result["rows"]:
        print(f"{r['id']:<10} {r['evidence_tokens']:>8} {r['judge_passages']:>8} {r['judge_new_tokens']:>9} "
              f"{r['feedback_prompt']:>8} {r['checks_prefix']:>10}")
    m = result["mean"]
    print(f"\n{result['items']} five-criterion submissions; judge head (cached once): {result['judge_head_tokens']} "
          f"tokens; feedback completion cap: {result['feedback_max_tokens']} tokens")
    print(f"mean per submission: {m['prompt_tokens']} prompt tokens to compute (judge passages "
          f"{m['judge_new_tokens']} over {m['judge_passages']} requests + feedback prompt {m['feedback_prompt']}), "
          f"at most {m['completion_tokens_max']} completion tokens")
    print(f"with check questions on (questions=both): + a {m['checks_prefix']}-token prefix and "
          f"{m['checks_questions']} one-token questions")


if __name__ == "__main__":
    main()
