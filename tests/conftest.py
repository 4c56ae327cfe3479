"""Shared fixtures: the shipped content, a real database per test, and the bot on it.

Tests run on SQLite by default and on PostgreSQL when ``SICHECK_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.runtime import open_database
from dialogs.content import Content, default_content
from storage.database import create_engine, is_sqlite
from storage.models import Base
from storage.store import Database
from tests.fake_bot_api import FakeBotAPI, LoopbackTelegram
from tests.telegram_harness import Harness, running_bot

SERVER_URL = os.environ.get("SICHECK_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = ROOT / "dialogs" / "content" / "seeds"


def _reset_server_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _fresh_server_schema() -> None:
    """Start every run on the server database from an empty schema."""
    if SERVER_URL:
        _reset_server_schema(SERVER_URL)


@pytest.fixture(scope="session")
def content() -> Content:
    return default_content()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the emptied server database."""
    if SERVER_URL:
        return SERVER_URL
    return f"sqlite:///{tmp_path / 'sicheck.db'}"


async def _empty_tables(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated database, emptied again after the test."""
    opened = await open_database(database_url, migrate=True)
    try:
        yield opened
    finally:
        if not is_sqlite(database_url):
            await _empty_tables(opened)
        await opened.close()


@pytest.fixture
async def bot(database: Database, database_url: str) -> AsyncIterator[Harness]:
    """The bot on ``database``, fed real updates; no handler error and no Bot API misuse."""
    async with running_bot(database_url) as harness:
        yield harness
        assert harness.errors == []
        assert harness.api.violations == []


@pytest.fixture
def seed_text() -> str:
    """The EAPN brochure (seed 000) as one normalised string."""
    raw = (SEED_DIR / "000_3930b083a27ad2cb.txt").read_text(encoding="utf-8")
    return normalise(raw)


def normalise(text: str) -> str:
    """Fold whitespace and line-end hyphenation so seed and catalog texts compare."""
    return " ".join(text.replace("-\n", "").split())


@pytest.fixture
async def api_server() -> AsyncIterator[tuple[FakeBotAPI, str]]:
    """The Bot API double served on a loopback port."""
    api = FakeBotAPI()
    server = LoopbackTelegram(api)
    await server.start()
    yield api, server.url
    await server.stop()
