"""Composition root: builds the services from settings. Adapters (CLI, Gradio, Telegram) call these."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from stackwise.config import Settings, enforce_offline, get_settings

if TYPE_CHECKING:
    from llm import ModelConfig

log = logging.getLogger(__name__)


class SetupError(RuntimeError):
    """Something the install step should have prepared is missing; the message says what to run."""


def _frozen(settings: Settings) -> str:
    """``settings`` as the JSON the per-process caches below are keyed on and rebuilt from: the Telegram token left
    out, the model server's API key (never serialised otherwise) kept so that the rebuilt settings still carry it."""
    data = json.loads(settings.model_dump_json(exclude={"telegram_token"}))
    if settings.model_api_key is not None:
        data["model_api_key"] = settings.model_api_key.get_secret_value()
    return json.dumps(data, sort_keys=True)


def model_config(settings: Settings | None = None) -> ModelConfig:
    """The language model's configuration (:func:`llm.load_model`) from the settings; offline switches on first."""
    from llm import ModelConfig

    enforce_offline()  # HF_HUB_OFFLINE=1 etc. before transformers reads them
    settings = settings or get_settings()
    return ModelConfig(model=settings.model, runtime=settings.runtime, models_path=settings.models_path,
                       n_ctx=settings.n_ctx, n_threads=settings.n_threads, seed=settings.seed,
                       url=settings.model_url, served_model=settings.model_name, api_key=settings.model_key,
                       timeout_s=settings.model_timeout_s, retries=settings.model_retries)


def _catalogue(settings: Settings):
    from knowledge.api import CatalogueInvalid, load_catalogue

    try:
        return load_catalogue(settings.catalogue)
    except CatalogueInvalid as exc:
        raise SetupError(f"the catalogue at {settings.catalogue} is invalid; run `stackwise catalogue validate`:\n"
                         f"{exc}") from exc


@lru_cache(maxsize=8)
def prepare_database(url: str) -> None:
    """Start-up, before any store opens ``url``: bring it to the newest schema, keeping every row (an empty
    one is created and stamped; the rule: :mod:`stackwise.migrations`). Once per URL and process."""
    from stackwise.migrations import upgrade

    upgrade(url)


@lru_cache(maxsize=4)
def _assistant(settings_json: str):
    from assistant.api import AssistantService, ConversationMemory
    from knowledge.api import CatalogueIndex, IndexUnavailable
    from llm import load_model

    settings = Settings.model_validate_json(settings_json)
    prepare_database(settings.db_url)  # before any store opens it
    catalogue = _catalogue(settings)
    try:
        index = CatalogueIndex.open(settings.index_location)  # the Chroma server when STACKWISE_CHROMA_URL is set
        index.sync(catalogue)  # cheap when unchanged; keeps answers in step with the catalogue
    except IndexUnavailable as exc:
        raise SetupError(str(exc)) from exc
    memory = ConversationMemory(settings.db_url)
    return AssistantService(catalogue, index, memory, model_loader=lambda: load_model(model_config(settings)))


def assistant_service(settings: Settings | None = None):
    """The process-wide assistant for these settings (catalogue loaded, index synced, model lazy)."""
    settings = settings or get_settings()
    return _assistant(_frozen(settings))


def combiner_path(settings: Settings):
    """Where ``stackwise grader fit`` writes the refitted combiner (the shipped one is used until then)."""
    return settings.home / "grader" / "combiner.json"


def make_scorer(settings: Settings, strategy: str | None = None, model=None):
    """The grader's scorer: the rubric engine with the fitted combiner (default) or a legacy strategy."""
    from llm import load_model

    strategy = strategy or settings.grader_strategy
    if strategy != "engine":
        from grader.api import RubricScorer

        return RubricScorer(model or load_model(model_config(settings)), strategy=strategy)
    from grader.api import (
        CheckReader,
        EngineScorer,
        EvidenceReader,
        ModelJudge,
        load_combiner,
        minilm_embedder,
        questions_for,
    )

    combiner = load_combiner(combiner_path(settings))
    questions = questions_for(combiner.groups)  # ask the model exactly what the fitted combiner reads
    if questions == "none":
        scorer = EngineScorer(EvidenceReader(minilm_embedder()), combiner, "none", "-")
    else:
        checks = CheckReader(model or load_model(model_config(settings)), questions)  # type: ignore[arg-type]
        from llm import model_label

        # recorded with each grade: the model's name, or http:<name>@<host> for a model server
        scorer = EngineScorer(EvidenceReader(minilm_embedder(), checks), combiner, model_label(checks.model),
                              checks.prompt.id)
    if settings.grader_injection_judge:  # read by grade_evidence; the rules alone without it
        scorer.injection_judge = ModelJudge(lambda: model or load_model(model_config(settings)))
    return scorer


def intake_limits(settings: Settings):
    """What reading one evidence file may cost, from the ``STACKWISE_EVIDENCE_*`` settings."""
    from grader.api import MB, IntakeLimits

    return IntakeLimits(max_unpacked_bytes=settings.evidence_unpacked_mb * MB,
                        max_part_bytes=settings.evidence_part_mb * MB, max_ratio=settings.evidence_max_ratio,
                        max_parts=settings.evidence_max_parts, max_pages=settings.evidence_max_pages,
                        timeout_s=settings.evidence_timeout_s, memory_bytes=settings.evidence_memory_mb * MB)


@lru_cache(maxsize=4)
def _grader(settings_json: str):
    from grader.api import GraderService, open_queue, rubrics_from_catalogue

    settings = Settings.model_validate_json(settings_json)
    catalogue = _catalogue(settings)
    prepare_database(settings.db_url)
    queue = open_queue(settings.db_url, rubrics=rubrics_from_catalogue(catalogue))
    def feedback():
        from grader.api import FeedbackWriter
        from llm import load_model

        return FeedbackWriter(load_model(model_config(settings)))

    def refit():
        return refit_engine(settings, catalogue, queue)[0]

    return GraderService(catalogue, queue, lambda: make_scorer(settings),
                         feedback if settings.grader_feedback else None, refit=refit,
                         refit_after=settings.grader_refit_after, fitted_on=lambda: _fitted_on(settings),
                         intake_limits=intake_limits(settings), enqueue_only=settings.grading == "workers")


def _fitted_on(settings: Settings) -> int:
    from grader.api import EngineError, load_combiner

    try:
        return load_combiner(combiner_path(settings)).n_decisions
    except EngineError:
        return 0


def refit_engine(settings: Settings, catalogue, queue):
    """Refit the combiner on the shipped base, the exemplars and every assessor decision; save it and return
    it with the fit report (``stackwise grader fit`` and the automatic refit both come here)."""
    from grader.api import exemplar_examples, from_decisions, load_examples, minilm_embedder, refit, save_combiner

    decisions = queue.assessor_decisions()
    decided, skipped = from_decisions(decisions, catalogue)
    combiner, report = refit(catalogue, load_examples(catalogue=catalogue), decided,
                             exemplar_examples(catalogue, minilm_embedder()), skipped=skipped)
    combiner.n_decisions = len(decisions)
    save_combiner(combiner, combiner_path(settings))
    log.info("%s", report.render())
    return combiner, report


def grader_service(settings: Settings | None = None):
    """The process-wide grader for these settings (catalogue, queue on the database, model lazy).

    Issuance is subscribed too, so a pass or an approval made through this grader issues the credential
    (when the issuer key cannot be set up, a warning is logged and ``issue_pending`` catches up later).
    """
    settings = settings or get_settings()
    settings_json = _frozen(settings)
    grader = _grader(settings_json)
    try:
        _issuance(settings_json)
    except SetupError as exc:
        log.warning("credentials will not be issued automatically: %s", exc)
    return grader


@lru_cache(maxsize=4)
def _issuance(settings_json: str):
    from issuance.api import (
        IssuanceConfig,
        IssuanceService,
        IssuerKeys,
        KeyFileError,
        load_or_create_issuer_key,
        load_trust_file,
    )

    settings = Settings.model_validate_json(settings_json)
    grader = _grader(settings_json)
    try:
        key = load_or_create_issuer_key(settings.issuer_key_path)
        config = IssuanceConfig.for_public_url(settings.public_url, issuer_id=settings.issuer_id,
                                               issuer_name=settings.issuer_name, issuer_country=settings.issuer_country,
                                               include_name=settings.credential_include_name)
        trusted = load_trust_file(settings.trusted_issuers) if settings.trusted_issuers else []
    except (KeyFileError, OSError, ValueError) as exc:  # TrustListInvalid is a ValueError
        raise SetupError(f"issuance is not set up: {exc}") from exc
    service = IssuanceService(grader.queue, grader.catalogue, key=key, config=config, database_url=settings.db_url,
                              keys=IssuerKeys(settings.issuer_keys_path), trusted=trusted)
    service.subscribe()  # listens to grader.queue, the queue it was built on: its passes and approvals issue
    return service


def issuance_service(settings: Settings | None = None):
    """The process-wide issuance service for these settings, subscribed to the grader's ready-to-issue event
    (so building it is what turns automatic issuance on). Issuer key from ``STACKWISE_ISSUER_KEY_FILE``."""
    settings = settings or get_settings()
    return _issuance(_frozen(settings))
