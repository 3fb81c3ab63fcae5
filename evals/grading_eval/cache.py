"""Resumable per-item results: one JSONL file per (model, prompt version, dataset, scorer configuration).

Each graded item is appended (and flushed) as soon as it is scored, so an interrupted run resumes
where it stopped. Lines are keyed by item id; a half-written last line (a crash mid-write) is ignored.
The file name carries the model, the prompt id, the dataset slug and a hash of the rest of the
scorer's configuration, so changing any of them starts a fresh file instead of mixing results.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

CACHE_VERSION = 1


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


class ResultCache:
    """Item id -> stored result for one model, prompt, dataset and configuration."""

    def __init__(self, root: Path, *, model: str, prompt_id: str, dataset: str, config: dict[str, Any],
                 enabled: bool = True):
        self.key = {"v": CACHE_VERSION, "model": model, "prompt": prompt_id, "dataset": dataset,
                    "config": config_hash(config)}
        name = f"{_safe(dataset)}__{_safe(model)}__{_safe(prompt_id)}__{self.key['config']}.jsonl"
        self.path = Path(root) / name
        self.enabled = enabled
        self._items: dict[str, dict[str, Any]] = {}
        self.loaded = 0
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._load(config)

    def _load(self, config: dict[str, Any]) -> None:
        if not self.path.is_file():
            meta = {"_cache": self.key, "config": config}
            self.path.write_text(json.dumps(meta, sort_keys=True, default=str) + "\n", encoding="utf-8")
            return
        text = self.path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):  # interrupted mid-line: start the next record on its own line
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write("\n")
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption
            if isinstance(rec, dict) and isinstance(rec.get("id"), str) and "result" in rec:
                self._items[rec["id"]] = rec["result"]
        self.loaded = len(self._items)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str) -> dict[str, Any] | None:
        return self._items.get(item_id)

    def put(self, item_id: str, result: dict[str, Any]) -> None:
        self._items[item_id] = result
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": item_id, "result": result}, sort_keys=True) + "\n")
            fh.flush()
