"""Writing an import as catalogue YAML files with the review notes at the top of each."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from knowledge.ctdl.report import CtdlImport, NoteKind


def _plain(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    price = data.get("price")
    if isinstance(price, dict) and isinstance(price.get("amount"), str):
        amount = Decimal(price["amount"])
        price["amount"] = int(amount) if amount == amount.to_integral_value() else float(amount)
    return data


def _header(result: CtdlImport, entities: list[str], what: str) -> str:
    lines = [f"# {what} imported from CTDL by `stackwise catalogue import-ctdl`.",
             "# Placeholders and approximations are listed below: REVIEW them before publishing."]
    for entity in entities:
        for note in result.notes_for(entity):
            if note.kind in (NoteKind.placeholder, NoteKind.approximation, NoteKind.unmapped):
                text = " ".join(note.message.split())
                lines.append(f"# - {entity}: {note.kind.value}: {text}")
    return "\n".join(lines) + "\n"


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def write_catalogue(result: CtdlImport, out_dir: Path | str) -> list[Path]:
    """Write ``providers.yaml``, ``credentials/<id>.yaml`` and ``pathways/<id>.yaml`` under ``out_dir``.

    Each file starts with comments listing the placeholders and approximations for its entity. Existing
    files with the same names are overwritten; other files in ``out_dir`` are left alone. Returns the
    paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if result.providers:
        path = out / "providers.yaml"
        body = _dump({"providers": [_plain(p) for p in result.providers]})
        header = _header(result, [p.id for p in result.providers], "Providers")
        path.write_text(header + body, encoding="utf-8")
        written.append(path)
    for folder, key, items in (("credentials", "credentials", result.credentials),
                               ("pathways", "pathways", result.pathways)):
        if not items:
            continue
        (out / folder).mkdir(exist_ok=True)
        for item in items:
            path = out / folder / f"{item.id}.yaml"
            path.write_text(_header(result, [item.id], f"{key[:-1].capitalize()} '{item.id}'")
                            + _dump({key: [_plain(item)]}), encoding="utf-8")
            written.append(path)
    return written
