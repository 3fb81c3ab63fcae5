"""The labelled portfolio-evidence set for the grader benchmark (``evals/grading_evidence/items.yaml``).

Each item is one learner's evidence for one credential of the demo catalogue, with the level a careful
human assessor gives for every rubric criterion (``labels``) and the decision that follows
(``expected_decision``). Items that address the grader (tag ``injection``) are labelled for their content
alone and expect ``review``: instructions aimed at the grader always go to a human.

Two layers of checking:

- :func:`load_evidence_set` validates the file's shape; a malformed item raises
  :class:`EvidenceSetInvalid` naming the file and the item id.
- :func:`check_against` cross-checks the items against a catalogue: known credentials, one label per
  criterion and no others, known level ids, unique ids, and ``expected_decision`` equal to what
  :meth:`knowledge.schema.Rubric.passes` says for the labelled levels (except ``review`` items).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.schema import Catalogue

DEFAULT_EVIDENCE_DIR = Path(__file__).resolve().parent / "grading_evidence"
DEFAULT_EVIDENCE_SET = DEFAULT_EVIDENCE_DIR / "items.yaml"
SPLITS = ("train", "test")

Decision = Literal["pass", "fail", "review"]
Tag = Literal["injection", "off_topic", "machine_generated", "borderline", "strong", "weak"]
TAGS: tuple[str, ...] = get_args(Tag)
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")]


class EvidenceSetInvalid(ValueError):
    """The evidence file cannot be read or an item in it is malformed; the message names file and item."""


class EvidenceItem(BaseModel):
    """One labelled piece of portfolio evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    credential: Slug
    evidence: Annotated[str, Field(min_length=1)]
    reflection: str | None = None
    labels: Annotated[dict[str, str], Field(min_length=1, description="criterion id -> level id")]
    expected_decision: Decision
    tags: list[Tag] = Field(default_factory=list)
    note: str | None = Field(default=None, description="why the labels are what they are (for maintainers)")
    split: Literal["train", "test"] = Field(
        default="train", description="train: fitting and calibration; test: held out, never used for tuning")

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        if len(set(tags)) != len(tags):
            raise ValueError(f"tags must not repeat, got {tags}")
        return tags

    @property
    def text(self) -> str:
        """Evidence and reflection as the grader receives them (see ``grader.evidence.combine``)."""
        if self.reflection and self.reflection.strip():
            return f"{self.evidence}\n\nReflective statement:\n{self.reflection}"
        return self.evidence

    @property
    def word_count(self) -> int:
        return word_count(self.evidence)


class EvidenceSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: Annotated[list[EvidenceItem], Field(min_length=1)]

    def by_tag(self, tag: str) -> list[EvidenceItem]:
        return [i for i in self.items if tag in i.tags]


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text))


_ITEM_ID_LINE = re.compile(r"^\s*-\s+id:\s*['\"]?([^'\"\s#]+)")


def _item_before(text: str, line: int) -> str | None:
    """The id of the last item starting at or before ``line`` (0-based), to locate a YAML syntax error."""
    found = None
    for current in text.splitlines()[: line + 1]:
        match = _ITEM_ID_LINE.match(current)
        if match:
            found = match.group(1)
    return found


def _item_label(raw: object, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"item {raw['id']!r} (#{index + 1})"
    return f"item #{index + 1} (no id)"


def load_evidence_set(path: Path | str = DEFAULT_EVIDENCE_SET) -> list[EvidenceItem]:
    """The items of the evidence file at ``path``, validated one by one.

    Raises :class:`EvidenceSetInvalid` listing every malformed item as ``file: item 'id' (#n): problem``.
    Cross-checks against a catalogue are separate: see :func:`check_against`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvidenceSetInvalid(f"{path}: cannot read evidence set: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "unknown line"
        near = _item_before(text, mark.line) if mark is not None else None
        near_text = f" in item {near!r}" if near else ""
        raise EvidenceSetInvalid(f"{path}: {where}{near_text}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list) or not data["items"]:
        raise EvidenceSetInvalid(f"{path}: expected a mapping with a non-empty 'items' list")
    extra = sorted(set(data) - {"items"})
    if extra:
        raise EvidenceSetInvalid(f"{path}: unexpected top-level keys: {', '.join(extra)}")
    items: list[EvidenceItem] = []
    problems: list[str] = []
    for index, raw in enumerate(data["items"]):
        try:
            items.append(EvidenceItem.model_validate(raw))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"]) or "item"
                problems.append(f"{path}: {_item_label(raw, index)}: {where}: {error['msg']}")
    if problems:
        raise EvidenceSetInvalid("\n".join(problems))
    return EvidenceSet(items=items).items


def load_evidence_dir(folder: Path | str = DEFAULT_EVIDENCE_DIR) -> list[EvidenceItem]:
    """Every item of every ``items*.yaml`` file in ``folder`` (validated; see :func:`load_evidence_set`)."""
    files = sorted(Path(folder).glob("items*.yaml"))
    if not files:
        raise EvidenceSetInvalid(f"{folder}: no items*.yaml files")
    problems, items = [], []
    for path in files:
        try:
            items.extend(load_evidence_set(path))
        except EvidenceSetInvalid as exc:
            problems.append(str(exc))
    if problems:
        raise EvidenceSetInvalid("\n".join(problems))
    return items


def check_against(catalogue: Catalogue, items: list[EvidenceItem]) -> list[str]:
    """Every inconsistency between the items and ``catalogue``; empty when the set is sound."""
    problems: list[str] = []
    for item_id, count in sorted(Counter(i.id for i in items).items()):
        if count > 1:
            problems.append(f"{item_id}: duplicate item id ({count} items)")
    for item in items:
        credential = catalogue.credentials.get(item.credential)
        if credential is None:
            problems.append(f"{item.id}: unknown credential {item.credential!r}")
            continue
        rubric = credential.rubric
        criteria = {c.id: c for c in rubric.criteria}
        missing = [c for c in criteria if c not in item.labels]
        extra = [c for c in item.labels if c not in criteria]
        if missing:
            problems.append(f"{item.id}: no label for criteria {', '.join(missing)}")
        if extra:
            problems.append(f"{item.id}: labels for unknown criteria {', '.join(extra)}")
        points: dict[str, int] = {}
        for criterion_id, level_id in item.labels.items():
            criterion = criteria.get(criterion_id)
            if criterion is None:
                continue
            level = next((lv for lv in criterion.levels if lv.id == level_id), None)
            if level is None:
                known = ", ".join(lv.id for lv in criterion.levels)
                problems.append(f"{item.id}: unknown level {level_id!r} for criterion {criterion_id} (known: {known})")
            else:
                points[criterion_id] = level.points
        complete = not missing and len(points) == len(criteria)
        if item.expected_decision == "review":
            if "injection" not in item.tags:
                problems.append(f"{item.id}: expected_decision 'review' is for items tagged 'injection'")
        elif "injection" in item.tags:
            problems.append(f"{item.id}: an injection item expects 'review', not {item.expected_decision!r}")
        elif complete:
            decision = "pass" if rubric.passes(points) else "fail"
            if decision != item.expected_decision:
                problems.append(
                    f"{item.id}: expected_decision {item.expected_decision!r} but the labelled levels "
                    f"({sum(points.values())}/{rubric.max_points}, pass at {rubric.pass_threshold}, "
                    f"min {rubric.min_points_each} each) give {decision!r}"
                )
    return problems


def labelled_points(catalogue: Catalogue, item: EvidenceItem) -> dict[str, int]:
    """Points per criterion for the item's labels (assumes :func:`check_against` found no problems)."""
    criteria = {c.id: c for c in catalogue.credentials[item.credential].rubric.criteria}
    return {
        cid: next(lv.points for lv in criteria[cid].levels if lv.id == level_id)
        for cid, level_id in item.labels.items()
    }
