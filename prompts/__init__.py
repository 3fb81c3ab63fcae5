"""Versioned prompt files. ``assistant_answer.v1.md`` is prompt ``assistant_answer`` at version 1.

A file may hold several named parts separated by lines such as ``--- system ---`` / ``--- user ---``; placeholders
are ``{name}`` (str.format). Changing a prompt means adding a new version file, so every stored
result can name the exact prompt it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent
_FILE = re.compile(r"^(?P<name>[a-z0-9_]+)\.v(?P<version>\d+)\.md$")
_PART = re.compile(r"^--- ([a-z]+) ---$", re.MULTILINE)


class PromptNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    parts: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.name}.v{self.version}"

    def render(self, part: str, **values: object) -> str:
        return self.parts[part].format(**values)


def _parse(text: str) -> dict[str, str]:
    pieces = _PART.split(text)
    if len(pieces) == 1:
        return {"system": text.strip()}
    return {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces) - 1, 2)}


@lru_cache(maxsize=64)
def load_prompt(name: str, version: int | None = None) -> Prompt:
    """The prompt ``name`` at ``version`` (default: the highest version present)."""
    found = {}
    for path in PROMPT_DIR.glob(f"{name}.v*.md"):
        match = _FILE.match(path.name)
        if match and match["name"] == name:
            found[int(match["version"])] = path
    if not found:
        raise PromptNotFound(f"no prompt file {name}.v<N>.md in {PROMPT_DIR}")
    chosen = version if version is not None else max(found)
    if chosen not in found:
        raise PromptNotFound(f"prompt {name} has versions {sorted(found)}, not {chosen}")
    return Prompt(name, chosen, _parse(found[chosen].read_text(encoding="utf-8")))
