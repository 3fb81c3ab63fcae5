"""Datasets for the rubric engine: evidence with a level per criterion from one or more assessors.

Built in:

- ``demo-evidence``: the demo catalogue's labelled portfolio evidence (``evals/grading_evidence``), with its
  fixed ``train`` / ``test`` split (the test split is never used for fitting or choosing anything);
- ``ellipse``: ELLIPSE essays (``../shared/datasets/ellipse_dev``, CC BY-NC-SA 4.0, read in place, never
  copied), six analytic criteria with five levels, two raters; split **across writing prompts**: the
  prompts listed in :data:`ELLIPSE_TEST_PROMPTS` are the test split;
- a review-queue export (``stackwise review export``; format in ``evals/grading_eval/FORMAT.md``), read
  against a catalogue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.engine import CriterionSpec, LevelSpec, credential_specs
from grader.fitting import PassRule
from grader.training import exemplar_rows
from knowledge.schema import Catalogue


class RubricDatasetError(ValueError):
    """A rubric dataset cannot be found or read; the message names the file and the problem."""


@dataclass
class RubricItem:
    id: str
    group: str  # the credential (demo, exports) or the writing prompt (ELLIPSE)
    title: str
    specs: list[CriterionSpec]
    evidence: str
    levels: dict[str, tuple[int, ...]]  # criterion key -> level index per assessor
    split: str
    pass_rule: PassRule | None = None
    tags: tuple[str, ...] = ()
    expected_decision: str | None = None


@dataclass
class RubricDataset:
    name: str
    items: list[RubricItem]
    source: str
    licence_note: str = ""
    decisions: bool = True  # whether items carry a pass rule (portfolio rubrics) or only levels (essays)
    exemplar_pool: list[tuple[str, str, int]] = field(default_factory=list)  # (criterion key, text, level)

    def split(self, name: str) -> list[RubricItem]:
        return [i for i in self.items if i.split == name]


def load_demo_evidence(catalogue: Catalogue) -> RubricDataset:
    from evals.grading_evidence import DEFAULT_EVIDENCE_DIR, EvidenceSetInvalid, check_against, load_evidence_dir

    try:
        evidence = load_evidence_dir()
    except EvidenceSetInvalid as exc:
        raise RubricDatasetError(str(exc)) from exc
    problems = check_against(catalogue, evidence)
    if problems:
        raise RubricDatasetError(f"{DEFAULT_EVIDENCE_DIR} does not match the catalogue: {problems[0]}")
    items = []
    for ev in evidence:
        cred = catalogue.credentials[ev.credential]
        specs = credential_specs(cred)
        levels = {f"{cred.id}/{c.id}": ([lv.id for lv in c.levels].index(ev.labels[c.id]),)
                  for c in cred.rubric.criteria}
        items.append(RubricItem(ev.id, cred.id, cred.title, specs, ev.text, levels, ev.split, PassRule.of(cred),
                                tuple(ev.tags), ev.expected_decision))
    return RubricDataset("demo-evidence", items, str(DEFAULT_EVIDENCE_DIR), "written for Stackwise; Apache-2.0",
                         exemplar_pool=exemplar_rows(catalogue))


ELLIPSE_CRITERIA = ("Cohesion", "Syntax", "Vocabulary", "Phraseology", "Grammar", "Conventions")
# Writing prompts held out as the test split (fixed; chosen by name, about a third of the essays).
ELLIPSE_TEST_PROMPTS = ("Being busy", "First impressions", "Lunch menus", "Curfews for teenagers",
                        "Community service", "Internships and shadowing", "Honesty", "Summer projects")


def load_ellipse(datasets_dir: Path) -> RubricDataset:
    folder = datasets_dir / "ellipse_dev"
    essays, rubric_file = folder / "essays.jsonl", folder / "rubric.json"
    if not essays.is_file() or not rubric_file.is_file():
        raise RubricDatasetError(f"ELLIPSE not found: expected {essays} and {rubric_file} "
                                 "(set STACKWISE_SHARED_DIR to the shared folder)")
    rubric = json.loads(rubric_file.read_text(encoding="utf-8"))["analytic"]
    specs = []
    for name in ELLIPSE_CRITERIA:
        descriptors = rubric[name]
        levels = tuple(LevelSpec(str(n), f"Level {n}", " ".join(str(descriptors[str(n)]).split()), float(n))
                       for n in range(1, 6))
        specs.append(CriterionSpec(f"ellipse/{name.lower()}", name, f"{name} of the essay's English", levels))
    from evals.grading_eval.datasets import DatasetError, read_records

    try:
        records = read_records(essays)
    except DatasetError as exc:
        raise RubricDatasetError(str(exc)) from exc
    items = []
    for number, rec in records:
        try:
            levels = {}
            for spec in specs:
                score = float(rec["scores"][spec.title])
                low, high = int(score) - 1, int(score + 0.5) - 1  # 3.5 -> raters at levels 3 and 4 (0-based 2, 3)
                levels[spec.key] = (low, high) if low != high else (low,)
        except (ValueError, KeyError, TypeError) as exc:
            raise RubricDatasetError(f"{essays}:{number}: unreadable essay record: {exc}") from exc
        split = "test" if rec["prompt"] in ELLIPSE_TEST_PROMPTS else "train"
        items.append(RubricItem(str(rec["id"]), rec["prompt"], "English language proficiency", specs, rec["text"],
                                levels, split))
    return RubricDataset("ellipse", items, str(essays), "CC BY-NC-SA 4.0, read from the shared folder, evaluation only",
                         decisions=False)


def load_export(path: Path, catalogue: Catalogue) -> RubricDataset:
    """A review-queue export: JSONL rows ``credential``, ``evidence``, ``levels`` (criterion -> level id, or a
    list of level ids, one per assessor), optional ``id`` and ``split`` (default: every fifth row is test)."""
    from evals.grading_eval.datasets import DatasetError, read_records

    if not path.is_file():
        raise RubricDatasetError(f"{path}: no such file")
    try:
        records = read_records(path)  # one object per line; bad JSON and non-objects reported with the line
    except DatasetError as exc:
        raise RubricDatasetError(str(exc)) from exc
    items = []
    for number, rec in records:
        credential = rec.get("credential")
        cred = catalogue.credentials.get(credential) if isinstance(credential, str) else None
        if cred is None:
            raise RubricDatasetError(f"{path}:{number}: unknown or missing credential {credential!r}")
        if not isinstance(rec.get("evidence"), str) or not rec["evidence"].strip():
            raise RubricDatasetError(f"{path}:{number}: 'evidence' must be non-empty text")
        if not isinstance(rec.get("levels"), dict):
            raise RubricDatasetError(f"{path}:{number}: 'levels' must map each criterion id to a level id")
        levels = {}
        for c in cred.rubric.criteria:
            given = rec["levels"].get(c.id)
            given = [given] if isinstance(given, str) else given
            ids = [lv.id for lv in c.levels]
            if not isinstance(given, list) or not given or any(g not in ids for g in given):
                raise RubricDatasetError(f"{path}:{number}: criterion {c.id!r} needs a level id or a list of "
                                         f"level ids from {ids}, got {given!r}")
            levels[f"{cred.id}/{c.id}"] = tuple(ids.index(g) for g in given)
        item_id = str(rec.get("id") or f"row-{number}")
        split = str(rec.get("split") or ("test" if number % 5 == 0 else "train"))
        items.append(RubricItem(item_id, cred.id, cred.title, credential_specs(cred), rec["evidence"], levels, split,
                                PassRule.of(cred)))
    if not items:
        raise RubricDatasetError(f"{path}: no rows")
    return RubricDataset(path.stem, items, str(path), "your assessors' decisions",
                         exemplar_pool=exemplar_rows(catalogue))


def load_short_answers(name: str, split: str, datasets_dir: Path, train_sample: int = 400,
                       seed: int = 0) -> RubricDataset:
    """A short-answer dataset (SciEntsBank/Beetle 2-way, SAF) through the rubric engine: each question is a
    criterion whose levels are the ordinal labels, the reference answers are the top level's exemplars, and
    graded answers of the training split are the examples. ``train_sample`` training answers are read (model
    included) to fit the combiner; every other training answer only joins the nearest-examples vote.
    ``split``: the test split (``ua``/``uq`` or its full name)."""
    import random

    from evals.grading_eval.datasets import DatasetError, load_dataset

    try:
        ds = load_dataset(name, datasets_dir=datasets_dir)
    except DatasetError as exc:
        raise RubricDatasetError(str(exc)) from exc
    if not ds.scale.ordinal:
        raise RubricDatasetError(f"{name}: the rubric engine needs ordered labels; {ds.scale.labels} are not")
    test_split = ds.resolve_split(split)
    labels = list(ds.scale.labels)
    specs: dict[str, CriterionSpec] = {}

    def spec_of(item) -> CriterionSpec:
        if item.question_id not in specs:
            refs = tuple(" ".join(r.split()) for r in item.references)
            best = refs[0] if refs else "the reference answer"
            descriptors = {0: "The answer does not give the content of the reference answer.",
                           len(labels) - 1: f"A complete and correct answer with the content of: {best}"}
            levels = tuple(LevelSpec(label, label.capitalize(),
                                     descriptors.get(i, f"Partly correct: some of the content of: {best}"), float(i),
                                     refs if i == len(labels) - 1 else ())
                           for i, label in enumerate(labels))
            specs[item.question_id] = CriterionSpec(f"q/{item.question_id}", " ".join(item.question.split())[:300],
                                                    "Answer the question correctly and completely.", levels)
        return specs[item.question_id]

    rng = random.Random(seed)
    pool = [i for i in ds.items if i.split == ds.pool_split]
    chosen = set(id(i) for i in rng.sample(pool, min(train_sample, len(pool))))
    items, exemplar_pool = [], []
    for item in ds.items:
        spec = spec_of(item)
        level = labels.index(item.label)
        if item.split == ds.pool_split and id(item) not in chosen:
            exemplar_pool.append((spec.key, item.response, level))
            continue
        if item.split != ds.pool_split and item.split != test_split:
            continue
        items.append(RubricItem(item.id, item.question_id, "Short answers", [spec], item.response or " ",
                                {spec.key: (level,)}, "train" if item.split == ds.pool_split else "test"))
    # named after the corpus, not the split, so the training answers' readings are cached once for both splits
    return RubricDataset(f"engine-{name}", items, f"{ds.source} ({test_split})", ds.licence_note, decisions=False,
                         exemplar_pool=exemplar_pool)
