"""The default scorer: a credential's rubric graded by :mod:`grader.engine` with a fitted combiner.

``EngineScorer.score`` reads the evidence once for all criteria, gives each criterion the median level of
its distribution (the natural choice for an ordinal model), its confidence, verbatim quotes and a short
draft reason, and P(pass) with the routing threshold that the combiner was fitted with for the credential's
limits. The model-written reasons and feedback come afterwards (:mod:`grader.feedback`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from grader.engine import Combiner, EngineError, EvidenceReader, credential_specs, median_level
from grader.fitting import PassRule
from grader.scoring import CriterionScore, RubricScore, pick_quotes
from knowledge.schema import Credential

SHIPPED_COMBINER = Path(__file__).resolve().parent / "fitted" / "combiner.json"


def load_combiner(path: Path | None = None) -> Combiner:
    """The combiner at ``path`` (a refit in the data directory), else the one shipped with Stackwise."""
    for candidate in (path, SHIPPED_COMBINER):
        if candidate is not None and candidate.is_file():
            try:
                return Combiner.from_dict(json.loads(candidate.read_text(encoding="utf-8")))
            except (ValueError, KeyError, TypeError) as exc:
                raise EngineError(f"{candidate}: not a usable combiner file ({exc}); refit with "
                                  "'stackwise grader fit'") from exc
    raise EngineError(f"no fitted combiner: expected {SHIPPED_COMBINER}; run 'stackwise grader fit'")


def save_combiner(combiner: Combiner, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(combiner.to_dict(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)


def draft_reason(credential: Credential, index: int, criterion_index: int, quotes: list[str]) -> str:
    criterion = credential.rubric.criteria[criterion_index]
    level = criterion.levels[index]
    reason = f"{level.label}: {' '.join(level.descriptor.split())}"
    if quotes:
        reason += f" The evidence says: \u201c{quotes[0][:200]}\u201d"
    return reason


class EngineScorer:
    strategy = "engine"

    def __init__(self, reader: EvidenceReader, combiner: Combiner, model_name: str, prompt_id: str):
        self.reader = reader
        self.combiner = combiner
        self.model_name = model_name
        self.prompt_id = prompt_id

    def score(self, credential: Credential, evidence: str) -> RubricScore:
        started = time.perf_counter()
        specs = credential_specs(credential)
        readings = self.reader.read("submission", credential.title, specs, evidence)
        criteria, dists = [], {}
        for position, (criterion, reading) in enumerate(zip(credential.rubric.criteria, readings, strict=True)):
            dist = self.combiner.level_distribution(reading)
            dists[reading.criterion_key] = dist
            index = median_level(dist)
            quotes = pick_quotes(evidence, criterion, index)
            criteria.append(CriterionScore(
                criterion.id, criterion.levels[index].id, {lv.id: p for lv, p in zip(criterion.levels, dist,
                                                                                      strict=True)},
                dist[index], draft_reason(credential, index, position, quotes), quotes))
        routing = self.combiner.routing.get(credential.routing.limits_key(), {})
        return RubricScore(
            criteria, self.model_name, self.prompt_id, round(time.perf_counter() - started, 3), engine=True,
            p_pass=PassRule.of(credential).probability(dists), decision_threshold=routing.get("decision_threshold"),
            level_threshold=routing.get("level_threshold"), engine_version=self.combiner.version,
            readings={c.id: r.to_dict() for c, r in zip(credential.rubric.criteria, readings, strict=True)})
