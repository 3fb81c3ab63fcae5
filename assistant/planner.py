"""The pathway planner: exact answers about stacking, in code rather than in the language model.

Pure functions over a :class:`~knowledge.schema.Catalogue`:

- :func:`pathway_progress` — which requirements a learner's credentials meet and what is missing;
- :func:`cheapest_route` — the cheapest set of further credentials that completes a pathway, in an
  order that respects every prerequisite (an exact integer programme solved with SciPy's HiGHS);
- :func:`study_order` — a prerequisite-respecting order for a set of credentials;
- :func:`recognised_credit` — credit recognised towards larger qualifications;
- :func:`shared_credentials` — credentials that count towards more than one pathway.

Every figure the assistant states about stacking comes from here.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from graphlib import CycleError, TopologicalSorter

from pydantic import BaseModel

from knowledge.documents import describe_rule
from knowledge.schema import AllOf, AnyOf, Catalogue, MinCredits, NOfM, Pathway, Prerequisite


class PlannerError(ValueError):
    """A planning question that cannot be answered; the message says why, for the learner."""


class UnknownId(PlannerError):
    pass


class ImpossibleTarget(PlannerError):
    pass


class RuleStatus(BaseModel):
    description: str
    kind: str
    satisfied: bool
    counted: list[str]
    still_needed: str | None = None


class PathwayProgress(BaseModel):
    pathway_id: str
    title: str
    holding: list[str]
    complete: bool
    rules: list[RuleStatus]
    ects_held_towards: float


class Step(BaseModel):
    credential_id: str
    title: str
    ects: float
    price: Decimal
    currency: str
    weeks: int
    hours: float


class Route(BaseModel):
    pathway_id: str
    steps: list[Step]
    total_ects: float
    total_price: dict[str, Decimal]
    total_weeks: int
    total_hours: float
    mixed_currencies: bool


class Recognition(BaseModel):
    recognised_by: str
    recognised_by_name: str
    towards: str
    ects: float
    earned: bool
    requires: list[str]


# ------------------------------------------------------------------ helpers


def _check_ids(catalogue: Catalogue, holding: set[str], pathway_id: str | None = None) -> None:
    unknown = sorted(c for c in holding if c not in catalogue.credentials)
    if unknown:
        raise UnknownId(f"unknown credential id(s): {', '.join(unknown)}")
    if pathway_id is not None and pathway_id not in catalogue.pathways:
        known = ", ".join(sorted(catalogue.pathways))
        raise UnknownId(f"unknown pathway {pathway_id!r}; known pathways: {known}")


def _pool(pathway: Pathway, rule: MinCredits) -> list[str]:
    return rule.credentials if rule.credentials is not None else pathway.credential_ids()


def prerequisites_of(catalogue: Catalogue, pathway: Pathway | None = None) -> dict[str, set[str]]:
    """credential -> credentials that must be held before it (catalogue rules plus the pathway's own)."""
    graph: dict[str, set[str]] = {cid: set(c.prerequisites) for cid, c in catalogue.credentials.items()}
    if pathway is not None:
        for rule in pathway.requirements:
            if isinstance(rule, Prerequisite):
                graph.setdefault(rule.credential, set()).update(rule.requires)
    return graph


def _rule_status(catalogue: Catalogue, pathway: Pathway, rule: object, held: set[str]) -> RuleStatus:
    description = describe_rule(catalogue, rule)
    if isinstance(rule, AllOf):
        counted = [c for c in rule.credentials if c in held]
        missing = [c for c in rule.credentials if c not in held]
        return RuleStatus(description=description, kind="all_of", satisfied=not missing, counted=counted,
                          still_needed=("all of: " + ", ".join(missing)) if missing else None)
    if isinstance(rule, AnyOf | NOfM):
        need = 1 if isinstance(rule, AnyOf) else rule.n
        counted = [c for c in rule.credentials if c in held]
        short = need - len(counted)
        options = [c for c in rule.credentials if c not in held]
        return RuleStatus(description=description, kind=rule.rule, satisfied=short <= 0, counted=counted,
                          still_needed=f"{short} more of: {', '.join(options)}" if short > 0 else None)
    if isinstance(rule, MinCredits):
        pool = _pool(pathway, rule)
        counted = [c for c in pool if c in held]
        have = sum(catalogue.credentials[c].ects for c in counted)
        short = rule.ects - have
        return RuleStatus(description=description, kind="min_credits", satisfied=short <= 1e-9, counted=counted,
                          still_needed=f"{short:g} more ECTS" if short > 1e-9 else None)
    if isinstance(rule, Prerequisite):
        ok = rule.credential not in held or all(r in held for r in rule.requires)
        return RuleStatus(description=description, kind="prerequisite", satisfied=ok,
                          counted=[c for c in [rule.credential, *rule.requires] if c in held],
                          still_needed=None if ok else "first: " + ", ".join(r for r in rule.requires if r not in held))
    raise TypeError(f"unknown rule {rule!r}")


# ------------------------------------------------------------------ public functions


def pathway_progress(catalogue: Catalogue, pathway_id: str, holding: set[str] | list[str]) -> PathwayProgress:
    """Which of the pathway's requirements the held credentials satisfy, and what is still needed."""
    held = set(holding)
    _check_ids(catalogue, held, pathway_id)
    pathway = catalogue.pathways[pathway_id]
    rules = [_rule_status(catalogue, pathway, rule, held) for rule in pathway.requirements]
    towards = sum(catalogue.credentials[c].ects for c in pathway.credential_ids() if c in held)
    return PathwayProgress(pathway_id=pathway_id, title=pathway.title, holding=sorted(held),
                           complete=all(r.satisfied for r in rules), rules=rules, ects_held_towards=towards)


def study_order(catalogue: Catalogue, credential_ids: list[str], holding: set[str] | list[str] = (),
                pathway_id: str | None = None) -> list[str]:
    """``credential_ids`` in an order where each comes after its prerequisites (ties by id).

    Raises :class:`ImpossibleTarget` if a prerequisite is neither held nor in the list, or if the
    prerequisites form a cycle.
    """
    held = set(holding)
    _check_ids(catalogue, held | set(credential_ids), pathway_id)
    pathway = catalogue.pathways[pathway_id] if pathway_id else None
    graph = prerequisites_of(catalogue, pathway)
    wanted = set(credential_ids)
    for cid in sorted(wanted):
        missing = sorted(p for p in graph.get(cid, ()) if p not in wanted and p not in held)
        if missing:
            raise ImpossibleTarget(f"{cid} requires {', '.join(missing)} first, which is neither held nor planned")
    sorter = TopologicalSorter({c: {p for p in graph.get(c, ()) if p in wanted} for c in wanted})
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ImpossibleTarget("prerequisites form a cycle: " + " requires ".join(reversed(exc.args[1]))) from exc
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def _closure(graph: dict[str, set[str]], ids: set[str]) -> set[str]:
    """``ids`` and everything they transitively require."""
    seen, stack = set(), list(ids)
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        stack.extend(graph.get(cid, ()))
    return seen


def cheapest_route(catalogue: Catalogue, pathway_id: str, holding: set[str] | list[str] = (),
                   objective: str = "price") -> Route:
    """The cheapest set of further credentials that completes the pathway, in study order.

    With ``objective="time"`` it is the fastest set instead: fewest weeks of study taken one after
    another, then lowest price.

    Minimises total price, then total study hours, then the number of credentials; every
    prerequisite of a chosen credential is held or chosen too. Prices in different currencies are
    compared at face value and the route says so (``mixed_currencies``); totals stay per currency.
    Raises :class:`ImpossibleTarget` when no set of credentials completes the pathway.
    """
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    held = set(holding)
    _check_ids(catalogue, held, pathway_id)
    pathway = catalogue.pathways[pathway_id]
    graph = prerequisites_of(catalogue, pathway)
    candidates = sorted(c for c in _closure(graph, set(pathway.credential_ids())) if c not in held)
    # cycles among candidates make the target impossible; say so plainly
    try:
        TopologicalSorter({c: graph.get(c, set()) for c in candidates}).prepare()
    except CycleError as exc:
        raise ImpossibleTarget("prerequisites form a cycle: " + " requires ".join(reversed(exc.args[1]))) from exc

    index = {c: i for i, c in enumerate(candidates)}
    n = len(candidates)
    rows: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(coeffs: dict[str, float], lo: float, hi: float = np.inf) -> None:
        row = np.zeros(n)
        for cid, value in coeffs.items():
            row[index[cid]] += value
        rows.append(row)
        lower.append(lo)
        upper.append(hi)

    for rule in pathway.requirements:
        if isinstance(rule, AllOf | AnyOf | NOfM):
            need = len(rule.credentials) if isinstance(rule, AllOf) else (1 if isinstance(rule, AnyOf) else rule.n)
            have = sum(1 for c in rule.credentials if c in held)
            if have < need:
                coeffs = {c: 1.0 for c in rule.credentials if c in index}
                if len(coeffs) < need - have:
                    raise ImpossibleTarget(f"cannot satisfy '{describe_rule(catalogue, rule)}'")
                add(coeffs, need - have)
        elif isinstance(rule, MinCredits):
            pool = _pool(pathway, rule)
            have = sum(catalogue.credentials[c].ects for c in pool if c in held)
            if have < rule.ects - 1e-9:
                coeffs = {c: catalogue.credentials[c].ects for c in pool if c in index}
                if sum(coeffs.values()) + have < rule.ects - 1e-9:
                    raise ImpossibleTarget(f"cannot satisfy '{describe_rule(catalogue, rule)}': only "
                                           f"{sum(coeffs.values()) + have:g} ECTS are available")
                add(coeffs, rule.ects - have - 1e-9)
        elif isinstance(rule, Prerequisite) and rule.credential in held:
            # the rule only holds once everything it requires is held as well
            for required in rule.requires:
                if required not in held:
                    add({required: 1.0}, 1.0)
    # a chosen credential needs each prerequisite held or chosen: x_c - x_p <= 0
    for cid in candidates:
        for pre in graph.get(cid, ()):
            if pre in held:
                continue
            if pre not in index:
                raise ImpossibleTarget(f"{cid} requires unknown credential {pre}")
            add({cid: 1.0, pre: -1.0}, -np.inf, 0.0)

    if n == 0 or not rows:
        chosen: list[str] = []
    else:
        creds = [catalogue.credentials[c] for c in candidates]
        # lexicographic objective as one weighted sum: cents, then tenths of hours, then count
        hours_scale = 10 * (n + 1)
        price_scale = hours_scale * (int(sum(c.duration.total_hours for c in creds) * 10) + n + 1)
        if objective == "time":
            week_scale = (n + 1) * (int(sum(c.price.amount for c in creds) * 100) + 1)
            cost = np.array([c.duration.weeks * week_scale + int(c.price.amount * 100) * (n + 1) + 1 for c in creds],
                            dtype=float)
        elif objective == "price":
            cost = np.array([
                int(c.price.amount * 100) * price_scale + int(round(c.duration.total_hours * 10)) * (n + 1) + 1
                for c in creds
            ], dtype=float)
        else:
            raise ValueError(f"unknown objective {objective!r}; use price or time")
        result = milp(cost, constraints=LinearConstraint(np.array(rows), lower, upper),
                      integrality=np.ones(n), bounds=Bounds(0, 1),
                      options={"mip_rel_gap": 0.0, "presolve": True})
        if result.status != 0 or result.x is None:
            raise ImpossibleTarget(f"no combination of credentials completes {pathway.title}: {result.message}")
        chosen = [c for c, x in zip(candidates, result.x, strict=True) if x > 0.5]

    ordered = study_order(catalogue, chosen, held, pathway_id)
    steps = [_step(catalogue, c) for c in ordered]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for step in steps:
        totals[step.currency] += step.price
    return Route(
        pathway_id=pathway_id, steps=steps, total_ects=sum(s.ects for s in steps), total_price=dict(totals),
        total_weeks=sum(s.weeks for s in steps), total_hours=sum(s.hours for s in steps),
        mixed_currencies=len(totals) > 1,
    )


def _step(catalogue: Catalogue, cid: str) -> Step:
    c = catalogue.credentials[cid]
    return Step(credential_id=cid, title=c.title, ects=c.ects, price=c.price.amount, currency=c.price.currency,
                weeks=c.duration.weeks, hours=c.duration.total_hours)


def recognised_credit(catalogue: Catalogue, pathway_id: str, holding: set[str] | list[str] = ()) -> list[Recognition]:
    """Credit recognitions of a pathway and whether the held credentials already earn each one."""
    held = set(holding)
    progress = pathway_progress(catalogue, pathway_id, held)
    pathway = catalogue.pathways[pathway_id]
    out = []
    for rec in pathway.credit_recognition:
        requires = rec.credentials or []
        earned = all(c in held for c in requires) if requires else progress.complete
        provider = catalogue.providers.get(rec.recognised_by)
        out.append(Recognition(recognised_by=rec.recognised_by, recognised_by_name=provider.name if provider else
                               rec.recognised_by, towards=rec.towards, ects=rec.ects, earned=earned,
                               requires=requires))
    return out


def shared_credentials(catalogue: Catalogue) -> dict[str, list[str]]:
    """Credential id -> the pathways it counts towards, for credentials in two or more pathways."""
    where: dict[str, list[str]] = defaultdict(list)
    for pathway in sorted(catalogue.pathways.values(), key=lambda p: p.id):
        for cid in pathway.credential_ids():
            where[cid].append(pathway.id)
    return {cid: paths for cid, paths in sorted(where.items()) if len(paths) > 1}
