"""Apply and inspect Alembic migrations on the application's engine, off the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at ``storage/migrations``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this version of SI Check."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def read_revision(engine: Engine) -> str | None:
    """The migration the database is at, ``None`` for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def apply_migrations(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision`` in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


async def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, ``None`` for an empty database."""
    return await asyncio.to_thread(read_revision, engine)


async def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision``."""
    await asyncio.to_thread(apply_migrations, engine, revision)
