"""Assistant evaluation with ragas on the golden set (``stackwise eval assistant``), offline.

The assistant answers every golden item as in :mod:`evals.assistant_bench` (whose exact checks are kept:
citation hit rate, planner-figure exactness, refusal correctness). Each answered item then becomes a
ragas ``SingleTurnSample``:

- ``retrieved_contexts``: the catalogue passages behind the answer's citations (hybrid search for the
  question, restricted to the cited entities, at most :data:`CONTEXTS` passages of :data:`CONTEXT_CHARS`),
  with ``retrieved_context_ids`` the cited ids;
- ``reference``: built from the golden item (expected figures, the maintainers' note, the expected
  entities' titles), since the golden set has no written reference answers; ``reference_contexts`` /
  ``reference_context_ids``: the expected entities' passages and ids.

Metrics: the LLM-judged faithfulness, answer relevancy, context precision and context recall, judged by
the bundled model through :class:`~llm.langchain_adapter.TextModelChat` and ragas'
``LangchainLLMWrapper``, with the local MiniLM embeddings; and non-LLM ragas metrics (id-based context
precision/recall, string-similarity context precision/recall, ROUGE-L and string similarity against the
reference). Tracking is off (``RAGAS_DO_NOT_TRACK``) and nothing uses tiktoken. Per-item scores are
cached under the data home, keyed by judge model and the sample's content, so a run resumes.

One module (about 440 lines) on purpose: the sample building, the ragas judge, the cache and the run
share the cache key and metric names and change together; the HTML page is a template
(``evals/templates/assistant_report.html.j2``).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals import assistant_bench as bench
from evals.reporting import fmt
from evals.reporting import render as render_template

LLM_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")
NON_LLM_METRICS = ("id_context_precision", "id_context_recall", "string_context_precision",
                   "string_context_recall", "rouge_l", "string_similarity")
SHORT = {"faithfulness": "faithful", "answer_relevancy": "relevant", "context_precision": "ctx prec",
         "context_recall": "ctx rec", "id_context_precision": "id prec", "id_context_recall": "id rec",
         "string_context_precision": "str prec", "string_context_recall": "str rec", "rouge_l": "ROUGE-L",
         "string_similarity": "str sim"}
CONTEXTS = 3
CONTEXT_CHARS = 600
JUDGE_MAX_TOKENS = 512
CACHE_VERSION = 2  # bump when scoring changes, so cached scores (failures included) are not reused
JUDGE_CAVEATS = [
    "The judge is the same 1.5B model that wrote the answers (Qwen2.5-Coder-1.5B, 4-bit). ragas' judge prompts "
    "ask for statement extraction and JSON verdicts; a model this small often fails the format (the item's score "
    "is then missing, counted in 'failed') and its verdicts are noisy and lenient towards its own answers.",
    "Treat the LLM-judged figures as a rough signal for comparing runs of the same set-up, not as absolute "
    "quality; the exact checks and the non-LLM metrics are the reliable part of this report.",
    "The golden set has no written reference answers: the reference is assembled from the expected figures, the "
    "maintainers' notes and the expected entities' titles, so reference-based metrics (context recall, ROUGE, "
    "string similarity) measure agreement with that assembly, not with a model answer.",
    "Id-based context recall needs every expected id cited, while the golden citation hit rate counts any one.",
]


class RagasItem(BaseModel):
    id: str
    kind: str
    route: str | None
    question: str
    answer: str
    refused: bool
    contexts: list[str]
    context_ids: list[str]
    reference: str
    reference_ids: list[str]
    scores: dict[str, float | None] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)  # metrics whose judge output could not be used
    seconds: float = 0.0


class MetricSummary(BaseModel):
    name: str
    llm: bool
    mean: float | None
    n: int
    failed: int


class AssistantEvalResult(BaseModel):
    golden: str
    started: str
    judge: str
    embeddings: str
    items: int
    ragas_items: int
    judged_items: int = 0  # items the LLM-judged metrics ran on (all, or a sample spread over the kinds)
    exact: dict[str, Any]
    metrics: list[MetricSummary]
    by_kind: dict[str, dict[str, float | None]]
    judge_agreement: dict[str, Any]
    caveats: list[str]
    seconds: float
    cached: int
    results: list[RagasItem] = Field(default_factory=list, exclude=True)


# ------------------------------------------------------------------ samples


def reference_for(item: bench.GoldenItem, titles: dict[str, str]) -> str:
    """A reference answer assembled from the golden item (see the module docstring)."""
    parts = []
    if item.expected_figures:
        parts.append("The answer states: " + "; ".join(item.expected_figures) + ".")
    if item.note:
        parts.append(" ".join(item.note.split()))
    named = [titles.get(i, i) for i in item.expected_ids]
    if named:
        parts.append("Relevant catalogue entries: " + ", ".join(named) + ".")
    return " ".join(parts)


def contexts_for(index: Any, question: str, ids: Sequence[str], documents: dict[str, list[str]]) -> list[str]:
    """Passages of the entities ``ids`` most relevant to ``question`` (falling back to each entity's first)."""
    from knowledge.search import search

    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    hits = [h for h in search(index, question, k=24) if h.entity_id in wanted]
    out = list(dict.fromkeys(h.text[:CONTEXT_CHARS] for h in hits))[:CONTEXTS]
    for entity in wanted:
        if len(out) >= CONTEXTS:
            break
        docs = documents.get(entity, [])
        if docs and docs[0][:CONTEXT_CHARS] not in out:
            out.append(docs[0][:CONTEXT_CHARS])
    return out


def entity_documents(catalogue: Any) -> dict[str, list[str]]:
    from knowledge.documents import catalogue_documents
    from knowledge.index import entity_id

    out: dict[str, list[str]] = {}
    for doc in catalogue_documents(catalogue):
        out.setdefault(entity_id(doc.metadata), []).append(doc.text)
    return out


def build_items(service: Any, golden: bench.GoldenSet, answers: list[bench.ItemResult]) -> list[RagasItem]:
    """Ragas inputs for the answered, answerable items (refusals of answerable items are kept: they score low)."""
    catalogue = service.catalogue
    titles = {**{k: v.title for k, v in catalogue.credentials.items()},
              **{k: v.title for k, v in catalogue.pathways.items()}}
    documents = entity_documents(catalogue)
    by_id = {i.id: i for i in golden.items}
    out = []
    for result in answers:
        item = by_id[result.id]
        if item.unanswerable or result.error or not result.answer:
            continue
        out.append(RagasItem(
            id=item.id, kind=item.kind, route=result.route, question=item.question, answer=result.answer,
            refused=result.refused, contexts=contexts_for(service.index, item.question, result.cited, documents),
            context_ids=list(result.cited), reference=reference_for(item, titles), reference_ids=item.expected_ids,
        ))
    return out


# ------------------------------------------------------------------ ragas


class RagasJudge:
    """ragas metrics around a local chat model and local embeddings; one item at a time, no concurrency."""

    def __init__(self, model: Any, embeddings: Any, *, llm_metrics: bool = True, timeout: int = 1800):
        from stackwise.config import enforce_offline

        enforce_offline()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from ragas.embeddings import LangchainEmbeddingsWrapper
            from ragas.llms import LangchainLLMWrapper
            from ragas.metrics import (
                Faithfulness,
                IDBasedContextPrecision,
                IDBasedContextRecall,
                LLMContextPrecisionWithReference,
                LLMContextRecall,
                NonLLMContextPrecisionWithReference,
                NonLLMContextRecall,
                NonLLMStringSimilarity,
                ResponseRelevancy,
                RougeScore,
            )
            from ragas.run_config import RunConfig

            from llm.langchain_adapter import TextModelChat

            class JudgeChat(TextModelChat):
                model_name: str = "local"  # ragas' usage events read a string model name from the chat model

            self.llm = (LangchainLLMWrapper(JudgeChat(model=model, model_name=getattr(model, "name", "local"),
                                                      max_tokens=JUDGE_MAX_TOKENS, temperature=0.0))
                        if model is not None else None)
            self.embeddings = LangchainEmbeddingsWrapper(embeddings)
        self.judge_name = getattr(model, "name", "model") if model is not None else "none (non-LLM metrics only)"
        self.run_config = RunConfig(max_workers=1, timeout=timeout, max_retries=1, max_wait=1)
        self.metrics: dict[str, Any] = {
            "id_context_precision": IDBasedContextPrecision(),
            "id_context_recall": IDBasedContextRecall(),
            "string_context_precision": NonLLMContextPrecisionWithReference(),
            "string_context_recall": NonLLMContextRecall(),
            "rouge_l": RougeScore(rouge_type="rougeL", mode="fmeasure"),
            "string_similarity": NonLLMStringSimilarity(),
        }
        if llm_metrics:
            self.metrics.update({
                "faithfulness": Faithfulness(),
                # one generated question per answer: a 1.5B judge on 2 cores cannot afford ragas' default 3
                "answer_relevancy": ResponseRelevancy(strictness=1),
                "context_precision": LLMContextPrecisionWithReference(),
                "context_recall": LLMContextRecall(),
            })

    def config(self) -> dict[str, Any]:
        return {"v": CACHE_VERSION, "judge": self.judge_name, "metrics": sorted(self.metrics),
                "max_tokens": JUDGE_MAX_TOKENS,
                "contexts": CONTEXTS, "context_chars": CONTEXT_CHARS}

    def score(self, item: RagasItem, reference_contexts: list[str]) -> dict[str, float | None]:
        from ragas import EvaluationDataset, SingleTurnSample, evaluate

        sample = SingleTurnSample(
            user_input=item.question, response=item.answer, retrieved_contexts=item.contexts or [""],
            reference=item.reference, reference_contexts=reference_contexts or [""],
            retrieved_context_ids=item.context_ids, reference_context_ids=item.reference_ids,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = evaluate(EvaluationDataset(samples=[sample]), metrics=list(self.metrics.values()), llm=self.llm,
                              embeddings=self.embeddings, run_config=self.run_config, show_progress=False,
                              raise_exceptions=False)
        values = list(result.scores[0].values())  # one column per metric, in the order given
        out: dict[str, float | None] = {}
        for name, value in zip(self.metrics, values, strict=True):
            out[name] = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        return out


def _cache_key(judge: RagasJudge, item: RagasItem, reference_contexts: list[str]) -> str:
    payload = json.dumps([judge.config(), item.question, item.answer, item.contexts, item.context_ids,
                          item.reference, item.reference_ids, reference_contexts], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _load_cache(path: Path) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                out[rec["key"]] = rec["scores"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return out


# ------------------------------------------------------------------ the run


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return statistics.correlation(xs, ys)


def summarise(results: list[RagasItem], metric_names: Sequence[str]) -> tuple[list[MetricSummary],
                                                                               dict[str, dict[str, float | None]],
                                                                               dict[str, Any]]:
    metrics = []
    for name in metric_names:
        values = [r.scores[name] for r in results if r.scores.get(name) is not None]
        metrics.append(MetricSummary(name=name, llm=name in LLM_METRICS, mean=_mean(values), n=len(values),
                                     failed=sum(name in r.failed for r in results)))
    kinds = sorted({r.kind for r in results})
    by_kind = {k: {name: _mean([r.scores[name] for r in results if r.kind == k and r.scores.get(name) is not None])
                   for name in metric_names} for k in kinds}
    agreement: dict[str, Any] = {}
    pairs = {"context_precision": "id_context_precision", "context_recall": "id_context_recall"}
    for llm_name, exact_name in pairs.items():
        both = [(r.scores[llm_name], r.scores[exact_name]) for r in results
                if r.scores.get(llm_name) is not None and r.scores.get(exact_name) is not None]
        if both:
            agree = sum((a >= 0.5) == (b >= 0.5) for a, b in both) / len(both)
            agreement[f"{llm_name} vs {exact_name}"] = {
                "items": len(both), "same_side_of_0.5": agree,
                "pearson": _pearson([a for a, _ in both], [b for _, b in both])}
    refused = [r for r in results if r.refused]
    if refused and any(r.scores.get("faithfulness") is not None for r in refused):
        agreement["faithfulness of refusals (should be low or undefined)"] = _mean(
            [r.scores["faithfulness"] for r in refused if r.scores.get("faithfulness") is not None])
    return metrics, by_kind, agreement


def judge_sample(items: Sequence[RagasItem], n: int | None) -> set[str]:
    """Ids of ``n`` items spread evenly over the kinds (round robin, golden-set order within a kind); all if None."""
    if n is None or n >= len(items):
        return {i.id for i in items}
    by_kind: dict[str, list[RagasItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    chosen: list[str] = []
    depth = 0
    while len(chosen) < n:
        chosen.extend(group[depth].id for group in by_kind.values() if depth < len(group))
        depth += 1
    return set(chosen[:n])


def run(service: Any, golden_path: Path = bench.DEFAULT_GOLDEN, limit: int | None = None, *,
        judge_model: Any = None, embeddings: Any = None, llm_metrics: bool = True, cache_dir: Path | None = None,
        out: Path | None = None, progress: bool = True, kinds: Sequence[str] | None = None,
        warm_up: bool = True, judge_limit: int | None = None) -> AssistantEvalResult:
    """Answer the golden items (those of ``kinds``, then the first ``limit``), score them with ragas and the
    exact checks. ``judge_limit``: the LLM-judged metrics run on that many items spread over the kinds
    (:func:`judge_sample`; the judge costs minutes per item on CPU), the non-LLM metrics on all. Write
    ``summary.json``, ``items.jsonl``, ``report.html`` and ``report.txt`` into ``out`` when given.

    ``judge_model``: a :class:`~llm.base.TextModel` (default: the assistant's model);
    ``embeddings``: a langchain ``Embeddings`` (default: local MiniLM)."""
    from tqdm import tqdm

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    golden = bench.load_golden(golden_path)
    answers = bench.run(service, golden_path, limit, kinds=kinds, warm_up=warm_up)
    items = build_items(service, golden, answers.results)
    if embeddings is None:
        from knowledge.index import get_embeddings

        embeddings = get_embeddings()
    if judge_model is None and llm_metrics:
        judge_model = service.model
    judge = RagasJudge(judge_model, embeddings, llm_metrics=llm_metrics)
    plain = RagasJudge(None, embeddings, llm_metrics=False) if llm_metrics and judge_limit is not None else judge
    judged = judge_sample(items, judge_limit) if llm_metrics else set()
    metric_names = [m for m in (*LLM_METRICS, *NON_LLM_METRICS) if m in judge.metrics]
    cache_path = (cache_dir / "ragas-cache.jsonl") if cache_dir is not None else None
    cached = _load_cache(cache_path) if cache_path else {}
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    documents = entity_documents(service.catalogue)
    hits_from_cache = 0
    for item in tqdm(items, desc="ragas", unit="item", disable=not progress, dynamic_ncols=True):
        reference_contexts = [documents[i][0][:CONTEXT_CHARS] for i in item.reference_ids if documents.get(i)]
        item_judge = judge if item.id in judged or not llm_metrics else plain
        key = _cache_key(item_judge, item, reference_contexts)
        t0 = time.perf_counter()
        if key in cached:
            scores = cached[key]
            hits_from_cache += 1
        else:
            scores = item_judge.score(item, reference_contexts)
            if cache_path:
                with cache_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"key": key, "id": item.id, "scores": scores}) + "\n")
        item.scores = scores
        item.failed = [m for m in metric_names if scores.get(m) is None and m in LLM_METRICS and item.id in judged]
        item.seconds = round(time.perf_counter() - t0, 2)
    metrics, by_kind, agreement = summarise(items, metric_names)
    result = AssistantEvalResult(
        golden=str(golden_path), started=started_at, judge=judge.judge_name, embeddings="all-MiniLM-L6-v2 (local)",
        items=answers.items, ragas_items=len(items), judged_items=len(judged), exact=answers.summary(),
        metrics=metrics, by_kind=by_kind,
        judge_agreement=agreement, caveats=JUDGE_CAVEATS if llm_metrics else JUDGE_CAVEATS[2:],
        seconds=round(time.perf_counter() - started, 1), cached=hits_from_cache, results=items,
    )
    if out is not None:
        write(result, out, answers)
    return result


# ------------------------------------------------------------------ reports


def render(result: AssistantEvalResult) -> str:
    ex = result.exact
    lines = [f"assistant golden set {result.golden}: {result.items} items answered, {result.ragas_items} scored "
             f"with ragas, {result.judged_items} of them by the LLM judge (judge {result.judge}, embeddings "
             f"{result.embeddings}); {result.seconds:.0f} s, "
             f"{result.cached} from the cache",
             "exact checks: citation hit rate {c}; planner figures {p}; unanswerable refused {u}; answerable not "
             "refused {a}".format(c=_rate(ex["citation_hits"]), p=_rate(ex["planner_figures"]),
                                  u=_rate(ex["unanswerable_refused"]), a=_rate(ex["answerable_not_refused"])),
             f"{'metric':<26} {'kind':<8} {'mean':>6} {'n':>4} {'failed':>6}"]
    for m in result.metrics:
        lines.append(f"{m.name:<26} {'LLM' if m.llm else 'non-LLM':<8} {fmt(m.mean):>6} {m.n:>4} {m.failed:>6}")
    for name, value in result.judge_agreement.items():
        lines.append(f"judge agreement, {name}: {json.dumps(value)}")
    lines.append("caveats:")
    lines.extend(f"- {c}" for c in result.caveats)
    return "\n".join(lines)


def _rate(rate: dict[str, Any]) -> str:
    return f"{rate['hits']}/{rate['n']}" + (f" ({rate['rate']:.0%})" if rate.get("rate") is not None else "")


def render_html(result: AssistantEvalResult) -> str:
    """The report page (``evals/templates/assistant_report.html.j2``, autoescaped)."""
    exact = [(k, _rate(result.exact[k])) for k in (
        "citation_hits", "citation_hits_answered", "planner_figures", "other_figures", "unanswerable_refused",
        "answerable_not_refused")]
    agreement = {k: json.dumps(v) for k, v in result.judge_agreement.items()}
    return render_template("assistant_report.html.j2", result=result, exact=exact, agreement=agreement, short=SHORT)


def write(result: AssistantEvalResult, out: Path, answers: bench.BenchResult | None = None) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "summary.json", out / "items.jsonl", out / "report.html", out / "report.txt"]
    files[0].write_text(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    with files[1].open("w", encoding="utf-8") as fh:
        for item in result.results:
            fh.write(json.dumps(item.model_dump(mode="json"), ensure_ascii=False) + "\n")
    files[2].write_text(render_html(result), encoding="utf-8")
    text = render(result)
    if answers is not None:
        text += "\n\n" + bench.render(answers)
    files[3].write_text(text + "\n", encoding="utf-8")
    return files
