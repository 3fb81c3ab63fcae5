"""Persistence shared by the stores (grader, issuance, the assistant's memory); knows no domain.

SQLite (the default) runs in WAL mode with a busy timeout so concurrent writers wait rather than
fail; any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) works the same way.

- :mod:`storage.engine`: the declarative ``Base``, one engine per URL (``engine_for``), ``session_factory``,
  ``ensure_tables``;
- :mod:`storage.columns`: ``utcnow`` and the ``UTCDateTime`` column type;
- :mod:`storage.audit`: ``make_append_only`` and ``AuditLogImmutable`` for audit logs.
"""

from __future__ import annotations

from storage.audit import AuditLogImmutable, make_append_only
from storage.columns import UTCDateTime, utcnow
from storage.engine import Base, engine_for, ensure_tables, session_factory

__all__ = [
    "AuditLogImmutable",
    "Base",
    "UTCDateTime",
    "engine_for",
    "ensure_tables",
    "make_append_only",
    "session_factory",
    "utcnow",
]
