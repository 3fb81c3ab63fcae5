"""The assistant service on the real catalogue, index and database (LLM only where marked)."""

from __future__ import annotations

import re

import pytest

from assistant.linking import link_entities
from assistant.memory import ConversationMemory
from assistant.planner import cheapest_route
from assistant.reading import Tool
from assistant.service import AssistantError
from assistant.understanding import matched_tools, read_holdings


@pytest.fixture
def service(request, assistant):
    """The assistant with the in-process model; ``http`` (the tests marked ``over_both``) the same assistant
    with its model on the OpenAI-compatible server, CI's loopback one or the session's own."""
    if getattr(request, "param", "in_process") == "http":
        return request.getfixturevalue("assistant_over_http")
    return assistant


#: the model-backed slice also runs over HTTP: reading (grammar-constrained JSON), holdings, translating; an answer
#: from retrieval over HTTP is tests/test_topology.py's chat
over_both = pytest.mark.parametrize("service", ["in_process", "http"], indirect=True)


def money(route) -> str:
    (currency, amount), = route.total_price.items()
    return f"{currency} {amount:,}"


def test_planner_question_figures_equal_the_planner(service):
    answer = service.ask("l1", "What do I still need for the AI Leadership Certificate if I hold Data Strategy?")
    assert answer.intent == "still_needed" and not answer.refused
    assert answer.holding == ["data-strategy"]
    route = cheapest_route(service.catalogue, "ai-leadership-certificate", {"data-strategy"})
    assert money(route) in answer.text
    assert f"{route.total_ects:g} ECTS" in answer.text and f"{route.total_weeks} weeks" in answer.text
    assert "ai-leadership-certificate" in [c.id for c in answer.citations]
    for step in route.steps:
        assert step.credential_id in answer.text


def test_cheapest_route_question(service):
    answer = service.ask("l2", "What is the cheapest route to the Data & AI for Managers pathway?")
    route = cheapest_route(service.catalogue, "data-ai-for-managers")
    assert answer.intent == "cheapest" and money(route) in answer.text


def test_facts_and_follow_up_use_memory(service):
    first = service.ask("l3", "How much does Data Strategy cost?")
    cred = service.catalogue.credentials["data-strategy"]
    assert first.intent == "facts" and f"{cred.price.amount:,}" in first.text
    follow = service.ask("l3", "and how long does that one take?")
    assert follow.intent == "facts" and f"{cred.duration.weeks} weeks" in follow.text
    assert [c.id for c in follow.citations] == ["data-strategy"]


def test_shared_credentials_counted_in_code(service):
    answer = service.ask("l4", "Which credentials count towards more than one pathway?")
    shared = answer.planner["shared"]
    assert answer.text.startswith(f"{len(shared)} credentials")
    assert all(cid in answer.text for cid in shared)


def test_memory_persists_across_restart_and_can_be_deleted(service, shared_settings):
    service.ask("l5", "I have completed Data Strategy. What do I still need for the AI Leadership Certificate?")
    reopened = ConversationMemory(shared_settings.db_url)  # a new process would open the same database
    assert reopened.holding("l5") == ["data-strategy"]
    assert len(reopened.history("l5")) == 2
    assert service.forget("l5") == 2
    assert reopened.holding("l5") == [] and reopened.history("l5") == []


def test_memory_is_bounded(settings):
    memory = ConversationMemory(settings.db_url, window=3, max_stored=4)
    for i in range(5):
        memory.add_exchange("l6", f"q{i}", f"a{i}", [])
    assert [t.content for t in memory.history("l6", limit=10)] == ["q3", "a3", "q4", "a4"]
    assert [t.content for t in memory.history("l6")] == ["a3", "q4", "a4"]


@pytest.mark.parametrize("bad", ["", "   \n  ", "x" * 20_000])
def test_bad_messages_get_clear_errors(service, bad):
    with pytest.raises(AssistantError, match=r"type a question|characters"):
        service.ask("l7", bad)


@pytest.mark.parametrize("raw", ["nope", "data-strategy,,nope", "Data Strategy for Quantum Bakers"])
def test_unknown_or_malformed_holding(service, raw):
    with pytest.raises(AssistantError, match="unknown credential"):
        service.parse_holding(raw)


def test_holding_by_title_or_id(service):
    assert service.parse_holding("DATA STRATEGY, prompt-engineering") == ["data-strategy", "prompt-engineering"]


def test_unknown_pathway_in_plan(service):
    with pytest.raises(AssistantError, match="known pathways"):
        service.plan([], "quantum-degree")


def test_question_without_pathway_asks_which(service):
    answer = service.ask("l8", "What do I still need to finish?")
    assert "Which pathway" in answer.text and len(answer.citations) == len(service.catalogue.pathways)


def test_understanding_rules(service):
    cat = service.catalogue
    assert link_entities(cat, "tell me about the AI Leadership certificate")[0].entity_id == "ai-leadership-certificate"
    assert {m.entity_id for m in link_entities(cat, "data strategy and prompt engineering")} >= {
        "data-strategy", "prompt-engineering"}
    assert link_entities(cat, "how do I bake bread") == []
    assert matched_tools("in what order should I take them?") == [Tool.order]
    assert matched_tools("how many ECTS does it count towards the MSc?") == [Tool.credit]
    assert read_holdings(cat, "I already hold Data Strategy").held == ["data-strategy"]
    assert read_holdings(cat, "I have a question about Data Strategy").held == []
    # naming a credential is not holding it
    stated = read_holdings(cat, "I have completed Data Strategy. How much does Prompt Engineering cost?")
    assert stated.held == ["data-strategy"]


@pytest.mark.model
def test_llm_answer_cites_catalogue_and_refuses_outside_it(service):
    answer = service.ask("l9", "Which credentials cover AI ethics and the EU AI Act?")
    assert not answer.refused and answer.prompt_id == "assistant_answer.v1"
    assert "ethical-ai-governance" in [c.id for c in answer.citations]
    refusal = service.ask("l9", "Do you offer a degree in quantum computing?")
    assert refusal.refused and refusal.text.startswith("The catalogue does not say")
    # no invented credential: every id-like token in the answer is a catalogue id
    for token in re.findall(r"\[([a-z0-9-]+)\]", answer.text):
        assert token in cat_ids(service)


def cat_ids(service) -> set[str]:
    cat = service.catalogue
    return set(cat.credentials) | set(cat.pathways) | set(cat.providers)


@pytest.mark.model
@over_both
def test_holdings_change_only_when_stated_and_the_reply_says_so(service):
    learner = "l-stated"
    service.forget(learner)
    answer = service.ask(learner, "I have completed Data Strategy. How much does Prompt Engineering cost?")
    assert answer.recorded == ["data-strategy"] and service.memory.holding(learner) == ["data-strategy"]
    assert "Noted: you hold Data Strategy (data-strategy)" in answer.text
    price = service.catalogue.credentials["prompt-engineering"].price
    assert f"{price.currency} {price.amount:,}" in answer.text
    named = service.ask(learner, "What are the prerequisites of AI Agents & Automation?")
    assert named.recorded == [] and service.memory.holding(learner) == ["data-strategy"]
    corrected = service.ask(learner, "Sorry, I haven't actually finished Data Strategy yet.")
    assert corrected.removed == ["data-strategy"] and service.memory.holding(learner) == []
    service.forget(learner)


@pytest.mark.model
def test_route_follow_up_is_about_the_route(service):
    learner = "l-route"
    service.forget(learner)
    first = service.ask(learner, "What is the cheapest route to the AI Leadership Certificate?")
    route = cheapest_route(service.catalogue, "ai-leadership-certificate")
    assert first.intent == "cheapest" and f"{route.total_weeks} weeks" in first.text
    follow = service.ask(learner, "and how long does that take?")
    assert follow.intent == "cheapest" and f"{route.total_weeks} weeks" in follow.text
    service.forget(learner)


@pytest.mark.model
@over_both
def test_questions_in_german_are_answered_in_german_with_the_figures(service):
    learner = "l-de"
    service.forget(learner)
    answer = service.ask(learner, "Wie viel kostet Data Strategy?")
    assert answer.language == "de" and not answer.refused
    amount = service.catalogue.credentials["data-strategy"].price.amount
    assert re.search(rf"{int(amount):,}".replace(",", "[.,]?"), answer.text)
    assert "Data Strategy" in answer.text  # names survive the translation
    service.forget(learner)


@pytest.mark.model
def test_a_credential_that_does_not_exist_is_refused(service):
    answer = service.ask("l-invented", "How many ECTS is the Quantum Baking Masterclass worth?")
    assert answer.refused and answer.text.startswith("The catalogue does not say.") and "Quantum" not in answer.text
