"""Third runtime: a model behind any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, TGI) over HTTP.

``chat``/``stream_chat`` call ``POST {url}/chat/completions`` (streaming: server-sent events). The server
applies its own chat template, so the prompt matches the in-process backends when it serves the same GGUF with
the template embedded in it (llama.cpp's server does).

``choice_distribution`` asks for one token with ``logprobs: true, top_logprobs: 20`` and reads the first
generated position's top log-probabilities: each option's log-probability is that of the returned token whose
text equals the option exactly; the options' values are then renormalised over the options (softmax of the
log-probabilities), so they sum to 1. An option that is not among the top 20 gets an upper bound: the smaller
of the lowest returned log-probability and the log of the probability mass the top 20 leave. This is exact for
options that are one token each (the grader's ``yes``/``no``, letters, level digits); an option that is
several tokens is scored by nothing better than that bound. A server that returns no log-probabilities
(some do not implement them, llama-cpp-python's needs ``logits_all``, its default) raises
:class:`NoLogprobsError`: the grader never falls back to parsing generated text.

Robustness: every request has a timeout; 429 and 5xx answers and connection failures are retried with
exponential backoff (``Retry-After`` is honoured up to 30 s), then a one-line :class:`ModelServerError`
names the URL. The API key is sent as ``Authorization: Bearer`` and never appears in ``repr`` or logs.
"""

from __future__ import annotations

import json
import logging
import math
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from llm.base import Message, StopBuffer, check_options, normalize_messages

log = logging.getLogger(__name__)

TOP_LOGPROBS = 20
"""How many alternatives ``choice_distribution`` asks for (the OpenAI API's maximum)."""
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ModelServerError(RuntimeError):
    """The model server could not answer (down, refused, an error status, a malformed reply); one line."""


class ModelServerUnavailable(ModelServerError):
    """The server cannot be reached (connection refused, DNS, timeout) after the retries."""


class NoLogprobsError(ModelServerError):
    """The server answered without the log-probabilities :meth:`HttpModel.choice_distribution` needs."""


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def normalise_url(url: str) -> str:
    """The OpenAI base URL (``.../v1``) of ``url``; a bare ``http://host:port`` gets ``/v1``."""
    url = url.strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"model server URL must be http:// or https://host[:port][/v1], got {url!r}")
    return url if parts.path not in {"", "/"} else url + "/v1"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(30.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


class HttpModel:
    """:class:`~llm.base.TextModel` on an OpenAI-compatible server. See the module docstring."""

    runtime = "http"

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        seed: int = 0,
        transport: httpx.BaseTransport | None = None,
    ):
        """``model``: the served model's name (``None``: the first one ``GET /models`` lists).
        ``retries``: further attempts after a 429/5xx/connection failure. ``transport``: for tests of faults."""
        self.url = normalise_url(url)
        self.host = urllib.parse.urlsplit(self.url).netloc
        self.retries = max(0, int(retries))
        self.backoff_s = backoff_s
        self.seed = seed
        self.timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.url, headers=headers, transport=transport,
                                    timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)))
        self._json_format: str | None = "json_schema"  # then "json_object", then None: what the server takes
        self._tokenize: str | None = "/extras/tokenize"  # llama-cpp-python; then vLLM/llama.cpp's /tokenize
        self.stats = {"requests": 0, "retries": 0}
        self.name = model or self._first_model()

    @property
    def label(self) -> str:
        """What graded: ``http:<model>@<host>`` (recorded with each grade)."""
        return f"{self.runtime}:{self.name}@{self.host}"

    def __repr__(self) -> str:
        return f"HttpModel(url={self.url!r}, model={self.name!r})"

    # ------------------------------------------------------------------------------ requests
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return wait_exponential(multiplier=self.backoff_s, max=10.0)(state)

    def _retrying(self, retries: int | None = None) -> Retrying:
        retries = self.retries if retries is None else retries

        def before_sleep(state: RetryCallState) -> None:
            self.stats["retries"] += 1
            exc = state.outcome.exception() if state.outcome else None
            log.info("model server %s: %s; retry %d of %d", self.url, exc, state.attempt_number, self.retries)

        return Retrying(stop=stop_after_attempt(retries + 1), wait=self._wait, reraise=True,
                        retry=retry_if_exception(lambda e: isinstance(e, _Retryable)), before_sleep=before_sleep)

    def _check(self, response: httpx.Response, path: str) -> None:
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            response.read()
            detail = " ".join(response.text.split())[:200]
            raise ModelServerError(f"model server {self.url}{path} answered HTTP {response.status_code}: {detail}")

    def _fail(self, exc: BaseException, path: str) -> ModelServerError:
        if isinstance(exc, _Retryable) and str(exc).startswith("HTTP"):
            return ModelServerError(f"model server {self.url}{path} answered {exc} (retries exhausted)")
        return ModelServerUnavailable(f"model server {self.url} is not reachable ({exc}); start it or fix "
                                      "STACKWISE_MODEL_URL")

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None, *,
                 retries: int | None = None) -> Any:
        def once() -> Any:
            self.stats["requests"] += 1
            try:
                response = self._client.request(method, path, json=body)
            except httpx.TransportError as exc:
                raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
            self._check(response, path)
            try:
                return response.json()
            except ValueError as exc:
                raise ModelServerError(f"model server {self.url}{path} did not answer JSON") from exc

        try:
            return self._retrying(retries)(once)
        except _Retryable as exc:
            raise self._fail(exc, path) from None

    def _first_model(self) -> str:
        data = self._request("GET", "/models")
        try:
            return str(data["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise ModelServerError(f"model server {self.url}/models lists no model; set STACKWISE_MODEL_NAME"
                                   ) from None

    def _body(self, messages: Sequence[Message], max_tokens: int, temperature: float,
              stop: Sequence[str] | None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.name, "messages": normalize_messages(messages),
                                "max_tokens": max_tokens, "temperature": max(0.0, float(temperature)),
                                "seed": self.seed, **extra}
        if temperature <= 0:
            body["top_p"] = 1.0
        if stop:
            body["stop"] = list(stop)
        return body

    # ---------------------------------------------------------------------------- generation
    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        body = self._body(messages, max_tokens, temperature, stop)
        while json_schema is not None and self._json_format is not None:
            if self._json_format == "json_schema":
                fmt = {"type": "json_schema", "json_schema": {"name": "reply", "schema": dict(json_schema)}}
            else:  # llama-cpp-python's and llama.cpp's form
                fmt = {"type": "json_object", "schema": dict(json_schema)}
            try:  # probed without retries: llama-cpp-python's server answers 500 to the json_schema form
                return self._text(self._request("POST", "/chat/completions", {**body, "response_format": fmt},
                                                retries=0), stop)
            except ModelServerUnavailable:
                raise
            except ModelServerError as exc:
                log.info("model server %s does not take response_format %s (%s)", self.url, self._json_format, exc)
                self._json_format = "json_object" if self._json_format == "json_schema" else None
        return self._text(self._request("POST", "/chat/completions", body), stop)

    def _text(self, data: Any, stop: Sequence[str] | None) -> str:
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ModelServerError(f"model server {self.url}/chat/completions answered without a message") from None
        buf = StopBuffer(stop)
        return buf.feed(text) + buf.flush()

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        body = self._body(messages, max_tokens, temperature, stop, stream=True)
        path = "/chat/completions"
        retrying = self._retrying()
        started = False
        try:
            for attempt in retrying:  # only opening the stream is retried: nothing has been yielded yet
                with attempt:
                    self.stats["requests"] += 1
                    try:
                        with connect_sse(self._client, "POST", path, json=body) as source:
                            self._check(source.response, path)
                            buf = StopBuffer(stop)
                            for event in source.iter_sse():
                                if event.data.strip() == "[DONE]":
                                    break
                                try:
                                    choices = json.loads(event.data).get("choices") or [{}]
                                except ValueError:
                                    raise ModelServerError(f"model server {self.url}{path} sent a malformed "
                                                           "event") from None
                                piece = buf.feed((choices[0].get("delta") or {}).get("content") or "")
                                if piece:
                                    started = True
                                    yield piece
                                if buf.stopped:
                                    break
                            tail = buf.flush()
                            if tail:
                                yield tail
                    except httpx.TransportError as exc:
                        if started:
                            raise ModelServerError(f"model server {self.url} broke off the stream ({exc})"
                                                   ) from exc
                        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
                    except SSEError as exc:
                        raise ModelServerError(f"model server {self.url}{path} did not stream events ({exc})"
                                               ) from exc
        except _Retryable as exc:
            raise self._fail(exc, path) from None

    # --------------------------------------------------------------------------- distributions
    def choice_distribution(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        opts = check_options(options)
        body = self._body(messages, 1, 0.0, None, logprobs=True, top_logprobs=TOP_LOGPROBS)
        data = self._request("POST", "/chat/completions", body)
        try:
            content = data["choices"][0]["logprobs"]["content"]
            top = content[0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            top = None
        if not top:
            raise NoLogprobsError(f"model server {self.url} returned no logprobs for {self.name!r}; the grader "
                                  "needs a server that implements logprobs/top_logprobs")
        found: dict[str, float] = {}
        for alt in top:
            token, lp = alt.get("token"), alt.get("logprob")
            if isinstance(token, str) and isinstance(lp, int | float) and token not in found:
                found[token] = float(lp)
        if not any(o in found for o in opts):
            raise NoLogprobsError(f"model server {self.url}: none of the options {opts} is among the top "
                                  f"{TOP_LOGPROBS} first tokens")
        left = 1.0 - sum(math.exp(v) for v in found.values())
        bound = min(min(found.values()), math.log(left) if left > 1e-12 else -30.0)
        scores = {o: found.get(o, bound) for o in opts}
        top_score = max(scores.values())
        exps = {o: math.exp(v - top_score) for o, v in scores.items()}
        total = sum(exps.values())
        return {o: e / total for o, e in exps.items()}

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's tokenizer (llama-cpp-python's ``/extras/tokenize``, else vLLM's and
        llama.cpp's ``/tokenize``); a server with neither gets an estimate (4 characters a token)."""
        root = self.url[: -len("/v1")] if self.url.endswith("/v1") else self.url
        while self._tokenize is not None:
            path = self._tokenize
            body = ({"model": self.name, "input": text} if path == "/extras/tokenize"
                    else {"model": self.name, "prompt": text, "content": text, "add_special_tokens": False})
            try:
                data = self._request("POST", root + path, body)
                if isinstance(data.get("count"), int):
                    return int(data["count"])
                return len(data["tokens"])
            except (ModelServerError, KeyError, TypeError, AttributeError) as exc:
                if isinstance(exc, ModelServerUnavailable):
                    raise
                self._tokenize = "/tokenize" if path == "/extras/tokenize" else None
        return max(1, math.ceil(len(text) / 4)) if text else 0

    def close(self) -> None:
        self._client.close()
