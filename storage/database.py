"""Engines and sessions: the SQLite default in WAL mode, PostgreSQL through asyncpg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/sicheck.db"
SERVER_CONNECTIONS = 5
"""Connections a process keeps to a database server for reads besides the store's own."""


def is_sqlite(url: str | URL) -> bool:
    """Whether ``url`` names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Set the pragmas every SI Check connection to SQLite runs with."""
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer commits; FULL makes each commit survive power
    # loss, not only a killed process; the busy timeout queues writers instead of failing.
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=10000",
    ):
        cursor.execute(pragma)
    cursor.close()


SSL_MODES = {
    **dict.fromkeys(("true", "yes", "on", "1"), "require"),
    **dict.fromkeys(("false", "no", "off", "0"), "disable"),
}


def psycopg_url(url: str | URL) -> URL:
    """The URL of the same server database for psycopg, from the app's asyncpg URL."""
    parsed = make_url(url)
    query = dict(parsed.query)
    # asyncpg's "ssl" is libpq's "sslmode", where asyncpg also takes a yes or a no; its
    # statement cache means nothing to psycopg.
    if "ssl" in query:
        mode = str(query.pop("ssl"))
        query.setdefault("sslmode", SSL_MODES.get(mode.lower(), mode))
    query.pop("prepared_statement_cache_size", None)
    return parsed.set(drivername="postgresql+psycopg", query=query)


def create_engine(url: str) -> AsyncEngine:
    """Create the engine for ``url``, tuned for the database it names."""
    parsed = make_url(url)
    if is_sqlite(parsed):
        _prepare_sqlite_file(parsed)
        # SQLite has one writer at a time: one connection makes transactions queue fairly in
        # the event loop instead of spinning in SQLite's busy handler, which sleeps up to
        # 100 ms between tries.
        engine = create_async_engine(
            parsed, pool_size=1, max_overflow=0, pool_timeout=60, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", tune_sqlite)
        return engine
    # Bound parameters are answers and comments: they stay out of errors and so out of logs.
    # Dialogue steps go through the store's own connection (storage.store.PostgresStore);
    # this pool serves reads beside them (exports, statistics, health), where a ping at
    # checkout costs little and spares the first read after a server restart an error.
    return create_async_engine(
        parsed,
        pool_size=SERVER_CONNECTIONS,
        max_overflow=0,
        pool_pre_ping=True,
        hide_parameters=True,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
