"""Generated artefacts stay in step with the code that generates them."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.diagram import DIAGRAM
from dialogs.content import Content
from dialogs.diagram import document
from storage.migrate import current_revision, head_revision
from storage.models import Base
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
