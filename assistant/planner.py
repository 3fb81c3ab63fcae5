"""The pathway planner: exact answers about stacking, in code rather than in the language model.

Pure functions over a :class:`~knowledge.schema.Catalogue`:

- :func:`pathway_progress` — which requirements a learner's credentials meet and what is missing;
- :func:`cheapest_route` — the cheapest set of further credentials that completes a pathway, in an
  order that respects every prerequisite (an exact integer programme solved with SciPy's HiGHS);
- :func:`study_order` — a prerequisite-respecting order for a set of credentials;
- :func:`recognised_credit` — credit recognised towards larger qualifications;
- :func:`shared_credentials` — credentials that count towards more than one pathway;
- :func:`prerequisites` / :func:`required_by` — what a credential needs first, and what needs it;
- :func:`eligibility` — whether a learner may enrol now, and everything still to take first;
- :func:`pathways_earning`, :func:`pathway_progress_for_target`, :func:`route_for_target`,
  :func:`route_to_credential`, :func:`credit_for` — the same questions asked of a pathway's
  destination credential (or of a single credential) instead of the pathway;
- :func:`provider_facts` / :func:`provider_of` — a provider's kind, country (code and English name) and awards;
- :func:`compare` — two credentials side by side, with their differences.

Every figure the assistant states about stacking comes from here.

Why one module (~750 lines): every function is a pure query over the same catalogue graph and they share its private
helpers (prerequisite closure, study order, the route search); splitting them would turn those helpers into a public
surface.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from decimal import Decimal
from graphlib import CycleError, TopologicalSorter
from typing import Literal

from pydantic import BaseModel

from assistant.errors import AssistantError
from knowledge.documents import describe_rule
from knowledge.schema import (
    AllOf,
    AnyOf,
    Catalogue,
    Credential,
    CreditRecognition,
    MinCredits,
    NOfM,
    Pathway,
    Prerequisite,
)


class PlannerError(AssistantError):
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
    destination: str | None = None
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
    """Credentials still to take, in study order, with their totals.

    ``pathway_id`` is the pathway the route completes (None for a route to a single credential);
    ``target_id`` is what was asked for: the pathway, its destination credential, or the credential.
    """

    pathway_id: str | None = None
    target_id: str | None = None
    objective: Literal["price", "time"] = "price"
    steps: list[Step]
    total_ects: float
    total_price: dict[str, Decimal]
    total_weeks: int
    total_hours: float
    mixed_currencies: bool


class Recognition(BaseModel):
    pathway_id: str | None = None
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
    return PathwayProgress(pathway_id=pathway_id, title=pathway.title, destination=pathway.destination,
                           holding=sorted(held),
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
    return _ordered(graph, wanted)


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

    _check_objective(objective)
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
        else:  # pragma: no cover - _check_objective ran first
            raise PlannerError(f"unknown objective {objective!r}; use price or time")
        result = milp(cost, constraints=LinearConstraint(np.array(rows), lower, upper),
                      integrality=np.ones(n), bounds=Bounds(0, 1),
                      options={"mip_rel_gap": 0.0, "presolve": True})
        if result.status != 0 or result.x is None:
            raise ImpossibleTarget(f"no combination of credentials completes {pathway.title}: {result.message}")
        chosen = [c for c, x in zip(candidates, result.x, strict=True) if x > 0.5]

    ordered = study_order(catalogue, chosen, held, pathway_id)
    steps = [_step(catalogue, c) for c in ordered]
    return Route(pathway_id=pathway_id, target_id=pathway_id, objective=objective, steps=steps,
                 **route_totals(steps).model_dump())


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
        out.append(_recognition(catalogue, rec, requires, earned, pathway_id))
    return out


def standing_credit(catalogue: Catalogue, credential_id: str, holding: set[str] | list[str] = ()) -> list[Recognition]:
    """Credit that holding the credential itself earns (advanced standing), and whether it is held."""
    earned = credential_id in set(holding)
    return [_recognition(catalogue, rec, [credential_id], earned)
            for rec in catalogue.credentials[credential_id].credit_recognition]


def _recognition(catalogue: Catalogue, rec: CreditRecognition, requires: list[str], earned: bool,
                 pathway_id: str | None = None) -> Recognition:
    provider = catalogue.providers.get(rec.recognised_by)
    return Recognition(pathway_id=pathway_id, recognised_by=rec.recognised_by,
                       recognised_by_name=provider.name if provider else rec.recognised_by,
                       towards=rec.towards, ects=rec.ects, earned=earned, requires=requires)


def shared_credentials(catalogue: Catalogue) -> dict[str, list[str]]:
    """Credential id -> the pathways it counts towards, for credentials in two or more pathways."""
    where: dict[str, list[str]] = defaultdict(list)
    for pathway in sorted(catalogue.pathways.values(), key=lambda p: p.id):
        for cid in pathway.credential_ids():
            where[cid].append(pathway.id)
    return {cid: paths for cid, paths in sorted(where.items()) if len(paths) > 1}


# ------------------------------------------------------------------ questions about one credential, provider or target


class Totals(BaseModel):
    """Sums over a list of steps; prices stay per currency (never converted)."""

    total_ects: float
    total_price: dict[str, Decimal]
    total_weeks: int
    total_hours: float
    mixed_currencies: bool


class CredentialRef(BaseModel):
    credential_id: str
    title: str


class PathwayRef(BaseModel):
    pathway_id: str
    title: str
    destination: str | None = None


class PathwayPrerequisites(BaseModel):
    """Prerequisites that hold only within one pathway (its ``prerequisite`` rules)."""

    pathway_id: str
    pathway_title: str
    direct: list[CredentialRef]
    all_in_order: list[CredentialRef]


class Prerequisites(BaseModel):
    credential_id: str
    title: str
    direct: list[CredentialRef]
    all_in_order: list[CredentialRef]
    pathway_specific: list[PathwayPrerequisites]
    recommended: list[CredentialRef] = []


class PathwayRequirer(BaseModel):
    pathway_id: str
    credential_id: str
    title: str


class RequiredBy(BaseModel):
    credential_id: str
    title: str
    direct: list[CredentialRef]
    indirect: list[CredentialRef]
    pathway_specific: list[PathwayRequirer]
    pathways: list[PathwayRef]


class Eligibility(BaseModel):
    credential_id: str
    title: str
    holding: list[str]
    pathway_id: str | None = None
    already_held: bool
    eligible: bool
    unmet: list[CredentialRef]
    still_to_take: list[Step]
    totals: Totals


class ProviderFacts(BaseModel):
    provider_id: str
    name: str
    kind: str
    organization_type: str | None = None
    country_code: str
    country_name: str
    website: str | None
    credentials: list[CredentialRef]
    pathways: list[PathwayRef]


class CredentialFacts(BaseModel):
    credential_id: str
    title: str
    price: Decimal
    currency: str
    ects: float
    eqf_level: int
    weeks: int
    hours: float
    provider_id: str
    provider_name: str


class Comparison(BaseModel):
    """Two credentials side by side; every difference is ``a`` minus ``b``."""

    a: CredentialFacts
    b: CredentialFacts
    same_currency: bool
    price_difference: Decimal | None
    price_note: str | None
    cheaper: str | None
    ects_difference: float
    eqf_difference: int
    weeks_difference: int
    hours_difference: float
    same_provider: bool


class CreditFor(BaseModel):
    target_id: str
    pathways: list[str]
    recognitions: list[Recognition]


class AmbiguousTarget(PlannerError):
    """A credential that several pathways earn; the message lists them."""


class NotAPathwayTarget(PlannerError):
    """A credential that no pathway earns."""


def _check_objective(objective: str) -> None:
    if objective not in ("price", "time"):
        raise PlannerError(f"unknown objective {objective!r}; use price or time")


def _suggest(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=3)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _credential(catalogue: Catalogue, credential_id: str) -> Credential:
    if credential_id not in catalogue.credentials:
        raise UnknownId(f"unknown credential {credential_id!r}{_suggest(credential_id, list(catalogue.credentials))}")
    return catalogue.credentials[credential_id]


def _ref(catalogue: Catalogue, cid: str) -> CredentialRef:
    return CredentialRef(credential_id=cid, title=catalogue.credentials[cid].title)


def _pathway_ref(pathway: Pathway) -> PathwayRef:
    return PathwayRef(pathway_id=pathway.id, title=pathway.title, destination=pathway.destination)


def _ordered(graph: dict[str, set[str]], ids: set[str]) -> list[str]:
    """``ids`` with each after those of its prerequisites that are also in ``ids`` (ties by id)."""
    sorter = TopologicalSorter({c: {p for p in graph.get(c, ()) if p in ids} for c in ids})
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


def _missing_closure(graph: dict[str, set[str]], cid: str, held: set[str]) -> set[str]:
    """Everything ``cid`` transitively requires that is not held; a held credential's own prerequisites
    are not followed (holding it shows they were met)."""
    seen: set[str] = set()
    stack = [p for p in graph.get(cid, ()) if p not in held]
    while stack:
        pre = stack.pop()
        if pre in seen or pre == cid:
            continue
        seen.add(pre)
        stack.extend(p for p in graph.get(pre, ()) if p not in held)
    return seen


def route_totals(steps: list[Step]) -> Totals:
    """Totals of a list of steps: ECTS, price per currency, weeks taken one after another, hours."""
    price: dict[str, Decimal] = defaultdict(Decimal)
    for step in steps:
        price[step.currency] += step.price
    return Totals(total_ects=sum(s.ects for s in steps), total_price=dict(price),
                  total_weeks=sum(s.weeks for s in steps), total_hours=sum(s.hours for s in steps),
                  mixed_currencies=len(price) > 1)


def prerequisites(catalogue: Catalogue, credential_id: str) -> Prerequisites:
    """The credential's direct catalogue prerequisites and all of them transitively, in study order;
    plus, for each pathway whose own ``prerequisite`` rules add to these, that pathway's set."""
    cred = _credential(catalogue, credential_id)
    graph = prerequisites_of(catalogue)
    closure = _missing_closure(graph, credential_id, set())
    base = _ordered(graph, closure)
    specific = []
    for pathway in sorted(catalogue.pathways.values(), key=lambda p: p.id):
        pgraph = prerequisites_of(catalogue, pathway)
        pclosure = _missing_closure(pgraph, credential_id, set())
        if pclosure == closure:
            continue
        direct = sorted({r for rule in pathway.requirements if isinstance(rule, Prerequisite)
                         and rule.credential == credential_id for r in rule.requires})
        specific.append(PathwayPrerequisites(
            pathway_id=pathway.id, pathway_title=pathway.title, direct=[_ref(catalogue, c) for c in direct],
            all_in_order=[_ref(catalogue, c) for c in _ordered(pgraph, pclosure)]))
    return Prerequisites(credential_id=credential_id, title=cred.title,
                         direct=[_ref(catalogue, c) for c in cred.prerequisites],
                         all_in_order=[_ref(catalogue, c) for c in base], pathway_specific=specific,
                         recommended=[_ref(catalogue, c) for c in cred.recommended])


def required_by(catalogue: Catalogue, credential_id: str) -> RequiredBy:
    """Credentials that require this one first — directly (it is in their prerequisites) or indirectly
    (through another credential), each list in study order — the credentials that require it only within
    a pathway's ``prerequisite`` rules, and the pathways that include it."""
    cred = _credential(catalogue, credential_id)
    graph = prerequisites_of(catalogue)
    dependents = {c for c in catalogue.credentials if credential_id in _missing_closure(graph, c, set())}
    direct = {c for c in dependents if credential_id in graph[c]}
    in_pathway = []
    for pathway in sorted(catalogue.pathways.values(), key=lambda p: p.id):
        for rule in pathway.requirements:
            if isinstance(rule, Prerequisite) and credential_id in rule.requires and rule.credential not in dependents:
                in_pathway.append(PathwayRequirer(pathway_id=pathway.id, credential_id=rule.credential,
                                                  title=catalogue.credentials[rule.credential].title))
    including = [_pathway_ref(p) for p in sorted(catalogue.pathways.values(), key=lambda p: p.id)
                 if credential_id in p.credential_ids()]
    return RequiredBy(credential_id=credential_id, title=cred.title,
                      direct=[_ref(catalogue, c) for c in _ordered(graph, direct)],
                      indirect=[_ref(catalogue, c) for c in _ordered(graph, dependents - direct)],
                      pathway_specific=in_pathway, pathways=including)


def eligibility(catalogue: Catalogue, credential_id: str, holding: set[str] | list[str] = (),
                pathway_id: str | None = None) -> Eligibility:
    """Whether the learner may enrol in the credential now (every direct prerequisite held), the unmet
    direct prerequisites, and everything still to take first, in study order, with totals.

    With ``pathway_id`` the pathway's own ``prerequisite`` rules count too.
    """
    cred = _credential(catalogue, credential_id)
    held = set(holding)
    _check_ids(catalogue, held, pathway_id)
    graph = prerequisites_of(catalogue, catalogue.pathways[pathway_id] if pathway_id else None)
    unmet = [c for c in _ordered(graph, graph.get(credential_id, set())) if c not in held]
    before = _ordered(graph, _missing_closure(graph, credential_id, held))
    steps = [_step(catalogue, c) for c in before]
    return Eligibility(credential_id=credential_id, title=cred.title, holding=sorted(held), pathway_id=pathway_id,
                       already_held=credential_id in held, eligible=not unmet,
                       unmet=[_ref(catalogue, c) for c in unmet], still_to_take=steps, totals=route_totals(steps))


def pathways_earning(catalogue: Catalogue, credential_id: str) -> list[PathwayRef]:
    """The pathways whose ``destination`` is this credential, by id."""
    _credential(catalogue, credential_id)
    return [_pathway_ref(p) for p in sorted(catalogue.pathways.values(), key=lambda p: p.id)
            if p.destination == credential_id]


def _target_pathways(catalogue: Catalogue, target_id: str) -> list[str]:
    """A pathway id -> [it]; a credential id -> the pathways that earn it (maybe none)."""
    if target_id in catalogue.pathways:
        return [target_id]
    if target_id in catalogue.credentials:
        return [p.pathway_id for p in pathways_earning(catalogue, target_id)]
    known = list(catalogue.pathways) + list(catalogue.credentials)
    raise UnknownId(f"unknown pathway or credential {target_id!r}{_suggest(target_id, known)}")


def _one_pathway(catalogue: Catalogue, target_id: str) -> str:
    found = _target_pathways(catalogue, target_id)
    if not found:
        raise NotAPathwayTarget(f"no pathway earns {catalogue.credentials[target_id].title} ({target_id})")
    if len(found) > 1:
        raise AmbiguousTarget(f"{catalogue.credentials[target_id].title} ({target_id}) is earned by several "
                              f"pathways: {', '.join(found)}; say which")
    return found[0]


def pathway_progress_for_target(catalogue: Catalogue, target_id: str,
                                holding: set[str] | list[str] = ()) -> PathwayProgress:
    """:func:`pathway_progress` for a pathway id, or for the credential a pathway earns (its destination).

    Raises :class:`NotAPathwayTarget` if no pathway earns the credential, :class:`AmbiguousTarget` if several do.
    """
    return pathway_progress(catalogue, _one_pathway(catalogue, target_id), holding)


def route_to_credential(catalogue: Catalogue, credential_id: str, holding: set[str] | list[str] = (),
                        objective: str = "price") -> Route:
    """The credential and every prerequisite of it not yet held (transitively), in study order, with totals.

    The set is fixed by the prerequisites, so the cheapest and the fastest route are the same; ``objective``
    is recorded on the route. Empty when the credential is already held.
    """
    _check_objective(objective)
    _credential(catalogue, credential_id)
    held = set(holding)
    _check_ids(catalogue, held)
    graph = prerequisites_of(catalogue)
    wanted = set() if credential_id in held else _missing_closure(graph, credential_id, held) | {credential_id}
    steps = [_step(catalogue, c) for c in _ordered(graph, wanted)]
    return Route(pathway_id=None, target_id=credential_id, objective=objective, steps=steps,
                 **route_totals(steps).model_dump())


def route_for_target(catalogue: Catalogue, target_id: str, holding: set[str] | list[str] = (),
                     objective: str = "price") -> Route:
    """The cheapest (``objective="price"``) or fastest (``"time"``) route to a pathway, to the credential a
    pathway earns (via that pathway), or else to a single credential (:func:`route_to_credential`)."""
    _check_objective(objective)
    found = _target_pathways(catalogue, target_id)
    if not found:
        return route_to_credential(catalogue, target_id, holding, objective)
    route = cheapest_route(catalogue, _one_pathway(catalogue, target_id), holding, objective)
    return route.model_copy(update={"target_id": target_id})


def credit_for(catalogue: Catalogue, target_id: str, holding: set[str] | list[str] = ()) -> CreditFor:
    """Credit recognitions for a pathway, or for a credential: those of the pathways that earn it, and the
    recognitions that name the credential among the ones earning the credit; each says if already earned."""
    pathway_ids = _target_pathways(catalogue, target_id)
    recognitions = [r for pid in pathway_ids for r in recognised_credit(catalogue, pid, holding)]
    if target_id in catalogue.credentials:
        recognitions += standing_credit(catalogue, target_id, holding)
        for pathway in sorted(catalogue.pathways.values(), key=lambda p: p.id):
            if pathway.id in pathway_ids:
                continue
            naming = [r for r in recognised_credit(catalogue, pathway.id, holding) if target_id in r.requires]
            if naming:
                pathway_ids = [*pathway_ids, pathway.id]
                recognitions += naming
    return CreditFor(target_id=target_id, pathways=pathway_ids, recognitions=recognitions)


# ISO 3166-1 English names from the tz database (pytz.country_names), except where the tz database uses its
# own short forms ("Britain (UK)", "Korea (South)"); those are given here as ISO 3166 / UN short names.
_COUNTRY_OVERRIDES = {
    "GB": "United Kingdom", "KR": "South Korea", "KP": "North Korea", "CD": "Democratic Republic of the Congo",
    "CG": "Republic of the Congo", "MM": "Myanmar", "SZ": "Eswatini", "AS": "American Samoa", "WS": "Samoa",
    "VG": "British Virgin Islands", "VI": "United States Virgin Islands", "MF": "Saint Martin",
    "SX": "Sint Maarten", "TC": "Turks and Caicos Islands",
}


def country_name(code: str) -> str:
    """The English name of an ISO 3166-1 alpha-2 code; the code itself when unknown."""
    import pytz

    code = code.upper()
    return _COUNTRY_OVERRIDES.get(code) or pytz.country_names.get(code, code).replace(" & ", " and ")


def provider_facts(catalogue: Catalogue, provider_id: str) -> ProviderFacts:
    """A provider's name, kind, country (code and English name), website and what it awards."""
    if provider_id not in catalogue.providers:
        raise UnknownId(f"unknown provider {provider_id!r}{_suggest(provider_id, list(catalogue.providers))}")
    prov = catalogue.providers[provider_id]
    return ProviderFacts(
        provider_id=provider_id, name=prov.name, kind=prov.kind.value, organization_type=prov.organization_type,
        country_code=prov.country,
        country_name=country_name(prov.country), website=str(prov.website) if prov.website else None,
        credentials=[_ref(catalogue, c) for c in sorted(catalogue.credentials)
                     if catalogue.credentials[c].awarding_body == provider_id],
        pathways=[_pathway_ref(p) for p in sorted(catalogue.pathways.values(), key=lambda p: p.id)
                  if p.awarding_body == provider_id])


def provider_of(catalogue: Catalogue, credential_id: str) -> ProviderFacts:
    """:func:`provider_facts` of the credential's awarding body."""
    return provider_facts(catalogue, _credential(catalogue, credential_id).awarding_body)


def _facts(catalogue: Catalogue, cid: str) -> CredentialFacts:
    c = _credential(catalogue, cid)
    prov = catalogue.providers.get(c.awarding_body)
    return CredentialFacts(credential_id=cid, title=c.title, price=c.price.amount, currency=c.price.currency,
                           ects=c.ects, eqf_level=c.eqf_level, weeks=c.duration.weeks, hours=c.duration.total_hours,
                           provider_id=c.awarding_body, provider_name=prov.name if prov else c.awarding_body)


def compare(catalogue: Catalogue, a: str, b: str) -> Comparison:
    """Two credentials' price, ECTS, EQF level, weeks, hours and provider, and ``a`` minus ``b`` for each.

    Prices are compared only in the same currency; otherwise ``price_difference`` and ``cheaper`` are None
    and ``price_note`` says why.
    """
    fa, fb = _facts(catalogue, a), _facts(catalogue, b)
    same = fa.currency == fb.currency
    diff = fa.price - fb.price if same else None
    cheaper = None if diff is None or diff == 0 else (a if diff < 0 else b)
    note = None if same else (f"prices are in different currencies ({fa.currency} and {fb.currency}) "
                              "and are not compared")
    return Comparison(a=fa, b=fb, same_currency=same, price_difference=diff, price_note=note, cheaper=cheaper,
                      ects_difference=fa.ects - fb.ects, eqf_difference=fa.eqf_level - fb.eqf_level,
                      weeks_difference=fa.weeks - fb.weeks, hours_difference=fa.hours - fb.hours,
                      same_provider=fa.provider_id == fb.provider_id)
