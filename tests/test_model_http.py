"""The http runtime (llm.http_backend) against a real OpenAI-compatible server: llama-cpp-python's
``python -m llama_cpp.server`` on the bundled model, on 127.0.0.1 (CI's, else the fixture's own: tests.model_server).
Faults the real server cannot be made to produce on demand (429/503 then success, no logprobs) use an
``httpx.MockTransport``.

Run model tests under ``flock /tmp/stackwise-model.lock``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llm import load_model, model_label
from llm.base import TextModel
from llm.http_backend import HttpModel, ModelServerError, ModelServerUnavailable, NoLogprobsError
from stackwise.config import Settings
from stackwise.loopback import free_port
from stackwise.wiring import model_config

KEY = "sk-test-5f1c9e-do-not-log"
YES_NO = [{"role": "user", "content": "Is 2+2 equal to 4? Answer Yes or No."}]
LETTERS = [{"role": "system", "content": "Answer with one letter."},
           {"role": "user", "content": "Which is a prime number? A) 4 B) 6 C) 7 D) 9"}]
HAIKU = [{"role": "user", "content": "Write a haiku about compilers."}]


@pytest.fixture(scope="module")
def server(model_server) -> str:
    return model_server.url


@pytest.fixture(scope="module")
def key(model_server) -> str:
    return model_server.api_key


@pytest.fixture(scope="module")
def remote(server, key) -> Iterator[HttpModel]:
    model = HttpModel(server, api_key=key, timeout_s=120, retries=1)
    yield model
    model.close()


# ------------------------------------------------------------------------------------- the real server
@pytest.mark.model
def test_chat_and_streaming_give_text(remote, model_server):
    assert isinstance(remote, TextModel)
    assert remote.name == model_server.alias  # the first model GET /models lists
    text = remote.chat(HAIKU, max_tokens=24)
    pieces = list(remote.stream_chat(HAIKU, max_tokens=24))
    print(f"\n[http] chat: {text!r}; {len(pieces)} streamed pieces")
    assert text.strip() and "<|im_end|>" not in text
    streamed = "".join(pieces)
    assert len(pieces) > 1 and all(pieces) and streamed.strip() and "<|im_end|>" not in streamed
    # (greedy, but the server's KV-cache reuse may batch the prompt differently: equality is not promised)
    print(f"[http] streamed == chat: {streamed == text}")


@pytest.mark.model
def test_stop_strings_and_token_counts(remote):
    text = remote.chat([{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
                       max_tokens=40, stop=["5"])
    assert text and "5" not in text and "4" in text
    n = remote.count_tokens("def main():\n    return 0\n")
    assert 5 <= n <= 20


@pytest.mark.model
def test_json_schema_is_followed(remote):
    import json

    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    reply = remote.chat([{"role": "user", "content": "What is 6 times 7? Reply in JSON."}], max_tokens=30,
                        json_schema=schema)
    assert isinstance(json.loads(reply)["answer"], int)


@pytest.mark.model
def test_distributions_agree_with_the_in_process_backend(remote):
    local = load_model(model_config(), "llama_cpp")
    for messages, options in ((YES_NO, ["Yes", "No"]), (LETTERS, ["A", "B", "C", "D"])):
        over_http = remote.choice_distribution(messages, options)
        in_process = local.choice_distribution(messages, options)
        print(f"\n[http] {options}: http {over_http} / in-process {in_process}")
        assert list(over_http) == options and abs(sum(over_http.values()) - 1) < 1e-9
        assert max(over_http, key=over_http.get) == max(in_process, key=in_process.get)
        assert all(abs(over_http[o] - in_process[o]) < 0.05 for o in options)


@pytest.mark.model
def test_the_key_is_a_bearer_token_and_never_logged(server, key, caplog):
    with pytest.raises(ModelServerError, match="HTTP 401"):
        HttpModel(server, api_key="wrong", retries=0)
    caplog.set_level(logging.DEBUG)
    model = HttpModel(server, api_key=key, retries=0)
    assert model.chat(YES_NO, max_tokens=2)
    assert key not in repr(model) and key not in caplog.text
    assert server in caplog.text or "127.0.0.1" in caplog.text  # the requests were logged, the key was not
    model.close()


@pytest.mark.model
def test_load_model_and_the_grade_label(server, key, model_server, monkeypatch):
    from llm import ModelConfig

    cfg = ModelConfig(runtime="http", models_path=Path("/nonexistent"), url=server.removesuffix("/v1"),
                      api_key=key, retries=0)
    model = load_model(cfg)
    assert model.runtime == "http" and model is load_model(cfg)
    assert model_label(model) == f"http:{model_server.alias}@127.0.0.1:{server.split(':')[2].split('/')[0]}"


# -------------------------------------------------------------------------------------------- faults
def test_a_server_that_is_down_gives_one_line_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelServerUnavailable) as err:
        HttpModel(url, model="m", retries=1, backoff_s=0.01).chat(YES_NO)
    assert url in str(err.value) and "\n" not in str(err.value) and "not reachable" in str(err.value)


def _completion(text: str, top: list[tuple[str, float]] | None = None) -> dict:
    choice: dict = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if top is not None:
        choice["logprobs"] = {"content": [{"token": top[0][0], "logprob": top[0][1],
                                           "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top]}]}
    return {"id": "x", "object": "chat.completion", "choices": [choice]}


def _flaky(answers: list[httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    return httpx.MockTransport(handler)


def test_429_and_503_are_retried_with_backoff_then_succeed():
    seen: list[httpx.Request] = []
    answers = [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(503),
               httpx.Response(200, json=_completion("Yes."))]
    model = HttpModel("http://fake:1", model="m", api_key=KEY, backoff_s=0.01, transport=_flaky(answers, seen))
    assert model.chat(YES_NO) == "Yes."
    assert len(seen) == 3 and model.stats["retries"] == 2
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in seen)
    assert str(seen[0].url) == "http://fake:1/v1/chat/completions"


def test_a_stream_is_retried_until_it_opens():
    seen: list[httpx.Request] = []
    events = "".join(f'data: {{"choices":[{{"delta":{{"content":"{p}"}}}}]}}\n\n' for p in ("Hel", "lo")) + \
        "data: [DONE]\n\n"
    answers = [httpx.Response(503), httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                   content=events.encode())]
    model = HttpModel("http://fake:1/v1", model="m", backoff_s=0.01, transport=_flaky(answers, seen))
    assert list(model.stream_chat(YES_NO)) == ["Hel", "lo"] and len(seen) == 2


def test_retries_run_out_with_one_line_naming_the_url():
    seen: list[httpx.Request] = []
    model = HttpModel("http://fake:1/v1", model="m", retries=2, backoff_s=0.01,
                      transport=_flaky([httpx.Response(503) for _ in range(3)], seen))
    with pytest.raises(ModelServerError, match=r"fake:1/v1/chat/completions answered HTTP 503 \(retries exhausted"):
        model.chat(YES_NO)
    assert len(seen) == 3


def test_distributions_from_top_logprobs_and_a_server_without_them():
    top = [("Yes", -0.2), ("No", -1.9), ("yes", -4.0)]
    answers = [httpx.Response(200, json=_completion("Yes", top)), httpx.Response(200, json=_completion("Yes"))]
    model = HttpModel("http://fake:1/v1", model="m", transport=_flaky(answers, []))
    dist = model.choice_distribution(YES_NO, ["Yes", "No", "Maybe"])
    assert abs(sum(dist.values()) - 1) < 1e-9 and dist["Yes"] > dist["No"] > dist["Maybe"] > 0
    with pytest.raises(NoLogprobsError, match="returned no logprobs"):
        model.choice_distribution(YES_NO, ["Yes", "No"])


def test_settings_select_the_http_runtime_and_keep_the_key_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("STACKWISE_MODEL_API_KEY", raising=False)
    assert Settings(home=tmp_path).runtime == "llama_cpp"
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    s = Settings(home=tmp_path, model_url="http://127.0.0.1:8080/v1", model_api_key_file=key_file)
    assert s.runtime == "http" and s.model_key.get_secret_value() == KEY
    assert Settings(home=tmp_path, model_url="http://x:1", runtime="llama_cpp").runtime == "llama_cpp"
    with pytest.raises(ValueError, match="STACKWISE_MODEL_URL"):
        Settings(home=tmp_path, runtime="http")
    s = Settings(home=tmp_path, model_url="http://127.0.0.1:8080/v1", model_api_key=KEY)
    assert KEY not in s.model_dump_json() and KEY not in repr(s)
    cfg = model_config(s)
    assert cfg.runtime == "http" and cfg.api_key.get_secret_value() == KEY and KEY not in repr(cfg)


def test_a_json_schema_falls_back_to_the_form_the_server_takes():
    """llama-cpp-python's server answers 500 to OpenAI's json_schema form and takes json_object + schema."""
    import json

    seen: list[httpx.Request] = []
    answers = [httpx.Response(500), httpx.Response(200, json=_completion('{"answer": 42}'))]
    model = HttpModel("http://fake:1/v1", model="m", backoff_s=0.01, transport=_flaky(answers, seen))
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    assert json.loads(model.chat(YES_NO, json_schema=schema)) == {"answer": 42}
    forms = [json.loads(r.content)["response_format"] for r in seen]
    assert [f["type"] for f in forms] == ["json_schema", "json_object"] and forms[1]["schema"] == schema
