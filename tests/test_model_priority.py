"""Chat ahead of grading at the model: the priority lock, and background calls handing the real llama.cpp model
over to interactive ones mid-call with output identical to an uninterrupted run.

The lock tests use real threads and check order only (no timing assertions). The model tests are marked
``model``: run them under ``flock /tmp/stackwise-model.lock``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from llm.priority import (
    Priority,
    PriorityLock,
    background_priority,
    current_priority,
    model_priority,
)


def _until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait for another thread to reach a state (a deadline only against hanging, never asserted on)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.002)


def _waiter(lock: PriorityLock, priority: Priority, order: list[str], name: str) -> threading.Thread:
    def run() -> None:
        with model_priority(priority), lock.hold():
            order.append(name)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_calls_are_interactive_unless_marked_background() -> None:
    assert current_priority() is Priority.interactive
    with background_priority():
        assert current_priority() is Priority.background
        with model_priority(Priority.interactive):
            assert current_priority() is Priority.interactive
        assert current_priority() is Priority.background
    assert current_priority() is Priority.interactive
    seen: list[Priority] = []
    with background_priority():  # a context variable: another thread starts interactive
        thread = threading.Thread(target=lambda: seen.append(current_priority()))
        thread.start()
        thread.join()
    assert seen == [Priority.interactive]


def test_an_interactive_caller_acquires_before_a_background_caller_that_waited_longer() -> None:
    lock, order = PriorityLock(), []
    lock.acquire(Priority.background)
    first_bg = _waiter(lock, Priority.background, order, "background-1")
    _until(lambda: lock.waiting(Priority.background) == 1, "first background caller waits")
    second_bg = _waiter(lock, Priority.background, order, "background-2")
    _until(lambda: lock.waiting(Priority.background) == 2, "second background caller waits")
    chat = _waiter(lock, Priority.interactive, order, "interactive")
    _until(lambda: lock.waiting(Priority.interactive) == 1, "interactive caller waits")
    lock.release()
    for thread in (first_bg, second_bg, chat):
        thread.join(60)
    assert order == ["interactive", "background-1", "background-2"]  # first come first served within a priority
    assert lock.held_priority is None


def test_the_lock_is_not_reentrant_for_a_thread_and_can_be_released_from_another() -> None:
    lock, order = PriorityLock(), []
    lock.acquire()
    # the same thread asking again (a second request handled by the worker thread that started a stream) waits
    again = threading.Event()

    def same_thread_again() -> None:
        lock.acquire()
        again.set()
        lock.release()

    releaser = threading.Thread(target=lock.release)  # a stream resumed and closed on another thread
    other = _waiter(lock, Priority.interactive, order, "other")
    _until(lambda: lock.waiting(Priority.interactive) == 1, "the other caller waits")
    assert order == []
    releaser.start()
    releaser.join(60)
    other.join(60)
    assert order == ["other"]
    same_thread_again()
    assert again.is_set()
    with pytest.raises(RuntimeError, match="unheld"):
        lock.release()


def test_a_background_holder_hands_over_to_waiting_interactive_callers_and_resumes_first() -> None:
    lock, order, states = PriorityLock(), [], []
    lock.acquire(Priority.background)
    assert not lock.should_yield() and not lock.yield_to_interactive()  # nobody waits: carry on
    other_bg = _waiter(lock, Priority.background, order, "background-other")
    _until(lambda: lock.waiting(Priority.background) == 1, "another background caller waits")
    chats = [_waiter(lock, Priority.interactive, order, f"chat-{i}") for i in range(3)]
    _until(lambda: lock.waiting(Priority.interactive) == 3, "three chats wait")
    assert lock.should_yield()

    def save() -> str:
        order.append("saved")
        return "state-of-the-background-call"

    assert lock.yield_to_interactive(save, lambda state: states.append(state))
    order.append("resumed")
    assert lock.held_priority is Priority.background and lock.handovers == 1
    lock.release()
    other_bg.join(60)
    for chat in chats:
        chat.join(60)
    assert order == ["saved", "chat-0", "chat-1", "chat-2", "resumed", "background-other"]
    assert states == ["state-of-the-background-call"]


def test_with_priorities_off_the_lock_is_one_first_come_first_served_line() -> None:
    lock, order = PriorityLock(), []
    lock.prioritise = False  # what the benchmark compares against
    lock.acquire(Priority.background)
    bg = _waiter(lock, Priority.background, order, "background")
    _until(lambda: lock.waiting(Priority.interactive) == 1, "the background caller waits in the one line")
    chat = _waiter(lock, Priority.interactive, order, "interactive")
    _until(lambda: lock.waiting(Priority.interactive) == 2, "the chat waits behind it")
    assert not lock.should_yield()
    lock.release()
    bg.join(60)
    chat.join(60)
    assert order == ["background", "interactive"]


def test_an_interactive_holder_never_yields() -> None:
    lock, order = PriorityLock(), []
    lock.acquire(Priority.interactive)
    chat = _waiter(lock, Priority.interactive, order, "chat")
    _until(lambda: lock.waiting(Priority.interactive) == 1, "a chat waits")
    assert not lock.should_yield() and not lock.yield_to_interactive()
    lock.release()
    chat.join(60)
    assert order == ["chat"]


# ---------------------------------------------------------------------------- the real llama.cpp model

FEEDBACK_SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "next_step": {"type": "string"}},
    "required": ["reason", "next_step"],
}
SYSTEM = ("You are an assessor. You read a learner's evidence and write short, concrete feedback on one "
          "criterion of a rubric: what the evidence shows, and the next step.")
EVIDENCE = ("Criterion: the learner writes unit tests for their code.\nEvidence: I wrote a small Flask API for "
            "a library, with endpoints to list, add and lend books. I tested it by hand in the browser and with "
            "curl; one bug in the lending endpoint showed up when two people borrowed the same book. I fixed it "
            "with a check on the availability flag. Next time I want to add automated tests.\n"
            "Answer as JSON with 'reason' and 'next_step'.")
BACKGROUND = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": EVIDENCE}]
CHAT = [{"role": "user", "content": "In one sentence: what is a unit test?"}]


@pytest.fixture(scope="module")
def llm():
    from llm import load_model
    from stackwise.wiring import model_config

    return load_model(model_config(), "llama_cpp")


def _interrupted(llm, background: Callable[[], object], chat: Callable[[], object]) -> tuple[object, object, list]:
    """Run ``background`` at background priority; once it holds the model, send ``chat`` from another thread.
    Returns both results and the order in which they finished."""
    done: list[str] = []
    results: dict[str, object] = {}

    def run_background() -> None:
        with background_priority():
            results["background"] = background()
        done.append("background")

    thread = threading.Thread(target=run_background, daemon=True)
    thread.start()
    _until(lambda: llm.lock.held_priority is Priority.background or "background" in done,
           "the background call holds the model", limit=600)
    results["chat"] = chat()
    done.append("chat")
    thread.join(600)
    return results["background"], results["chat"], done


@pytest.mark.model
def test_a_background_generation_yields_to_a_chat_and_its_output_is_unchanged(llm) -> None:
    def feedback() -> str:
        return llm.chat(BACKGROUND, max_tokens=120, json_schema=FEEDBACK_SCHEMA)

    def chat() -> str:
        return "".join(llm.stream_chat(CHAT, max_tokens=40))

    reference_feedback, reference_chat = feedback(), chat()  # uninterrupted, nothing else waiting
    for _attempt in range(3):  # the chat must arrive while the background call still runs
        before = llm.stats["handovers"]
        got_feedback, got_chat, finished = _interrupted(llm, feedback, chat)
        assert got_feedback == reference_feedback  # same KV cells, same sampler/grammar state: same tokens
        assert got_chat == reference_chat
        if llm.stats["handovers"] > before:
            assert finished == ["chat", "background"]  # the chat did not wait for the feedback to finish
            break
    else:
        pytest.fail("the chat never arrived while the background generation was running")
    # the canonical prefix cache is still right afterwards: same results as cold
    assert llm.chat(BACKGROUND, max_tokens=120, json_schema=FEEDBACK_SCHEMA) == reference_feedback
    assert llm.chat(CHAT, max_tokens=40) == reference_chat


@pytest.mark.model
def test_a_background_choice_distribution_yields_between_prompt_segments_unchanged(llm) -> None:
    # several messages: several canonical segments, so a handover point before each
    head = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": EVIDENCE},
            {"role": "assistant", "content": "I have read the evidence."}]
    question = [*head, {"role": "user", "content": "Does the evidence show automated unit tests? yes or no"}]
    options = ["yes", "no"]

    def check() -> dict[str, float]:
        return llm.choice_distribution(question, options)

    def chat() -> str:
        return llm.chat(CHAT, max_tokens=40)

    llm.chat([{"role": "user", "content": "Say OK."}], max_tokens=2)  # nothing of the question is cached
    reference = check()
    reference_chat = chat()
    for _attempt in range(3):
        llm.chat([{"role": "user", "content": "Say OK."}], max_tokens=2)
        before = llm.stats["handovers"]
        got, got_chat, _finished = _interrupted(llm, check, chat)
        assert got == reference and got_chat == reference_chat
        if llm.stats["handovers"] > before:
            break
    else:
        pytest.fail("the chat never arrived while the background prompt was being evaluated")


@pytest.mark.model
def test_chat_and_grading_keep_their_own_cached_prefix_when_they_alternate(llm) -> None:
    chat = [{"role": "system", "content": "You are the course assistant of a micro-credential catalogue. "
                                          "Answer briefly and only from the catalogue."},
            {"role": "user", "content": "In one sentence: what is a unit test?"}]
    reference_chat = llm.chat(chat, max_tokens=30)
    with background_priority():
        reference_feedback = llm.chat(BACKGROUND, max_tokens=60, json_schema=FEEDBACK_SCHEMA)
    before = dict(llm.stats)
    assert llm.chat(chat, max_tokens=30) == reference_chat  # the KV cache held the grader's prompt
    assert llm.stats["parked_restores"] == before["parked_restores"] + 1
    assert llm.stats["reused_tokens"] > before["reused_tokens"]  # its system message came back from the park
    with background_priority():
        assert llm.chat(BACKGROUND, max_tokens=60, json_schema=FEEDBACK_SCHEMA) == reference_feedback
    assert llm.stats["parked_restores"] == before["parked_restores"] + 2


def test_a_chat_with_no_answer_yet_goes_before_the_rest_of_an_answering_chat() -> None:
    lock, order = PriorityLock(), []
    lock.acquire(Priority.interactive)
    assert not lock.should_yield()
    lock.answering()  # its first token is out
    background = _waiter(lock, Priority.background, order, "background")
    _until(lambda: lock.waiting(Priority.background) == 1, "background work waits")
    assert not lock.should_yield()  # an answering chat does not pause for background work
    newer = _waiter(lock, Priority.interactive, order, "newer-chat")
    _until(lambda: lock.waiting(Priority.interactive) == 1, "a newer chat waits")
    assert lock.should_yield() and lock.yield_turn()
    order.append("older-chat-resumed")
    lock.release()
    newer.join(60)
    background.join(60)
    assert order == ["newer-chat", "older-chat-resumed", "background"]


def _older_and_newer(llm, older, newer) -> tuple[str, str, list[str]]:
    """Stream ``older`` on a thread; once its first piece is out, stream ``newer`` here. Returns both answers
    and the order of the events that matter."""
    events: list[str] = []
    results: dict[str, str] = {}
    started = threading.Event()

    def run_older() -> None:
        pieces = []
        for piece in llm.stream_chat(older, max_tokens=60):
            pieces.append(piece)
            started.set()
        results["older"] = "".join(pieces)
        events.append("older-done")
        started.set()

    thread = threading.Thread(target=run_older, daemon=True)
    thread.start()
    started.wait(600)
    pieces: list[str] = []
    for piece in llm.stream_chat(newer, max_tokens=40):
        if not pieces:
            events.append("newer-first-token")
        pieces.append(piece)
    thread.join(600)
    return results["older"], "".join(pieces), events


@pytest.mark.model
def test_a_newer_chat_gets_its_first_token_before_an_older_chat_finishes_and_both_are_unchanged(llm) -> None:
    older = [{"role": "user", "content": "Write a haiku about compilers."}]
    reference_older = "".join(llm.stream_chat(older, max_tokens=60))
    reference_newer = "".join(llm.stream_chat(CHAT, max_tokens=40))
    for _attempt in range(3):
        before = llm.stats["handovers"]
        got_older, got_newer, events = _older_and_newer(llm, older, CHAT)
        assert (got_older, got_newer) == (reference_older, reference_newer)
        if llm.stats["handovers"] > before:
            assert events.index("newer-first-token") < events.index("older-done")
            break
    else:
        pytest.fail("the newer chat never arrived while the older one was answering")
