"""Grading one piece of evidence against a credential's rubric: the pipeline, without storage.

evidence text → pseudonymised → normalised (hidden text, invisible and look-alike characters, encoded
blocks) → instructions aimed at the grader removed and flagged (rules, and the model's P(yes) per passage
when a judge is given) → scored per criterion, again without the merely suspect passages (a level that
moves sends the submission to review, scored without them) → risk signals → decision by :mod:`grader.policy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from grader.errors import UnknownCredential
from grader.evidence import combine
from grader.injection import InjectionDetector, PassageJudge, RubricTerms
from grader.policy import Outcome, Signals, decide
from grader.scoring import RubricScore, Scorer
from grader.signals import (
    looks_machine_generated,
    near_duplicate,
    pseudonymise,
    quote_in_evidence,
)
from knowledge.schema import Catalogue, Credential


@dataclass(frozen=True)
class GradingReport:
    credential_id: str
    evidence_for_model: str
    score: RubricScore
    outcome: Outcome
    signals: Signals
    injection_matches: list[str] = field(default_factory=list)
    injection_suspects: list[str] = field(default_factory=list)
    pseudonymised: dict[str, int] = field(default_factory=dict)


def credential_or_error(catalogue: Catalogue, credential_id: str) -> Credential:
    if credential_id not in catalogue.credentials:
        raise UnknownCredential(credential_id, sorted(catalogue.credentials))
    return catalogue.credentials[credential_id]


def grade_evidence(
    catalogue: Catalogue,
    credential_id: str,
    texts: list[str],
    scorer: Scorer,
    *,
    reflection: str | None = None,
    learner_names: list[str] = (),
    learner_identifiers: list[str] = (),
    other_submissions: dict[str, str] | None = None,
    judge: PassageJudge | None = None,
) -> GradingReport:
    """Grade extracted evidence texts; raises :class:`~grader.evidence.EvidenceError` for unusable evidence.

    ``judge`` asks the model whether passages are aimed at the grader; by default the scorer's
    ``injection_judge`` (set by :func:`stackwise.wiring.make_scorer`), else the rules alone.
    """
    credential = credential_or_error(catalogue, credential_id)
    evidence = combine(texts, reflection)
    private = pseudonymise(evidence, names=list(learner_names), identifiers=list(learner_identifiers))
    judge = judge if judge is not None else getattr(scorer, "injection_judge", None)
    scan = InjectionDetector(judge).scan(private.text, rubric_terms(credential))
    score = scorer.score(credential, scan.sanitised)
    shift: list[str] = []
    if scan.without_suspects != scan.sanitised:  # invariance: the same levels without the suspect passages?
        alternative = scorer.score(credential, scan.without_suspects)
        shift = [a.criterion_id for a, b in zip(score.criteria, alternative.criteria, strict=True)
                 if a.level_id != b.level_id]
        if shift:
            score = alternative
    if scan.flagged and scan.without_regions.strip() and scan.without_regions not in (scan.sanitised,
                                                                                        scan.without_suspects):
        # An attack was found: the sentences around it are not trusted to raise a level either. Each criterion
        # keeps the lower of its levels with and without the paragraphs that held the attack (it goes to an
        # assessor anyway; this is the proposal they see).
        score = lowest_levels(credential, score, scorer.score(credential, scan.without_regions))
    read = scan.without_suspects if shift else scan.sanitised  # normalised (NFKC): quotes are checked in both
    missing = [c.criterion_id for c in score.criteria
               if any(not (quote_in_evidence(q, private.text) or quote_in_evidence(q, read)) for q in c.quotes)]
    duplicate = near_duplicate(private.text, other_submissions or {}, credential.routing.near_duplicate_similarity)
    signals = Signals(
        injection=scan.flagged,
        machine_generated=looks_machine_generated(private.text),
        near_duplicate_of=duplicate[0] if duplicate else None,
        missing_quotes=missing,
        suspect_shift=shift,
    )
    outcome = decide(
        credential.rubric,
        {c.criterion_id: c.level_id for c in score.criteria},
        {c.criterion_id: c.confidence for c in score.criteria},
        credential.routing,
        signals,
        p_pass=score.p_pass,
        decision_threshold=score.decision_threshold,
        engine=score.engine,
    )
    return GradingReport(credential_id, read, score, outcome, signals, scan.matches, scan.suspects,
                         private.replacements)


def lowest_levels(credential: Credential, score: RubricScore, other: RubricScore) -> RubricScore:
    """Per criterion, the score (level, distribution, reading) with the lower level of the two."""
    rank = {c.id: {lv.id: i for i, lv in enumerate(c.levels)} for c in credential.rubric.criteria}
    chosen, readings = [], dict(score.readings or {})
    for a, b in zip(score.criteria, other.criteria, strict=True):
        lower = b if rank[b.criterion_id][b.level_id] < rank[a.criterion_id][a.level_id] else a
        chosen.append(lower)
        if lower is b and other.readings and b.criterion_id in other.readings:
            readings[b.criterion_id] = other.readings[b.criterion_id]
    p_pass = min((p for p in (score.p_pass, other.p_pass) if p is not None), default=None)
    return replace(score, criteria=chosen, p_pass=p_pass, readings=readings or score.readings)


def rubric_terms(credential: Credential) -> RubricTerms:
    """The rubric's wording, so that a passage copying descriptors or naming levels can be told apart."""
    criteria = credential.rubric.criteria
    return RubricTerms.of([lv.descriptor for c in criteria for lv in c.levels],
                          [lv.label for c in criteria for lv in c.levels])
