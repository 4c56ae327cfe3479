"""Running units of work in committed transactions: the one way SI Check writes.

A unit of work is a synchronous function over a ``Connection`` (see ``storage.dialogue``).
SQLite has one writer (one worker, transactions begun ``IMMEDIATE``); on PostgreSQL several
units run at once, each locking its respondent's row. A unit that lost a race, met a deadlock
or lost its connection runs again (had a lost commit gone through after all, the update id the
unit claimed makes the rerun a repeat). After a unit that erased personal data commits, the
database is made to let go of the erased rows' bytes (``reclaim``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.database import BUSY_TIMEOUT_MS, IMMEDIATE, SERVER_CONNECTIONS, create_engine
from storage.dialogue import ConcurrentUpdateError

T = TypeVar("T")
Work = Callable[[Connection], T]
ATTEMPTS = 3
SERVER_WORKERS = SERVER_CONNECTIONS - 1
"""Units run at once on a database server; one connection is left for reads and checks."""
RETRIED_STATES = frozenset({"40001", "40P01"})
"""Serialization failures and deadlocks: the server undid the transaction, which may be run
again."""
CHECKPOINT_WAIT_MS = 1_000
RECLAIM = "sicheck_reclaim"
"""Key in ``Connection.info``: the tables whose erased rows to reclaim after the commit."""

log = logging.getLogger(__name__)


def reclaim(connection: Connection, tables: Iterable[str]) -> None:
    """Ask the store to reclaim the space of rows this unit deletes from ``tables``."""
    connection.info.setdefault(RECLAIM, set()).update(tables)


def transient(error: BaseException) -> bool:
    """Whether a unit that failed with ``error`` may well succeed if run again."""
    if not isinstance(error, DBAPIError):
        return isinstance(error, ConcurrentUpdateError)
    state = getattr(error.orig, "sqlstate", None)
    return error.connection_invalidated or state in RETRIED_STATES


def release(connection: Connection, tables: Iterable[str]) -> None:
    """Make the database drop what is left of rows deleted from ``tables`` (committed)."""
    autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
    if connection.dialect.name == "sqlite":
        # Deleted cells are zeroed (secure_delete); the checkpoint copies the zeroed pages into
        # the file and empties the WAL, where earlier copies of them were. It waits for readers
        # of older snapshots (a long export) for a second at most, as SQLite's one writer
        # waits meanwhile; then the next erasure or the daily purge empties it.
        autocommit.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
        try:
            autocommit.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            autocommit.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    else:
        quote = connection.dialect.identifier_preparer.quote
        autocommit.exec_driver_sql(f"VACUUM {', '.join(quote(table) for table in tables)}")


class Store:
    """Units of work on worker threads, each committed before ``run`` returns."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.engine = engine.execution_options(**{IMMEDIATE: True})
        workers = 1 if engine.dialect.name == "sqlite" else SERVER_WORKERS
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sicheck-store")

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in a transaction and return its result once committed."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run_now, work)

    def run_now(self, work: Work[T]) -> T:
        """Run ``work`` in a transaction on this thread and return its result once committed."""
        for _attempt in range(1, ATTEMPTS):
            try:
                return self._once(work)
            except Exception as error:
                if not transient(error):
                    raise
        return self._once(work)

    def _once(self, work: Work[T]) -> T:
        with self.engine.connect() as connection:
            try:
                with connection.begin():
                    result = work(connection)
            finally:
                tables = connection.info.pop(RECLAIM, None)
            if tables:
                try:
                    release(connection, sorted(tables))
                except DBAPIError:  # the erasure stands; later maintenance reclaims the rows
                    log.warning("reclaiming erased rows failed after their erasure")
            return result

    async def close(self) -> None:
        """Finish the units already handed over, then release the connections."""
        await asyncio.to_thread(self._executor.shutdown)
        self._engine.dispose()


@dataclass
class Database:
    """A database: its engine, ORM sessions on it, and the store every step is applied by."""

    engine: Engine
    sessions: sessionmaker[Session]
    store: Store

    async def close(self) -> None:
        """Finish queued steps and release every connection."""
        await self.store.close()  # which disposes of the engine too


def connect(url: str) -> Database:
    """A ``Database`` on ``url`` (nothing is checked or migrated here, see ``bot.runtime``)."""
    engine = create_engine(url)
    return Database(engine, sessionmaker(engine, expire_on_commit=False), Store(engine))
