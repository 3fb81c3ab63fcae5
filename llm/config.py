"""What :func:`llm.load_model` needs to know: which bundled model, on which runtime, where its file lives.

The composition root builds it from its own settings (``stackwise.wiring.model_config``); nothing here reads
the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Runtime = Literal["llama_cpp", "transformers", "http"]
RUNTIMES: tuple[str, ...] = ("llama_cpp", "transformers", "http")


class ModelConfig(BaseModel):
    """One model configuration; equal configurations share one loaded instance per process."""

    model_config = ConfigDict(frozen=True)

    model: str = "qwen2.5-coder-1.5b"
    """Registry key (:data:`llm.registry.SPECS`)."""
    runtime: Runtime = "llama_cpp"
    models_path: Path
    """Directory the assembled GGUF file is kept in."""
    n_ctx: int = 4096
    n_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    seed: int = 0
    # the "http" runtime (llm.http_backend): an OpenAI-compatible server instead of the bundled file
    url: str | None = None
    """The server's OpenAI base URL (``http://host:port/v1``); required by the ``http`` runtime."""
    served_model: str | None = None
    """The served model's name (``None``: the first one the server lists)."""
    api_key: SecretStr | None = None
    timeout_s: float = 120.0
    retries: int = 3
