"""Planner: property tests over generated catalogues, and exact figures on small hand-built catalogues."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.planner import (
    AmbiguousTarget,
    ImpossibleTarget,
    NotAPathwayTarget,
    PlannerError,
    UnknownId,
    cheapest_route,
    compare,
    country_name,
    credit_for,
    eligibility,
    pathway_progress,
    pathway_progress_for_target,
    pathways_earning,
    prerequisites,
    provider_facts,
    provider_of,
    recognised_credit,
    required_by,
    route_for_target,
    route_to_credential,
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


# ------------------------------------------------------------------ one-question tools


def ids(refs) -> list[str]:
    return [r.credential_id for r in refs]


def chain_catalogue(extra_rules: list[dict] | None = None) -> Catalogue:
    """aa <- bb <- cc (cc requires bb, bb requires aa), dd requires aa, ee stands alone."""
    creds = [f.credential("aa", price=100, weeks=2), f.credential("bb", prerequisites=["aa"], price=200, weeks=3),
             f.credential("cc", prerequisites=["bb"], price=50, weeks=1), f.credential("dd", prerequisites=["aa"]),
             f.credential("ee", price=10, weeks=1)]
    rules = [{"rule": "all_of", "credentials": ["cc"]}, *(extra_rules or [])]
    return build(creds, [f.pathway("path", rules)])


def test_prerequisites_of_a_two_step_chain():
    result = prerequisites(chain_catalogue(), "cc")
    assert result.title == "Credential cc"
    assert ids(result.direct) == ["bb"]
    assert ids(result.all_in_order) == ["aa", "bb"]
    assert result.pathway_specific == []
    assert ids(prerequisites(chain_catalogue(), "aa").all_in_order) == []


def test_prerequisites_marks_pathway_rules_with_their_pathway():
    cat = chain_catalogue([{"rule": "prerequisite", "credential": "cc", "requires": ["ee"]}])
    result = prerequisites(cat, "cc")
    assert ids(result.all_in_order) == ["aa", "bb"]  # the catalogue's own prerequisites
    (specific,) = result.pathway_specific
    assert specific.pathway_id == "path" and specific.pathway_title == "Pathway path"
    assert ids(specific.direct) == ["ee"]
    assert ids(specific.all_in_order) == ["aa", "ee", "bb"]


def test_required_by_several_directly_and_indirectly():
    cat = chain_catalogue([{"rule": "prerequisite", "credential": "ee", "requires": ["aa"]}])
    result = required_by(cat, "aa")
    assert ids(result.direct) == ["bb", "dd"]
    assert ids(result.indirect) == ["cc"]
    assert [(r.pathway_id, r.credential_id) for r in result.pathway_specific] == [("path", "ee")]
    assert [p.pathway_id for p in result.pathways] == ["path"]  # the prerequisite rule names aa
    leaf = required_by(cat, "cc")
    assert leaf.direct == [] and leaf.indirect == [] and leaf.pathway_specific == []
    assert [p.pathway_id for p in leaf.pathways] == ["path"]


def test_eligibility_without_holdings_lists_the_whole_chain_with_totals():
    result = eligibility(chain_catalogue(), "cc")
    assert not result.eligible and not result.already_held
    assert ids(result.unmet) == ["bb"]
    assert [s.credential_id for s in result.still_to_take] == ["aa", "bb"]
    assert result.totals.total_price == {"EUR": Decimal(300)}
    assert result.totals.total_weeks == 5
    assert result.totals.total_hours == 25
    assert result.totals.total_ects == 6
    assert not result.totals.mixed_currencies


def test_eligibility_with_holdings():
    cat = chain_catalogue()
    partial = eligibility(cat, "cc", ["aa"])
    assert not partial.eligible and ids(partial.unmet) == ["bb"]
    assert [s.credential_id for s in partial.still_to_take] == ["bb"]
    assert partial.totals.total_price == {"EUR": Decimal(200)} and partial.totals.total_weeks == 3
    ready = eligibility(cat, "cc", {"bb"})  # holding bb shows its own prerequisite was met
    assert ready.eligible and ready.unmet == [] and ready.still_to_take == []
    assert ready.totals.total_price == {} and ready.totals.total_weeks == 0
    assert eligibility(cat, "ee").eligible
    assert eligibility(cat, "aa", ["aa"]).already_held


def test_eligibility_counts_a_pathway_rule_only_when_asked_for_that_pathway():
    cat = chain_catalogue([{"rule": "prerequisite", "credential": "ee", "requires": ["dd"]}])
    assert eligibility(cat, "ee").eligible
    within = eligibility(cat, "ee", pathway_id="path")
    assert not within.eligible and ids(within.unmet) == ["dd"]
    assert [s.credential_id for s in within.still_to_take] == ["aa", "dd"]


def certificate_catalogue(second_pathway: bool = False) -> Catalogue:
    """A certificate credential earned by a pathway: one core and 2 of 3 electives."""
    creds = [f.credential("found", price=400, weeks=6), f.credential("sql", price=150, weeks=2),
             f.credential("e1", price=100, weeks=10), f.credential("e2", price=300, weeks=2),
             f.credential("e3", price=200, weeks=3), f.credential("cert", price=0, weeks=1)]
    rules = [{"rule": "all_of", "credentials": ["found"]},
             {"rule": "n_of_m", "n": 2, "credentials": ["e1", "e2", "e3"]}]
    main = {**f.pathway("applied", rules), "destination": "cert"}
    main["credit_recognition"] = [{"recognised_by": "uni", "towards": "MSc", "ects": 10},
                                  {"recognised_by": "uni", "towards": "Diploma", "ects": 3, "credentials": ["found"]}]
    pathways = [main]
    if second_pathway:
        pathways.append({**f.pathway("other", [{"rule": "all_of", "credentials": ["sql"]}]), "destination": "cert"})
    return build(creds, pathways)


def test_destination_credential_resolves_to_its_pathway_progress():
    cat = certificate_catalogue()
    assert [(p.pathway_id, p.destination) for p in pathways_earning(cat, "cert")] == [("applied", "cert")]
    assert pathways_earning(cat, "found") == []
    progress = pathway_progress_for_target(cat, "cert", {"found", "sql"})
    assert progress == pathway_progress(cat, "applied", {"found", "sql"})
    assert progress.pathway_id == "applied" and progress.destination == "cert" and not progress.complete
    assert [r.still_needed for r in progress.rules] == [None, "2 more of: e1, e2, e3"]
    assert pathway_progress_for_target(cat, "applied", {"found", "e1", "e2"}).complete


def test_destination_that_no_pathway_or_several_pathways_earn():
    with pytest.raises(NotAPathwayTarget, match=r"no pathway earns Credential sql \(sql\)"):
        pathway_progress_for_target(certificate_catalogue(), "sql")
    with pytest.raises(AmbiguousTarget, match="several pathways: applied, other"):
        pathway_progress_for_target(certificate_catalogue(second_pathway=True), "cert")


def test_cheapest_and_fastest_route_to_a_destination_credential():
    cat = certificate_catalogue()
    cheap = route_for_target(cat, "cert", {"found"}, "price")
    assert (cheap.pathway_id, cheap.target_id, cheap.objective) == ("applied", "cert", "price")
    assert [s.credential_id for s in cheap.steps] == ["e1", "e3"]
    assert cheap.total_price == {"EUR": Decimal(300)} and cheap.total_weeks == 13
    fast = route_for_target(cat, "cert", {"found"}, "time")
    assert [s.credential_id for s in fast.steps] == ["e2", "e3"]
    assert fast.total_price == {"EUR": Decimal(500)} and fast.total_weeks == 5 and fast.total_hours == 25
    by_pathway = route_for_target(cat, "applied", [], "price")
    assert [s.credential_id for s in by_pathway.steps] == ["e1", "e3", "found"]
    assert by_pathway.total_price == {"EUR": Decimal(700)} and by_pathway.target_id == "applied"


def test_route_to_a_single_credential_is_its_missing_closure():
    cat = chain_catalogue()
    route = route_to_credential(cat, "cc", ["aa"], "time")
    assert route.pathway_id is None and route.target_id == "cc" and route.objective == "time"
    assert [s.credential_id for s in route.steps] == ["bb", "cc"]
    assert route.total_price == {"EUR": Decimal(250)} and route.total_weeks == 4 and route.total_ects == 6
    assert [s.credential_id for s in route_to_credential(cat, "cc").steps] == ["aa", "bb", "cc"]
    assert route_to_credential(cat, "cc", ["cc"]).steps == []
    assert route_for_target(cat, "dd", ["aa"]) == route_to_credential(cat, "dd", ["aa"])
    with pytest.raises(PlannerError, match="unknown objective 'speed'; use price or time"):
        route_to_credential(cat, "cc", objective="speed")
    with pytest.raises(PlannerError, match="unknown objective"):
        cheapest_route(cat, "path", objective="speed")


def test_mixed_currency_route_keeps_totals_per_currency():
    cat = build([f.credential("aa", price=100), f.credential("bb", prerequisites=["aa"], price=80, currency="GBP")],
                [f.pathway("path", [{"rule": "all_of", "credentials": ["bb"]}])])
    route = route_to_credential(cat, "bb")
    assert route.total_price == {"EUR": Decimal(100), "GBP": Decimal(80)} and route.mixed_currencies


def provider_catalogue() -> Catalogue:
    uni = Provider.model_validate({**f.provider("uni", "IE"), "website": "https://uni.example.org/"})
    firm = Provider.model_validate({**f.provider("firm", "GB"), "kind": "industry"})
    creds = [f.credential("aa", price=100, weeks=2), f.credential("bb", provider_id="firm", ects=5, price=150,
                                                                  weeks=6),
             f.credential("cc", provider_id="firm", price=90, weeks=2, currency="GBP")]
    creds[1]["eqf_level"] = 7
    return Catalogue(providers={"uni": uni, "firm": firm},
                     credentials={c["id"]: Credential.model_validate(c) for c in creds},
                     pathways={"path": Pathway.model_validate(f.pathway("path", [
                         {"rule": "all_of", "credentials": ["aa", "bb"]}]))})


def test_provider_facts_with_country_name():
    cat = provider_catalogue()
    uni = provider_facts(cat, "uni")
    assert (uni.name, uni.kind, uni.country_code, uni.country_name) == ("Provider uni", "university", "IE", "Ireland")
    assert uni.website == "https://uni.example.org/"
    assert ids(uni.credentials) == ["aa"] and [p.pathway_id for p in uni.pathways] == ["path"]
    firm = provider_of(cat, "cc")
    assert (firm.provider_id, firm.kind, firm.country_name, firm.website) == ("firm", "industry", "United Kingdom",
                                                                             None)
    assert ids(firm.credentials) == ["bb", "cc"] and firm.pathways == []
    assert (country_name("DE"), country_name("fr"), country_name("BA")) == ("Germany", "France",
                                                                           "Bosnia and Herzegovina")


def test_compare_same_currency():
    result = compare(provider_catalogue(), "aa", "bb")
    assert (result.a.price, result.a.currency, result.a.ects, result.a.eqf_level) == (Decimal(100), "EUR", 3, 6)
    assert (result.b.weeks, result.b.hours, result.b.provider_name) == (6, 30, "Provider firm")
    assert result.same_currency and result.price_difference == Decimal(-50) and result.price_note is None
    assert result.cheaper == "aa"
    assert (result.ects_difference, result.eqf_difference, result.weeks_difference, result.hours_difference) == (
        -2, -1, -4, -20)
    assert not result.same_provider


def test_compare_mixed_currencies_does_not_compare_prices():
    result = compare(provider_catalogue(), "bb", "cc")
    assert not result.same_currency and result.price_difference is None and result.cheaper is None
    assert result.price_note == "prices are in different currencies (EUR and GBP) and are not compared"
    assert result.same_provider and result.weeks_difference == 4


def test_credit_for_pathway_destination_and_credential():
    cat = certificate_catalogue()
    by_destination = credit_for(cat, "cert", {"found"})
    assert by_destination.pathways == ["applied"]
    assert [(r.pathway_id, r.towards, r.ects, r.earned) for r in by_destination.recognitions] == [
        ("applied", "MSc", 10, False), ("applied", "Diploma", 3, True)]
    assert credit_for(cat, "applied", {"found"}) == by_destination.model_copy(update={"target_id": "applied"})
    assert [r.earned for r in credit_for(cat, "cert", {"found", "e1", "e2"}).recognitions] == [True, True]
    by_credential = credit_for(cat, "found")
    assert by_credential.pathways == ["applied"]
    assert [(r.towards, r.earned) for r in by_credential.recognitions] == [("Diploma", False)]
    nothing = credit_for(cat, "sql")
    assert nothing.pathways == [] and nothing.recognitions == []


def test_unknown_ids_raise_typed_errors():
    cat = chain_catalogue()
    with pytest.raises(UnknownId, match="unknown credential 'ccc'; did you mean cc"):
        prerequisites(cat, "ccc")
    with pytest.raises(UnknownId, match="unknown credential 'zzz'"):
        required_by(cat, "zzz")
    with pytest.raises(UnknownId, match="unknown credential id"):
        eligibility(cat, "cc", ["nope"])
    with pytest.raises(UnknownId, match="unknown credential 'nope'"):
        eligibility(cat, "nope")
    with pytest.raises(UnknownId, match="unknown credential 'nope'"):
        pathways_earning(cat, "nope")
    with pytest.raises(UnknownId, match="unknown pathway or credential 'pth'; did you mean path"):
        pathway_progress_for_target(cat, "pth")
    with pytest.raises(UnknownId, match="unknown pathway or credential"):
        route_for_target(cat, "nope")
    with pytest.raises(UnknownId, match="unknown pathway or credential"):
        credit_for(cat, "nope")
    with pytest.raises(UnknownId, match="unknown credential 'nope'"):
        route_to_credential(cat, "nope")
    with pytest.raises(UnknownId, match="unknown provider 'unx'; did you mean uni"):
        provider_facts(cat, "unx")
    with pytest.raises(UnknownId, match="unknown credential 'nope'"):
        provider_of(cat, "nope")
    with pytest.raises(UnknownId, match="unknown credential 'nope'"):
        compare(cat, "aa", "nope")
