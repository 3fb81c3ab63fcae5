"""The Gradio web chat, served for real on 127.0.0.1 and driven through ``gradio_client``.

The service behind it is the real one (catalogue, Chroma index, SQLite memory) on temporary directories:
the session-wide ``assistant`` fixture, so the index is built once per test run.
Planner and facts questions never load the language model, so these tests are fast once the index is
built; the one test that makes the model answer is marked ``model``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest

from stackwise.loopback import free_port  # re-exported: other test modules import it from here

AI_LEADERSHIP = "ai-leadership-certificate"


@contextmanager
def served(service) -> Iterator[str]:
    """The web app for ``service`` listening on a free local port; yields its URL."""
    from stackwise.web.shell import launch

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
    """A new browser-like session."""
    from gradio_client import Client

    return Client(url, verbose=False)


def start(client, stored: str = "") -> tuple[str, list, list, str]:
    """Open the page with ``stored`` in the browser's localStorage: (key, holding, chat history, status)."""
    key, box, holding, history, status = client.predict(stored, api_name="/learner_start")
    assert box == key
    return key, holding, history, status


@pytest.fixture
def key(client) -> str:
    """The learner key this browser session was given on its first visit."""
    return start(client)[0]


def test_planner_question_streams_the_planners_figures_and_sources(client, key, svc):
    plan = svc.plan(["data-strategy"], AI_LEADERSHIP)
    total = money(plan["route"]["total_price"])
    question = "What do I still need for the AI Leadership Certificate?"

    job = client.submit(question, [], ["data-strategy"], key, api_name="/chat")
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


def test_holding_is_saved_kept_across_a_reload_and_a_follow_up_uses_it(client, key, svc):
    from stackwise.identity import learner_id_for_key

    learner = learner_id_for_key(key)
    assert client.predict(["data-strategy", "ai-change-leadership"], key,
                          api_name="/save_holding").startswith("Saved")
    assert svc.memory.holding(learner) == ["ai-change-leadership", "data-strategy"]

    plan = svc.plan(["ai-change-leadership", "data-strategy"], AI_LEADERSHIP)
    question = "What is the cheapest route to the AI Leadership Certificate?"
    history, _, _ = client.predict(question, [], [], key, api_name="/chat")
    reply = texts(history)[-1][1]
    assert f"Total {money(plan['route']['total_price'])}," in reply

    from gradio_client import Client

    reloaded = Client(client.src, verbose=False)  # the page opened again: localStorage hands back the key
    again, held, history, _ = start(reloaded, key)
    assert again == key and held == ["ai-change-leadership", "data-strategy"]
    (asked, question_shown), (answered, answer_shown) = texts(history)  # the stored turns, without the sources line
    assert (asked, question_shown, answered) == ("user", question, "assistant") and reply.startswith(answer_shown)


def test_facts_question_answers_from_the_catalogue_entry(client, key, svc):
    price = svc.catalogue.credentials["data-strategy"].price
    history, _, _ = client.predict("How much does Data Strategy cost?", [], [], key, api_name="/chat")
    reply = texts(history)[-1][1]
    assert f"costs {price.currency} {price.amount:,}" in reply
    assert reply.endswith("**Sources:** [Data Strategy (data-strategy)](/catalogue/data-strategy)")


@pytest.mark.parametrize(("message", "expected"), [
    ("", "Please type a question"),
    ("   \n  ", "Please type a question"),
    ("x" * 2001, "please keep questions under 2,000 characters"),
])
def test_bad_input_gets_a_clear_reply_not_an_error(client, key, message, expected):
    history, _, _ = client.predict(message, [], [], key, api_name="/chat")
    role, reply = texts(history)[-1]
    assert role == "assistant" and expected in reply
    if message.strip():  # a long message is echoed, shortened
        assert texts(history)[0][1].endswith("(2,001 characters)")


def test_plan_tab_renders_the_plan_answer(client, svc):
    expected = svc.plan_answer(["data-strategy"], AI_LEADERSHIP)
    shown = client.predict(AI_LEADERSHIP, ["data-strategy"], api_name="/plan")
    sources = "**Sources:** " + "; ".join(f"[{c.label}](/catalogue/{c.id})" for c in expected.citations)
    assert [line for line in shown.splitlines() if line] == [*filter(None, expected.text.splitlines()), sources]
    assert money(svc.plan(["data-strategy"], AI_LEADERSHIP)["route"]["total_price"]) in shown


def test_a_failing_service_still_answers_in_the_chat(svc):
    """An unexpected error inside the service becomes an assistant message, never a broken page."""
    from stackwise.identity import new_learner_key
    from stackwise.web.shell import build_app

    class Broken:
        catalogue = svc.catalogue
        memory = svc.memory

        def stream(self, *args, **kwargs):
            yield from ()
            raise RuntimeError("the model file is missing")

    demo = build_app(Broken())
    chat = next(fn for fn in demo.fns.values() if fn.name == "chat")
    *_, (history, _, _) = chat.fn("Which credentials cover AI ethics?", [], [], new_learner_key())
    assert history[-1]["role"] == "assistant"
    assert "Sorry, I could not answer that: the model file is missing" in history[-1]["content"]


@pytest.mark.model
def test_model_answer_streams_in_pieces_with_sources(client, key):
    job = client.submit("Which credentials cover AI ethics?", [], [], key, api_name="/chat")
    history, _, _ = job.result(timeout=600)
    reply = texts(history)[-1][1]
    assert "**Sources:**" in reply
    partial = [texts(out[0])[-1][1] for out in job.outputs() if len(out[0]) == 2]
    assert len(partial) >= 3, "an LLM answer should arrive token by token"
    assert all(len(a) <= len(b) for a, b in zip(partial, partial[1:], strict=False))


# ---------------------------------------------------------------------------------------------- identity


def test_a_typed_name_is_no_identity(client, url, svc):
    """Nothing is found, changed or deleted by typing someone's name where the key goes (the old name-based
    chat identity and /load_learner are gone)."""
    from gradio_client import Client

    alice = "web:Alice Martin"  # how the chat used to store a learner who typed "Alice Martin"
    svc.memory.add_exchange(alice, "What do I need for the certificate?", "Alice's private answer", [])
    svc.memory.set_holding(alice, ["data-strategy"])
    endpoints = set(Client(url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert "/load_learner" not in endpoints and {"/learner_start", "/use_key", "/forget_confirm"} <= endpoints

    for typed in ("Alice Martin", alice):
        key, held, history, _ = start(client, typed)
        assert key.startswith("swk-") and key != typed and held == [] and history == []  # a fresh learner
        history, _, _ = client.predict("How much does Data Strategy cost?", [], [], typed, api_name="/chat")
        assert texts(history)[-1][1] == "This browser has no learner key yet; reload the page."
        assert client.predict(["ml-fundamentals"], typed, api_name="/save_holding").startswith("This browser has no")
        status = client.predict(typed, api_name="/forget")
        assert "no learner key" in status
        *_, status = client.predict(typed, api_name="/forget_confirm")
        assert "Press *Forget me* first" in status
        *_, message, _held, _history, _status = client.predict(typed, key, api_name="/use_key")
        assert "That is not a learner key" in message
    assert svc.memory.holding(alice) == ["data-strategy"]
    assert [t.content for t in svc.memory.history(alice)] == ["What do I need for the certificate?",
                                                              "Alice's private answer"]


def test_forget_me_asks_first_then_deletes_everything_and_says_what(client, key, svc):
    from stackwise.identity import learner_id_for_key

    learner = learner_id_for_key(key)
    client.predict(["data-strategy", "ml-fundamentals"], key, api_name="/save_holding")
    client.predict("How much does Data Strategy cost?", [], [], key, api_name="/chat")
    client.predict("How much does Data Governance cost?", [], [], key, api_name="/chat")
    assert svc.memory.stored(learner) == (4, 2)

    status = client.predict(key, api_name="/forget")  # step 1: what would go; nothing goes yet
    assert "This deletes 4 chat messages; the 2 credentials you said you hold." in status
    assert "Yes, delete everything" in status and svc.memory.stored(learner) == (4, 2)
    status = client.predict(api_name="/forget_cancel")
    assert status == "Nothing was deleted." and svc.memory.stored(learner) == (4, 2)
    *_, status = client.predict(key, api_name="/forget_confirm")  # cancelled: a confirmation needs step 1
    assert "Press *Forget me* first" in status and svc.memory.stored(learner) == (4, 2)

    client.predict(key, api_name="/forget")
    fresh, box, held, history, status = client.predict(key, api_name="/forget_confirm")
    assert status == ("Forgotten: deleted 4 chat messages; the 2 credentials you said you hold. This browser has "
                      "a new learner key.")
    assert svc.memory.stored(learner) == (0, 0) and svc.memory.history(learner) == []
    assert fresh == box and fresh.startswith("swk-") and fresh != key and held == [] and history == []
    status = client.predict(fresh, api_name="/forget")
    assert status == "Nothing is stored for you: there is nothing to forget."


def test_a_refusal_shows_as_an_answer_without_a_sources_line():
    from assistant.service import Answer, Citation
    from stackwise.web.chat import render_answer

    nearest = [Citation(id="data-strategy", kind="credential", title="Data Strategy")]
    refusal = Answer(question="q", text="The catalogue does not say. The nearest catalogue entries are: "
                     "Data Strategy (data-strategy).", intent="search", refused=True, citations=nearest)
    shown = render_answer(refusal)
    assert shown.startswith("The catalogue does not say.") and "Sources" not in shown
    answered = refusal.model_copy(update={"refused": False, "text": "Data Strategy costs EUR 1,150."})
    assert render_answer(answered).endswith("**Sources:** [Data Strategy (data-strategy)](/catalogue/data-strategy)")
