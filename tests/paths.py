"""Where tests find the shared, read-only material that sits beside the checkout (``<repo>/../shared``).

Tests read shared samples only through :func:`shared_path`. When the directory is missing the test
fails with a clear message - it is never skipped, so CI cannot pass silently without the samples.
Set ``STACKWISE_SHARED_DIR`` to use another location.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR_ENV = "STACKWISE_SHARED_DIR"


def shared_dir() -> Path:
    """``$STACKWISE_SHARED_DIR`` if set, else ``<repo>/../shared``."""
    override = os.environ.get(SHARED_DIR_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return (REPO_ROOT.parent / "shared").resolve()


def shared_path(*parts: str) -> Path:
    """A path under the shared directory; fails the calling test when the directory or the path is missing."""
    root = shared_dir()
    if not root.is_dir():
        how = f" (from ${SHARED_DIR_ENV})" if os.environ.get(SHARED_DIR_ENV) else f"; set ${SHARED_DIR_ENV} to override"
        pytest.fail(f"../shared not found beside the checkout; expected at {root}{how}", pytrace=False)
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared material missing: expected {path}", pytrace=False)
    return path
