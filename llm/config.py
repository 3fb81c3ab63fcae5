"""What :func:`llm.load_model` needs to know: which bundled model, on which runtime, where its file lives.

The composition root builds it from its own settings (``stackwise.wiring.model_config``); nothing here reads
the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Runtime = Literal["llama_cpp", "transformers"]
RUNTIMES: tuple[str, ...] = ("llama_cpp", "transformers")


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
