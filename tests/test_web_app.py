"""The Gradio web chat, served for real on 127.0.0.1 and driven through ``gradio_client``.

The service behind it is the real one (catalogue, Chroma index, SQLite memory) on temporary directories:
the session-wide ``assistant`` fixture, so the index is built once per test run.
Planner and facts questions never load the language model, so these tests are fast once the index is
built; the one test that makes the model answer is marked ``model``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest

AI_LEADERSHIP = "ai-leadership-certificate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(service) -> Iterator[str]:
    """The web app for ``service`` listening on a free local port; yields its URL."""
    from assistant.web import launch

    demo = launch(service, host="127.0.0.1", port=free_port(), warm=False, prevent_thread_lock=True, quiet=True)
    try:
        assert demo.local_url and demo.local_url.startswith("http://127.0.0.1:")
        assert not demo.share
        yield demo.local_url
    finally:
        demo.close()


def money(totals: dict[str, str]) -> str:
    """A planner total as the answers write it: ``EUR 2,600``."""
    return " + ".join(f"{cur} {Decimal(amount):,.2f}".removesuffix(".00") for cur, amount in sorted(totals.items()))


def texts(history: list[dict]) -> list[tuple[str, str]]:
    """(role, text) of each chat message as the client receives it."""
    out = []
    for message in history:
        content = message["content"]
        parts = content if isinstance(content, list) else [content]
        out.append((message["role"], "\n".join(p["text"] if isinstance(p, dict) else str(p) for p in parts)))
    return out


@pytest.fixture(scope="module")
def svc(assistant):
    """The session's real assistant service (conftest); these tests keep to their own learner ids."""
    return assistant


@pytest.fixture(scope="module")
def url(svc):
    with served(svc) as address:
        yield address


@pytest.fixture
def client(url):
    """A new browser-like session (its own random learner id)."""
    from gradio_client import Client

    return Client(url, verbose=False)


def test_planner_question_streams_the_planners_figures_and_sources(client, svc):
    plan = svc.plan(["data-strategy"], AI_LEADERSHIP)
    total = money(plan["route"]["total_price"])
    question = "What do I still need for the AI Leadership Certificate?"

    job = client.submit(question, [], ["data-strategy"], "", api_name="/chat")
    history, box, holding = job.result(timeout=60)

    (user_role, user_text), (role, reply) = texts(history)
    assert (user_role, user_text) == ("user", question)
    assert role == "assistant"
    assert f"Total {total}," in reply
    assert f"{plan['route']['total_ects']:g} ECTS" in reply
    for step in plan["route"]["steps"]:
        assert f"({step['credential_id']})" in reply
    sources = [line for line in reply.splitlines() if line.startswith("**Sources:**")]
    assert len(sources) == 1 and f"({AI_LEADERSHIP})" in sources[0]
    assert holding == ["data-strategy"]  # the dropdown shows what memory now holds
    # streamed: the question first, then the answer; the final message carries the sources
    outputs = job.outputs()
    assert len(outputs) >= 3
    assert texts(outputs[0][0]) == [("user", question)]


def test_holding_is_saved_and_a_follow_up_uses_it(client, svc):
    assert client.predict(["data-strategy", "ai-change-leadership"], "web test learner",
                          api_name="/save_holding").startswith("Saved")
    assert svc.memory.holding("web:web test learner") == ["ai-change-leadership", "data-strategy"]
    held, history, status = client.predict("web test learner", api_name="/load_learner")
    assert held == ["ai-change-leadership", "data-strategy"] and history == []
    assert "web:web test learner" in status

    plan = svc.plan(["ai-change-leadership", "data-strategy"], AI_LEADERSHIP)
    history, _, _ = client.predict("What is the cheapest route to the AI Leadership Certificate?", [], [],
                                   "web test learner", api_name="/chat")
    reply = texts(history)[-1][1]
    assert f"Total {money(plan['route']['total_price'])}," in reply

    held, history, status = client.predict("web test learner", api_name="/forget")
    assert held == [] and history == [] and "Forgotten: deleted 2 stored message(s)" in status
    assert svc.memory.holding("web:web test learner") == []
    assert svc.memory.history("web:web test learner") == []


def test_facts_question_answers_from_the_catalogue_entry(client, svc):
    price = svc.catalogue.credentials["data-strategy"].price
    history, _, _ = client.predict("How much does Data Strategy cost?", [], [], "", api_name="/chat")
    reply = texts(history)[-1][1]
    assert f"costs {price.currency} {price.amount:,}" in reply
    assert reply.endswith("**Sources:** Data Strategy (data-strategy)")


@pytest.mark.parametrize(("message", "expected"), [
    ("", "Please type a question"),
    ("   \n  ", "Please type a question"),
    ("x" * 2001, "please keep questions under 2,000 characters"),
])
def test_bad_input_gets_a_clear_reply_not_an_error(client, message, expected):
    history, _, _ = client.predict(message, [], [], "", api_name="/chat")
    role, reply = texts(history)[-1]
    assert role == "assistant" and expected in reply
    if message.strip():  # a long message is echoed, shortened
        assert texts(history)[0][1].endswith("(2,001 characters)")


def test_plan_tab_renders_the_plan_answer(client, svc):
    expected = svc.plan_answer(["data-strategy"], AI_LEADERSHIP)
    shown = client.predict(AI_LEADERSHIP, ["data-strategy"], api_name="/plan")
    sources = "**Sources:** " + "; ".join(c.label for c in expected.citations)
    assert [line for line in shown.splitlines() if line] == [*filter(None, expected.text.splitlines()), sources]
    assert money(svc.plan(["data-strategy"], AI_LEADERSHIP)["route"]["total_price"]) in shown


def test_a_failing_service_still_answers_in_the_chat(svc):
    """An unexpected error inside the service becomes an assistant message, never a broken page."""
    from assistant.web import build_app

    class Broken:
        catalogue = svc.catalogue
        memory = svc.memory

        def stream(self, *args, **kwargs):
            yield from ()
            raise RuntimeError("the model file is missing")

    demo = build_app(Broken())
    chat = next(fn for fn in demo.fns.values() if fn.name == "chat")
    *_, (history, _, _) = chat.fn("Which credentials cover AI ethics?", [], [], "", "web-test")
    assert history[-1]["role"] == "assistant"
    assert "Sorry, I could not answer that: the model file is missing" in history[-1]["content"]


@pytest.mark.model
def test_model_answer_streams_in_pieces_with_sources(client):
    job = client.submit("Which credentials cover AI ethics?", [], [], "", api_name="/chat")
    history, _, _ = job.result(timeout=600)
    reply = texts(history)[-1][1]
    assert "**Sources:**" in reply
    partial = [texts(out[0])[-1][1] for out in job.outputs() if len(out[0]) == 2]
    assert len(partial) >= 3, "an LLM answer should arrive token by token"
    assert all(len(a) <= len(b) for a, b in zip(partial, partial[1:], strict=False))
