"""``stackwise grade``, ``stackwise submit`` and ``stackwise grader fit|build-base``: the grader domain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stackwise.cli.common import (
    app,
    fail,
    grader_app,
    grader_or_fail,
    load_or_fail,
)
from stackwise.config import get_settings


def _read_evidence(paths: list[Path]) -> list[tuple[str, bytes]]:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    return [(p.name, p.read_bytes()) for p in paths]


def _render_report(report, feedback=None) -> str:
    lines = [f"decision: {report.outcome.decision}  total {report.outcome.total_points}/{report.outcome.max_points}"
             + (f"  reasons: {', '.join(report.outcome.reasons)}" if report.outcome.reasons else "")]
    score = report.score
    if score.engine:
        bar = ("no calibrated threshold: everything goes to an assessor" if score.decision_threshold is None
               else f"decides alone at confidence >= {score.decision_threshold:.3f}")
        lines.append(f"P(pass) {score.p_pass:.3f}; {bar} (engine {score.engine_version})")
    notes = {f.criterion_id: f for f in feedback or []}
    for c in score.criteria:
        dist = " ".join(f"{k}={v:.2f}" for k, v in c.distribution.items())
        lines.append(f"- {c.criterion_id}: {c.level_id} (confidence {c.confidence:.2f}; {dist})")
        fb = notes.get(c.criterion_id)
        lines.append(f"  {fb.rationale if fb else c.rationale}")
        for q in (fb.quotes if fb else c.quotes)[:1]:
            lines.append(f"  quote: \u201c{q}\u201d")
        if fb and fb.next_step:
            lines.append(f"  next level: {fb.next_step}")
    if report.injection_matches:
        lines.append("instructions aimed at the grader (ignored for scoring): " + " | ".join(report.injection_matches))
    lines.append(f"model {report.score.model}, prompt {report.score.prompt_id}, {report.score.seconds:.1f}s")
    return "\n".join(lines)


@app.command("grade")
def grade_cmd(
    credential: Annotated[str, typer.Option(help="credential id")],
    evidence: Annotated[list[Path], typer.Option(help="evidence file(s): .txt, .md, .pdf, .docx")],
    reflection: Annotated[str | None, typer.Option(help="optional reflective statement")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    feedback: Annotated[bool, typer.Option(help="also write the model's reason and next step per criterion "
                                           "(after the decision; takes longer)")] = True,
) -> None:
    """Grade evidence against a credential's rubric (nothing is stored)."""
    from grader.api import EvidenceError, UnknownCredential, to_grade_result

    files = _read_evidence(evidence)
    service = grader_or_fail()
    try:
        report = service.grade_files(credential, files, reflection)
    except (EvidenceError, UnknownCredential) as exc:
        fail(str(exc).strip("'\""))
    notes, seconds = (service.write_feedback(report) if feedback and report.score.engine
                      and service.has_feedback else ([], 0.0))
    if as_json:
        out = to_grade_result(report).model_dump(mode="json", exclude={"readings"})
        out["feedback"] = [n.model_dump() for n in notes]
        out["feedback_seconds"] = seconds
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(_render_report(report, notes))
        if notes:
            typer.echo(f"feedback written in {seconds:.1f}s (after the decision)")


@app.command("submit")
def submit_cmd(
    credential: Annotated[str, typer.Option(help="credential id")],
    learner: Annotated[str, typer.Option(help="learner id")],
    evidence: Annotated[list[Path], typer.Option(help="evidence file(s)")],
    name: Annotated[str, typer.Option(help="learner's name (kept in the store, hidden from the model)")] = "",
    email: Annotated[str | None, typer.Option(help="learner's e-mail")] = None,
    reflection: Annotated[str, typer.Option(help="optional reflective statement")] = "",
    link: Annotated[list[str] | None, typer.Option(help="evidence link(s)")] = None,
    key: Annotated[str | None, typer.Option(help="idempotency key (repeat-safe)")] = None,
) -> None:
    """Submit evidence: stored, graded, and passed, failed or sent to an assessor."""
    from grader.api import GraderError, SubmissionIn, UnknownCredential

    files = _read_evidence(evidence)
    try:
        view = grader_or_fail().submit(SubmissionIn(
            credential_id=credential, learner_id=learner, learner_name=name, learner_email=email,
            files=[(n, data, "application/octet-stream") for n, data in files], links=link or [],
            reflection=reflection, idempotency_key=key))
    except (UnknownCredential, GraderError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"submission {view.id}: {view.status.value}"
               + (f" — {view.error_message}" if view.error_message else "")
               + (f" ({view.total_points:g}/{view.max_points:g} points)" if view.total_points is not None else ""))


@grader_app.command("fit")
def grader_fit_cmd(
    catalogue: Annotated[Path | None, typer.Option(help="catalogue (default: the configured one)")] = None,
) -> None:
    """Refit the grading engine on the shipped base examples, the catalogue's exemplars and every assessor
    decision in the review queue (no model call); writes the combiner to the data home."""
    from grader.api import EngineError
    from stackwise.wiring import combiner_path, refit_engine

    settings = get_settings()
    cat = load_or_fail(catalogue or settings.catalogue)
    try:
        _, report = refit_engine(settings, cat, grader_or_fail().queue)
    except EngineError as exc:
        fail(str(exc))
    typer.echo(report.render())
    typer.echo(f"wrote {combiner_path(settings)}")


@grader_app.command("build-base")
def grader_build_base_cmd(
    questions: Annotated[str, typer.Option(help="checks, letters, both or none")] = "",
) -> None:
    """Maintainers: read the demo evidence's train split with the model (cached) and write the shipped base
    examples and combiner into grader/fitted/ (the test split is never read for this)."""
    import evals.rubric_eval as rubric_eval
    from evals.rubric_eval.runner import read_items
    from grader.api import (
        BASE_EXAMPLES,
        CANDIDATE_GROUPS,
        SHIPPED_COMBINER,
        compare_groups,
        exemplar_examples,
        questions_for,
        refit,
        save_combiner,
        save_examples,
    )

    settings = get_settings()
    questions = questions or settings.grader_questions
    if questions not in {"checks", "letters", "both", "none"}:
        fail("--questions must be checks, letters, both or none")
    dataset = rubric_eval.load("demo-evidence", settings)
    reader, config = rubric_eval.make_reader(questions, settings)
    subs, _ = read_items(dataset, dataset.split("train"), reader, config, rubric_eval.cache_root(settings))
    cat = load_or_fail(settings.catalogue)
    exemplars = exemplar_examples(cat, reader.embedder)
    candidates = {n: g for n, g in CANDIDATE_GROUPS.items() if questions in ("both", questions_for(g))
                  or questions_for(g) == "none"}
    ranked = compare_groups(subs, exemplars, candidates)
    for row in ranked:
        typer.echo(f"  {row['name']:28} out-of-fold QWK {row['qwk']:.3f}, calibration decisions automatic "
                   f"{row['calibration_automatic']}, asks the model: {row['questions']}")
    typer.echo(f"chosen: {ranked[0]['name']} (on the train split only)")
    combiner, report = refit(cat, subs, [], exemplars, groups=ranked[0]["groups"])
    save_examples(subs, BASE_EXAMPLES)
    save_combiner(combiner, SHIPPED_COMBINER)
    typer.echo(report.render())
    typer.echo(f"wrote {BASE_EXAMPLES} and {SHIPPED_COMBINER}")


def _grader_status(settings) -> None:
    """One line per routing limit of the catalogue: which grading engine is in use and what it may decide."""
    from grader.api import EngineError, load_combiner
    from stackwise.wiring import combiner_path

    try:
        combiner = load_combiner(combiner_path(settings))
    except EngineError as exc:
        fail(str(exc))
    source = "refitted" if combiner_path(settings).is_file() else "shipped"
    typer.echo(f"grader: {source} engine {combiner.version}, fitted on {combiner.n_examples} graded submissions")
    cat = load_or_fail(settings.catalogue)
    for key in sorted({c.routing.limits_key() for c in cat.credentials.values()}):
        routing = combiner.routing.get(key)
        threshold = routing.get("decision_threshold") if routing else None
        what = (f"decides alone at confidence >= {threshold:.3f}" if threshold is not None
                else "every submission goes to an assessor (not enough graded evidence for this bound)")
        typer.echo(f"  limits {key} (false pass / wrong decision / wrong level): {what}")
