"""Second runtime: Hugging Face transformers on the SAME GGUF file (de-quantised at load).

``AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, dtype=...)`` de-quantises the
Q4_K_M weights (transformers' packed-GGUF path does not cover ``qwen2``, so the whole model is
unpacked: ~3 GB in bfloat16). Loading needs the ``accelerate`` package and takes tens of seconds.
The tokenizer built from the GGUF (slow: ~20 s) is saved next to the model file on first load
and reused afterwards. Every file is local; the composition root sets Hugging Face's offline switches
(``HF_HUB_OFFLINE`` and friends, ``stackwise.config.enforce_offline``) before a model is loaded.

Prompts are rendered with the GGUF's chat template via ``apply_chat_template`` (the same
template llama.cpp uses), so both runtimes see the same prompt text.

``choice_distribution`` runs one forward pass over the prompt (only the part not already in the
kept ``DynamicCache``; logits only for the last position), then one forward pass per multi-token
option on top of that cache, cropping the cache back to the prompt after each.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from llm.base import (
    Message,
    StopBuffer,
    check_options,
    common_prefix_len,
    normalize_messages,
    softmax_dict,
)
from llm.priority import PriorityLock

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


def load_tokenizer(model_path: Path, cache_dir: Path | None, source_id: str) -> Any:
    """The GGUF's tokenizer as a transformers tokenizer, converted once into ``cache_dir`` (kept while its
    ``SOURCE`` stamp equals ``source_id``)."""
    from transformers import AutoTokenizer

    if cache_dir is not None:
        stamp = cache_dir / "SOURCE"
        if stamp.is_file() and stamp.read_text().strip() == source_id:
            try:
                return AutoTokenizer.from_pretrained(str(cache_dir))
            except Exception:  # corrupt cache: rebuild below
                pass
    tok = AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            cache_dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cache_dir.parent, prefix=f".{cache_dir.name}."))
            try:
                mask = os.umask(0)
                os.umask(mask)
                tmp.chmod(0o777 & ~mask)
                tok.save_pretrained(str(tmp))
                (tmp / "SOURCE").write_text(source_id + "\n")
                if cache_dir.exists():
                    shutil.rmtree(cache_dir)
                os.replace(tmp, cache_dir)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return tok


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings while loading (for qwen2 GGUFs it warns that packed weights are
    fastest in float32, which does not apply: qwen2 is de-quantised, not kept packed)."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def _crop_to(cache: Any, length: int) -> None:
    """Drop cached positions from ``length`` on (``DynamicCache.crop`` takes a negative count)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


class TransformersModel:
    """:class:`~llm.base.TextModel` on transformers + torch (CPU)."""

    runtime = "transformers"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        name: str = "",
        n_threads: int | None = None,
        seed: int = 0,
        dtype: str = "bfloat16",
        tokenizer_cache: str | os.PathLike[str] | None = None,
        source_id: str | None = None,
    ):
        """Load the GGUF at ``model_path``.

        ``tokenizer_cache``: directory to keep the converted tokenizer in (reused while its
        ``SOURCE`` stamp equals ``source_id``, by default the file's name and size).
        """
        if importlib.util.find_spec("accelerate") is None:
            raise RuntimeError(
                "the transformers runtime loads GGUF files through `accelerate`, which is not installed: "
                "pip install accelerate==1.15.0"
            )
        import torch
        from transformers import AutoModelForCausalLM

        if n_threads:
            torch.set_num_threads(n_threads)
        self._torch = torch
        self.name = name or Path(model_path).stem
        self.model_path = Path(model_path)
        self.seed = seed
        sid = source_id or f"{self.model_path.name}:{self.model_path.stat().st_size}"
        cache = Path(tokenizer_cache) if tokenizer_cache is not None else None
        self.tokenizer = load_tokenizer(self.model_path, cache, sid)
        if not self.tokenizer.chat_template:
            raise RuntimeError(f"{model_path}: the GGUF has no chat template")
        with _quiet_transformers():
            self.model = AutoModelForCausalLM.from_pretrained(
                str(self.model_path.parent), gguf_file=self.model_path.name, dtype=getattr(torch, dtype)
            )
        self.model.eval()
        vocab = self.tokenizer.get_vocab()
        self._stop_ids = [vocab[t] for t in STOP_TOKENS if t in vocab]
        self._pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self._stop_ids[-1]
        self._lock = PriorityLock()  # interactive callers first (between calls; see llm.priority)
        self._cache: Any = None  # DynamicCache of self._cache_ids
        self._cache_ids: list[int] = []

    # ------------------------------------------------------------------------------ prompt
    def render(self, messages: Sequence[Message]) -> str:
        return self.tokenizer.apply_chat_template(
            normalize_messages(messages), tokenize=False, add_generation_prompt=True
        )

    def _prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        return self.tokenizer(self.render(messages), add_special_tokens=False)["input_ids"]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])

    # -------------------------------------------------------------------------- generation
    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        json_schema: Mapping[str, Any] | None = None,  # not constrained here: callers validate the reply
    ) -> str:
        return "".join(self.stream_chat(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        torch = self._torch
        ids = self._prompt_ids(messages)
        input_ids = torch.tensor([ids])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": max_tokens,
            "eos_token_id": self._stop_ids,
            "pad_token_id": self._pad_id,
            "streamer": streamer,
            "repetition_penalty": 1.0,
        }
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=float(temperature), top_k=40, top_p=0.95)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        stops = [s for s in (stop or []) if s]
        if stops:
            kwargs.update(stop_strings=stops, tokenizer=self.tokenizer)
        error: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    if temperature > 0:
                        torch.manual_seed(self.seed)
                    self.model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the consumer
                error.append(exc)
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=run, name="stackwise-generate", daemon=True)
            thread.start()
            buf = StopBuffer(stops)
            exhausted = False
            try:
                for text in streamer:
                    piece = buf.feed(text)
                    if piece:
                        yield piece
                    if buf.stopped:
                        break
                else:
                    exhausted = True
                tail = buf.flush()
                if tail:
                    yield tail
            finally:
                if not exhausted:  # consumer stopped early: let generate() run out
                    for _ in streamer:
                        pass
                thread.join()
        if error:
            raise error[0]

    # ------------------------------------------------------------------- choice distribution
    def _forward_prompt(self, ids: list[int]) -> Any:
        """Bring the kept cache to ``ids`` (reusing the common prefix); return last-position logits."""
        from transformers import DynamicCache

        torch = self._torch
        reuse = min(common_prefix_len(self._cache_ids, ids), len(ids) - 1)
        if self._cache is None or reuse == 0:
            self._cache = DynamicCache(config=self.model.config)
            reuse = 0
        else:
            _crop_to(self._cache, reuse)
        self._cache_ids = ids[:reuse]
        out = self.model(
            input_ids=torch.tensor([ids[reuse:]]),
            past_key_values=self._cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self._cache = out.past_key_values
        self._cache_ids = list(ids)
        return out.logits[0, -1].float()

    def choice_distribution(self, messages: Sequence[Message], options: Sequence[str]) -> dict[str, float]:
        opts = check_options(options)
        torch = self._torch
        ids = self._prompt_ids(messages)
        opt_ids = {o: self.tokenizer(o, add_special_tokens=False)["input_ids"] for o in opts}
        scores: dict[str, float] = {}
        with self._lock, torch.inference_mode():
            try:
                first = torch.log_softmax(self._forward_prompt(ids), dim=-1)
                n_prefix = len(ids)
                for o, toks in opt_ids.items():
                    total = float(first[toks[0]])
                    if len(toks) > 1:
                        out = self.model(
                            input_ids=torch.tensor([toks[:-1]]), past_key_values=self._cache, use_cache=True
                        )
                        lps = torch.log_softmax(out.logits[0].float(), dim=-1)
                        total += float(sum(lps[j, toks[j + 1]] for j in range(len(toks) - 1)))
                        _crop_to(self._cache, n_prefix)
                    scores[o] = total
            except BaseException:
                self._cache, self._cache_ids = None, []
                raise
        return softmax_dict(scores)

    def close(self) -> None:
        """Free the weights and the cache; the instance is unusable afterwards."""
        self._cache, self._cache_ids = None, []
        self.model = None
