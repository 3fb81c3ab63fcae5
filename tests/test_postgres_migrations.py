"""Alembic migrations (stackwise/migrations) on SQLite and on a real PostgreSQL server: the revisions build the
schema the models describe, an upgrade from the previous release's schema keeps its rows, a database made by
``create_all`` before migrations existed (all or only some stores' tables) gets what is missing, and
``stackwise db upgrade`` says what it did (or, for a database it cannot reach, why not in one line)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from assistant.memory import ConversationMemory, TurnRow
from grader.queue import GraderQueue
from grader.store import AuditRow, SubmissionRow
from issuance.store import CredentialRow
from stackwise.migrations import BASELINE, HEAD, TABLES_OF, target_metadata, upgrade
from stackwise.notify import DeliveryLog
from storage import Base

NEW_TABLES = TABLES_OF[HEAD]
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _previous_release_rows(url: str) -> None:
    """What a course team's database of the previous release holds: a graded submission, its audit trail, an
    issued credential, a conversation turn (written with plain SQL, not the stores, which would add tables)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(SubmissionRow.__table__.insert().values(
            id="sub-1", idempotency_key="k1", credential_id="data-strategy", learner_id="webkey-ada",
            learner_name="Ada Lovelace", links=["https://example.org/ada"], reflection="I learned.",
            status="passed", status_changed_at=AT, ready_to_issue=True, review_reasons=[], version=3,
            created_at=AT, updated_at=AT))
        conn.execute(AuditRow.__table__.insert().values(
            submission_id="sub-1", event_type="received", actor="webkey-ada", details={"files": 1}, created_at=AT))
        conn.execute(CredentialRow.__table__.insert().values(
            id="00000000-0000-4000-8000-000000000001", submission_id="sub-1", learner_id="webkey-ada",
            catalogue_id="data-strategy", title="Data Strategy", status_list=0, status_index=7, reserved_at=AT,
            document='{"id": "urn:uuid:00000000-0000-4000-8000-000000000001"}', issued_at=AT, marked_issued=True))
        conn.execute(TurnRow.__table__.insert().values(
            learner_id="webkey-ada", role="user", content="What does data strategy cover? é", entities=["x"],
            created_at=AT))
    engine.dispose()


def _assert_rows_kept_and_new_tables_usable(url: str) -> None:
    queue = GraderQueue(url)
    view = queue.get_submission("sub-1", learner_id="webkey-ada")
    assert (view.status.value, view.credential_id) == ("passed", "data-strategy")
    assert [(e.event_type, e.actor) for e in queue.audit_log("sub-1")] == [("received", "webkey-ada")]
    assert [t.content for t in ConversationMemory(url).history("webkey-ada")] == ["What does data strategy cover? é"]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(CredentialRow.status_index)).scalars().all() == [7]
        with pytest.raises(DatabaseError, match="append-only"):  # the audit triggers came with the baseline
            conn.execute(text("DELETE FROM grader_audit_log"))
    engine.dispose()
    log = DeliveryLog(url)  # a table of revision 0002
    assert log.record("telegram", "credential:sub-1") and log.recorded("telegram", ["credential:sub-1"])


def test_the_revisions_build_exactly_the_schema_of_the_models(database_url: str) -> None:
    assert upgrade(database_url, BASELINE) == (None, BASELINE)
    assert not NEW_TABLES & _tables(database_url)
    assert upgrade(database_url) == (BASELINE, HEAD)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                       target_metadata())
    engine.dispose()
    assert differences == []
    assert upgrade(database_url) == (HEAD, HEAD)  # nothing left to do


def test_an_upgrade_from_the_previous_release_keeps_every_row(database_url: str) -> None:
    upgrade(database_url, BASELINE)
    _previous_release_rows(database_url)
    assert upgrade(database_url) == (BASELINE, HEAD)
    _assert_rows_kept_and_new_tables_usable(database_url)


@pytest.mark.parametrize("made", ["every table", "only some stores' tables"])
def test_a_database_made_before_migrations_gets_what_is_missing_and_keeps_its_rows(database_url: str,
                                                                                   made: str) -> None:
    engine = create_engine(database_url)
    previous = [t for t in target_metadata().sorted_tables if t.name not in NEW_TABLES]
    if made != "every table":  # each store creates its own tables on open: the assistant's never opened here
        previous = [t for t in previous if not t.name.startswith(("assistant_", "learner_"))]
    Base.metadata.create_all(engine, tables=previous)  # what the previous release's start-up made
    engine.dispose()
    if made == "every table":
        _previous_release_rows(database_url)
    assert upgrade(database_url) == (None, HEAD)
    if made != "every table":
        _previous_release_rows(database_url)
    assert _tables(database_url) >= NEW_TABLES
    _assert_rows_kept_and_new_tables_usable(database_url)


def test_a_current_database_without_a_version_is_brought_under_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    target_metadata().create_all(engine)
    engine.dispose()
    assert upgrade(database_url) == (None, HEAD)
    assert upgrade(database_url) == (HEAD, HEAD)


def test_stackwise_db_upgrade_reports_the_revision_or_why_not(database_url: str) -> None:
    from stackwise.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--url", database_url])
    assert first.exit_code == 0 and f"database at revision {HEAD} (was empty or unversioned)" in first.output
    assert runner.invoke(app, ["db", "revision", "--url", database_url]).output.startswith(HEAD)
    down = runner.invoke(app, ["db", "upgrade", "--url", "postgresql+psycopg://nobody@127.0.0.1:9/none"])
    assert down.exit_code == 2 and "cannot upgrade the database" in down.output
    assert "Traceback" not in down.output


def test_head_names_the_newest_revision_and_every_revision_names_its_tables() -> None:
    from alembic.script import ScriptDirectory

    from stackwise.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_current_head() == HEAD
    assert [r.revision for r in script.walk_revisions("base", "heads")][::-1] == list(TABLES_OF)
    assert set().union(*TABLES_OF.values()) == {t.name for t in target_metadata().sorted_tables}
