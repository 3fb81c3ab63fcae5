"""Credit units: which system a CTDL credit value is in, and how it becomes ECTS.

The unit is decided by what the publisher wrote, most explicit first:

1. ``schema:unitText`` / ``ceterms:unitText`` of the value profile ("ECTS", "ECTS credits", "semester hours");
2. the names of its ``creditUnitType`` concept (``targetNodeName``, ``skos:prefLabel``, ``name``) and
   ``creditUnitTypeDescription``;
3. the ``creditUnitType`` code itself (``creditUnit:SemesterHour``).

``creditUnit:DegreeCredit`` ("credit awarded toward a degree") names no system: with nothing else it is read as
ECTS when the awarding body is in the European Higher Education Area and as a US semester credit otherwise,
and the import says so. ECTS values are kept as published (4 stays 4); the other systems are converted with
the factors below, each conversion noted in the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.ctdl.values import HOURS_PER_ECTS


@dataclass(frozen=True)
class CreditUnit:
    key: str
    label: str
    ects_per_unit: float
    basis: str  # why the factor is what it is


ECTS = CreditUnit("ects", "ECTS", 1.0, "published in ECTS")
US_SEMESTER = CreditUnit("us-semester", "US semester credit hour", 2.0,
                         "1 US semester credit ≈ 2 ECTS: a US full-time year is about 30 semester credits, 60 ECTS")
US_QUARTER = CreditUnit("us-quarter", "US quarter credit hour", 4 / 3,
                        "1 US quarter credit ≈ 1.33 ECTS: a full-time year is about 45 quarter credits, 60 ECTS")
CEU = CreditUnit("ceu", "continuing education unit", 10 / HOURS_PER_ECTS,
                 f"1 CEU = 10 contact hours (IACET); {HOURS_PER_ECTS:g} h of workload ≈ 1 ECTS")
UK_CATS = CreditUnit("uk-cats", "UK (CATS) credit", 0.5,
                     "1 UK credit = 10 notional hours ≈ 0.5 ECTS: a full-time year is 120 UK credits, 60 ECTS "
                     "(QAA Higher Education Credit Framework for England)")
HOURS = CreditUnit("hours", "clock/contact hour", 1 / HOURS_PER_ECTS,
                   f"{HOURS_PER_ECTS:g} h of notional workload ≈ 1 ECTS")

#: (pattern over a lower-cased text, unit); the first pattern that matches decides.
_PATTERNS: tuple[tuple[re.Pattern[str], CreditUnit], ...] = (
    (re.compile(r"\bects\b|european credit transfer|\becvet\b|leistungspunkt|credits? ects|crédits? ects"), ECTS),
    (re.compile(r"\bcats\b|\bscqf\b|\buk credits?\b|credit accumulation and transfer scheme"), UK_CATS),
    (re.compile(r"\bquarter\b"), US_QUARTER),
    (re.compile(r"\bsemester\b|\bsemester ?hours?\b|\bcredit ?hours?\b|\bsch\b|\bus credits?\b"), US_SEMESTER),
    (re.compile(r"continuing education|\bceus?\b"), CEU),
    (re.compile(r"\bclock ?hours?\b|\bcontact ?hours?\b|\bhours?\b|\bstunden\b"), HOURS),
)
#: generic names that say "credit" without saying which system
_GENERIC = re.compile(r"\bdegree ?credits?\b|\bacademic ?credits?\b|\bcredits?\b|\bcredit ?units?\b")

#: European Higher Education Area members (ISO 3166-1 alpha-2): where a "degree credit" is an ECTS credit.
EHEA = frozenset({
    "AD", "AL", "AM", "AT", "AZ", "BA", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB",
    "GE", "GR", "HR", "HU", "IE", "IS", "IT", "KZ", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MT", "NL",
    "NO", "PL", "PT", "RO", "RS", "SE", "SI", "SK", "SM", "TR", "UA", "VA",
})


def _words(text: str) -> str:
    """``creditUnit:SemesterHour`` -> ``semester hour``; other texts lower-cased."""
    tail = re.split(r"[:/#]", text.strip().rstrip("/"))[-1] if re.match(r"^[\w.-]+:[^\s]*$", text.strip()) else text
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", tail)
    return " ".join(spaced.replace("_", " ").lower().split())


@dataclass(frozen=True)
class UnitReading:
    unit: CreditUnit | None
    evidence: str  # what decided it, for the report ("unitText 'ECTS'")
    assumed: bool = False  # a generic "credit" read by the awarding body's region


def read_unit(unit_texts: list[str], labels: list[str], codes: list[str], country: str | None) -> UnitReading:
    """The credit unit the publisher meant (see the module docstring for the order)."""
    generic: str | None = None
    for source, texts in (("unitText", unit_texts), ("creditUnitType name", labels), ("creditUnitType", codes)):
        for text in texts:
            words = _words(text)
            for pattern, unit in _PATTERNS:
                if pattern.search(words):
                    return UnitReading(unit, f"{source} '{text}'")
            if generic is None and _GENERIC.search(words):
                generic = f"{source} '{text}'"
    if generic is not None:
        if country in EHEA:
            return UnitReading(ECTS, f"{generic} (a degree credit of an awarding body in {country}, in the European "
                               "Higher Education Area, read as ECTS)", assumed=True)
        return UnitReading(US_SEMESTER, f"{generic} (no system named; read as a US semester credit"
                           + (f", the awarding body being in {country})" if country else ")"), assumed=True)
    return UnitReading(None, ", ".join([*unit_texts, *labels, *codes]) or "(none)")
