"""The contract every text-model runtime fulfils, plus small helpers shared by the backends.

Messages are OpenAI-style dicts: ``{"role": "system" | "user" | "assistant", "content": str}``.
The prompt is rendered with the chat template embedded in the model's GGUF file (Qwen ChatML:
``<|im_start|>role\\n...<|im_end|>``), ending with the assistant header, so every backend
sees exactly the same prompt for the same messages.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

Message = Mapping[str, Any]


@runtime_checkable
class TextModel(Protocol):
    """A loaded chat model.

    Attributes:
        name: registry name of the model (e.g. ``"qwen2.5-coder-1.5b"``).
        runtime: ``"llama_cpp"`` or ``"transformers"``.

    Implementations are not thread-safe: callers that share one instance between threads must
    serialise calls (``llm.load_model`` hands out one instance per process).
    """

    name: str
    runtime: str

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        """Generate the assistant's reply to ``messages`` and return its text.

        ``json_schema``: constrain the reply to JSON matching this schema where the runtime can (llama.cpp
        compiles it to a grammar); a runtime that cannot constrain generation returns unconstrained text,
        so callers validate the reply either way.

        ``temperature == 0`` is greedy decoding and deterministic for a given prompt and runtime.
        Generation ends at the end-of-turn token, after ``max_tokens`` new tokens, or just before
        the first occurrence of any ``stop`` string (which is not included in the result).
        """
        ...

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Like :meth:`chat`, but yield the reply in text pieces as they are generated.

        The concatenation of the pieces equals what :meth:`chat` returns for the same arguments
        (at ``temperature == 0``). Pieces are never empty.
        """
        ...

    def choice_distribution(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        """Probability of each option being the assistant's reply, over the closed set ``options``.

        Computed from token log-probabilities, not by generating text: the prompt is rendered up to
        and including the assistant header; each option is tokenised as the continuation and its
        log-likelihood is the sum of its tokens' log-probabilities; the result is the softmax of
        those log-likelihoods over the options (so the values sum to 1). The option's text is
        scored exactly as given (no leading space, no end-of-turn token).

        The key/value cache of the prompt is computed once and shared by all options, and
        a prompt that shares a prefix with the previous call's prompt (same system prompt, say)
        reuses that prefix's cache.

        Raises ``ValueError`` for an empty, duplicated, or empty-string option.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` as plain text (no special tokens, no BOS)."""
        ...


# --------------------------------------------------------------------------------------- helpers
def normalize_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Check and copy messages into plain ``{"role", "content"}`` dicts."""
    out: list[dict[str, str]] = []
    for m in messages:
        role = m.get("role")
        content = m.get("content")
        if role not in {"system", "user", "assistant", "tool"}:
            raise ValueError(f"unsupported message role {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"message content must be a string, got {type(content).__name__}")
        out.append({"role": role, "content": content})
    if not out:
        raise ValueError("messages must not be empty")
    return out


def check_options(options: Sequence[str]) -> list[str]:
    opts = list(options)
    if not opts:
        raise ValueError("options must not be empty")
    if any(not isinstance(o, str) or o == "" for o in opts):
        raise ValueError("options must be non-empty strings")
    if len(set(opts)) != len(opts):
        raise ValueError("options must be distinct")
    return opts


def softmax_dict(scores: Mapping[str, float]) -> dict[str, float]:
    """Softmax of log-likelihoods, numerically stable; values sum to 1."""
    m = max(scores.values())
    exps = {k: math.exp(v - m) for k, v in scores.items()}
    total = sum(exps.values())
    return {k: e / total for k, e in exps.items()}


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class StopBuffer:
    """Incremental stop-string handling for streamed text.

    ``feed(piece)`` returns the text that is safe to emit (it can no longer be the start of a stop
    string) and sets ``stopped`` once a stop string appears; ``flush()`` returns the held-back
    tail at the end of generation.
    """

    def __init__(self, stop: Sequence[str] | None):
        self.stop = [s for s in (stop or []) if s]
        self.pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        if self.stopped:
            return ""
        if not self.stop:
            return piece
        self.pending += piece
        cut = min((i for i in (self.pending.find(s) for s in self.stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            out, self.pending = self.pending[:cut], ""
            return out
        hold = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(self.pending) - hold :]
        return out

    def flush(self) -> str:
        out, self.pending = ("" if self.stopped else self.pending), ""
        return out
