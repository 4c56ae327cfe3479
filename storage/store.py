"""Running units of work in committed transactions: the one way SI Check writes.

A unit of work is a plain function over a synchronous ``Connection`` (see
``storage.dialogue``).
``Store.run`` returns its result only after the transaction that applied it has committed.

* PostgreSQL: each unit runs in its own transaction through ``AsyncConnection.run_sync``; a unit
  that lost a race with another replica (``ConcurrentUpdateError``), or whose connection the
  server had closed, is run again.
* SQLite: one writer thread owns the only connection. It takes every unit waiting in its
  queue, runs them and commits them all at once (a failing unit is rolled back alone, see
  ``_applied``), so concurrent updates share one commit and one thread hand-over instead of
  paying a round trip through the event loop for every statement.
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
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from storage.database import tune_sqlite
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


class ServerStore:
    """Units of work on a database server, each in its own transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in a transaction and return its result once committed."""
        for _attempt in range(ATTEMPTS - 1):
            try:
                return await self._once(work)
            except ConcurrentUpdateError:
                continue
            except DBAPIError as error:
                # A pooled connection the server closed (a restart, a failover) is found out
                # here rather than pinged before every unit; SQLAlchemy has discarded it and
                # every connection as old, so the unit runs again on a new one. Had its commit
                # gone through after all, the update id it claimed makes the rerun a repeat.
                if not error.connection_invalidated:
                    raise
        return await self._once(work)

    async def _once(self, work: Work[T]) -> T:
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)

    async def close(self) -> None:
        """Nothing to finish: every unit owned its transaction."""


@dataclass
class _Unit:
    work: Work[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


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


class SQLiteStore:
    """One writer thread with group commit over the embedded database."""

    def __init__(self, url: str | URL) -> None:
        self.engine = sqlite_engine(url)
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
        try:
            while (batch := self._next_batch()) is not None:
                try:
                    if connection is None:
                        connection = self.engine.connect()
                    self._commit(connection, batch)
                except Exception as error:  # no connection: every unit of the batch fails
                    self._settle_all(batch, error)
                    connection = None
        finally:
            if connection is not None:
                connection.close()

    def _next_batch(self) -> list[_Unit] | None:
        """Wait for a unit, then take every other one already queued; ``None`` means stop."""
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

    @staticmethod
    def _settle_all(batch: list[_Unit], error: Exception) -> None:
        _hand_back([(unit, False, error) for unit in batch])

    def _commit(self, connection: Connection, batch: list[_Unit]) -> None:
        try:
            try:
                results = _applied(connection, batch, isolated=False)
            except _UnitFailedError:
                results = _applied(connection, batch, isolated=True)
        except Exception as error:  # the commit itself failed: nothing of the batch stands
            self._settle_all(batch, error)
            return
        _hand_back(results)

    async def close(self) -> None:
        """Let the writer finish the queued units, then stop it."""
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self.engine.dispose()
