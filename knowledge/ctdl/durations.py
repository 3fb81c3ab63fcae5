"""Durations: weeks and hours a week from CTDL ``estimatedDuration`` (ISO 8601), and the placeholder rules.

Where the figures come from, in order:

==========================================  ===============================================================
the source publishes                         catalogue ``duration``
==========================================  ===============================================================
weeks and hours (``P5W`` + ``PT40H``,        as published: weeks, hours / weeks (no note)
or ``P5WT40H``)
hours only (``timeRequired PT40H``)          hours spread over ceil(hours / 10) weeks (approximation note)
weeks only (``exactDuration P5W``)           weeks as published; hours a week a placeholder: the *published*
                                             ECTS workload (27.5 h per ECTS) over those weeks, else 10 h
nothing                                      placeholder: the published ECTS workload at 10 h a week, else
                                             4 weeks x 10 h
==========================================  ===============================================================

Credits converted from another system (US semester credits, CEUs, ...) never produce hours: only a value
published in ECTS (4 stays 4) may stand in for a missing workload, and every placeholder is noted with REVIEW.
Weeks come from ``exactDuration``, then ``minimumDuration``, then ``maximumDuration``; hours from
``timeRequired`` first, then the hour part of those.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict

from knowledge.ctdl.values import HOURS_PER_ECTS

DURATION_PROPERTIES = ("exactDuration", "minimumDuration", "maximumDuration", "timeRequired")
PLACEHOLDER_HOURS_PER_WEEK = 10.0
PLACEHOLDER_WEEKS = 4
_SPREAD_HOURS_PER_WEEK = 10  # hours-only and ECTS-only durations are spread at this pace
MAX_WEEKS, MAX_HOURS_PER_WEEK, MIN_HOURS_PER_WEEK = 260, 60.0, 0.5

_ISO_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def iso_duration(text: str) -> tuple[float, float] | None:
    """(weeks, hours) of an ISO 8601 duration such as ``P9M``, ``P5W`` or ``PT40H``; None if not one."""
    cleaned = text.strip().upper()
    match = _ISO_DURATION.match(cleaned)
    if not match or cleaned in ("P", "PT") or cleaned.endswith("T"):
        return None
    g = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    weeks = g["y"] * 52 + g["mo"] * 52 / 12 + g["w"] + g["d"] / 7
    hours = g["h"] + g["mi"] / 60 + g["s"] / 3600
    if weeks == 0 and hours == 0:
        return None
    return weeks, hours


class Found(BaseModel):
    weeks: float | None = None
    hours: float | None = None  # total hours


class Estimate(BaseModel):
    model_config = ConfigDict(frozen=True)

    weeks: int
    hours_per_week: float
    note: str = ""  # empty when taken as published
    approximate: bool = False  # True: mapped with a changed meaning; False with a note: a placeholder


def read_duration(values: dict[str, str | None]) -> Found:
    """Weeks and total hours from the DurationProfile properties ``values`` (name -> ISO 8601 text)."""
    parsed = {name: iso_duration(text) for name, text in values.items() if text}
    weeks = next((p[0] for name in ("exactDuration", "minimumDuration", "maximumDuration", "timeRequired")
                  if (p := parsed.get(name)) and p[0]), None)
    hours = next((p[1] for name in ("timeRequired", "exactDuration", "minimumDuration", "maximumDuration")
                  if (p := parsed.get(name)) and p[1]), None)
    return Found(weeks=weeks, hours=hours)


def _weeks(value: float) -> int:
    return max(1, min(MAX_WEEKS, round(value)))


def _per_week(hours: float, weeks: int) -> float:
    return round(min(MAX_HOURS_PER_WEEK, max(MIN_HOURS_PER_WEEK, hours / weeks)), 1)


def estimate_duration(weeks: float | None, hours: float | None, published_ects: float | None) -> Estimate:
    """The catalogue duration by the rules in the module docstring. ``published_ects`` is the credential's ECTS
    only when the source published it in ECTS (None for converted or placeholder credits)."""
    if weeks and hours:
        total = _weeks(weeks)
        return Estimate(weeks=total, hours_per_week=_per_week(hours, total))
    if hours:
        total = max(1, min(MAX_WEEKS, math.ceil(hours / _SPREAD_HOURS_PER_WEEK)))
        return Estimate(weeks=total, hours_per_week=_per_week(hours, total), approximate=True,
                        note=f"estimatedDuration of {hours:g} hours spread over {total} week(s)")
    if weeks:
        total = _weeks(weeks)
        if published_ects:
            hpw = _per_week(published_ects * HOURS_PER_ECTS, total)
            why = (f"estimated from the published {published_ects:g} ECTS ({HOURS_PER_ECTS:g} h per ECTS) over "
                   f"{total} weeks: {hpw:g} h")
        else:
            hpw = PLACEHOLDER_HOURS_PER_WEEK
            why = f"set to placeholder {hpw:g} h (no ECTS published to estimate from)"
        return Estimate(weeks=total, hours_per_week=hpw,
                        note=f"estimatedDuration gives {total} weeks but no hours; hours per week {why}")
    if published_ects:
        workload = published_ects * HOURS_PER_ECTS
        total = max(1, min(MAX_WEEKS, math.ceil(workload / _SPREAD_HOURS_PER_WEEK)))
        hpw = _per_week(workload, total)
        return Estimate(weeks=total, hours_per_week=hpw,
                        note=f"duration not present in CTDL; set to {total} weeks × {hpw:g} h from the published "
                             f"{published_ects:g} ECTS workload")
    return Estimate(weeks=PLACEHOLDER_WEEKS, hours_per_week=PLACEHOLDER_HOURS_PER_WEEK,
                    note=f"duration not present in CTDL and no ECTS published; set to placeholder {PLACEHOLDER_WEEKS} "
                         f"weeks × {PLACEHOLDER_HOURS_PER_WEEK:g} h")
