"""``stackwise eval ...``: offline evaluations and benchmarks (:mod:`evals`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from stackwise.cli.common import (
    assistant_or_fail,
    eval_app,
    fail,
    load_or_fail,
)
from stackwise.config import get_settings


@eval_app.command("retrieval")
def eval_retrieval_cmd(
    queries: Annotated[Path | None, typer.Option(help="labelled query set (YAML)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Hit rate and latency of dense, BM25 and hybrid search on a labelled query set."""
    from evals import retrieval
    from knowledge.api import CatalogueIndex, IndexNotBuilt, IndexUnavailable

    path = queries or retrieval.DEFAULT_QUERIES
    if not path.is_file():
        fail(f"no such query set: {path}")
    try:
        results = retrieval.run(CatalogueIndex.open(get_settings().index_location), path)
    except (IndexNotBuilt, IndexUnavailable) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], indent=2))
    else:
        typer.echo(retrieval.render(results))


@eval_app.command("golden")
def eval_golden_cmd(
    golden: Annotated[Path | None, typer.Option(help="golden set (YAML)")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N items")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="planner, facts, info, unanswerable (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="directory for summary.json, items.jsonl, report.txt")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Assistant golden set: citation hit rate, planner-figure exactness, refusals, time to first token."""
    from evals import assistant_bench as bench

    path = golden or bench.DEFAULT_GOLDEN
    if not path.is_file():
        fail(f"no such golden set: {path}")
    try:
        result = bench.run(assistant_or_fail(), path, limit, kinds=kind, out=out)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(json.dumps(result.summary(), indent=2) if as_json else bench.render(result))


@eval_app.command("assistant")
def eval_assistant_cmd(
    golden: Annotated[Path | None, typer.Option(help="golden set (YAML)")] = None,
    out: Annotated[Path | None, typer.Option(help="directory for report.html, summary.json, items.jsonl")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="only the first N golden items")] = None,
    llm_metrics: Annotated[bool, typer.Option(help="run the LLM-judged ragas metrics (slow on CPU)")] = True,
    judge_limit: Annotated[int | None, typer.Option(min=1, help="LLM-judged metrics on only this many items, "
                                                    "spread over the kinds (non-LLM metrics on all)")] = None,
    cache: Annotated[bool, typer.Option(help="reuse and store per-item ragas scores under the data home")] = True,
) -> None:
    """Assistant quality with ragas (faithfulness, answer relevancy, context precision/recall; the bundled model
    as judge, local embeddings), non-LLM ragas metrics, and the golden set's exact checks."""
    from datetime import UTC, datetime

    from evals import assistant_bench as bench
    from evals import assistant_eval

    path = golden or bench.DEFAULT_GOLDEN
    if not path.is_file():
        fail(f"no such golden set: {path}")
    settings = get_settings()
    target = out or settings.home / "evals" / "assistant" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        result = assistant_eval.run(assistant_or_fail(), path, limit, llm_metrics=llm_metrics, out=target,
                                    judge_limit=judge_limit,
                                    cache_dir=settings.home / "evals" if cache else None,
                                    progress=sys.stderr.isatty())
    except ValueError as exc:
        fail(str(exc))
    typer.echo(assistant_eval.render(result))
    typer.echo(f"wrote {target}")


def _catalogue_and_scorer(strategy: str):
    """The configured catalogue and a scorer with ``strategy`` on the bundled model (for the grader evals)."""
    from grader.api import STRATEGIES, EngineError
    from stackwise.wiring import make_scorer

    if strategy not in {"engine", *STRATEGIES}:
        fail(f"--strategy must be one of engine, {', '.join(STRATEGIES)}")
    settings = get_settings()
    try:
        return load_or_fail(settings.catalogue), make_scorer(settings, strategy)
    except EngineError as exc:
        fail(str(exc))


@eval_app.command("exemplars")
def eval_exemplars_cmd(
    strategy: Annotated[str, typer.Option(help="rubric, letters or thresholds (the engine votes with the "
                                          "exemplars, so it is measured on held-out evidence instead)")] = "rubric",
    limit: Annotated[int | None, typer.Option(min=1, help="score a random sample of this many")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Grader agreement with the demo catalogue's labelled level exemplars (quick sanity benchmark)."""
    from evals import grading_exemplars

    if strategy == "engine":
        fail("the engine uses the exemplars in its vote; measure it with 'stackwise eval grading --dataset "
             "demo-evidence' instead")
    cat, scorer = _catalogue_and_scorer(strategy)
    result = grading_exemplars.run(cat, scorer, limit=limit)
    fields = result.model_dump().items()
    typer.echo(result.model_dump_json(indent=2) if as_json else
               "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields))


@eval_app.command("evidence")
def eval_evidence_cmd(
    strategy: Annotated[str, typer.Option(help="engine, rubric, letters or thresholds")] = "engine",
    split: Annotated[str, typer.Option(help="test (held out, never tuned on), holdout (written after the "
                                       "defences were frozen), train or all")] = "test",
    limit: Annotated[int | None, typer.Option(min=1, help="grade only the first N items")] = None,
    output: Annotated[Path | None, typer.Option(help="write the full result (per item) as JSON here")] = None,
) -> None:
    """The whole grading pipeline (as learners' submissions run it) on the labelled portfolio evidence:
    agreement, automatic decisions, false passes, review share, injections, seconds per submission."""
    from evals import grading_bench
    from evals.grading_evidence import load_evidence_dir

    if split not in {"test", "train", "all"}:
        fail("--split must be test, train or all")
    cat, scorer = _catalogue_and_scorer(strategy)
    from llm import load_model
    from stackwise.wiring import model_config

    items = [i for i in load_evidence_dir() if split == "all" or i.split == split]
    result = grading_bench.run(cat, scorer, limit=limit, items=items, timing_model=load_model(model_config()))
    typer.echo(grading_bench.render(result))
    if output:
        output.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        typer.echo(f"wrote {output}")


@eval_app.command("questions")
def eval_questions_cmd(
    set_name: Annotated[str, typer.Option("--set", help="dev or dev2 (tuned on), heldout (never tuned on), or a folder "
                                          "with questions.yaml and catalogue/")] = "heldout",
    modes: Annotated[str, typer.Option(help="question readers to A/B on the same items, comma-separated: "
                                       "rules, model, hybrid")] = "hybrid",
    limit: Annotated[int | None, typer.Option(min=1, help="ask only the first N items")] = None,
    item: Annotated[list[str] | None, typer.Option(help="ask only these item ids")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="ignore cached results of this engine version")] = False,
    output: Annotated[Path | None, typer.Option(help="folder for questions-<set>.md/.json")] = None,
) -> None:
    """A CTDL catalogue imported and questioned as a learner would: exact figures, refusals and recorded
    holdings per question kind, topic and language, and the time to the first token of each answer."""
    from evals import question_sets

    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    bad = [m for m in chosen if m not in question_sets.MODES]
    if bad or not chosen:
        fail(f"--modes takes {', '.join(question_sets.MODES)} (got {modes!r})")
    try:
        result = question_sets.run(get_settings(), set_name, chosen, limit=limit, ids=item, resume=not fresh,
                                   progress=lambda r: typer.echo(f"{'ok  ' if r.ok else 'FAIL'} [{r.mode}] {r.id}",
                                                                 err=True))
    except question_sets.SetError as exc:
        fail(str(exc))
    typer.echo(question_sets.render(result))
    out = output or get_settings().home / "reports"
    for path in question_sets.write(result, out):
        typer.echo(f"wrote {path}")


@eval_app.command("redteam")
def eval_redteam_cmd(
    split: Annotated[str, typer.Option(help="test (held out, never tuned on), holdout (written after the "
                                       "defences were frozen), train or all")] = "test",
    honest_limit: Annotated[int | None, typer.Option(min=0, help="grade only the first N honest demo items")] = None,
    fit: Annotated[bool, typer.Option("--fit", help="refit grader/injection_weights.json on the TRAIN split "
                                      "(red-team train items, their twins, honest train evidence)")] = False,
    output: Annotated[Path | None, typer.Option(help="write the full result (per item) as JSON here")] = None,
) -> None:
    """Injection attacks (evals/redteam) through the whole grading pipeline: share flagged, levels raised
    against the clean twin, false flags on the twins and on honest demo evidence of the same split."""
    from evals import redteam_bench
    from evals.grading_evidence import load_evidence_dir
    from grader.api import WEIGHTS_FILE

    if split not in {"test", "holdout", "train", "all"} or (fit and split != "train"):
        fail("--split must be test, holdout, train or all (and --fit only with --split train)")
    try:
        items = [i for i in redteam_bench.load_redteam() if split == "all" or i.split == split]
    except redteam_bench.RedTeamInvalid as exc:
        fail(str(exc))
    cat, scorer = _catalogue_and_scorer("engine")
    settings = get_settings()
    inner = getattr(scorer, "injection_judge", None)
    if inner is None:
        fail("the model's injection judge is off (STACKWISE_GRADER_INJECTION_JUDGE=0); the benchmark needs it")
    judge = redteam_bench.CachedJudge(inner, settings.home / "evals" / "redteam-cache" / "judge.json",
                                      key=f"{settings.model}:{inner.fingerprint}")
    # the holdout attacks are written on test evidence, so its honest comparison is the test split's
    evidence_split = "test" if split == "holdout" else split
    honest = [i for i in load_evidence_dir()
              if "injection" not in i.tags and (split == "all" or i.split == evidence_split)]
    honest = honest[:honest_limit] if honest_limit is not None else honest
    if fit:
        def whole(doc) -> str:
            return doc.evidence + (f"\n\nReflective statement:\n{doc.reflection}" if doc.reflection else "")

        docs = [{"id": i.id, "credential": i.credential, "text": whole(i.injected), "clean": whole(i.clean),
                 "attack": i.attack_text} for i in items]
        docs += [{"id": f"{i.base}#clean", "credential": i.credential, "text": whole(i.clean)}
                 for i in {i.base: i for i in items}.values()]
        docs += [{"id": h.id, "credential": h.credential, "text": h.text} for h in honest]
        rows = redteam_bench.passage_rows(docs, cat, judge)
        rows_file = judge.path.with_name("rows-train.json")
        rows_file.write_text(json.dumps(rows), encoding="utf-8")
        weights = redteam_bench.fit_weights(rows)
        WEIGHTS_FILE.write_text(json.dumps(weights, indent=2) + "\n", encoding="utf-8")
        typer.echo(json.dumps(weights, indent=2))
        typer.echo(f"wrote {WEIGHTS_FILE}")
        return
    result = redteam_bench.run(cat, scorer, judge, items, honest, progress=lambda line: typer.echo(line, err=True))
    typer.echo(redteam_bench.render(result))
    if output:
        output.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        typer.echo(f"wrote {output}")


@eval_app.command("issuance")
def eval_issuance_cmd(
    n: Annotated[int, typer.Option("--n", min=1, max=10_000, help="credentials to issue and verify")] = 50,
    workers: Annotated[int, typer.Option(min=1, max=16, help="processes for a parallel verify run (1: none)")] = 2,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issuance benchmark: issue N credentials (from seeded passed submissions, in a scratch database) and verify
    them; prints credentials per second for each."""
    from evals import issuance_bench

    settings = get_settings()
    result = issuance_bench.run(load_or_fail(settings.catalogue), n=n, workers=workers)
    typer.echo(result.model_dump_json(indent=2) if as_json else issuance_bench.render(result))


@eval_app.command("grading")
def eval_grading_cmd(
    dataset: Annotated[str, typer.Option(help="built-in name (scientsbank-2way, scientsbank-3way, beetle-2way, "
                                         "beetle-3way, saf, demo-evidence) or a JSONL/CSV file")],
    split: Annotated[str | None, typer.Option(help="split to evaluate (default: the dataset's test split)")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="a random sample of this many items (fixed seed)")] = None,
    out: Annotated[Path | None, typer.Option(help="directory for report.html, summary.json, items.jsonl")] = None,
    calibration_split: Annotated[str | None, typer.Option(help="split to calibrate on (default: 'calibration' "
                                                          "if present, else held out of the training split)")] = None,
    calibration_limit: Annotated[int, typer.Option(min=2, help="at most this many calibration items")] = 300,
    shots: Annotated[int, typer.Option(min=0, help="graded examples shown to the model per label (the nearest "
                                       "graded answers always feed the ensemble)")] = 0,
    similarity: Annotated[str, typer.Option(help="lexical, or embedding (local MiniLM: also adds the answer's "
                                            "embedding similarity to the reference)")] = "lexical",
    matcher: Annotated[str, typer.Option(help="answer matcher trained on the graded pool: lexical (word overlap "
                                         "and nearest graded answers), embedding (adds local MiniLM similarity) "
                                         "or off")] = "lexical",
    target_accuracy: Annotated[float, typer.Option(min=0.5, max=1.0, help="accuracy the routing threshold "
                                                   "must reach on the calibration items")] = 0.95,
    labels: Annotated[str | None, typer.Option(help="your file's labels, lowest to highest, comma-separated")] = None,
    cache: Annotated[bool, typer.Option(help="reuse and store per-item results under the data home")] = True,
    questions: Annotated[str, typer.Option(help="rubric datasets: what the engine asks the model (checks, letters, "
                                           "both) or none (model-free; the default for ellipse)")] = "",
    catalogue: Annotated[Path | None, typer.Option(help="rubric datasets: the catalogue of a review export")] = None,
    train_limit: Annotated[int | None, typer.Option(min=2, help="rubric datasets: fit on at most this many "
                                                    "train items")] = None,
) -> None:
    """Grader agreement with human assessors on a labelled dataset: accuracy, macro-F1, kappa, QWK, calibration,
    risk–coverage routing, baselines; writes a self-contained HTML report and a JSON summary.

    Rubric datasets (demo-evidence, ellipse, or a review export with --catalogue) run through the rubric
    engine: per-criterion QWK, automatic share and false passes at the bounded threshold, a learning curve,
    and an A/B of the engine's feature groups on the same items."""
    import evals.rubric_eval as rubric_eval

    if rubric_eval.is_rubric_dataset(dataset):
        _eval_rubric(dataset, out, questions, catalogue, limit, train_limit, split)
        return
    from evals.grading_eval import DatasetError, EvalOptions, evaluate
    from evals.grading_eval.report import render_text
    from llm import ModelAssemblyError

    if similarity not in {"embedding", "lexical"}:
        fail("--similarity must be embedding or lexical")
    if matcher not in {"embedding", "lexical", "off"}:
        fail("--matcher must be embedding, lexical or off")
    options = EvalOptions(split=split, limit=limit, calibration_split=calibration_split,
                          calibration_limit=calibration_limit, shots_per_label=shots, similarity=similarity,
                          matcher=matcher, target_accuracy=target_accuracy, use_cache=cache)
    label_list = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    try:
        result, files = evaluate(dataset, options, get_settings(), out, labels=label_list,
                                 progress=sys.stderr.isatty())
    except (DatasetError, ValueError, ModelAssemblyError) as exc:
        fail(str(exc))
    typer.echo(render_text(result))
    typer.echo(f"wrote {', '.join(str(f) for f in files)}")


def _eval_rubric(dataset: str, out: Path | None, questions: str, catalogue: Path | None, limit: int | None,
                 train_limit: int | None, split: str | None) -> None:
    import evals.rubric_eval as rubric_eval
    from grader.api import EngineError
    from llm import ModelAssemblyError

    settings = get_settings()
    questions = questions or ("none" if dataset == "ellipse" else settings.grader_questions)
    if questions not in {"checks", "letters", "both", "none"}:
        fail("--questions must be checks, letters, both or none")
    target = out or settings.home / "evals" / "grading" / f"{Path(dataset).stem.replace(':', '-')}-{questions}"
    try:
        result, files = rubric_eval.evaluate(dataset, settings, questions=questions, out=target,
                                             catalogue_path=catalogue, progress=sys.stderr.isatty(),
                                             test_limit=limit, train_limit=train_limit, split=split)
    except (rubric_eval.RubricDatasetError, EngineError, ValueError, ModelAssemblyError) as exc:
        fail(str(exc))
    typer.echo(rubric_eval.render_text(result))
    typer.echo(f"wrote {', '.join(str(f) for f in files)}")
