"""The real bundled model on both runtimes (slow: marked ``model``).

The model file is assembled once into ``settings.models_path`` (default: the user's stackwise
home), so repeated runs reuse it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from llm import (
    TextModel,
    assemble,
    get_spec,
    load_model,
    model_info,
    render_model_info,
    unload_model,
)
from llm.base import StopBuffer
from stackwise.wiring import model_config

pytestmark = pytest.mark.model

YES_NO = [{"role": "user", "content": "Is 2+2 equal to 4? Answer yes or no."}]
# (the 1.5B model answers "Yes." to "Is 2+2 equal to 5?", so the negative case is a comparison)
FALSE_Q = [{"role": "user", "content": "Is 3 greater than 7? Answer yes or no."}]
HAIKU = [{"role": "user", "content": "Write a haiku about compilers."}]


@pytest.fixture(scope="session")
def model_file():
    s = model_config()
    t0 = time.perf_counter()
    path = assemble(get_spec(s.model), s.models_path)
    print(f"\n[model] assemble/reuse {path}: {time.perf_counter() - t0:.1f} s")
    return path


@pytest.fixture(scope="module")
def llm(model_file) -> TextModel:
    t0 = time.perf_counter()
    m = load_model(model_config(), "llama_cpp")
    print(f"\n[model] llama.cpp load {time.perf_counter() - t0:.1f} s")
    return m


def test_llama_chat_is_nonempty_and_deterministic(llm):
    assert isinstance(llm, TextModel)
    assert llm.runtime == "llama_cpp" and llm.name == model_config().model
    t0 = time.perf_counter()
    a = llm.chat(HAIKU, max_tokens=40)
    dt = time.perf_counter() - t0
    b = llm.chat(HAIKU, max_tokens=40)
    print(f"\n[model] llama.cpp: {llm.count_tokens(a)} tokens in {dt:.2f} s: {a!r}")
    assert a.strip() and a == b
    assert "<|im_end|>" not in a
    # whatever ran in between (other prompts in the KV cache), the same prompt gives the same text
    llm.choice_distribution(YES_NO, ["yes", "no"])
    assert llm.chat(HAIKU, max_tokens=40) == a
    conv = [*HAIKU, {"role": "assistant", "content": a}, {"role": "user", "content": "Now one about linkers."}]
    warm = llm.chat(conv, max_tokens=30)
    llm.chat(YES_NO, max_tokens=3)
    assert llm.chat(conv, max_tokens=30) == warm and warm.strip()


def test_llama_load_model_is_cached_per_process(llm):
    assert load_model(model_config(), "llama_cpp") is llm


def test_llama_stream_pieces_join_to_chat(llm):
    pieces = list(llm.stream_chat(HAIKU, max_tokens=40))
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == llm.chat(HAIKU, max_tokens=40)


def test_llama_stop_strings(llm):
    msgs = [{"role": "user", "content": "Count from 1 to 10, separated by commas, nothing else."}]
    full = llm.chat(msgs, max_tokens=40)
    assert "5" in full
    cut = llm.chat(msgs, max_tokens=40, stop=["5"])
    assert "5" not in cut and full.startswith(cut)
    assert "".join(llm.stream_chat(msgs, max_tokens=40, stop=["5"])) == cut


def test_llama_choice_distribution(llm):
    t0 = time.perf_counter()
    dist = llm.choice_distribution(YES_NO, ["yes", "no"])
    dt = time.perf_counter() - t0
    print(f"\n[model] llama.cpp choice_distribution {dt * 1000:.0f} ms: {dist}")
    assert set(dist) == {"yes", "no"}
    assert sum(dist.values()) == pytest.approx(1.0)
    assert dist["yes"] > 0.8
    false = llm.choice_distribution(FALSE_Q, ["yes", "no"])
    assert false["no"] > false["yes"]


def test_llama_choice_distribution_multi_token_and_cache_reuse(llm):
    msgs = [
        {"role": "system", "content": "Answer with the name of a city only."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    opts = ["Paris", "Lyon", "The city of Marseille"]
    llm.chat(HAIKU, max_tokens=5)  # unrelated prompt in the cache
    cold = llm.choice_distribution(msgs, opts)
    warm = llm.choice_distribution(msgs, opts)  # whole prompt cached
    assert max(cold, key=cold.get) == "Paris" and cold["Paris"] > 0.9
    for o in opts:
        assert warm[o] == pytest.approx(cold[o], abs=1e-3)
    # a generation after scoring still works and reuses the prompt
    assert llm.chat(msgs, max_tokens=8).strip().startswith("Paris")
    with pytest.raises(ValueError):
        llm.choice_distribution(msgs, ["Paris", "Paris"])
    with pytest.raises(ValueError):
        llm.choice_distribution(msgs, [])


def test_llama_shared_system_prompt_is_computed_once(llm):
    system = {"role": "system", "content": "You are a strict grader. " * 20 + "Reply with one word."}
    pairs = [(10, 4), (3, 7), (9, 2)]
    items = [[system, {"role": "user", "content": f"Is {a} greater than {b}? Answer yes or no."}] for a, b in pairs]
    llm.choice_distribution(items[0], ["yes", "no"])
    before = dict(llm.stats)
    t0 = time.perf_counter()
    d1 = llm.choice_distribution(items[1], ["yes", "no"])
    d2 = llm.choice_distribution(items[2], ["yes", "no"])
    dt = (time.perf_counter() - t0) / 2
    reused = llm.stats["reused_tokens"] - before["reused_tokens"]
    sys_tokens = llm.segment_bounds(llm._prompt_tokens(items[1]))[1]
    print(f"\n[model] llama.cpp choice_distribution with shared {sys_tokens}-token system prompt: {dt * 1000:.0f} ms")
    assert sys_tokens > 100 and reused == 2 * sys_tokens
    assert d1["no"] > d1["yes"] and d2["yes"] > d2["no"]


def test_llama_count_tokens(llm):
    assert llm.count_tokens("") == 0
    assert 1 <= llm.count_tokens("hello world") <= 3
    assert llm.count_tokens("<|im_end|>") > 1  # plain text: special tokens are not parsed


def test_langchain_adapter_invoke_and_stream(llm):
    from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from llm.langchain_adapter import TextModelChat

    chat = TextModelChat(model=llm, max_tokens=40)
    msgs = [SystemMessage("You are terse."), HumanMessage("Write a haiku about compilers.")]
    reply = chat.invoke(msgs)
    assert reply.content.strip()
    chunks = list(chat.stream(msgs))
    assert len(chunks) > 1 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(c.content for c in chunks) == reply.content
    as_dicts = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Write a haiku about compilers."},
    ]
    expected = llm.chat(as_dicts, max_tokens=40)
    assert reply.content == expected
    chain = ChatPromptTemplate.from_messages([("user", "Is {a}+{a} equal to {b}? Answer yes or no.")]) | chat
    out = (chain | StrOutputParser()).invoke({"a": 2, "b": 4}, config={"max_concurrency": 1})
    assert "yes" in out.lower()
    short = chat.invoke("Count from 1 to 10, separated by commas.", stop=["5"])
    assert "5" not in short.content


def test_model_info_smoke(llm):
    info = model_info(model_config(), smoke=True, runtime="llama_cpp")
    assert info.error is None, info.error
    assert info.present and info.size == info.expected_size and info.sha256_verified
    assert info.parts_ok and len(info.parts) == get_spec(info.model).n_parts
    assert info.smoke is not None and info.smoke.tokens > 0 and info.smoke.tokens_per_second > 0
    text = render_model_info(info)
    print("\n" + text)
    assert "tok/s" in text and info.model in text


def test_stop_buffer_holds_back_partial_stop():
    buf = StopBuffer(["</end>"])
    out = buf.feed("hello </e") + buf.feed("nd> tail")
    assert out == "hello " and buf.stopped
    buf = StopBuffer(["</end>"])
    assert buf.feed("a </") + buf.feed("b") + buf.flush() == "a </b"


# ---------------------------------------------------------------------------- transformers
@pytest.fixture(scope="module")
def hf(model_file) -> Iterator[TextModel]:
    s = model_config()
    t0 = time.perf_counter()
    m = load_model(s, "transformers")
    print(f"\n[model] transformers load {time.perf_counter() - t0:.1f} s")
    yield m
    unload_model(s, "transformers")  # ~4 GB: do not keep it for the rest of the session


def test_transformers_backend_same_file(hf, llm):
    assert hf.runtime == "transformers"
    assert hf.render(HAIKU) == llm.render(HAIKU)  # both use the GGUF's chat template
    for text in ("hello world", "<|im_end|> x", "def f(x):\n    return x ** 2  # ünïcode"):
        assert hf.count_tokens(text) == llm.count_tokens(text)
    t0 = time.perf_counter()
    text = hf.chat(YES_NO, max_tokens=8)
    dt = time.perf_counter() - t0
    print(f"\n[model] transformers chat {dt:.2f} s: {text!r}")
    assert text.strip().lower().startswith("yes")
    pieces = list(hf.stream_chat(YES_NO, max_tokens=8))
    assert pieces and "".join(pieces) == text
    t0 = time.perf_counter()
    dist = hf.choice_distribution(YES_NO, ["yes", "no"])
    print(f"[model] transformers choice_distribution {(time.perf_counter() - t0) * 1000:.0f} ms: {dist}")
    assert sum(dist.values()) == pytest.approx(1.0) and dist["yes"] > 0.8
    # Same file, same prompt: both runtimes agree closely on the distribution.
    assert dist["yes"] == pytest.approx(llm.choice_distribution(YES_NO, ["yes", "no"])["yes"], abs=0.05)
    multi = hf.choice_distribution(FALSE_Q, ["yes", "no", "I am not sure"])
    assert max(multi, key=multi.get) == "no"
