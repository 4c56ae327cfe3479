"""Core statements of the hot path, run straight on the DBAPI cursor.

SQLAlchemy spends about 25 µs around each statement it runs (an execution context, parameter
and result objects), six times what SQLite needs to run one of the hot path's statements, and
every tap runs several of them; on PostgreSQL, running them on the driver's cursor took about
a quarter off the CPU a step costs the store (``bench/store_bench.py``). A ``Prepared``
statement is compiled once per set of parameter names with SQLAlchemy's own compiler and
column types, so it binds and reads values exactly as SQLAlchemy would, and then runs on the
DBAPI cursor of the connection's current transaction. With any other driver it runs through
SQLAlchemy as usual.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Select

CURSOR_DRIVERS = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})
"""The drivers of the store's connections (``storage.store``), whose cursor is used directly
where they take positional parameters."""

KEPT_CURSOR_DRIVERS = frozenset({("postgresql", "psycopg")})
"""The drivers whose cursor is kept from one statement to the next: a new psycopg cursor costs
about 16 µs, 40% of what running a small prepared statement costs the client."""
_KEPT = "sicheck_cursor"

Processor = Callable[[Any], Any] | None


def _cursor(connection: Connection, dbapi_connection: Any) -> Any:
    """A cursor on ``dbapi_connection``: the one kept on it where its driver is worth it."""
    dialect = connection.dialect
    if (dialect.name, dialect.driver) not in KEPT_CURSOR_DRIVERS:
        return dbapi_connection.cursor()
    info = connection.connection.info
    kept = info.get(_KEPT)
    # Keyed by the DBAPI connection too: the pool's record outlives one it replaced.
    if kept is None or kept[0] is not dbapi_connection:
        kept = info[_KEPT] = (dbapi_connection, dbapi_connection.cursor())
    return kept[1]


def _release(connection: Connection, cursor: Any, *, failed: bool = False) -> None:
    """Done with ``cursor``: closed, unless kept for the next statement on its connection."""
    kept = connection.connection.info.get(_KEPT)
    if kept is not None and kept[1] is cursor:
        if failed:
            del connection.connection.info[_KEPT]
            cursor.close()
        return
    cursor.close()


class _Compiled:
    """One statement compiled for one dialect and one set of parameter names."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, names: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        assert isinstance(compiled, SQLCompiler)
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Column defaults computed in Python are applied by SQLAlchemy's execution
            # context, which is bypassed here: every such value must be given.
            raise ValueError(f"values missing for columns with defaults: {statement}")
        self.sql = compiled.string
        self.parameters: list[tuple[str, bool, Any, Processor]] = []
        """Each positional parameter: its name, whether a value must be given, its value
        written in the statement if not, and how its type binds it."""
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            literal = None if bind.required else bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self.parameters.append((name, bind.required, literal, processor))
        self.row: Any = None
        self.readers: list[Processor] = []
        if isinstance(statement, Select):
            columns = statement.selected_columns
            self.row = namedtuple("Row", list(columns.keys()))  # type: ignore[misc]
            self.readers = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ]

    def bound(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional parameters for ``values``."""
        bound = []
        for name, required, literal, processor in self.parameters:
            value = values[name] if required else values.get(name, literal)
            bound.append(value if processor is None else processor(value))
        return bound

    def read(self, raw: Sequence[Any]) -> Any:
        """A result row as named, typed values."""
        return self.row._make(
            value if reader is None else reader(value)
            for reader, value in zip(self.readers, raw, strict=True)
        )


class Prepared:
    """A Core statement that runs on the DBAPI cursor where SQLAlchemy's own cost dominates."""

    def __init__(self, statement: Executable) -> None:
        assert isinstance(statement, ClauseElement)
        self.statement = statement
        self._compiled: dict[tuple[str, str, str, tuple[str, ...]], _Compiled] = {}

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Every row the statement selects, with attribute access by column name."""
        compiled = self._for(connection.dialect, values)
        cursor = self._run(connection, compiled, values)
        if cursor is None:
            return list(connection.execute(self.statement, dict(values)))
        try:
            return [compiled.read(raw) for raw in cursor.fetchall()]
        finally:
            _release(connection, cursor)

    def first(self, connection: Connection, values: Mapping[str, Any]) -> Any | None:
        """The first row the statement selects, or ``None``."""
        rows = self.rows(connection, values)
        return rows[0] if rows else None

    def rowcount(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE; how many rows it changed."""
        compiled = self._for(connection.dialect, values)
        cursor = self._run(connection, compiled, values)
        if cursor is None:
            return connection.execute(self.statement, dict(values)).rowcount
        try:
            return int(cursor.rowcount)
        finally:
            _release(connection, cursor)

    def _for(self, dialect: Dialect, values: Mapping[str, Any]) -> _Compiled:
        # Compiled on every database, so a statement that would lean on a Python-side default
        # fails in the tests of each, not only where it runs on the cursor.
        key = (dialect.name, dialect.driver, dialect.paramstyle, tuple(values))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, dialect, tuple(values))
        return compiled

    @staticmethod
    def _run(connection: Connection, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        """The cursor the statement ran on; ``None`` where it is to run through SQLAlchemy."""
        dialect = connection.dialect
        if (dialect.name, dialect.driver) not in CURSOR_DRIVERS or not dialect.positional:
            return None
        if not connection.in_transaction():
            # What SQLAlchemy's autobegin does for its own statements: without it, the
            # caller's commit() would find no transaction and commit nothing.
            connection.begin()
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = _cursor(connection, dbapi_connection)
        try:
            cursor.execute(compiled.sql, compiled.bound(values))
        except dialect.loaded_dbapi.Error as error:
            _release(connection, cursor, failed=True)
            if dialect.is_disconnect(error, dbapi_connection, cursor):
                # On a lost connection SQLAlchemy also marks every pooled connection as old
                # (a restarted server closed them all), which nothing public does: the
                # statement runs again through SQLAlchemy, fails there the same way, and
                # reaches the caller as ``connection_invalidated``.
                return None
            # Callers see SQLAlchemy's exceptions, as from any other statement; the values
            # (answers, comments) stay out of the error and so out of logs.
            raise exc.DBAPIError.instance(
                compiled.sql,
                None,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,
                dialect=dialect,
            ) from error
        return cursor
