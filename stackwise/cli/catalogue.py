"""``stackwise catalogue validate|import-ctdl``, ``stackwise index`` and ``stackwise search``: the knowledge domain."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from stackwise.cli.common import (
    app,
    catalogue_app,
    catalogue_path,
    fail,
    load_or_fail,
)
from stackwise.config import get_settings


@catalogue_app.command("validate")
def catalogue_validate(
    path: Annotated[Path | None, typer.Argument(help="catalogue directory or file (default: configured)")] = None,
) -> None:
    """Check a catalogue; list every problem as file:line: message."""
    from knowledge.api import validate_catalogue

    target = catalogue_path(path)
    problems = validate_catalogue(target)
    if problems:
        for problem in problems:
            typer.echo(str(problem))
        fail(f"{len(problems)} problem(s) in {target}", code=1)
    from knowledge.api import load_catalogue

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

    from knowledge.api import CtdlImportError, import_ctdl, validate_catalogue, write_catalogue

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


@app.command("index")
def index_cmd(
    catalogue: Annotated[Path | None, typer.Option(help="catalogue directory (default: configured)")] = None,
    rebuild: Annotated[bool, typer.Option(help="drop the index and embed everything again")] = False,
) -> None:
    """Embed the catalogue into the persistent Chroma index (unchanged documents are skipped)."""
    from knowledge.api import CatalogueIndex, IndexUnavailable

    cat = load_or_fail(catalogue_path(catalogue))
    started = time.perf_counter()
    try:
        index = CatalogueIndex.open(get_settings().index_location)
    except IndexUnavailable as exc:
        fail(str(exc))
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
    from knowledge.api import CatalogueIndex, IndexNotBuilt, IndexUnavailable, SearchError, search

    if mode not in {"hybrid", "dense", "bm25"}:
        fail(f"unknown mode {mode!r}; use hybrid, dense or bm25")
    try:
        index = CatalogueIndex.open(get_settings().index_location)
        hits = search(index, query, k=k, mode=mode)
    except (IndexNotBuilt, IndexUnavailable, SearchError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"query": query, "mode": mode, "results": [h.model_dump() for h in hits]}, indent=2))
        return
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank:>2}. {hit.score:.4f}  {hit.id}  {hit.title}")
        typer.echo(f"    {hit.text[:160]}{'…' if len(hit.text) > 160 else ''}")
