"""Append-only tables (audit logs): the ORM refuses updates and deletes, and so does the database.

:func:`make_append_only` is applied once to each audit-log model (the grader's, issuance's); a change to one of
their rows raises :class:`AuditLogImmutable`.
"""

from __future__ import annotations

from sqlalchemy import event

from storage.engine import Base


class AuditLogImmutable(Exception):
    """Something tried to change or delete an entry of an append-only log."""


def make_append_only(model: type[Base], what: str, trigger_prefix: str) -> None:
    """Refuse every UPDATE and DELETE of ``model``'s rows: through the ORM (per row and in bulk, raising
    :class:`AuditLogImmutable`) and in the database itself (triggers on SQLite and Postgres, for writes that
    bypass the ORM).

    ``what`` names the log in messages; ``trigger_prefix`` names the triggers (``<prefix>_no_update``, ...).
    """
    from sqlalchemy.orm import Session
    from sqlalchemy.schema import DDL

    table = model.__table__
    name = table.name

    def refuse_row_change(_mapper, _connection, target) -> None:  # noqa: ANN001
        raise AuditLogImmutable(f"{what} is append-only (entry {target.id})")

    event.listen(model, "before_update", refuse_row_change)
    event.listen(model, "before_delete", refuse_row_change)

    @event.listens_for(Session, "do_orm_execute")
    def _refuse_bulk_change(state) -> None:  # noqa: ANN001
        target = getattr(state.statement, "table", None)
        if (state.is_update or state.is_delete) and getattr(target, "name", None) == name:
            raise AuditLogImmutable(f"{what} is append-only")

    for op in ("UPDATE", "DELETE"):
        event.listen(table, "after_create", DDL(
            f"CREATE TRIGGER IF NOT EXISTS {trigger_prefix}_no_{op.lower()} BEFORE {op} ON {name} "
            f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
        ).execute_if(dialect="sqlite"))
    event.listen(table, "after_create", DDL(
        f"CREATE OR REPLACE FUNCTION {trigger_prefix}_append_only() RETURNS trigger AS $fn$ "
        f"BEGIN RAISE EXCEPTION '{name} is append-only'; END; $fn$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"))
    event.listen(table, "after_create", DDL(
        f"CREATE TRIGGER {trigger_prefix}_no_change BEFORE UPDATE OR DELETE ON {name} "
        f"FOR EACH ROW EXECUTE FUNCTION {trigger_prefix}_append_only()"
    ).execute_if(dialect="postgresql"))
