"""Running units of work in committed transactions: the one way SI Check writes.

A unit of work is a plain function over a synchronous ``Connection`` (see
``storage.dialogue``).
``Store.run`` returns its result only after the transaction that applied it has committed.

A writer thread owns the store's connection. It takes every unit waiting in its queue, runs
them and commits them all at once (a failing unit is rolled back alone, see ``_applied``), so
concurrent updates share one commit and one thread hand-over instead of paying a trip through
the event loop for every statement. SQLite has one writer anyway. On PostgreSQL, statements
go through psycopg's blocking calls, which let the event loop run meanwhile; a unit that lost
a race with another replica, or whose transaction the server undid, is run again.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from storage.database import psycopg_url, tune_sqlite
from storage.dialogue import ConcurrentUpdateError

T = TypeVar("T")
Work = Callable[[Connection], T]
ATTEMPTS = 3
BATCH_MAX = 128


class Store(Protocol):
    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in a transaction and return its result once committed."""
        ...

    async def close(self) -> None:
        """Finish what was queued and release the connections."""
        ...


@dataclass
class _Unit:
    work: Work[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    attempts: int = 0


Settled = tuple[_Unit, bool, Any]
"""A unit, whether it succeeded, and its result or its error."""


def _settle(settled: list[Settled]) -> None:
    for unit, ok, value in settled:
        if unit.future.done():  # the caller was cancelled meanwhile
            continue
        if ok:
            unit.future.set_result(value)
        else:
            unit.future.set_exception(value)


def _hand_back(outcomes: list[Settled]) -> None:
    """Settle every unit's future on its own event loop, one wake-up per loop and batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Settled]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle, settled)


class _UnitFailedError(Exception):
    """A unit of a batch run without SAVEPOINTs failed: the batch is run again with them."""


def _applied(connection: Connection, batch: list[_Unit], *, isolated: bool) -> list[Settled]:
    """Run ``batch`` in one transaction and commit it: ``(unit, ok, result or error)`` each.

    Units hardly ever fail, so a batch first runs without a SAVEPOINT around each unit, which
    would cost three statements a unit; only when one fails is the whole batch rolled back and
    run again ``isolated``, where a failing unit is undone alone and the others commit.
    """
    results: list[Settled] = []
    with connection.begin():
        for unit in batch:
            if not isolated:
                try:
                    results.append((unit, True, unit.work(connection)))
                except Exception as error:
                    raise _UnitFailedError from error
                continue
            try:
                with connection.begin_nested():
                    results.append((unit, True, unit.work(connection)))
            except Exception as error:  # the unit's own failure: only it is undone
                results.append((unit, False, error))
    return results


def sqlite_engine(url: str | URL) -> Engine:
    """A synchronous engine on the SQLite file of ``url``, transactions begun IMMEDIATE."""
    parsed = make_url(url).set(drivername="sqlite")
    engine = create_engine(
        parsed,
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        # SQLAlchemy emits BEGIN and SAVEPOINT itself (see the begin hook below), as the
        # sqlite3 module's own implicit transactions break SAVEPOINT.
        dbapi_connection.isolation_level = None
        tune_sqlite(dbapi_connection, record)

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Take the write lock at once, so a transaction never fails half-way on upgrading it.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class WriterStore:
    """One writer thread with group commit: the units waiting in its queue share a transaction.

    Several writers were measured on PostgreSQL and gained nothing: the process is bound by
    its CPU, not by waiting for the server.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="sicheck-writer", daemon=True)
        self._thread.start()

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in the next group commit and return its result once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Unit(work, loop, future))
        return await future

    def _serve(self) -> None:
        connection: Connection | None = None
        again: list[_Unit] = []
        """Units to run again in this writer's next batch."""
        try:
            while (batch := self._next_batch(again)) is not None:
                try:
                    if connection is None:
                        connection = self.engine.connect()
                    again = self._commit(connection, batch)
                except Exception as error:  # no connection: every unit of the batch fails
                    again = self._settled([(unit, False, error) for unit in batch])
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    def _next_batch(self, again: list[_Unit]) -> list[_Unit] | None:
        """Wait for a unit, then take every other one already queued; ``None`` means stop."""
        if again:
            batch = again
        else:
            first = self._queue.get()
            if first is None:
                return None
            batch = [first]
        while len(batch) < BATCH_MAX:
            try:
                unit = self._queue.get_nowait()
            except queue.Empty:
                break
            if unit is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(unit)
        return batch

    def _commit(self, connection: Connection, batch: list[_Unit]) -> list[_Unit]:
        """Run and commit ``batch``; the units to run again."""
        try:
            try:
                results = _applied(connection, batch, isolated=False)
            except _UnitFailedError:
                results = _applied(connection, batch, isolated=True)
        except Exception as error:  # the commit itself failed: nothing of the batch stands
            results = [(unit, False, error) for unit in batch]
        return self._settled(results)

    def _settled(self, results: list[Settled]) -> list[_Unit]:
        """Hand results back but for the units worth another attempt, which are returned."""
        final: list[Settled] = []
        again: list[_Unit] = []
        for unit, ok, value in results:
            if not ok and unit.attempts < ATTEMPTS - 1 and self._transient(value):
                unit.attempts += 1
                again.append(unit)
            else:
                final.append((unit, ok, value))
        _hand_back(final)
        return again

    @staticmethod
    def _transient(error: Exception) -> bool:
        """Whether a unit that failed with ``error`` may well succeed if run again."""
        return False

    async def close(self) -> None:
        """Let the writer finish the queued units, then stop it."""
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self.engine.dispose()


class SQLiteStore(WriterStore):
    """The embedded database: its one writer is the store's thread."""

    def __init__(self, url: str | URL) -> None:
        super().__init__(sqlite_engine(url))


RETRIED_STATES = frozenset({"40001", "40P01"})
"""Serialization failures and deadlocks: the server undid the transaction, which may be run
again."""


LIBPQ_TIMEOUTS = {
    "connect_timeout": "10",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "options": "-c lock_timeout=5s -c idle_in_transaction_session_timeout=30s",
}
"""Where the URL sets none. One writer serves every chat of a replica, so nothing may hold it
for long: a server that stops answering mid-statement or on connecting would hold it for the
kernel's TCP timeouts (minutes to hours), and so would a row lock kept by a replica cut off from
the server mid-transaction, until the server noticed. With these the unit fails instead (the
practitioner is asked to try again), the server ends the transaction of a replica that went
silent in it, and a replica's batches wait for another's (milliseconds) far below the limit."""


def server_engine(url: str | URL) -> Engine:
    """A synchronous engine on the server database of ``url``, through psycopg.

    Statements take positional parameters, as ``storage.prepared`` runs them on the cursor.
    """
    parsed = psycopg_url(url)
    unset = {name: value for name, value in LIBPQ_TIMEOUTS.items() if name not in parsed.query}
    return create_engine(
        parsed.update_query_dict(unset),
        pool_size=1,
        max_overflow=0,
        paramstyle="format",
        hide_parameters=True,
    )


class PostgresStore(WriterStore):
    """A database server shared with other replicas: units that lost a race run again.

    A unit that found the assessment changed by another replica (``ConcurrentUpdateError``),
    or whose transaction the server undid (a deadlock, a lost connection: SQLAlchemy then
    connects anew), is run again in the next batch, up to ``ATTEMPTS`` times in all. Had a
    lost commit gone through after all, the update id the unit claimed makes the rerun a
    repeat.
    """

    def __init__(self, url: str | URL) -> None:
        super().__init__(server_engine(url))

    @staticmethod
    def _transient(error: Exception) -> bool:
        if isinstance(error, ConcurrentUpdateError):
            return True
        if not isinstance(error, DBAPIError):
            return False
        state = getattr(error.orig, "sqlstate", None)
        return error.connection_invalidated or state in RETRIED_STATES
