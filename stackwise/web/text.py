"""Untrusted text rendered as inert markdown (evidence, model output, comments, uploaded credentials)."""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~$!])")


def md_text(text: Any) -> str:
    """``text`` as literal markdown on one line (emphasis, links, images, tables, HTML and maths inert)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return escaped.replace("<", "&lt;").replace(">", "&gt;")
