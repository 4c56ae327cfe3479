"""Apply and inspect Alembic migrations on the application's engine, off the event loop.

Alembic is imported only where a migration is read or run: checking that a schema is current
(every start) needs just the stored revision and ``HEAD``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
HEAD = "0006"
"""The newest migration in ``migrations/versions``; a test holds it to Alembic's own head."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at ``storage/migrations``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this version of SI Check, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def read_revision(engine: Engine) -> str | None:
    """The migration the database is at, ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class UnsafeMigrationError(RuntimeError):
    """A migration would have lost rows or broken a foreign key, so nothing was changed."""


def apply_migrations(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision`` in one transaction, keeping every row.

    Every table keeps at least the rows it had, and on SQLite every foreign key holds; a
    migration that breaks either is rolled back whole and raises.
    """
    from alembic import command

    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it, dropping it and renaming the copy; with
            # foreign keys enforced, the drop would delete every row referring to it (answers,
            # assessments). The pragma takes effect only outside a transaction.
            _foreign_keys(connection, "OFF")
        try:
            with connection.begin():
                before = _row_counts(connection)
                command.upgrade(alembic_config(connection), revision)
                after = _row_counts(connection)
                lost = [
                    f"{name} {count} → {after.get(name, 0)}"
                    for name, count in before.items()
                    if after.get(name, 0) < count
                ]
                if lost:
                    raise UnsafeMigrationError(
                        "the migration would lose rows, so nothing was changed: " + ", ".join(lost)
                    )
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise UnsafeMigrationError(
                        "the migration would break a foreign key, so nothing was changed"
                    )
        finally:
            if sqlite:
                _foreign_keys(connection, "ON")


def _row_counts(connection: Connection) -> dict[str, int]:
    """The number of rows in each table of the database."""
    return {
        name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
        for name in inspect(connection).get_table_names()
    }


def _foreign_keys(connection: Connection, enforced: str) -> None:
    default = connection.get_execution_options().get("isolation_level")
    connection.execution_options(isolation_level="AUTOCOMMIT")
    connection.exec_driver_sql(f"PRAGMA foreign_keys={enforced}")
    connection.commit()  # ends the autobegun transaction, which emitted no BEGIN
    connection.execution_options(isolation_level=default or connection.default_isolation_level)


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is at ``HEAD``."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        stored = connection.execute(text("SELECT version_num FROM alembic_version"))
        return list(stored.scalars()) == [HEAD]


async def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, ``None`` for an empty database."""
    return await asyncio.to_thread(read_revision, engine)


async def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision``."""
    await asyncio.to_thread(apply_migrations, engine, revision)
