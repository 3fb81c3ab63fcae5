"""Runtime configuration: every setting comes from an environment variable (prefix ``STACKWISE_``)
or its embedded default, so a fresh machine runs with no configuration at all.

The README's "Configuration" table documents each variable; keep them in sync.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# Offline guards: set before any Hugging Face / Chroma / Gradio / ragas import can read them.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline() -> None:
    """Force the offline switches on (a caller may not turn them off by mistake)."""
    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value


BUNDLED_CATALOGUE = Path(__file__).resolve().parent.parent / "knowledge" / "catalogue" / "demo"


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "stackwise"


class Settings(BaseSettings):
    """All settings. Paths default under ``home`` (``STACKWISE_HOME``)."""

    model_config = SettingsConfigDict(env_prefix="STACKWISE_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    catalogue: Path = BUNDLED_CATALOGUE
    runtime: Literal["llama_cpp", "transformers"] = "llama_cpp"
    model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = "qwen2.5-coder-1.5b"
    model_dir: Path | None = None
    chroma_dir: Path | None = None
    database_url: str | None = None
    n_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    n_ctx: int = 4096
    seed: int = 0
    telegram_token: SecretStr | None = None

    @property
    def models_path(self) -> Path:
        return self.model_dir or self.home / "models"

    @property
    def chroma_path(self) -> Path:
        return self.chroma_dir or self.home / "chroma"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stackwise.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    enforce_offline()
    return Settings()
