"""Generated artefacts stay in step with the code that generates them, and migrations keep data."""

from __future__ import annotations

import alembic.command
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, delete, insert, select, text
from sqlalchemy.engine import Connection, Engine

import storage.migrate
from bot import cli
from bot.cli import DIAGRAM
from dialogs.content import Content
from dialogs.diagram import document
from storage.database import create_engine
from storage.dialogue import Claim, claim_update
from storage.migrate import (
    UnsafeMigrationError,
    apply_migrations,
    current_revision,
    head_revision,
    read_revision,
)
from storage.models import BEFORE_KEYING, Base, ProcessedUpdate, Respondent, utcnow
from storage.store import Database


def test_the_committed_state_diagram_is_current(content: Content) -> None:
    assert DIAGRAM.read_text(encoding="utf-8") == document(content.latest)


def test_the_diagram_names_every_state(content: Content) -> None:
    source = document(content.latest)
    for state in ("language", "consent", "C01", "C10", "review", "summary", "cancelled"):
        assert f"as {state}\n" in source


async def test_migrations_build_exactly_the_models(database: Database) -> None:
    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    with database.engine.connect() as connection:
        assert differences(connection) == []
    assert await current_revision(database.engine) == head_revision()


def test_updates_applied_before_keying_by_bot_keep_bot_zero(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        apply_migrations(engine, "0004")
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO processed_update (update_id, at) VALUES (:id, :at)"),
                [{"id": 1, "at": utcnow()}, {"id": 2, "at": utcnow()}],
            )
        apply_migrations(engine)
        assert read_revision(engine) == head_revision()
        with engine.begin() as connection:
            assert not claim_update(connection, Claim(BEFORE_KEYING, 1))
            assert claim_update(connection, Claim(100, 1))
            rows = connection.execute(
                select(ProcessedUpdate.bot_id, ProcessedUpdate.update_id).order_by(
                    ProcessedUpdate.bot_id, ProcessedUpdate.update_id
                )
            ).all()
        assert [tuple(row) for row in rows] == [(0, 1), (0, 2), (100, 1)]
    finally:
        with engine.begin() as connection:
            connection.execute(delete(ProcessedUpdate))
        engine.dispose()


EARLIER = ("0001", "0002", "0003", "0004", "0005")
"""Every revision a database in use may be upgraded from."""
ROWS = {
    "respondent": {"id": 1, "platform": "telegram", "external_id": "42", "language": "lv"},
    "assessment": {
        "id": 1,
        "respondent_id": 1,
        "checklist_version": 1,
        "state": "summary",
        "status": "completed",
        "practice_name": "Zupas virtuve",
        "context": {},
        "target_groups": [],
        "themes": [],
        "version": 12,
    },
    "answer": {
        "id": 1,
        "assessment_id": 1,
        "criterion": "C01",
        "value": 2,
        "aspects": [],
        "revision": 1,
    },
}
ROWS["answer_log"] = {**ROWS["answer"], "source": "telegram"}


def _counts(connection: Connection) -> dict[str, int]:
    return {
        name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
        for name in ROWS
    }


@pytest.mark.parametrize("start", EARLIER)
def test_upgrading_keeps_every_row_and_every_foreign_key(database_url: str, start: str) -> None:
    engine = _database_at(database_url, start)
    try:
        apply_migrations(engine)
        assert read_revision(engine) == head_revision()
        with engine.begin() as connection:
            assert _counts(connection) == dict.fromkeys(ROWS, 1)
            # Erasure still reaches everything: the cascades survived the rebuilt tables.
            connection.execute(delete(Respondent))
            assert _counts(connection) == dict.fromkeys(ROWS, 0)
    finally:
        engine.dispose()


def _database_at(database_url: str, revision: str) -> Engine:
    """An engine on a database at ``revision`` holding one row of each table of ``ROWS``."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    apply_migrations(engine, revision)
    with engine.begin() as connection:
        for name, values in ROWS.items():
            # The table as that revision made it, so no column of a later one is written.
            table = Table(name, MetaData(), autoload_with=connection)
            now = {
                column.name: utcnow()
                for column in table.columns
                if column.name.endswith("at") and not column.nullable
            }
            row = {key: value for key, value in values.items() if key in table.columns}
            connection.execute(insert(table), [now | row])
    return engine


def test_a_migration_that_loses_rows_changes_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_upgrade = alembic.command.upgrade

    def losing_upgrade(config: Config, revision: str) -> None:
        real_upgrade(config, revision)
        config.attributes["connection"].execute(text("DELETE FROM answer_log"))

    monkeypatch.setattr(alembic.command, "upgrade", losing_upgrade)
    engine = _database_at(database_url, "0005")
    try:
        with pytest.raises(UnsafeMigrationError, match="answer_log 1 → 0"):
            apply_migrations(engine)
        assert cli.main(["db", "upgrade", "--database-url", database_url]) == 2
        error = capsys.readouterr().err
        assert "the migration would lose rows, so nothing was changed: answer_log 1 → 0" in error
        assert error.count("\n") == 1
        assert read_revision(engine) == "0005"
        with engine.begin() as connection:
            assert _counts(connection) == dict.fromkeys(ROWS, 1)
    finally:
        engine.dispose()


def test_sqlite_rebuilding_a_table_under_enforced_foreign_keys_changes_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("only SQLite rebuilds a table to alter it")
    # Enforced, the rebuild of ``assessment`` by 0006 cascades to every answer.
    monkeypatch.setattr(storage.migrate, "_foreign_keys", lambda connection, enforced: None)
    engine = _database_at(database_url, "0005")
    try:
        with pytest.raises(UnsafeMigrationError, match="answer 1 → 0"):
            apply_migrations(engine)
        assert read_revision(engine) == "0005"
        with engine.begin() as connection:
            assert _counts(connection) == dict.fromkeys(ROWS, 1)
    finally:
        engine.dispose()
