"""Labelled grading datasets: the generic JSONL/CSV format, and the built-in sets by name.

Generic format (documented for course teams in ``FORMAT.md`` beside this file): one assessed response
per JSONL line or CSV row, with ``id``, ``question`` (or ``criterion``), ``response``, ``label`` (or
``labels``), and optionally ``question_id``, ``reference`` / ``references``, ``split``.

Built-in names (files under the shared datasets directory, ``STACKWISE_SHARED_DIR``):

=====================  ==========================================================================
``scientsbank-2way``   SemEval-2013 Task 7 SciEntsBank, correct / incorrect
``scientsbank-3way``   the same, correct / contradictory / incorrect
``beetle-2way``        SemEval-2013 Task 7 Beetle, correct / incorrect
``beetle-3way``        the same, correct / contradictory / incorrect
``saf``                Short Answer Feedback (English): correct / partial / incorrect
``demo-evidence``      the demo catalogue's labelled portfolio evidence, one item per rubric criterion
=====================  ==========================================================================
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from grader.short_answer import SCALES, GradedAnswer, LabelScale, ShortAnswerTask, scale_for

MAX_REPORTED_PROBLEMS = 20


class DatasetError(ValueError):
    """A dataset cannot be found, read or parsed; the message names the file (and line) and the problem."""


class GradingItem(BaseModel):
    """One human-assessed response."""

    id: str
    question_id: str
    question: str
    references: list[str] = Field(default_factory=list)
    response: str
    label: str  # the gold label: the most frequent of ``labels`` (ties: the lowest on the scale)
    labels: list[str]  # every assessor's label
    split: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    def task(self) -> ShortAnswerTask:
        return ShortAnswerTask(self.id, self.question_id, self.question, tuple(self.references), self.response)

    def graded(self) -> GradedAnswer:
        return GradedAnswer(self.id, self.question_id, self.response, self.label)


@dataclass
class GradingDataset:
    """A dataset's items (all splits), its label scale and where it came from."""

    name: str  # a built-in name, or the file's stem
    slug: str  # unique cache key: built-in name, or stem + content hash
    scale: LabelScale
    items: list[GradingItem]
    source: str
    default_split: str | None = None
    pool_split: str | None = None  # graded answers for examples / calibration come from this split
    aliases: dict[str, str] = field(default_factory=dict)
    licence: Path | None = None
    licence_note: str = ""
    kind: str = "short_answer"  # or "rubric" (demo evidence: graded by the rubric scorer)

    def splits(self) -> list[str]:
        return sorted({i.split or "" for i in self.items})

    def resolve_split(self, split: str | None) -> str | None:
        """The split's canonical name (aliases accepted); ``None`` means every item."""
        if split is None:
            return self.default_split
        split = self.aliases.get(split, split)
        known = self.splits()
        if split not in known:
            shown = ", ".join(s or "(none)" for s in known)
            alias = f"; aliases: {', '.join(f'{a}={b}' for a, b in self.aliases.items())}" if self.aliases else ""
            raise DatasetError(f"{self.name}: no split {split!r}; splits: {shown}{alias}")
        return split

    def split_items(self, split: str | None) -> list[GradingItem]:
        split = self.resolve_split(split)
        return list(self.items) if split is None else [i for i in self.items if (i.split or "") == split]

    def pool(self) -> list[GradingItem]:
        return [i for i in self.items if self.pool_split and i.split == self.pool_split]


def sample(items: list[GradingItem], limit: int | None, seed: int = 0) -> list[GradingItem]:
    """``limit`` items drawn at random with ``seed`` (all if ``limit`` is None), ordered by question then id."""
    chosen = items if limit is None or limit >= len(items) else random.Random(seed).sample(items, limit)
    return sorted(chosen, key=lambda i: (i.question_id, i.id))


# ------------------------------------------------------------------ the generic format

_QUESTION_KEYS = ("question", "criterion")
_REFERENCE_KEYS = ("reference", "references", "reference_answer", "rubric")


def gold_label(labels: list[str], order: tuple[str, ...] | None = None) -> str:
    """Most frequent label; a tie goes to the label lowest in ``order`` (the stricter one), else the first seen."""
    counts = Counter(labels)
    top = max(counts.values())
    tied = [label for label in dict.fromkeys(labels) if counts[label] == top]
    if order:
        tied.sort(key=lambda label: order.index(label) if label in order else len(order))
    return tied[0]


def _split_multi(value: Any, sep: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def _record_problems(rec: dict[str, Any]) -> list[str]:
    problems = []
    if not str(rec.get("id") or "").strip():
        problems.append("missing 'id'")
    if not any(str(rec.get(k) or "").strip() for k in _QUESTION_KEYS):
        problems.append("missing 'question' (or 'criterion')")
    if "response" not in rec or rec["response"] is None:
        problems.append("missing 'response'")
    elif not isinstance(rec["response"], str | int | float):
        problems.append("'response' must be text")
    if not _split_multi(rec.get("labels"), "|") and str(rec.get("label") or "").strip() == "":
        problems.append("missing 'label' (or 'labels')")
    return problems


def read_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) from a JSONL or CSV file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc
    suffix = path.suffix.lower()
    out: list[tuple[int, dict[str, Any]]] = []
    if suffix in {".jsonl", ".ndjson", ".json"}:
        problems = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: not valid JSON: {exc.msg}")
                continue
            if not isinstance(rec, dict):
                problems.append(f"{path}:{number}: expected a JSON object, got {type(rec).__name__}")
                continue
            out.append((number, rec))
        if problems:
            raise DatasetError("\n".join(problems[:MAX_REPORTED_PROBLEMS]))
    elif suffix in {".csv", ".tsv"}:
        reader = csv.DictReader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ",")
        if not reader.fieldnames:
            raise DatasetError(f"{path}: empty CSV file (expected a header row)")
        for number, row in enumerate(reader, start=2):
            if None in row:
                raise DatasetError(f"{path}:{number}: more fields than the header has")
            out.append((number, {k.strip(): v for k, v in row.items() if k is not None}))
    else:
        raise DatasetError(f"{path}: unknown file type {suffix or '(none)'}; use .jsonl or .csv")
    if not out:
        raise DatasetError(f"{path}: no records")
    return out


def load_file(path: Path, labels: list[str] | None = None) -> GradingDataset:
    """A dataset in the generic format. ``labels``: the scale, lowest to highest (default: from the data).

    Raises :class:`DatasetError` listing malformed records as ``file:line: problem``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no such dataset file: {path}")
    records = read_records(path)
    problems: list[str] = []
    seen: dict[str, int] = {}
    items: list[GradingItem] = []
    for number, rec in records:
        for problem in _record_problems(rec):
            problems.append(f"{path}:{number}: {problem}")
        if problems and problems[-1].startswith(f"{path}:{number}:"):
            continue
        item_id = str(rec["id"]).strip()
        if item_id in seen:
            problems.append(f"{path}:{number}: duplicate id {item_id!r} (first on line {seen[item_id]})")
            continue
        seen[item_id] = number
        question = next(str(rec[k]).strip() for k in _QUESTION_KEYS if str(rec.get(k) or "").strip())
        refs: list[str] = []
        for key in _REFERENCE_KEYS:
            refs.extend(_split_multi(rec.get(key), "||"))
        item_labels = _split_multi(rec.get("labels"), "|") or [str(rec["label"]).strip()]
        qid = str(rec.get("question_id") or "").strip() or "q-" + hashlib.sha1(question.encode()).hexdigest()[:10]
        items.append(GradingItem(
            id=item_id, question_id=qid, question=question, references=refs, response=str(rec["response"]),
            label=item_labels[0], labels=item_labels, split=str(rec.get("split") or "").strip() or None,
        ))
    if problems:
        extra = len(problems) - MAX_REPORTED_PROBLEMS
        more = f"\n... and {extra} more" if extra > 0 else ""
        raise DatasetError("\n".join(problems[:MAX_REPORTED_PROBLEMS]) + more)
    found = list(dict.fromkeys(label for item in items for label in item.labels))
    if labels:
        unknown = sorted(set(found) - set(labels))
        if unknown:
            raise DatasetError(f"{path}: labels {unknown} are not on the given scale {labels}")
        scale = scale_for(labels, ordered=True)
    else:
        if len(found) < 2:
            raise DatasetError(f"{path}: every item has the label {found[0]!r}; a scale needs at least two")
        scale = scale_for(found)
    for item in items:
        item.label = gold_label(item.labels, scale.labels)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    splits = {i.split for i in items}
    pool_split = next((s for s in ("train", "training") if s in splits), None)
    default = next((s for s in ("test",) if s in splits), None)
    return GradingDataset(name=path.stem, slug=f"{path.stem}-{digest}", scale=scale, items=items, source=str(path),
                          default_split=default, pool_split=pool_split)


# ------------------------------------------------------------------ built-in datasets

SEMEVAL_FILE = ("scientsbank_beetle", "semeval2013_t7_3way.jsonl")
SAF_FILE = ("saf_en", "saf_en_v2.jsonl")
SEMEVAL_NOTE = ("SemEval-2013 Task 7 (Dzikovska et al., 2013), corpora by M. Dzikovska and R. Nielsen; "
                "licensed CC BY-SA 3.0")
SAF_NOTE = "Short Answer Feedback dataset (Filighera et al., 2022), English part; MIT licence"
SEMEVAL_ALIASES = {"ua": "test-unseen-answers", "uq": "test-unseen-questions", "training": "train"}
SAF_LABELS = {"Correct": "correct", "Partially correct": "partial", "Incorrect": "incorrect"}
BUILTIN = {
    "scientsbank-2way": "SciEntsBank (SemEval-2013 Task 7), 2-way",
    "scientsbank-3way": "SciEntsBank (SemEval-2013 Task 7), 3-way",
    "beetle-2way": "Beetle (SemEval-2013 Task 7), 2-way",
    "beetle-3way": "Beetle (SemEval-2013 Task 7), 3-way",
    "saf": "Short Answer Feedback (English), correct / partial / incorrect",
    "demo-evidence": "the demo catalogue's labelled portfolio evidence (one item per criterion)",
}
ALIASES = {"saf-en": "saf", "scientsbank": "scientsbank-2way", "beetle": "beetle-2way", "evidence": "demo-evidence"}


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"built-in dataset file missing: {path} (set STACKWISE_SHARED_DIR to the shared "
                           "directory that holds datasets/)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
    return rows


def _references(row: dict[str, Any]) -> list[str]:
    refs = _split_multi(row.get("all_reference_answers"), "||")
    return refs or _split_multi(row.get("reference_answer"), "||")


def load_semeval(datasets_dir: Path, corpus: str, way: int) -> GradingDataset:
    path = datasets_dir.joinpath(*SEMEVAL_FILE)
    wanted = {"scientsbank": "sciEntsBank", "beetle": "beetle"}[corpus]
    key = f"label_{way}way"
    items = [
        GradingItem(id=r["answer_id"], question_id=r["question_id"], question=r["question"],
                    references=_references(r), response=r["response"], label=r[key], labels=[r[key]],
                    split=r["split"], meta={"module": r.get("module")})
        for r in _jsonl(path) if r.get("dataset") == wanted
    ]
    return GradingDataset(
        name=f"{corpus}-{way}way", slug=f"{corpus}-{way}way", scale=SCALES[f"{way}way"], items=items,
        source=str(path), default_split="test-unseen-answers", pool_split="train", aliases=SEMEVAL_ALIASES,
        licence=path.parent / "LICENSE.txt", licence_note=SEMEVAL_NOTE,
    )


def load_saf(datasets_dir: Path) -> GradingDataset:
    path = datasets_dir.joinpath(*SAF_FILE)
    items = []
    for r in _jsonl(path):
        label = SAF_LABELS.get(r["verification_label"])
        if label is None:
            raise DatasetError(f"{path}: unknown verification_label {r['verification_label']!r}")
        items.append(GradingItem(
            id=f"{r['answer_id']}@{r['split']}",  # answer ids repeat across SAF's splits
            question_id=r["question_id"], question=r["question"], references=[r["reference_answer"]],
            response=r["response"], label=label, labels=[label], split=r["split"],
            meta={"score": r.get("score"), "score_norm": r.get("score_norm"), "feedback": r.get("feedback")},
        ))
    return GradingDataset(
        name="saf", slug="saf", scale=SCALES["saf"], items=items, source=str(path), default_split="unseen_answers",
        pool_split="training", aliases={"ua": "unseen_answers", "test-unseen-answers": "unseen_answers",
                                        "train": "training"},
        licence=path.parent / "LICENSE.txt", licence_note=SAF_NOTE,
    )


def level_label(index: int) -> str:
    return f"level-{index + 1}"


def load_demo_evidence(catalogue_path: Path) -> GradingDataset:
    """The labelled portfolio evidence: one item per (evidence, criterion), labelled ``level-1`` (lowest) up."""
    from evals.grading_evidence import DEFAULT_EVIDENCE_SET, EvidenceSetInvalid, check_against, load_evidence_dir
    from knowledge import CatalogueInvalid, load_catalogue

    try:
        catalogue = load_catalogue(catalogue_path)
        evidence = load_evidence_dir()
    except (CatalogueInvalid, EvidenceSetInvalid) as exc:
        raise DatasetError(str(exc)) from exc
    problems = check_against(catalogue, evidence)
    if problems:
        raise DatasetError(f"{DEFAULT_EVIDENCE_SET} does not match the catalogue {catalogue_path}: {problems[0]}")
    items = []
    depth = 0
    for ev in evidence:
        rubric = catalogue.credentials[ev.credential].rubric
        for criterion in rubric.criteria:
            ids = [lv.id for lv in criterion.levels]
            depth = max(depth, len(ids))
            label = level_label(ids.index(ev.labels[criterion.id]))
            items.append(GradingItem(
                id=f"{ev.id}/{criterion.id}", question_id=f"{ev.credential}/{criterion.id}",
                question=f"{criterion.title}: {' '.join(criterion.description.split())}",
                references=[f"{lv.label}: {' '.join(lv.descriptor.split())}" for lv in criterion.levels],
                response=ev.text, label=label, labels=[label], split="all",
                meta={"evidence_id": ev.id, "credential": ev.credential, "criterion": criterion.id,
                      "levels": len(ids), "tags": list(ev.tags)},
            ))
    scale = LabelScale("levels", tuple(level_label(i) for i in range(depth)), ordinal=True, guide="generic")
    return GradingDataset(
        name="demo-evidence", slug="demo-evidence", scale=scale, items=items, source=str(DEFAULT_EVIDENCE_SET),
        default_split="all", licence_note="written for Stackwise; Apache-2.0", kind="rubric",
    )


def load_dataset(name_or_path: str, *, datasets_dir: Path, catalogue: Path | None = None,
                 labels: list[str] | None = None) -> GradingDataset:
    """A built-in dataset by name (see :data:`BUILTIN`) or a generic JSONL/CSV file by path."""
    name = ALIASES.get(name_or_path, name_or_path)
    if name in BUILTIN:
        if labels:
            raise DatasetError(f"--labels is for your own files; {name} has a fixed scale")
        if name == "demo-evidence":
            from stackwise.config import BUNDLED_CATALOGUE

            return load_demo_evidence(catalogue or BUNDLED_CATALOGUE)
        if name == "saf":
            return load_saf(datasets_dir)
        corpus, way = name.rsplit("-", 1)
        return load_semeval(datasets_dir, corpus, int(way[0]))
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise DatasetError(f"{name_or_path!r} is neither a built-in dataset ({', '.join(BUILTIN)}) nor a file")
    return load_file(path, labels)
