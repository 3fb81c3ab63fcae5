"""Why a submission is in review, in plain words: the one place a review reason code becomes a sentence.

The grader records reasons as short codes (:func:`grader.policy.decide`, :mod:`grader.service`,
:meth:`grader.submissions.Submissions.request_review`): a name, optionally followed by ``:`` and comma-separated
arguments, e.g. ``low_confidence:maturity-assessment,operating-model`` or ``near_duplicate:<submission id>``.
:func:`reason_sentence` turns one into a sentence naming the criteria by their titles; every channel (web,
Telegram, CLI) shows these sentences, never the codes. A code without a sentence here fails
``tests/test_web_grader.py`` (every code the policy can produce is checked).

Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

_Sentence = Callable[[str], str]  # the named criteria (already joined), or the argument, -> the sentence


def _criteria(general: str, specific: Callable[[str], str]) -> Callable[[str], str]:
    return lambda named: specific(named) if named else general


# name -> (sentence for the joined arguments, whether the arguments are criterion ids)
REASONS: dict[str, tuple[_Sentence, bool]] = {
    "prompt_injection": (lambda _: "The evidence contains text that looks like instructions aimed at the grader.",
                         False),
    "suspect_passage_moves_level": (_criteria(
        "A passage that looks aimed at the grader changes the level it would give.",
        lambda named: f"A passage that looks aimed at the grader changes the level of {named}."), True),
    "machine_generated": (lambda _: "Parts of the evidence read like machine-written boilerplate.", False),
    "near_duplicate": (lambda other: "The evidence is very similar to another learner's submission"
                       + (f" ({other[:8]})." if other else "."), False),
    "quote_not_found": (_criteria(
        "A quote the AI grader relied on does not appear word for word in the evidence.",
        lambda named: f"A quote the AI grader relied on for {named} does not appear word for word in the "
                      "evidence."), True),
    "unreadable_file": (lambda _: "A file could not be read; the AI grade uses the rest of the evidence.", False),
    "near_threshold": (lambda _: "The AI grader's total is close to the pass mark.", False),
    "low_confidence": (_criteria(
        "The AI grader is unsure which level some criteria reach.",
        lambda named: f"The AI grader is unsure of the level of {named}."), True),
    "uncertain": (lambda _: "The AI grader is not confident enough of pass or fail to decide alone.", False),
    "not_calibrated": (lambda _: "The AI grader is not calibrated for this credential yet, so a person checks "
                                 "every submission.", False),
    "appeal": (lambda _: "The learner asked for a person to review the result.", False),
    "unspecified": (lambda _: "The AI grader sent it for review without recording why.", False),
}


def split_reason(code: str) -> tuple[str, list[str]]:
    """``"low_confidence:a,b"`` -> ``("low_confidence", ["a", "b"])``."""
    name, _, rest = str(code).partition(":")
    return name.strip(), [a.strip() for a in rest.split(",") if a.strip()]


def reason_name(code: str) -> str:
    """The reason's name without its arguments (what the queue's urgency order and filters compare)."""
    return split_reason(code)[0]


def is_known(code: str) -> bool:
    return reason_name(code) in REASONS


def join_names(names: Sequence[str]) -> str:
    """``["A"]`` -> ``A``; ``["A", "B"]`` -> ``A and B``; ``["A", "B", "C"]`` -> ``A, B and C``."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def reason_sentence(code: str, criterion_titles: Mapping[str, str] | None = None) -> str:
    """One reason code as a sentence; criterion ids become their titles (``criterion_titles``: id -> title).

    An unknown code still reads as words (``"Other reason: …"``) so nothing is hidden from the assessor."""
    name, args = split_reason(code)
    entry = REASONS.get(name)
    if entry is None:
        readable = name.replace("_", " ").strip() or "unspecified"
        return f"Other reason: {readable}" + (f" ({', '.join(args)})." if args else ".")
    sentence, criteria = entry
    titles = criterion_titles or {}
    joined = join_names([titles.get(a, a) for a in args]) if criteria else ",".join(args)
    return sentence(joined)


def reason_sentences(codes: Iterable[str], criterion_titles: Mapping[str, str] | None = None) -> list[str]:
    """Each code as a sentence, in order, without repeats."""
    return list(dict.fromkeys(reason_sentence(c, criterion_titles) for c in codes))
