"""Engines on one driver per backend: SQLite through the standard library's sqlite3 module,
PostgreSQL through psycopg 3, both used synchronously (in worker threads, see ``storage.store``).

Database URLs may name the backend alone (``sqlite:///path``, ``postgresql://...``) or an
older driver (``sqlite+aiosqlite``, ``postgresql+asyncpg``): either way the one driver is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as sqlalchemy_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

DEFAULT_DATABASE_URL = "sqlite:///./data/sicheck.db"
SERVER_CONNECTIONS = 5
"""Connections a process keeps open to a database server."""
BUSY_TIMEOUT_MS = 10_000
IMMEDIATE = "sicheck_immediate"
"""Execution option: an SQLite transaction takes the write lock when it begins."""

DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
}
"""The driver used for each accepted form of a URL's scheme."""

SSL_MODES = {
    **dict.fromkeys(("true", "yes", "on", "1"), "require"),
    **dict.fromkeys(("false", "no", "off", "0"), "disable"),
}

LIBPQ_TIMEOUTS = {
    "connect_timeout": "10",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "options": "-c lock_timeout=5s -c idle_in_transaction_session_timeout=30s",
}
"""Where the URL sets none. A server that stops answering, or a row lock kept by a replica
cut off mid-transaction, would otherwise hold a practitioner's step for the kernel's TCP
timeouts (minutes to hours): with these the step fails instead (the practitioner is asked to
try again) and the server ends the transaction of a replica that went silent in it."""


def database_url(url: str | URL) -> URL:
    """``url`` with the one driver of its backend; ``ValueError`` for any other database."""
    parsed = make_url(url)
    driver = DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(f"unsupported database {parsed.drivername!r}: use sqlite or postgresql")
    if driver == "sqlite":
        return parsed.set(drivername=driver)
    query = dict(parsed.query)
    # asyncpg's "ssl" is libpq's "sslmode", where asyncpg also takes a yes or a no; its
    # statement cache means nothing to psycopg.
    if "ssl" in query:
        mode = str(query.pop("ssl"))
        query.setdefault("sslmode", SSL_MODES.get(mode.lower(), mode))
    query.pop("prepared_statement_cache_size", None)
    return parsed.set(drivername=driver, query=query)


def is_sqlite(url: str | URL) -> bool:
    """Whether ``url`` names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> Path | None:
    """The file an SQLite URL names; ``None`` for another database, or one in memory or given
    as a ``file:`` URI."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database).expanduser()


def _sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (``_sqlite_begin``), as the sqlite3 module's own implicit
    # transactions begin late and break SAVEPOINT (SQLAlchemy's pysqlite documentation).
    dbapi_connection.isolation_level = None
    # WAL lets readers go on while one writer commits; FULL makes each commit survive power
    # loss, not only a killed process; the busy timeout queues writers instead of failing;
    # secure_delete overwrites deleted rows, so erased answers do not linger in free pages.
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        "secure_delete=ON",
    ):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def _sqlite_begin(connection: Connection) -> None:
    # A unit of work takes the write lock at once, so it never fails half-way on upgrading
    # it; other reads begin deferred and go on beside the writer. In AUTOCOMMIT (a WAL
    # checkpoint) no transaction is begun at all.
    options = connection.get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(IMMEDIATE) else "BEGIN")


def create_engine(url: str | URL) -> Engine:
    """The engine for ``url`` on its backend's one driver, tuned for that database.

    Bound parameters are answers and comments: they stay out of errors and so out of logs.
    """
    parsed = database_url(url)
    if is_sqlite(parsed):
        file = sqlite_file(parsed)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        engine = sqlalchemy_engine(parsed, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connected)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    unset = {name: value for name, value in LIBPQ_TIMEOUTS.items() if name not in parsed.query}
    return sqlalchemy_engine(
        parsed.update_query_dict(unset),
        pool_size=SERVER_CONNECTIONS,
        max_overflow=2,
        hide_parameters=True,
    )
