"""Planner: property tests over generated catalogues, and exact figures on the demo catalogue."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.planner import (
    ImpossibleTarget,
    UnknownId,
    cheapest_route,
    pathway_progress,
    recognised_credit,
    shared_credentials,
    study_order,
)
from knowledge.schema import Catalogue, Credential, Pathway, Provider
from tests import catalogue_factory as f


def build(creds: list[dict], pathways: list[dict]) -> Catalogue:
    provider = Provider.model_validate(f.provider())
    return Catalogue(
        providers={provider.id: provider},
        credentials={c["id"]: Credential.model_validate(c) for c in creds},
        pathways={p["id"]: Pathway.model_validate(p) for p in pathways},
    )


@st.composite
def catalogues(draw):
    """A random catalogue of 2–7 credentials with acyclic prerequisites and one pathway using random rules."""
    n = draw(st.integers(2, 7))
    ids = [f"c{i}" for i in range(n)]
    creds = []
    for i, cid in enumerate(ids):
        pres = draw(st.lists(st.sampled_from(ids[:i]), unique=True, max_size=2)) if i else []
        creds.append(f.credential(cid, ects=draw(st.sampled_from([1, 2, 2.5, 3, 5])), prerequisites=pres,
                                  price=draw(st.integers(0, 900)), weeks=draw(st.integers(1, 12))))
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["all_of", "any_of", "n_of_m", "min_credits", "prerequisite"]))
        members = draw(st.lists(st.sampled_from(ids), unique=True, min_size=2, max_size=n))
        if kind == "all_of":
            rules.append({"rule": kind, "credentials": members[:2]})
        elif kind == "any_of":
            rules.append({"rule": kind, "credentials": members})
        elif kind == "n_of_m":
            rules.append({"rule": kind, "n": draw(st.integers(1, len(members))), "credentials": members})
        elif kind == "min_credits":
            total = sum(c["ects"] for c in creds if c["id"] in members)
            rules.append({"rule": kind, "ects": draw(st.sampled_from([1, total / 2, total])), "credentials": members})
        else:
            later, earlier = sorted(members[:2], key=ids.index, reverse=True)
            rules.append({"rule": kind, "credential": later, "requires": [earlier]})
    holding = draw(st.lists(st.sampled_from(ids), unique=True, max_size=n - 1))
    return build(creds, [f.pathway("target", rules)]), set(holding)


def satisfies_prerequisites(cat: Catalogue, order: list[str], held: set[str]) -> bool:
    have = set(held)
    pathway = cat.pathways["target"]
    extra = {r.credential: set(r.requires) for r in pathway.requirements if r.rule == "prerequisite"}
    for cid in order:
        if not set(cat.credentials[cid].prerequisites) | extra.get(cid, set()) <= have:
            return False
        have.add(cid)
    return True


def brute_force_cheapest(cat: Catalogue, held: set[str]) -> Decimal | None:
    options = [c for c in cat.credentials if c not in held]
    best = None
    for size in range(len(options) + 1):
        for combo in itertools.combinations(options, size):
            chosen = set(combo)
            if not pathway_progress(cat, "target", held | chosen).complete:
                continue
            try:
                study_order(cat, list(chosen), held, "target")
            except ImpossibleTarget:
                continue
            cost = sum(cat.credentials[c].price.amount for c in chosen)
            best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogues())
def test_cheapest_route_completes_is_ordered_and_optimal(case):
    cat, held = case
    expected = brute_force_cheapest(cat, held)
    if expected is None:
        with pytest.raises(ImpossibleTarget):
            cheapest_route(cat, "target", held)
        return
    route = cheapest_route(cat, "target", held)
    chosen = [s.credential_id for s in route.steps]
    assert not set(chosen) & held
    assert pathway_progress(cat, "target", held | set(chosen)).complete
    assert satisfies_prerequisites(cat, chosen, held)
    assert route.total_price.get("EUR", Decimal(0)) == expected
    assert route.total_ects == pytest.approx(sum(cat.credentials[c].ects for c in chosen))


@settings(max_examples=80, deadline=None)
@given(catalogues())
def test_progress_is_monotone(case):
    cat, held = case
    before = pathway_progress(cat, "target", held)
    after = pathway_progress(cat, "target", set(cat.credentials))
    # holding everything satisfies every counting rule; prerequisite rules hold trivially
    assert after.complete
    assert before.ects_held_towards <= after.ects_held_towards


def test_complete_pathway_needs_nothing():
    cat = build([f.credential("aa"), f.credential("bb")], [f.pathway("target", [
        {"rule": "all_of", "credentials": ["aa", "bb"]}])])
    route = cheapest_route(cat, "target", {"aa", "bb"})
    assert route.steps == [] and route.total_price == {}


def test_impossible_min_credits_is_explained():
    cat = build([f.credential("aa", ects=1), f.credential("bb", ects=1)], [f.pathway("target", [
        {"rule": "min_credits", "ects": 10, "credentials": ["aa", "bb"]}])])
    with pytest.raises(ImpossibleTarget, match="only 2 ECTS are available"):
        cheapest_route(cat, "target")


def test_prerequisite_cycle_is_explained():
    cat = build([f.credential("aa", prerequisites=["bb"]), f.credential("bb", prerequisites=["aa"])],
                [f.pathway("target", [{"rule": "all_of", "credentials": ["aa"]}])])
    with pytest.raises(ImpossibleTarget, match="cycle"):
        cheapest_route(cat, "target")
    with pytest.raises(ImpossibleTarget, match="cycle"):
        study_order(cat, ["aa", "bb"])


def test_unknown_ids():
    cat = build([f.credential("aa"), f.credential("bb")], [f.pathway("target", [
        {"rule": "any_of", "credentials": ["aa", "bb"]}])])
    with pytest.raises(UnknownId, match="zzz"):
        pathway_progress(cat, "target", {"zzz"})
    with pytest.raises(UnknownId, match="known pathways: target"):
        cheapest_route(cat, "nope")


def test_order_pulls_in_missing_prerequisite_outside_pathway():
    cat = build([f.credential("base", price=50), f.credential("aa", prerequisites=["base"], price=10),
                 f.credential("bb", price=100)],
                [f.pathway("target", [{"rule": "any_of", "credentials": ["aa", "bb"]}])])
    route = cheapest_route(cat, "target")
    assert [s.credential_id for s in route.steps] == ["base", "aa"]
    assert route.total_price == {"EUR": Decimal(60)}
    assert cheapest_route(cat, "target", {"base"}).total_price == {"EUR": Decimal(10)}


def test_shared_and_recognition():
    creds = [f.credential("aa"), f.credential("bb"), f.credential("cc")]
    p1 = f.pathway("one", [{"rule": "all_of", "credentials": ["aa", "bb"]}])
    p1["credit_recognition"] = [{"recognised_by": "uni", "towards": "MSc", "ects": 15}]
    p2 = f.pathway("two", [{"rule": "any_of", "credentials": ["aa", "cc"]}])
    cat = build(creds, [p1, p2])
    assert shared_credentials(cat) == {"aa": ["one", "two"]}
    (rec,) = recognised_credit(cat, "one", {"aa"})
    assert rec.ects == 15 and not rec.earned
    assert recognised_credit(cat, "one", {"aa", "bb"})[0].earned
