"""The catalogue: schema, loading with line-accurate problems, CTDL import, index and search.

Public face::

    load_catalogue(path) -> Catalogue          # raises CatalogueInvalid listing every problem
    validate_catalogue(path) -> list[Problem]  # [] when valid

The domain's whole face (schema, CTDL import, index, search, errors) is :mod:`knowledge.api`.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.loading import CatalogueInvalid, Problem, catalogue_files, read_catalogue_files, to_catalogue
from knowledge.schema import Catalogue
from knowledge.validation import check_catalogue

__all__ = ["Catalogue", "CatalogueInvalid", "Problem", "load_catalogue", "validate_catalogue"]


def _load(path: Path) -> tuple[Catalogue | None, list[Problem]]:
    files, problems = catalogue_files(Path(path))
    loaded = read_catalogue_files(files)
    problems += loaded.problems
    problems += check_catalogue(loaded)
    if problems:
        return None, sorted(problems)
    return to_catalogue(loaded), []


def validate_catalogue(path: Path | str) -> list[Problem]:
    """Every problem in the catalogue at ``path`` (file or directory); empty when it is valid."""
    return _load(Path(path))[1]


def load_catalogue(path: Path | str) -> Catalogue:
    """The validated catalogue at ``path``; raises :class:`CatalogueInvalid` listing every problem."""
    catalogue, problems = _load(Path(path))
    if catalogue is None:
        raise CatalogueInvalid(problems)
    return catalogue
