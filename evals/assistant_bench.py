"""Assistant benchmark: answers the golden question set and reports how often the assistant is right.

Each item of the golden set (``evals/assistant_golden.yaml``) is asked as a fresh learner (the
learner's memory is forgotten afterwards) and streamed, timing the first token and the full answer.
Reported:

- citation hit rate: answerable items whose answer cites at least one expected id;
- planner-figure exactness: planner items whose answer text contains every expected figure
  (target 100 %), with the missing figures listed; figures of other items are reported apart;
- refusal correctness: unanswerable items that were refused, and answerable items that were not;
- p50/p95 time to first token and to the full answer, overall, per golden kind and per route the
  engine took (planner / facts / language model).

Pure reporting: nothing here asserts on timing. Run with ``stackwise eval assistant-golden``.

One module (about 440 lines) on purpose: the golden set's models, the exact checks, the run and the text
report are one benchmark that :mod:`evals.assistant_eval` reuses whole; each section is short.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, computed_field, model_validator

from assistant.reading import PLANNER_TOOLS, Tool

DEFAULT_GOLDEN = Path(__file__).resolve().parent / "assistant_golden.yaml"
Kind = Literal["planner", "facts", "info", "unanswerable"]
KINDS: tuple[Kind, ...] = ("planner", "facts", "info", "unanswerable")
PLANNER_ROUTES = {tool.value for tool in PLANNER_TOOLS}  # the engine's intents answered by the planner
FACTS_ROUTES = {Tool.facts.value, Tool.provider.value}


# ------------------------------------------------------------------ the golden set


class GoldenItem(BaseModel):
    id: str
    kind: Kind
    question: str
    holding: list[str] = Field(default_factory=list)
    expected_ids: list[str] = Field(default_factory=list)
    expected_figures: list[str] = Field(default_factory=list)
    unanswerable: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GoldenItem:
        if self.unanswerable != (self.kind == "unanswerable"):
            raise ValueError(f"{self.id}: 'unanswerable: true' goes with kind 'unanswerable' and only with it")
        if self.unanswerable and (self.expected_ids or self.expected_figures):
            raise ValueError(f"{self.id}: an unanswerable item expects no ids and no figures")
        if not self.unanswerable and not self.expected_ids:
            raise ValueError(f"{self.id}: an answerable item needs at least one expected id")
        if self.kind == "planner" and not self.expected_figures:
            raise ValueError(f"{self.id}: a planner item needs expected_figures")
        return self


class GoldenSet(BaseModel):
    items: list[GoldenItem]

    @model_validator(mode="after")
    def _unique_ids(self) -> GoldenSet:
        counts = Counter(i.id for i in self.items)
        duplicates = sorted(i for i, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate item ids: {', '.join(duplicates)}")
        return self

    @property
    def answerable(self) -> list[GoldenItem]:
        return [i for i in self.items if not i.unanswerable]

    @property
    def unanswerable(self) -> list[GoldenItem]:
        return [i for i in self.items if i.unanswerable]


def load_golden(path: Path = DEFAULT_GOLDEN) -> GoldenSet:
    return GoldenSet.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def _squash(text: str) -> str:
    return " ".join(text.split())


def figure_in_text(figure: str, text: str) -> bool:
    """Does ``figure`` appear in ``text`` exactly (case and punctuation kept, whitespace collapsed)?

    A figure never matches inside a longer number: "5 ECTS" is not found in "15 ECTS", nor "EUR 1,15"
    in "EUR 1,150".
    """
    figure, text = _squash(figure), _squash(text)
    if not figure:
        return True
    pattern = re.escape(figure)
    if figure[0].isdigit():
        pattern = r"(?<![\d.,])" + pattern
    if figure[-1].isdigit():
        pattern += r"(?![\d]|[.,]\d)"
    return re.search(pattern, text) is not None


# ------------------------------------------------------------------ results


class ItemResult(BaseModel):
    id: str
    kind: Kind
    question: str
    holding: list[str]
    route: str | None = None  # the engine's intent for the answer ("search" = answered by the language model)
    refused: bool = False
    cited: list[str] = Field(default_factory=list)
    expected_ids: list[str] = Field(default_factory=list)
    citation_hit: bool | None = None  # None for unanswerable items
    expected_figures: list[str] = Field(default_factory=list)
    missing_figures: list[str] = Field(default_factory=list)
    figures_exact: bool | None = None  # None when the item expects no figures
    refusal_correct: bool = False
    tokens: int = 0  # streamed token events; 0 when the answer arrived only with the final event
    ttft_s: float | None = None
    total_s: float | None = None
    answer: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return (self.error is None and self.refusal_correct and self.citation_hit is not False
                and self.figures_exact is not False)


class Rate(BaseModel):
    hits: int
    n: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float | None:
        return self.hits / self.n if self.n else None

    def __str__(self) -> str:
        return f"{self.hits}/{self.n} ({self.rate:.1%})" if self.n else "n/a"


def _rate(flags: Iterable[bool]) -> Rate:
    values = list(flags)
    return Rate(hits=sum(values), n=len(values))


class Latency(BaseModel):
    n: int
    ttft_p50_s: float | None
    ttft_p95_s: float | None
    total_p50_s: float | None
    total_p95_s: float | None


class GroupSummary(BaseModel):
    group: str
    items: int
    citation_hits: Rate
    figures_exact: Rate
    refusal_correct: Rate
    latency: Latency


class FigureMiss(BaseModel):
    id: str
    question: str
    missing: list[str]


class BenchResult(BaseModel):
    golden: str
    started: str
    seconds: float
    warm_up_s: float | None = None
    items: int
    answerable: int
    unanswerable: int
    citation_hits: Rate  # any expected id among the answer's citations
    citation_hits_answered: Rate  # the same, but a refusal citing its "nearest entries" does not count
    planner_figures: Rate
    other_figures: Rate  # facts / info items that carry expected figures
    figure_misses: list[FigureMiss]
    unanswerable_refused: Rate
    answerable_not_refused: Rate
    missed_refusals: list[str]  # unanswerable items that got an answer
    false_refusals: list[str]  # answerable items that were refused
    citation_misses: list[str]
    errors: list[str]
    latency: Latency
    by_kind: list[GroupSummary]
    by_route: list[GroupSummary]
    results: list[ItemResult]

    def summary(self) -> dict[str, Any]:
        """Everything but the per-item results, as JSON-ready data."""
        return self.model_dump(mode="json", exclude={"results"})


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (as in the retrieval benchmark); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _latency(results: list[ItemResult]) -> Latency:
    ttft = [r.ttft_s for r in results if r.ttft_s is not None]
    total = [r.total_s for r in results if r.total_s is not None]
    return Latency(n=len(total), ttft_p50_s=percentile(ttft, 0.5), ttft_p95_s=percentile(ttft, 0.95),
                   total_p50_s=percentile(total, 0.5), total_p95_s=percentile(total, 0.95))


def _group(name: str, results: list[ItemResult]) -> GroupSummary:
    return GroupSummary(
        group=name, items=len(results),
        citation_hits=_rate(r.citation_hit for r in results if r.citation_hit is not None),
        figures_exact=_rate(r.figures_exact for r in results if r.figures_exact is not None),
        refusal_correct=_rate(r.refusal_correct for r in results),
        latency=_latency(results),
    )


def route_of(result: ItemResult) -> str:
    """How the engine answered: planner, facts, language model, or a refusal / error."""
    if result.error is not None:
        return "error"
    if result.route in PLANNER_ROUTES:
        return "planner"
    if result.route in FACTS_ROUTES:
        return "facts (refused)" if result.refused else "facts"
    return "refused" if result.refused else "language model"


# ------------------------------------------------------------------ running


def ask_item(service: Any, item: GoldenItem) -> ItemResult:
    """Stream one golden item as a fresh learner, time it and score it; the learner is forgotten afterwards."""
    learner = f"golden-{item.id}-{uuid.uuid4().hex[:8]}"
    result = ItemResult(id=item.id, kind=item.kind, question=item.question, holding=item.holding,
                        expected_ids=item.expected_ids, expected_figures=item.expected_figures)
    answer = None
    started = time.perf_counter()
    try:
        for event in service.stream(learner, item.question, item.holding or None):
            now = time.perf_counter() - started
            if result.ttft_s is None and ((event.type == "token" and event.text) or event.type == "final"):
                result.ttft_s = now  # with no streamed tokens, the final answer is the first text shown
            if event.type == "token":
                result.tokens += 1
            elif event.type == "final":
                answer = event.answer
        result.total_s = time.perf_counter() - started
    except Exception as exc:  # an engine error is a failed item, not a failed benchmark
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            service.forget(learner)
        except Exception as exc:  # pragma: no cover - memory failures are reported, not raised
            result.error = result.error or f"forget failed: {type(exc).__name__}: {exc}"
    if answer is None:
        result.error = result.error or "no final answer"
        result.ttft_s = result.total_s = None
        result.citation_hit = None if item.unanswerable else False
        result.figures_exact = False if item.expected_figures else None
        result.missing_figures = list(item.expected_figures)
        return result
    result.route = answer.intent
    result.refused = answer.refused
    result.answer = answer.text
    result.cited = [c.id for c in answer.citations]
    if not item.unanswerable:
        result.citation_hit = any(i in result.cited for i in item.expected_ids)
    if item.expected_figures:
        result.missing_figures = [f for f in item.expected_figures if not figure_in_text(f, answer.text)]
        result.figures_exact = not result.missing_figures
    result.refusal_correct = answer.refused == item.unanswerable
    return result


def _warm_up(service: Any) -> float | None:
    started = time.perf_counter()
    try:
        service.warm_up()
    except RuntimeError:  # no language model configured: planner/facts-only runs
        return None
    return time.perf_counter() - started


def run(service: Any, path: Path = DEFAULT_GOLDEN, limit: int | None = None, *, kinds: Iterable[str] | None = None,
        out: Path | None = None, warm_up: bool = True,
        progress: Callable[[ItemResult], None] | None = None) -> BenchResult:
    """Ask every golden item (only those of ``kinds`` if given, then the first ``limit``) and score the answers.

    ``service`` is an :class:`assistant.service.AssistantService`. With ``warm_up`` the model and the
    embeddings are loaded before timing starts (skipped when the service has no model). ``progress``
    is called after each item. With ``out``, ``summary.json``, ``items.jsonl`` and ``report.txt`` are
    written there.
    """
    golden = load_golden(path)
    items = golden.items
    if kinds is not None:
        wanted = set(kinds)
        unknown = sorted(wanted - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind(s): {', '.join(unknown)}; kinds are {', '.join(KINDS)}")
        items = [i for i in items if i.kind in wanted]
    if limit is not None:
        items = items[:limit]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    warm = _warm_up(service) if warm_up else None
    started = time.perf_counter()
    results = []
    for item in items:
        result = ask_item(service, item)
        results.append(result)
        if progress is not None:
            progress(result)
    result = summarise(results, golden=str(path), started=started_at, seconds=time.perf_counter() - started,
                       warm_up_s=warm)
    if out is not None:
        write(result, out)
    return result


def summarise(results: list[ItemResult], *, golden: str = "", started: str = "", seconds: float = 0.0,
              warm_up_s: float | None = None) -> BenchResult:
    answerable = [r for r in results if r.kind != "unanswerable"]
    unanswerable = [r for r in results if r.kind == "unanswerable"]
    planner = [r for r in results if r.kind == "planner"]
    other = [r for r in results if r.kind != "planner" and r.figures_exact is not None]
    routes = sorted({route_of(r) for r in results})
    return BenchResult(
        golden=golden, started=started, seconds=round(seconds, 3), warm_up_s=warm_up_s,
        items=len(results), answerable=len(answerable), unanswerable=len(unanswerable),
        citation_hits=_rate(bool(r.citation_hit) for r in answerable),
        citation_hits_answered=_rate(bool(r.citation_hit) and not r.refused for r in answerable),
        planner_figures=_rate(bool(r.figures_exact) for r in planner),
        other_figures=_rate(bool(r.figures_exact) for r in other),
        figure_misses=[FigureMiss(id=r.id, question=r.question, missing=r.missing_figures)
                       for r in results if r.missing_figures],
        unanswerable_refused=_rate(r.refused and r.error is None for r in unanswerable),
        answerable_not_refused=_rate(not r.refused and r.error is None for r in answerable),
        missed_refusals=[r.id for r in unanswerable if not r.refused],
        false_refusals=[r.id for r in answerable if r.refused],
        citation_misses=[r.id for r in answerable if not r.citation_hit],
        errors=[f"{r.id}: {r.error}" for r in results if r.error],
        latency=_latency(results),
        by_kind=[_group(k, [r for r in results if r.kind == k]) for k in KINDS if any(r.kind == k for r in results)],
        by_route=[_group(name, [r for r in results if route_of(r) == name]) for name in routes],
        results=results,
    )


def write(result: BenchResult, out: Path) -> None:
    """``summary.json`` (metrics), ``items.jsonl`` (one scored item a line) and ``report.txt`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result.summary(), indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    with (out / "items.jsonl").open("w", encoding="utf-8") as fh:
        for item in result.results:
            fh.write(json.dumps(item.model_dump(mode="json"), ensure_ascii=False) + "\n")
    (out / "report.txt").write_text(render(result) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ report


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(rate: Rate) -> str:
    return "-" if not rate.n else f"{rate.hits}/{rate.n} {rate.rate:.0%}"


def _short(text: str, width: int = 90) -> str:
    text = _squash(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def render(result: BenchResult) -> str:
    lat = result.latency
    lines = [
        f"assistant golden set: {result.items} items ({result.answerable} answerable, {result.unanswerable} "
        f"unanswerable) from {result.golden}",
        f"citation hit rate            {result.citation_hits}",
        f"  … not counting refusals    {result.citation_hits_answered}",
        f"planner-figure exactness     {result.planner_figures}  (target 100 %)",
        f"other figure exactness       {result.other_figures}  (facts/info items with expected figures)",
        f"unanswerable refused         {result.unanswerable_refused}",
        f"answerable not refused       {result.answerable_not_refused}",
        f"time to first token          p50 {_s(lat.ttft_p50_s)} s   p95 {_s(lat.ttft_p95_s)} s",
        f"time to full answer          p50 {_s(lat.total_p50_s)} s   p95 {_s(lat.total_p95_s)} s",
        f"wall time {result.seconds:.1f} s" + (f" (+ warm-up {result.warm_up_s:.1f} s)" if result.warm_up_s else ""),
        "",
    ]
    header = (f"{'':<16} {'n':>3} {'cite hit':>10} {'figures':>10} {'refusal ok':>10} "
              f"{'ttft p50':>8} {'ttft p95':>8} {'total p50':>9} {'total p95':>9}")
    for title, groups in (("by kind", result.by_kind), ("by route", result.by_route)):
        lines.append(title.ljust(16) + header[16:])
        for g in groups:
            lines.append(f"  {g.group:<14} {g.items:>3} {_pct(g.citation_hits):>10} {_pct(g.figures_exact):>10} "
                         f"{_pct(g.refusal_correct):>10} {_s(g.latency.ttft_p50_s):>8} {_s(g.latency.ttft_p95_s):>8} "
                         f"{_s(g.latency.total_p50_s):>9} {_s(g.latency.total_p95_s):>9}")
        lines.append("")
    failures = [r for r in result.results if not r.ok]
    lines.append(f"failures: {len(failures)}" + ("" if failures else " — every item passed"))
    for r in failures:
        problems = []
        if r.error:
            problems.append(f"error: {r.error}")
        if not r.refusal_correct and not r.error:
            problems.append("answered, should refuse" if r.kind == "unanswerable" else "refused, should answer")
        if r.citation_hit is False:
            problems.append(f"cited {', '.join(r.cited) or 'nothing'}; expected one of {', '.join(r.expected_ids)}")
        if r.missing_figures:
            problems.append("missing " + ", ".join(f'"{f}"' for f in r.missing_figures))
        lines.append(f"- {r.id} [{r.kind} → {r.route or '?'}] {_short(r.question, 80)}")
        lines.append(f"    {'; '.join(problems)}")
        if r.answer:
            lines.append(f"    answer: {_short(r.answer, 110)}")
    return "\n".join(lines)
