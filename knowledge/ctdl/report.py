"""The public result types of a CTDL import: the result, its notes, and the one error it raises."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from knowledge.errors import KnowledgeError
from knowledge.schema import (
    Credential,
    Pathway,
    Provider,
)

# ---------------------------------------------------------------- public models


class CtdlImportError(KnowledgeError):
    """The input cannot be imported at all (unreadable, not JSON, not CTDL, nothing importable)."""

    def __init__(self, message: str, path: Path | str | None = None):
        self.path = str(path) if path is not None else None
        self.reason = message
        super().__init__(f"{path}: {message}" if path is not None else message)


class NoteKind(StrEnum):
    unmapped = "unmapped"  # source content that has no place in the catalogue
    placeholder = "placeholder"  # a required value CTDL does not give; an invented default
    approximation = "approximation"  # mapped, but the meaning changes
    info = "info"


class ImportNote(BaseModel):
    """One thing the import could not carry over faithfully."""

    model_config = ConfigDict(frozen=True)

    file: str
    pointer: str = ""  # JSON pointer into the file ("doc[i]" first when a file holds several documents)
    node_id: str | None = None  # the CTDL @id concerned
    entity: str | None = None  # the catalogue id concerned
    kind: NoteKind
    message: str

    def __str__(self) -> str:
        where = f"{self.file}#{self.pointer}" if self.pointer else self.file
        about = f" [{self.entity}]" if self.entity else ""
        return f"{where}:{about} {self.kind.value}: {self.message}"


class CtdlImport(BaseModel):
    """The result of an import: catalogue entities plus the report of everything not mapped 1:1."""

    model_config = ConfigDict(frozen=True)

    providers: list[Provider]
    credentials: list[Credential]
    pathways: list[Pathway]
    report: list[ImportNote]
    sources: dict[str, str] = {}  # catalogue id -> the CTDL @id it was imported from

    def notes_for(self, entity_id: str) -> list[ImportNote]:
        return [note for note in self.report if note.entity == entity_id]
