"""Build small catalogues as YAML text for tests (fault cases are written by hand on top of these)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


def provider(pid: str = "uni", country: str = "IE") -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Provider {pid}",
        "kind": "university",
        "country": country,
        "quality_assurance": "Validated under the national QA framework.",
    }


def rubric() -> dict[str, Any]:
    levels = [
        {"id": "missing", "label": "Missing", "descriptor": "No evidence.", "points": 0},
        {"id": "partial", "label": "Partial", "descriptor": "Some evidence.", "points": 1},
        {"id": "strong", "label": "Strong", "descriptor": "Convincing evidence.", "points": 2},
    ]
    return {
        "criteria": [
            {"id": f"c{i}", "title": f"Criterion {i}", "description": "What is judged.",
             "levels": copy.deepcopy(levels)}
            for i in range(1, 4)
        ],
        "pass_threshold": 4,
    }


def credential(cid: str, provider_id: str = "uni", ects: float = 3, prerequisites: list[str] | None = None,
               price: float = 100, weeks: int = 4, currency: str = "EUR") -> dict[str, Any]:
    return {
        "id": cid,
        "title": f"Credential {cid}",
        "awarding_body": provider_id,
        "issuer_country": "IE",
        "summary": "A short course.",
        "learning_outcomes": ["Learners can do the thing."],
        "ects": ects,
        "eqf_level": 6,
        "assessment_type": "portfolio",
        "participation": "online",
        "quality_assurance": "Internal QA.",
        "prerequisites": prerequisites or [],
        "price": {"amount": price, "currency": currency},
        "duration": {"weeks": weeks, "hours_per_week": 5},
        "delivery_mode": "self_paced",
        "rubric": rubric(),
    }


def pathway(pid: str, requirements: list[dict[str, Any]], provider_id: str = "uni") -> dict[str, Any]:
    return {
        "id": pid,
        "title": f"Pathway {pid}",
        "awarding_body": provider_id,
        "summary": "A route.",
        "leads_to": "A certificate",
        "requirements": requirements,
    }


def write(directory: Path, name: str, data: dict[str, Any] | str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def small_catalogue(directory: Path) -> Path:
    """A valid three-credential catalogue with one pathway."""
    write(directory, "providers.yaml", {"providers": [provider()]})
    write(directory, "credentials.yaml", {"credentials": [
        credential("alpha"), credential("beta", prerequisites=["alpha"]), credential("gamma"),
    ]})
    write(directory, "pathways.yaml", {"pathways": [pathway("route", [
        {"rule": "all_of", "credentials": ["alpha"]},
        {"rule": "n_of_m", "n": 1, "credentials": ["beta", "gamma"]},
    ])]})
    return directory


def build_catalogue(directory: Path, credentials: list[dict[str, Any]], pathways: list[dict[str, Any]],
                    providers: list[dict[str, Any]] | None = None) -> Any:
    """Write the entities as catalogue files in ``directory`` and load them (validated)."""
    from knowledge import load_catalogue

    write(directory, "providers.yaml", {"providers": providers or [provider()]})
    write(directory, "credentials.yaml", {"credentials": credentials})
    write(directory, "pathways.yaml", {"pathways": pathways})
    return load_catalogue(directory)
