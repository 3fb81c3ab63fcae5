"""Where the engine's graded examples come from, and refitting it (``stackwise grader fit``).

Three sources, pooled:

- the **base examples** shipped with Stackwise (``grader/fitted/examples.json``): the readings of the demo
  evidence set's ``train`` split, so a fresh install starts from a fitted engine;
- the catalogue's **level exemplars**: each is a graded example of its level for the vote of the nearest
  examples (they are short snippets, so they do not train the regression itself);
- every **assessor decision** in the review queue, with the reading stored beside its grade (so a refit
  needs no model call). Decisions on grades made without the engine have no reading and are reported.

The fitted combiner records its version; each grade stores the version that made it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.engine import (
    DEFAULT_GROUPS,
    Combiner,
    CriterionSpec,
    GradedExample,
    Reading,
    complete,
    median_level,
    unit,
)
from grader.fitting import GradedSubmission, PassRule, choose_routing, fit_combiner, out_of_fold
from grader.models import DecidedSubmission
from grader.text_features import text_stats
from knowledge.schema import Catalogue, RoutingPolicy

BASE_EXAMPLES = Path(__file__).resolve().parent / "fitted" / "examples.json"
Embed = Callable[[list[str]], list[list[float]]]


def submission_to_dict(sub: GradedSubmission) -> dict[str, Any]:
    return {"id": sub.id, "group": sub.group, "levels": {k: list(v) for k, v in sub.levels.items()},
            "flagged": sub.flagged, "source": sub.source, "readings": [r.to_dict() for r in sub.readings.values()]}


def submission_from_dict(data: dict[str, Any], catalogue: Catalogue | None = None) -> GradedSubmission:
    readings = {r["criterion_key"]: Reading.from_dict(r) for r in data["readings"]}
    cred = catalogue.credentials.get(data["group"]) if catalogue is not None else None
    return GradedSubmission(data["id"], data["group"], readings,
                            {k: tuple(v) for k, v in data["levels"].items()},
                            PassRule.of(cred) if cred is not None else None, bool(data.get("flagged")),
                            data.get("source", "evidence"))


def save_examples(subs: Sequence[GradedSubmission], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"examples": [submission_to_dict(s) for s in subs]}, separators=(",", ":")),
                    encoding="utf-8")


def load_examples(path: Path = BASE_EXAMPLES, catalogue: Catalogue | None = None) -> list[GradedSubmission]:
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [submission_from_dict(d, catalogue) for d in data.get("examples", [])]


def latest_by_submission(decisions: Sequence[DecidedSubmission]) -> dict[str, list[DecidedSubmission]]:
    """Per submission (in order of first decision), each assessor's latest decision, oldest first: the last
    one in a list is the submission's latest decision."""
    latest: dict[tuple[str, str], DecidedSubmission] = {}
    for d in decisions:
        latest[(d.submission_id, d.assessor)] = d
    out: dict[str, list[DecidedSubmission]] = {}
    for d in decisions:
        out.setdefault(d.submission_id, [])
    for d in latest.values():
        out[d.submission_id].append(d)
    return {sid: sorted(ds, key=lambda d: d.decided_at) for sid, ds in out.items()}


def export_rows(decisions: Sequence[DecidedSubmission]) -> list[dict[str, Any]]:
    """The review-queue export (FORMAT.md): one row per decided submission, a level per criterion, or a list of
    levels when several assessors decided it."""
    rows = []
    for sid, ds in latest_by_submission(decisions).items():
        levels = {c: [d.levels[c] for d in ds if c in d.levels] for c in ds[-1].levels}
        rows.append({"id": sid, "credential": ds[-1].credential_id, "evidence": ds[-1].evidence,
                     "levels": {c: v[0] if len(v) == 1 else v for c, v in levels.items()},
                     "assessors": sorted(d.assessor for d in ds)})
    return rows


def from_decisions(decisions: Sequence[DecidedSubmission], catalogue: Catalogue
                   ) -> tuple[list[GradedSubmission], list[str]]:
    """Assessor decisions as graded submissions (the latest decision per submission and assessor; several
    assessors of one submission become several levels); returns them and the ids that had no reading."""
    out, skipped = [], []
    for sid, ds in latest_by_submission(decisions).items():
        cred = catalogue.credentials.get(ds[0].credential_id)
        readings = ds[-1].readings
        if cred is None or not readings or any(c.id not in readings for c in cred.rubric.criteria):
            skipped.append(sid)
            continue
        levels = {}
        for c in cred.rubric.criteria:
            ids = [lv.id for lv in c.levels]
            chosen = [ids.index(d.levels[c.id]) for d in ds if d.levels.get(c.id) in ids]
            if chosen:
                levels[f"{cred.id}/{c.id}"] = tuple(chosen)
        subs_readings = {}
        stats = text_stats(ds[-1].evidence)
        for c in cred.rubric.criteria:
            spec = CriterionSpec.from_rubric(cred.id, c)
            reading = complete(Reading.from_dict(readings[c.id]), ds[-1].evidence, spec, stats)
            reading.item_id = sid  # the vote never counts the submission itself
            subs_readings[reading.criterion_key] = reading
        out.append(GradedSubmission(sid, cred.id, subs_readings, levels, PassRule.of(cred), source="assessor"))
    return out, skipped


def exemplar_rows(catalogue: Catalogue) -> list[tuple[str, str, int]]:
    """(criterion key, exemplar text, level index) for every level exemplar of the catalogue."""
    return [(f"{cred.id}/{c.id}", lv.exemplar, i) for cred in catalogue.credentials.values()
            for c in cred.rubric.criteria for i, lv in enumerate(c.levels) if lv.exemplar]


def pool_examples(rows: Sequence[tuple[str, str, int]], embed: Embed) -> list[GradedExample]:
    """Graded texts that only join the nearest-examples vote (exemplars, graded answers not read by the model)."""
    if not rows:
        return []
    vectors = [unit(v) for v in embed([text for _, text, _ in rows])]
    return [GradedExample(Reading(f"exemplar:{key}:{n}", key, [], vec), (level,), "exemplar")
            for n, ((key, _, level), vec) in enumerate(zip(rows, vectors, strict=True))]


def exemplar_examples(catalogue: Catalogue, embed: Embed) -> list[GradedExample]:
    return pool_examples(exemplar_rows(catalogue), embed)


@dataclass
class FitReport:
    version: str
    base_examples: int
    assessor_decisions: int
    exemplars: int
    skipped_decisions: list[str] = field(default_factory=list)
    routing: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"fitted {self.version} on {self.base_examples} base submissions, {self.assessor_decisions} "
                 f"assessor-decided submissions and {self.exemplars} level exemplars (nearest-example vote)"]
        if self.skipped_decisions:
            lines.append(f"skipped {len(self.skipped_decisions)} decisions graded without the engine (no reading)")
        for key, r in self.routing.items():
            lines.append(f"routing for limits {key} (false pass / wrong decision / wrong level):")
            lines += [f"  decisions: {r['false_pass']}", f"  any error: {r['wrong_decision']}",
                      f"  levels: {r['wrong_level']}"]
        return "\n".join(lines)


def refit(catalogue: Catalogue, base: Sequence[GradedSubmission], decisions: Sequence[GradedSubmission],
          exemplars: Sequence[GradedExample], *, groups: Sequence[str] = DEFAULT_GROUPS, C: float = 0.5,
          skipped: Sequence[str] = ()) -> tuple[Combiner, FitReport]:
    """Fit the combiner on ``base`` + ``decisions`` (vote pool: those plus ``exemplars``) and choose the routing
    thresholds for every set of limits the catalogue's credentials use."""
    subs = [*base, *decisions]
    combiner = fit_combiner(subs, groups, C, exemplars)
    oof = out_of_fold(subs, groups, C, exemplars)
    default = RoutingPolicy()
    limits = {default.limits_key(): default}
    limits.update({c.routing.limits_key(): c.routing for c in catalogue.credentials.values()})
    combiner.routing = {
        key: choose_routing(oof, false_pass_limit=p.max_false_pass_rate, wrong_limit=p.max_wrong_decision_rate,
                            level_limit=p.max_wrong_level_rate).to_dict()
        for key, p in sorted(limits.items())
    }
    combiner.n_examples = len(subs)
    report = FitReport(combiner.version, len(base), len(decisions), len(exemplars), list(skipped), combiner.routing)
    return combiner, report


CANDIDATE_GROUPS: dict[str, tuple[str, ...]] = {
    "text+semantic+overlap+knn": ("text", "semantic", "overlap", "knn"),
    "text+semantic+overlap+knn+letters": ("text", "semantic", "overlap", "knn", "letters"),
    "text+semantic+overlap+knn+checks": ("text", "semantic", "overlap", "knn", "checks"),
    "all": DEFAULT_GROUPS,
}
QUESTION_COST = {"none": 0, "letters": 1, "checks": 2, "both": 3}


def compare_groups(subs: Sequence[GradedSubmission], exemplars: Sequence[GradedExample],
                   candidates: dict[str, tuple[str, ...]] = CANDIDATE_GROUPS, C: float = 0.5
                   ) -> list[dict[str, Any]]:
    """Out-of-fold QWK and calibration coverage of each candidate on ``subs`` (never a test split), best first:
    the highest QWK, and among those within 0.01 of it the one that asks the model least."""
    from sklearn.metrics import cohen_kappa_score

    from grader.engine import questions_for

    rows = []
    for name, groups in candidates.items():
        oof = out_of_fold(subs, groups, C, exemplars)
        gold = [s.gold_level(k) for s, d in oof for k in d if k in s.levels]
        pred = [median_level(d[k]) for s, d in oof for k in d if k in s.levels]
        fit = choose_routing(oof, false_pass_limit=0.05, wrong_limit=0.10, level_limit=0.10)
        rows.append({"name": name, "groups": groups, "qwk": float(cohen_kappa_score(gold, pred, weights="quadratic")),
                     "calibration_automatic": fit.by_false_pass.automatic if fit.decision_threshold else 0,
                     "questions": questions_for(groups)})
    best = max(r["qwk"] for r in rows)
    return sorted(rows, key=lambda r: (r["qwk"] < best - 0.01, QUESTION_COST[r["questions"]], -r["qwk"]))
