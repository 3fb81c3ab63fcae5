"""Rubrics as the review queue sees them: how an assessor's final levels are turned back into totals.

:func:`rubric_scorer` makes a :data:`Rescorer` of a catalogue rubric (the pass rule is
:func:`knowledge.schema.meets_pass_rule`, written once); :func:`as_rescorer` takes either and gives the
callable; :func:`rubrics_from_catalogue` resolves a credential id to its rubric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from grader.errors import InvalidOverride
from grader.models import Totals
from knowledge.schema import meets_pass_rule


class _LevelLike(Protocol):
    id: str
    points: int


class _CriterionLike(Protocol):
    id: str
    levels: Sequence[_LevelLike]


@runtime_checkable
class RubricLike(Protocol):
    """Structural view of ``knowledge.schema.Rubric``."""

    criteria: Sequence[_CriterionLike]
    pass_threshold: int
    min_points_each: int


Rescorer = Callable[[Mapping[str, str]], Totals]
"""Given the final ``{criterion_id: level_id}``, the totals and whether they pass."""


def rubric_scorer(rubric: RubricLike) -> Rescorer:
    """A :data:`Rescorer` for a catalogue rubric: total of level points; passes by the rubric's pass rule (the
    total reaches ``pass_threshold`` and every criterion reaches ``min_points_each``)."""
    points = {c.id: {lv.id: lv.points for lv in c.levels} for c in rubric.criteria}

    def rescore(levels: Mapping[str, str]) -> Totals:
        missing = sorted(set(points) - set(levels))
        if missing:
            raise InvalidOverride(f"no level for criteria {missing}; give one for each")
        unknown = sorted(set(levels) - set(points))
        if unknown:
            raise InvalidOverride(f"criteria {unknown} are not in the rubric (known: {sorted(points)})")
        earned = {}
        for cid, level_id in levels.items():
            if level_id not in points[cid]:
                raise InvalidOverride(f"criterion {cid!r} has no level {level_id!r} (levels: {list(points[cid])})")
            earned[cid] = points[cid][level_id]
        passed = meets_pass_rule(earned.values(), rubric.pass_threshold, rubric.min_points_each)
        return Totals(total_points=sum(earned.values()), max_points=sum(max(lv.values()) for lv in points.values()),
                      passed=passed)

    return rescore


def as_rescorer(rubric: RubricLike | Rescorer) -> Rescorer:
    """The :data:`Rescorer` for a rubric, or the rescorer itself when one is given."""
    if isinstance(rubric, RubricLike):
        return rubric_scorer(rubric)
    return rubric


def rubrics_from_catalogue(catalogue: Any) -> Callable[[str], RubricLike | None]:
    """Resolve a credential id to its rubric in a ``knowledge.Catalogue``."""

    def resolve(credential_id: str) -> RubricLike | None:
        credential = catalogue.credentials.get(credential_id)
        return credential.rubric if credential is not None else None

    return resolve
