"""EQF levels: read from level names ("EQF level 6", "Niveau 6 EQR/DQR"), else the approximate US mapping.

A level value is a ``CredentialAlignmentObject`` (``targetNodeName``, ``targetNode``, ``frameworkName``), a
``skos:Concept`` (``prefLabel``, ``notation``), a plain code (``audLevel:BachelorsDegreeLevel``) or a reference
to a concept node in the import. When any of its texts names the European Qualifications Framework (or a
national framework tied to it: DQR, EQR, CEC, MEC, QEQ), the level is the single digit 1-8 its names give -
that is a published EQF level, kept as is. US audience levels and degree types map approximately (table below),
with a note asking for review.
"""

from __future__ import annotations

import re

from knowledge.ctdl.values import _code

_FRAMEWORK = re.compile(
    r"\beqf\w*|\beqr\b|\bdqr\b|\bnqr\b|european qualifications? framework|europ\w* qualifikationsrahmen"
    r"|qualifikationsrahmen|cadre europ\w* des certifications|\bcec\b|marco europeo de cualificaciones|\bmec\b"
    r"|quadro europeo delle qualifiche|\bqeq\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"(?<![\d.])([1-8])(?![\d.])")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8}
_ROMAN_LEVEL = re.compile(r"\b(?:level|niveau|stufe|nivel|livello)\s+(viii|vii|vi|iv|v|iii|ii|i)\b", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[0-9])(?=[A-Za-z])")

EQF_BY_LEVEL = {
    "lowersecondarylevel": 2, "middleschool": 2,
    "secondarylevel": 4, "secondaryschool": 4, "highschool": 4, "uppersecondarylevel": 4,
    "9": 3, "10": 4, "11": 4, "12": 4,
    "postsecondarylevel": 5, "associatesdegreelevel": 5, "associatedegreelevel": 5, "lowerdivisionlevel": 5,
    "bachelorsdegreelevel": 6, "bachelordegreelevel": 6, "upperdivisionlevel": 6,
    "graduatelevel": 7, "mastersdegreelevel": 7, "masterdegreelevel": 7,
    "doctoraldegreelevel": 8, "doctoratelevel": 8,
}
EQF_BY_TYPE = (
    ("SecondarySchoolDiploma", 4), ("GeneralEducationDevelopment", 4), ("AssociateDegree", 5),
    ("AssociateOf", 5), ("BachelorDegree", 6), ("BachelorOf", 6), ("MasterDegree", 7), ("MasterOf", 7),
    ("DoctoralDegree", 8), ("Doctorate", 8),
)


def _spaced(text: str) -> str:
    """``eqfLevel6`` -> ``eqf Level 6``; ``audLevel:EQF6`` -> ``audLevel EQF 6`` (so words and digits part)."""
    return _CAMEL.sub(" ", re.sub(r"[:/#_\-]+", " ", text))


def eqf_from_texts(names: list[str], codes: list[str]) -> int | None:
    """The EQF level a level value publishes, or None when it names no European framework level.

    ``names`` are its labels (targetNodeName, prefLabel, name), ``codes`` its codes and framework texts."""
    texts = [_spaced(t) for t in [*names, *codes] if t]
    if not any(_FRAMEWORK.search(t) for t in texts):
        return None
    for text in texts:
        digits = {int(d) for d in _DIGIT.findall(text)}
        if len(digits) == 1:
            return digits.pop()
        roman = _ROMAN_LEVEL.search(text)
        if roman:
            return _ROMAN[roman.group(1).lower()]
    return None


def us_level(code: str) -> int | None:
    """The approximate EQF level of a US audience level code (``audLevel:BachelorsDegreeLevel`` -> 6)."""
    return EQF_BY_LEVEL.get(_code(code)) if code else None
