"""Default CPU runtime: llama.cpp through llama-cpp-python (pinned 0.3.36).

The prompt is rendered with the chat template stored in the GGUF (``tokenizer.chat_template``,
Qwen ChatML) and tokenised with special tokens, then generated with ``create_completion`` on the
token list, so ``chat``, ``stream_chat`` and ``choice_distribution`` all see identical tokens.

Determinism and prefix reuse: llama.cpp's results depend slightly on how tokens are batched, so
reusing a cached prefix naively makes greedy output depend on what ran before. Prompts are
therefore always evaluated one chat message per batch (``segment_bounds``), and only whole
messages shared with the previous prompt are reused from the KV cache (``_eval_prompt``). Same
prompt -> same tokens, whatever ran before, while a shared prefix (a grader's system prompt and
few-shot messages) is computed once.

``chat``/``stream_chat`` evaluate the prompt that way and then call ``create_completion`` on the
same tokens, which samples at once (exact cache hit). ``choice_distribution`` reads the last
position's logits, then for each multi-token option decodes the option's tokens (all but the
last) on top of the prompt with logits for every position, and removes them from the KV cache
again. It uses two internals of ``Llama`` (``_ctx``, ``_batch``), which is why the version is
pinned.

Priority (:mod:`llm.priority`): calls take the model through a :class:`PriorityLock`, so a
waiting interactive call (a learner's chat) goes before waiting background calls (the grader's feedback and
checks), and a chat with no answer yet before the rest of another chat's answer. A call also hands the model
over *during* its work: after each sampled token (a chat: from its second token on), and a background call
also before each prompt segment, if a caller of an earlier line waits, it saves its own state (sequence 0's
KV cells, the token history, the sampler with its grammar state, the canonical-cache bookkeeping), lets
those calls run, restores that state exactly and carries on. The KV cells are copied bytes, so the paused
call's output is the same as without the interruption.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llm.base import (
    Message,
    StopBuffer,
    check_options,
    common_prefix_len,
    normalize_messages,
    softmax_dict,
)
from llm.priority import Priority, PriorityLock

DEFAULT_STOPS = ("<|im_end|>", "<|endoftext|>")


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64, copy=False)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@dataclass
class _Saved:
    """A background call's state while it lets an interactive call use the model."""

    kv: Any  # ctypes buffer with sequence 0's KV cells
    kv_bytes: int
    n_tokens: int
    input_ids: np.ndarray
    sampler: Any
    requires_eval: bool
    canon: list[int]
    canon_bounds: list[int]


class LlamaCppModel:
    """:class:`~llm.base.TextModel` on llama.cpp. See the module docstring."""

    runtime = "llama_cpp"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        name: str = "",
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        n_batch: int = 512,
    ):
        """Load the GGUF at ``model_path`` (``n_batch``: largest prompt batch, see ``segment_bounds``)."""
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.name = name or Path(model_path).stem
        self.model_path = Path(model_path)
        self.seed = seed
        self._llm = llama_cpp.Llama(
            model_path=str(model_path),
            n_ctx=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            seed=seed,
            logits_all=False,
            verbose=False,
        )
        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise RuntimeError(f"{model_path}: the GGUF has no tokenizer.chat_template")
        vocab = self._llm._model
        eos_id = self._llm.token_eos()
        bos_id = self._llm.token_bos()
        eos = vocab.token_get_text(eos_id) if eos_id >= 0 else ""
        bos = vocab.token_get_text(bos_id) if bos_id >= 0 else ""
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._n_vocab = self._llm.n_vocab()
        self._lock = PriorityLock()
        self.n_ctx = self._llm.n_ctx()
        self.n_batch = n_batch
        seg = self._llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
        self._segment_token = seg[0] if len(seg) == 1 else -1  # -1: fixed n_batch blocks only
        self._canon: list[int] = []  # tokens whose KV entries were computed canonically
        self._canon_bounds: list[int] = [0]
        self.stats = {"prompt_tokens": 0, "reused_tokens": 0, "handovers": 0, "parked_restores": 0}
        self._kv_owner: Priority | None = None  # whose call left the KV cache as it is
        self._parked: dict[Priority, _Saved] = {}  # the other side's cache, kept while one side runs

    @property
    def lock(self) -> PriorityLock:
        """The lock every call takes (interactive callers first)."""
        return self._lock

    # ------------------------------------------------------------------------------ prompt
    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for ``messages``, ending with the assistant header."""
        return self._formatter(messages=normalize_messages(messages)).prompt

    def _prompt_tokens(self, messages: Sequence[Message]) -> list[int]:
        tokens = self._llm.tokenize(self.render(messages).encode("utf-8"), add_bos=False, special=True)
        if len(tokens) >= self.n_ctx:
            raise ValueError(f"prompt has {len(tokens)} tokens; the context holds {self.n_ctx}")
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # -------------------------------------------------------------------------- generation
    def _completion_kwargs(self, max_tokens: int, temperature: float, stop: Sequence[str] | None) -> dict[str, Any]:
        return {
            "max_tokens": max_tokens,
            "temperature": max(0.0, float(temperature)),
            "top_k": 40 if temperature > 0 else 1,
            "top_p": 0.95 if temperature > 0 else 1.0,
            "min_p": 0.05 if temperature > 0 else 0.0,
            "repeat_penalty": 1.0,
            "stop": [*DEFAULT_STOPS, *(stop or [])],
            "seed": self.seed,
        }

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        tokens = self._prompt_tokens(messages)
        kwargs = self._completion_kwargs(max_tokens, temperature, stop)
        if json_schema is not None:
            import json

            from llama_cpp import LlamaGrammar

            kwargs["grammar"] = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
        with self._lock.hold():
            self._eval_prompt(tokens)  # generate() then samples at once (exact cache hit)
            out = self._llm.create_completion(tokens, stream=False, **self._yielding(kwargs))
        return out["choices"][0]["text"]

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        tokens = self._prompt_tokens(messages)
        with self._lock.hold():
            self._eval_prompt(tokens)
            chunks = self._llm.create_completion(
                tokens, stream=True, **self._yielding(self._completion_kwargs(max_tokens, temperature, stop))
            )
            # create_completion already holds back partial stop strings; StopBuffer only guards
            # the (documented) invariant that pieces never contain a stop string.
            buf = StopBuffer([*DEFAULT_STOPS, *(stop or [])])
            for chunk in chunks:
                piece = buf.feed(chunk["choices"][0]["text"])
                if piece:
                    yield piece
                if buf.stopped:
                    break
            tail = buf.flush()
            if tail:
                yield tail

    # ---------------------------------------------------------------------------- priority
    def _yielding(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Hand the model over after each sampled token when a caller of an earlier line waits (a stopping
        criterion that never stops; it runs after a token is sampled, before it is evaluated). An interactive
        call counts as answering once its first token is out, so a newer chat's first token comes before the
        rest of an older chat's answer; a background call pauses for any chat."""
        from llama_cpp import StoppingCriteriaList

        sampled = [0]

        def handover(_input_ids: Any, _logits: Any) -> bool:
            sampled[0] += 1
            if sampled[0] == 1:
                self._lock.answering()  # the first token goes out before anyone else is let in
            else:
                self._handover()
            return False

        return {**kwargs, "stopping_criteria": StoppingCriteriaList([handover])}

    def _handover(self) -> None:
        if self._lock.yield_turn(self._save, self._resume):
            self.stats["handovers"] += 1

    def _resume(self, saved: object) -> None:
        """Back from a handover: park what the other side's calls left, restore the paused call's state."""
        side = self._lock.held_priority or Priority.interactive
        if self._kv_owner is not None and self._kv_owner is not side:
            self._parked[self._kv_owner] = self._save()
        self._restore(saved)
        self._kv_owner = side

    def _save(self) -> _Saved:
        import llama_cpp

        llm = self._llm
        ctx = llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * max(1, size))()
        n = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0) if size else 0
        return _Saved(kv=buf, kv_bytes=n, n_tokens=llm.n_tokens, input_ids=llm.input_ids[: llm.n_tokens].copy(),
                      sampler=llm._sampler, requires_eval=llm._requires_eval, canon=self._canon,
                      canon_bounds=self._canon_bounds)

    def _restore(self, saved: object) -> None:
        import llama_cpp

        assert isinstance(saved, _Saved)
        llm = self._llm
        llm._ctx.kv_cache_clear()
        if saved.kv_bytes and llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, saved.kv, saved.kv_bytes, 0) == 0:
            self._canon, self._canon_bounds = [], [0]
            raise RuntimeError("llama.cpp could not restore the KV cache of a paused background call")
        llm.n_tokens = saved.n_tokens
        llm.input_ids[: saved.n_tokens] = saved.input_ids
        llm._sampler = saved.sampler
        llm._requires_eval = saved.requires_eval
        self._canon, self._canon_bounds = saved.canon, saved.canon_bounds

    # ------------------------------------------------------------------- prompt evaluation
    def segment_bounds(self, tokens: Sequence[int]) -> list[int]:
        """Canonical evaluation boundaries of a prompt: ``[0, ..., len(tokens)]``.

        A segment starts at each ``<|im_start|>`` (one chat message, or the final assistant
        header); segments longer than ``n_batch`` are split every ``n_batch`` tokens from their start.
        """
        starts = [i for i, t in enumerate(tokens) if t == self._segment_token and i > 0]
        bounds = [0]
        for end in [*starts, len(tokens)]:
            while end - bounds[-1] > self.n_batch:
                bounds.append(bounds[-1] + self.n_batch)
            if end > bounds[-1]:
                bounds.append(end)
        return bounds

    def _eval_prompt(self, tokens: list[int]) -> None:
        """Bring the KV cache to exactly ``tokens``, computed canonically; leave its last logits live.

        llama.cpp's numerics depend on how tokens are batched, so a prompt whose prefix came from
        the cache would get slightly different logits than the same prompt evaluated cold, and
        greedy decoding could diverge. So a prompt is always evaluated one segment (see
        :meth:`segment_bounds`) per batch, and only whole segments shared with the previous
        prompt are taken from the KV cache. The last segment (the assistant header) is always
        recomputed, which also leaves its logits live for sampling or scoring.
        """
        llm = self._llm
        bounds = self.segment_bounds(tokens)
        self._switch_cache(tokens, bounds)
        reuse = self._reusable(self._canon, self._canon_bounds, llm.n_tokens, tokens, bounds)
        if not llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llm._ctx.kv_cache_clear()
            reuse = 0
        llm.n_tokens = reuse
        self._canon, self._canon_bounds = [], [0]
        for start, end in zip(bounds, bounds[1:], strict=False):
            if start >= reuse:
                self._handover()  # between segments: the KV cache holds exactly tokens[:start]
                llm.eval(tokens[start:end])
        self._canon, self._canon_bounds = list(tokens), bounds
        self.stats["prompt_tokens"] += len(tokens)
        self.stats["reused_tokens"] += reuse

    @staticmethod
    def _reusable(canon: list[int], canon_bounds: list[int], n_tokens: int, tokens: list[int],
                  bounds: list[int]) -> int:
        """How many leading tokens of ``tokens`` a KV state holding ``canon`` can give: whole segments only."""
        common = min(common_prefix_len(canon, tokens), n_tokens)
        old = set(canon_bounds)
        return max((b for b in bounds[:-1] if b <= common and b in old), default=0)

    def _switch_cache(self, tokens: list[int], bounds: list[int]) -> None:
        """Chat and grading prompts share nothing, so alternating between them would recompute each side's
        shared prefix (the assistant's system prompt, the grader's rubric) every time. When the caller's
        priority is not the one that left the KV cache, park the cache for that side and bring back this
        side's parked cache if it gives a longer reusable prefix. Parked states are exact copies, so the
        canonical-evaluation guarantee holds."""
        side = self._lock.held_priority or Priority.interactive
        owner, self._kv_owner = self._kv_owner, side
        if owner is None or owner is side:
            return
        parked = self._parked.pop(side, None)
        self._parked[owner] = self._save()
        llm = self._llm
        here = self._reusable(self._canon, self._canon_bounds, llm.n_tokens, tokens, bounds)
        if parked is None or self._reusable(parked.canon, parked.canon_bounds, parked.n_tokens, tokens,
                                            bounds) <= here:
            return
        try:
            self._restore(parked)
            self.stats["parked_restores"] += 1
        except RuntimeError:  # could not put it back: start cold
            llm._ctx.kv_cache_clear()
            llm.n_tokens = 0
            self._canon, self._canon_bounds = [], [0]

    def _last_logits(self) -> np.ndarray:
        ptr = self._llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def _option_logprob(self, n_prefix: int, first_lp: np.ndarray, option_tokens: list[int]) -> float:
        llm = self._llm
        total = float(first_lp[option_tokens[0]])
        if len(option_tokens) > 1:
            feed = option_tokens[:-1]
            llm._batch.set_batch(batch=feed, n_past=n_prefix, logits_all=True)
            llm._ctx.decode(llm._batch)
            rows = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(feed), self._n_vocab))
            lps = _log_softmax(rows)
            total += float(sum(lps[j, option_tokens[j + 1]] for j in range(len(feed))))
            llm._ctx.kv_cache_seq_rm(-1, n_prefix, -1)
        return total

    def choice_distribution(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        opts = check_options(options)
        tokens = self._prompt_tokens(messages)
        opt_tokens = {o: self._llm.tokenize(o.encode("utf-8"), add_bos=False, special=False) for o in opts}
        longest = max(len(t) for t in opt_tokens.values())
        if len(tokens) + longest > self.n_ctx:
            raise ValueError("prompt plus the longest option do not fit the context")
        with self._lock.hold():
            llm = self._llm
            try:
                self._eval_prompt(tokens)
                first_lp = _log_softmax(self._last_logits())
                n_prefix = llm.n_tokens
                scores = {o: self._option_logprob(n_prefix, first_lp, t) for o, t in opt_tokens.items()}
            except BaseException:
                self._canon, self._canon_bounds = [], [0]
                raise
            finally:
                # The live logits are no longer the prompt's: generate() must not sample from them.
                llm._requires_eval = True
        return softmax_dict(scores)

    def close(self) -> None:
        self._llm.close()
