"""Question sets over a CTDL catalogue: import it, ask every conversation, check the exact figures.

A set (``evals/assistant_dev``, ``evals/assistant_heldout``) is a folder with CTDL JSON-LD files under
``catalogue/`` and ``questions.yaml`` (format: ``evals/QUESTION-SETS.md``). The run:

1. imports the CTDL with :func:`knowledge.ctdl.import_ctdl` into ``<home>/evals/sets/<set>/catalogue`` and
   indexes it in its own Chroma directory (the learner's journey: ``stackwise catalogue import-ctdl``);
2. asks each item's turns in order as one fresh learner, once per reader mode (``rules``, ``model``,
   ``hybrid``: an A/B on the same items in one run), timing the first token of every answer;
3. checks each turn that has expectations: strings it must and must not contain (case-insensitive,
   thousands separators and currency symbols normalised), the titles it cites, refusal, and the exact set
   of credentials recorded as held afterwards.

Results are cached per (set, mode, item, engine version) in ``<home>/evals/sets/<set>/results.jsonl`` so an
interrupted run resumes. The held-out set is never used for tuning: report it separately.

One module (about 420 lines) on purpose: the set's format, the answer matching, the run and its report
are read together when a set fails; each part is short and the matching is tested on its own.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

EVALS_DIR = Path(__file__).resolve().parent
SETS = {"dev": EVALS_DIR / "assistant_dev", "dev2": EVALS_DIR / "assistant_dev2",
        "heldout": EVALS_DIR / "assistant_heldout"}
MODES = ("rules", "model", "hybrid")
Kind = Literal["facts", "planner", "info", "unanswerable"]


class SetError(ValueError):
    """A question set that cannot be read; the message says where."""


class Expect(BaseModel):
    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)
    cites: list[str] = Field(default_factory=list)
    refuse: bool = False
    holding_after: list[str] | None = None


class Turn(BaseModel):
    question: str
    holding: list[str] = Field(default_factory=list)
    expect: Expect | None = None


class Item(BaseModel):
    id: str
    kind: Kind
    topic: str = ""
    language: str = "en"
    note: str | None = None
    turns: list[Turn] = Field(min_length=1)


class QuestionSet(BaseModel):
    set: str
    catalogue: str = "catalogue"
    items: list[Item]
    root: Path | None = None

    @property
    def catalogue_dir(self) -> Path:
        assert self.root is not None
        return self.root / self.catalogue


def load_set(path_or_name: str | Path) -> QuestionSet:
    root = SETS.get(str(path_or_name), Path(path_or_name))
    path = root / "questions.yaml" if root.is_dir() else root
    if not path.is_file():
        raise SetError(f"no question set at {path} (known sets: {', '.join(SETS)})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        qs = QuestionSet.model_validate({**data, "root": path.parent})
    except (yaml.YAMLError, ValueError) as exc:
        raise SetError(f"{path}: {exc}") from exc
    ids = [i.id for i in qs.items]
    if len(set(ids)) != len(ids):
        raise SetError(f"{path}: item ids repeat")
    return qs


# ------------------------------------------------------------------ matching

_CURRENCY = {"€": "eur ", "$": "usd ", "£": "gbp "}
# ISO 4217 codes an amount may come before or after ("1450 PLN" = "PLN 1,450")
_ISO_CURRENCIES = "eur|usd|gbp|chf|pln|czk|huf|ron|bgn|sek|nok|dkk|isk|cad|aud|nzd|jpy|cny|inr|zar|try|uah|brl|mxn"


def normalise_answer(text: str) -> str:
    t = text.lower().replace("\u00a0", " ").replace("\u202f", " ")
    for sym, code in _CURRENCY.items():
        t = t.replace(sym, code)
    t = re.sub(r"(?<=\d)[,.'](?=\d{3}\b)", "", t)  # 1,150 / 1.150 / 1'150 -> 1150
    t = re.sub(r"(?<=\d)\.00\b|(?<=\d),00\b", "", t)
    return " ".join(t.split())


def _amount_first(t: str) -> str:
    """"1150 eur" -> "eur 1150" so both orders match."""
    t = re.sub(r"(?<=\d) ?euros?\b", " eur", t)  # "840 euros" (a translated answer) is EUR 840
    return re.sub(rf"\b(\d+(?:[.,]\d+)?) ?({_ISO_CURRENCIES})\b", r"\2 \1", t)


def contains(answer: str, figure: str) -> bool:
    a, f = _amount_first(normalise_answer(answer)), _amount_first(normalise_answer(figure))
    if not f:
        return True
    pattern = (r"(?<![\d.,])" if f[0].isdigit() else r"(?<!\w)" if f[0].isalnum() else "") + re.escape(f) + (
        r"(?![\d]|[.,]\d)" if f[-1].isdigit() else r"(?!\w)" if f[-1].isalnum() else "")
    return re.search(pattern, a) is not None


# ------------------------------------------------------------------ results

class TurnResult(BaseModel):
    question: str
    answer: str = ""
    checked: bool = False
    ok: bool = True
    failures: list[str] = Field(default_factory=list)
    refused: bool = False
    tool: str | None = None
    reader: str | None = None
    read_seconds: float = 0.0
    first_token_s: float | None = None
    total_s: float = 0.0
    cited: list[str] = Field(default_factory=list)
    holding: list[str] = Field(default_factory=list)
    holding_checked: bool = False
    error: str | None = None


class ItemResult(BaseModel):
    id: str
    mode: str
    kind: str
    topic: str
    language: str
    ok: bool
    turns: list[TurnResult]
    key: str = ""


class Group(BaseModel):
    name: str
    items: int
    ok: int

    @property
    def rate(self) -> float:
        return self.ok / self.items if self.items else 0.0


class ModeSummary(BaseModel):
    mode: str
    items: int
    ok: int
    by_kind: list[Group]
    by_topic: list[Group]
    by_language: list[Group]
    holdings_checked: int
    holdings_ok: int
    refusals_expected: int
    refusals_ok: int
    first_token_p50: dict[str, float | None]  # "structured" (tools), "model-read", "search"
    read_p50_model: float | None


class SetRun(BaseModel):
    set: str
    modes: list[ModeSummary]
    results: list[ItemResult]
    import_notes: int = 0
    raw_prefill_p50: float | None = Field(default=None, description="the bare model's time to its first token "
                                          "for the model reader's prompt of the same questions (seconds)")


def _check(expect: Expect, answer: Any, held_titles: list[str]) -> list[str]:
    failures = []
    text = answer.text
    for f in expect.contains:
        if not contains(text, f):
            failures.append(f"missing {f!r}")
    for f in expect.not_contains:
        if contains(text, f):
            failures.append(f"contains {f!r}")
    if expect.cites:
        cited = {c.title.lower() for c in answer.citations}
        if not any(t.lower() in cited for t in expect.cites):
            failures.append(f"cites none of {expect.cites}")
    if expect.refuse != answer.refused:
        failures.append("should refuse" if expect.refuse else "refused")
    if expect.holding_after is not None:
        want = sorted(t.lower() for t in expect.holding_after)
        have = sorted(t.lower() for t in held_titles)
        if want != have:
            failures.append(f"holding {have} != {want}")
    return failures


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def summarise(mode: str, results: list[ItemResult]) -> ModeSummary:
    def groups(attr: str) -> list[Group]:
        by: dict[str, list[ItemResult]] = defaultdict(list)
        for r in results:
            by[getattr(r, attr) or "-"].append(r)
        return [Group(name=k, items=len(v), ok=sum(x.ok for x in v)) for k, v in sorted(by.items())]

    turns = [(r, t) for r in results for t in r.turns if t.checked]
    structured = [t.first_token_s for _, t in turns if t.first_token_s is not None and t.tool not in ("search", None)
                  and t.reader == "rules" and not t.refused]
    model_read = [t.first_token_s for _, t in turns if t.first_token_s is not None and t.reader == "model"
                  and t.tool != "search"]
    searched = [t.first_token_s for _, t in turns if t.first_token_s is not None and t.tool == "search"]
    holding_turns = [t for _, t in turns if t.holding_checked]
    return ModeSummary(
        mode=mode, items=len(results), ok=sum(r.ok for r in results), by_kind=groups("kind"),
        by_topic=groups("topic"), by_language=groups("language"),
        holdings_checked=len(holding_turns), holdings_ok=sum(1 for t in holding_turns
                                                             if not any(f.startswith("holding") for f in t.failures)),
        refusals_expected=sum(1 for r in results if r.kind == "unanswerable"),
        refusals_ok=sum(1 for r in results if r.kind == "unanswerable" and r.ok),
        first_token_p50={"structured (rules read)": _median(structured), "structured (model read)":
                         _median(model_read), "search (model answer)": _median(searched)},
        read_p50_model=_median([t.read_seconds for _, t in turns if t.reader == "model"]),
    )


# ------------------------------------------------------------------ running

def engine_version() -> str:
    """A hash of the code and prompts that decide answers, so cached results of older engines are not reused."""
    root = EVALS_DIR.parent
    h = hashlib.sha256()
    paths = [*(root / "assistant").glob("*.py"), *(root / "prompts").glob("assistant_*.md"),
             *(root / "knowledge").rglob("*.py")]
    for path in sorted(paths):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def import_set(qs: QuestionSet, out: Path) -> tuple[Path, int]:
    """Import the set's CTDL into ``out`` (fresh each run: the importer is part of what is measured)."""
    import shutil

    from knowledge.ctdl import CtdlImportError, import_ctdl, write_catalogue

    if not qs.catalogue_dir.is_dir():
        raise SetError(f"{qs.catalogue_dir}: no catalogue folder (CTDL JSON-LD files) beside questions.yaml")
    files = sorted(p for p in qs.catalogue_dir.iterdir() if p.suffix in (".json", ".jsonld"))
    if not files:
        raise SetError(f"{qs.catalogue_dir}: no .json or .jsonld CTDL files")
    try:
        result = import_ctdl(files)
    except CtdlImportError as exc:
        raise SetError(f"the set's catalogue does not import: {exc}") from exc
    if out.exists():
        shutil.rmtree(out)
    write_catalogue(result, out)
    return out, len(result.report)


def ask_item(service: Any, item: Item, mode: str, learner: str) -> ItemResult:
    service.reader_mode = mode
    service.forget(learner)
    titles = {**{cid: c.title for cid, c in service.catalogue.credentials.items()},
              **{pid: p.title for pid, p in service.catalogue.pathways.items()}}
    results = []
    for turn in item.turns:
        tr = TurnResult(question=turn.question)
        started = time.perf_counter()
        try:
            holding = service.parse_holding(turn.holding) if turn.holding else None
            answer = None
            for event in service.stream(learner, turn.question, holding):
                if event.type == "token" and tr.first_token_s is None:
                    tr.first_token_s = round(time.perf_counter() - started, 3)
                if event.type == "final":
                    answer = event.answer
            assert answer is not None
            tr.total_s = round(time.perf_counter() - started, 3)
            held = service.memory.holding(learner)
            tr.answer, tr.refused, tr.tool = answer.text, answer.refused, answer.intent
            reading = answer.reading or {}
            tr.reader, tr.read_seconds = reading.get("source"), float(reading.get("seconds") or 0.0)
            tr.cited = [c.id for c in answer.citations]
            tr.holding = held
            if turn.expect is not None:
                tr.checked = True
                tr.holding_checked = turn.expect.holding_after is not None
                tr.failures = _check(turn.expect, answer, [titles.get(h, h) for h in held])
        except Exception as exc:  # a crash is a failed item, never a stopped run
            tr.error = f"{exc.__class__.__name__}: {exc}"
            tr.checked = turn.expect is not None
            tr.failures = [tr.error]
        tr.ok = not tr.failures
        results.append(tr)
    service.forget(learner)
    ok = all(t.ok for t in results if t.checked) and any(t.checked for t in results)
    return ItemResult(id=item.id, mode=mode, kind=item.kind, topic=item.topic, language=item.language, ok=ok,
                      turns=results)


def run(settings: Any, set_name: str, modes: Sequence[str] = ("hybrid",), *, limit: int | None = None,
        ids: Sequence[str] | None = None, resume: bool = True,
        progress: Callable[[ItemResult], None] | None = None) -> SetRun:
    from stackwise.wiring import assistant_service

    qs = load_set(set_name)
    base = settings.home / "evals" / "sets" / qs.set
    catalogue_dir, notes = import_set(qs, base / "catalogue")
    eval_settings = settings.model_copy(update={"catalogue": catalogue_dir, "chroma_dir": base / "chroma",
                                                "chroma_url": None,  # its own catalogue: never the shared server
                                                "database_url": f"sqlite:///{base / 'memory.db'}"})
    service = assistant_service(eval_settings)
    service.warm_up()
    items = [i for i in qs.items if not ids or i.id in ids][: limit or None]
    version = engine_version()
    cache_path = base / "results.jsonl"
    cached: dict[str, ItemResult] = {}
    if resume and cache_path.exists():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            try:
                r = ItemResult.model_validate_json(line)
                cached[r.key] = r
            except ValueError:
                continue
    results: list[ItemResult] = []
    with cache_path.open("a", encoding="utf-8") as cache:
        for item in items:
            digest = hashlib.sha256(item.model_dump_json().encode()).hexdigest()[:10]
            for mode in modes:
                key = f"{qs.set}:{mode}:{item.id}:{digest}:{version}"
                if key in cached:
                    result = cached[key]
                else:
                    result = ask_item(service, item, mode, f"eval:{qs.set}:{mode}:{item.id}")
                    result.key = key
                    cache.write(result.model_dump_json() + "\n")
                    cache.flush()
                results.append(result)
                if progress is not None:
                    progress(result)
    summaries = [summarise(m, [r for r in results if r.mode == m]) for m in modes]
    return SetRun(set=qs.set, modes=summaries, results=results, import_notes=notes,
                  raw_prefill_p50=raw_prefill(service, [t.question for r in results for t in r.turns
                                                        if t.reader == "model"][:12]))


def raw_prefill(service: Any, questions: list[str]) -> float | None:
    """Median time for the bare model to produce one token for the reader's prompt of ``questions`` (its
    instructions cached, as in service): what reading by the model costs before any of our code."""
    from assistant.linking import link_entities
    from assistant.reading import candidates_for

    times = []
    for q in questions:
        candidates = candidates_for(service.catalogue, link_entities(service.catalogue, q))
        messages = service.model_reader.messages(q, candidates)
        started = time.perf_counter()
        service.model.chat(messages, max_tokens=1)
        times.append(time.perf_counter() - started)
    return _median(times)


def _pct(g: Group) -> str:
    return f"{g.ok}/{g.items} ({100 * g.rate:.0f} %)"


def render(run_: SetRun) -> str:
    lines = [f"# Assistant on the `{run_.set}` question set", ""]
    modes = run_.modes
    lines.append("| | " + " | ".join(m.mode for m in modes) + " |")
    lines.append("|---|" + "---|" * len(modes))
    lines.append("| all items | " + " | ".join(f"{m.ok}/{m.items} ({100 * m.ok / max(m.items, 1):.0f} %)"
                                              for m in modes) + " |")
    for attr in ("by_kind", "by_language", "by_topic"):
        names = sorted({g.name for m in modes for g in getattr(m, attr)})
        for name in names:
            cells = []
            for m in modes:
                g = next((g for g in getattr(m, attr) if g.name == name), None)
                cells.append(_pct(g) if g else "-")
            lines.append(f"| {attr[3:]}: {name} | " + " | ".join(cells) + " |")
    lines.append("| holdings right | " + " | ".join(f"{m.holdings_ok}/{m.holdings_checked}" for m in modes) + " |")
    for key in modes[0].first_token_p50 if modes else []:
        lines.append(f"| first token p50 (s), {key} | " + " | ".join(
            f"{m.first_token_p50[key]}" if m.first_token_p50[key] is not None else "-" for m in modes) + " |")
    lines.append("| model read p50 (s) | " + " | ".join(str(m.read_p50_model or "-") for m in modes) + " |")
    lines.append(f"\nRaw model, time to first token for the reader's prompt of the same questions (p50): "
                 f"{run_.raw_prefill_p50 if run_.raw_prefill_p50 is not None else '-'} s. Items: "
                 f"{len({r.id for r in run_.results})}; import notes: {run_.import_notes}.")
    lines += ["", "## Failures", ""]
    for r in run_.results:
        if r.ok:
            continue
        for t in r.turns:
            if t.checked and not t.ok:
                lines.append(f"- [{r.mode}] {r.id} ({r.kind}/{r.topic}/{r.language}, tool {t.tool}, read by "
                             f"{t.reader}): {'; '.join(t.failures)} — Q: {t.question[:90]!r} A: {t.answer[:160]!r}")
    return "\n".join(lines) + "\n"


def write(run_: SetRun, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"questions-{run_.set}.md"
    md.write_text(render(run_), encoding="utf-8")
    js = out / f"questions-{run_.set}.json"
    js.write_text(json.dumps(run_.model_dump(mode="json"), indent=1), encoding="utf-8")
    return [md, js]
