"""Runtime configuration: every setting comes from an environment variable (prefix ``STACKWISE_``)
or its embedded default, so a fresh machine runs with no configuration at all.

The README's "Configuration" table documents each variable; keep them in sync.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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


REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CATALOGUE = REPO_ROOT / "knowledge" / "catalogue" / "demo"


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "stackwise"


class Settings(BaseSettings):
    """All settings. Paths default under ``home`` (``STACKWISE_HOME``)."""

    model_config = SettingsConfigDict(env_prefix="STACKWISE_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    catalogue: Path = BUNDLED_CATALOGUE
    runtime: Literal["llama_cpp", "transformers", "http"] = "llama_cpp"  # "http" by default once model_url is set
    model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = "qwen2.5-coder-1.5b"
    model_dir: Path | None = None
    chroma_dir: Path | None = None
    chroma_url: str | None = Field(default=None, description="a Chroma server (`chroma run`), e.g. "
                                   "http://127.0.0.1:8000, instead of the local directory chroma_dir")
    database_url: str | None = None
    n_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    n_ctx: int = 4096
    seed: int = 0
    telegram_token: SecretStr | None = None
    # the model on an OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, TGI): llm.http_backend
    model_url: str | None = Field(default=None, description="the server's OpenAI base URL, e.g. "
                                  "http://127.0.0.1:8080/v1; setting it selects the http runtime")
    model_name: str | None = Field(default=None, description="the served model's name (default: the first one "
                                   "the server lists)")
    model_api_key: SecretStr | None = Field(default=None, exclude=True, description="sent as a Bearer token; "
                                            "never logged or serialised")
    model_api_key_file: Path | None = Field(default=None, description="a file whose first line is the API key")
    model_timeout_s: float = Field(default=120, gt=0, description="timeout of one request to the model server")
    model_retries: int = Field(default=3, ge=0, description="retries (exponential backoff) on 429/5xx/refused")
    grader_strategy: Literal["engine", "rubric", "letters", "thresholds"] = "engine"
    grader_questions: Literal["checks", "letters", "both", "none"] = Field(
        default="both", description="what 'grader build-base' and the evals ask the model per criterion; the "
                                    "grader itself asks what its fitted combiner reads")
    grader_feedback: bool = Field(default=True, description="write model feedback per criterion after a grade")
    grader_injection_judge: bool = Field(default=True, description="ask the model, beside the rules, whether "
                                         "passages of the evidence are aimed at the grader (P(yes) per passage)")
    grader_refit_after: int = Field(default=20, ge=0, description="refit the combiner after this many new "
                                    "assessor decisions (0: only with 'stackwise grader fit')")
    grading: Literal["inline", "workers"] = Field(default="inline", description="who grades stored submissions: "
                                                  "'inline' (the web app / bot process, on its grading thread) or "
                                                  "'workers' (they only enqueue; `stackwise worker` processes grade)")
    # evidence intake: what reading one uploaded file may cost (grader.evidence.IntakeLimits)
    evidence_unpacked_mb: int = Field(default=40, gt=0, description="a DOCX may unpack to at most this many MB")
    evidence_part_mb: int = Field(default=16, gt=0, description="one DOCX part or PDF stream, unpacked, in MB")
    evidence_max_ratio: float = Field(default=100, gt=1, description="a DOCX part may unpack at most this many "
                                      "times larger than it is stored (parts of 1 MB and more)")
    evidence_max_parts: int = Field(default=1000, gt=0, description="parts in a DOCX")
    evidence_max_pages: int = Field(default=500, gt=0, description="pages in a PDF")
    evidence_timeout_s: float = Field(default=30, gt=0, description="wall time to parse one DOCX or PDF")
    evidence_memory_mb: int = Field(default=1024, ge=64, description="memory of the process parsing a DOCX or PDF")
    shared_dir: Path | None = None  # STACKWISE_SHARED_DIR: the shared material (datasets/) beside the checkout
    # issuance (Open Badges 3.0)
    public_url: str = Field(default="http://127.0.0.1:7860",
                            description="public base URL of the web app: issuer, status list and credential links")
    issuer_id: str | None = Field(default=None, description="issuer DID or https URL; default: did:web of public_url")
    issuer_name: str = Field(default="Stackwise", description="name in the issuer profile served by the app")
    issuer_country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$",
                                       description="ISO 3166-1 alpha-2 country of the issuer profile")
    issuer_key_file: Path | None = Field(default=None,
                                         description="Ed25519 issuer key file; default <home>/issuer-ed25519.json")
    issuer_key_dir: Path | None = Field(default=None, description="the awarding bodies' issuer keys, one file each; "
                                        "default <issuer key file's folder>/issuer-keys")
    trusted_issuers: Path | None = Field(default=None, description="YAML/JSON/TOML file of issuers the verifier "
                                         "trusts besides this instance's own (see issuance.trust)")
    credential_include_name: bool = Field(default=False, description="put the learner's name in credentials "
                                          "(default: salted hashes only)")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError("public_url must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _http_runtime(self) -> Settings:
        if self.model_url and "runtime" not in self.model_fields_set:
            self.runtime = "http"
        if self.runtime == "http" and not self.model_url:
            raise ValueError("STACKWISE_RUNTIME=http needs STACKWISE_MODEL_URL (the model server's URL)")
        return self

    @property
    def model_key(self) -> SecretStr | None:
        """The model server's API key: STACKWISE_MODEL_API_KEY, else the first line of STACKWISE_MODEL_API_KEY_FILE.
        (The key is left out of serialised settings, so a copy rebuilt from JSON reads the environment again.)"""
        key = self.model_api_key or (SecretStr(v) if (v := os.environ.get("STACKWISE_MODEL_API_KEY")) else None)
        if key is None and self.model_api_key_file is not None:
            try:
                lines = self.model_api_key_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ValueError(f"cannot read STACKWISE_MODEL_API_KEY_FILE {self.model_api_key_file}: "
                                 f"{exc.strerror}") from None
            key = SecretStr(lines[0].strip()) if lines and lines[0].strip() else None
        return key

    @property
    def models_path(self) -> Path:
        return self.model_dir or self.home / "models"

    @property
    def chroma_path(self) -> Path:
        return self.chroma_dir or self.home / "chroma"

    @property
    def index_location(self) -> Path | str:
        """Where the catalogue index lives: the Chroma server's URL when set, else the local directory."""
        return self.chroma_url.strip() if self.chroma_url and self.chroma_url.strip() else self.chroma_path

    @property
    def shared_path(self) -> Path:
        """The shared directory: ``STACKWISE_SHARED_DIR``, else ``shared`` beside the checkout."""
        return (self.shared_dir or REPO_ROOT.parent / "shared").expanduser()

    @property
    def datasets_path(self) -> Path:
        """Where the built-in evaluation datasets are read from (``<shared>/datasets``)."""
        return self.shared_path / "datasets"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stackwise.db'}"

    @property
    def issuer_key_path(self) -> Path:
        return self.issuer_key_file or self.home / "issuer-ed25519.json"

    @property
    def issuer_keys_path(self) -> Path:
        return self.issuer_key_dir or self.issuer_key_path.parent / "issuer-keys"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    enforce_offline()
    return Settings()
