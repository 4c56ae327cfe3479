"""Prepared statements store and read exactly what SQLAlchemy's own execution does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError

from bot.runtime import Database
from storage.database import is_sqlite
from storage.models import Answer, Assessment, Respondent
from storage.prepared import Prepared
from storage.store import server_engine, sqlite_engine

WHEN = datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=UTC)
NEW_ANSWER = Prepared(insert(Answer))
ANSWERS = Prepared(
    select(Answer.criterion, Answer.value, Answer.aspects, Answer.comment, Answer.answered_at)
    .where(Answer.assessment_id == bindparam("assessment_id"))
    .where(Answer.criterion != "c9")
    .order_by(Answer.criterion)
)


def an_assessment(connection: Connection) -> int:
    respondent = connection.execute(
        insert(Respondent).returning(Respondent.id),
        {"platform": "test", "external_id": "prepared", "language": "lv", "created_at": WHEN},
    ).scalar_one()
    return connection.execute(
        insert(Assessment).returning(Assessment.id),
        {"respondent_id": respondent, "checklist_version": 1, "state": "q", "status": "active",
         "target_groups": [], "themes": [], "context": {}, "started_at": WHEN,
         "updated_at": WHEN, "version": 1},
    ).scalar_one()  # fmt: skip


def answer(assessment_id: int, criterion: str, **values: Any) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "criterion": criterion,
        "value": 2,
        "aspects": ["a1", "ā2"],
        "comment": "Komentārs <b>&</b>",
        "revision": 1,
        "answered_at": WHEN,
        **values,
    }


async def test_rows_are_stored_and_read_as_sqlalchemy_does(database: Database) -> None:
    def work(connection: Connection) -> tuple[list[Any], list[Any], list[Any]]:
        assessment_id = an_assessment(connection)
        connection.execute(insert(Answer), answer(assessment_id, "c1"))
        assert NEW_ANSWER.rowcount(connection, answer(assessment_id, "c2")) == 1
        NEW_ANSWER.rowcount(connection, answer(assessment_id, "c3", value=None, aspects=[]))
        NEW_ANSWER.rowcount(connection, answer(assessment_id, "c9"))
        # Read both ways, and also the stored text, which other readers (exports) see.
        ours = ANSWERS.rows(connection, {"assessment_id": assessment_id})
        theirs = connection.execute(ANSWERS.statement, {"assessment_id": assessment_id}).all()
        stored = list(
            connection.execute(
                text("SELECT criterion, aspects, answered_at FROM answer ORDER BY criterion")
            )
        )
        return ours, [tuple(row) for row in theirs], stored

    ours, theirs, stored = await database.store.run(work)
    assert [row.criterion for row in ours] == ["c1", "c2", "c3"]
    assert [tuple(row) for row in ours] == theirs
    assert ours[1].aspects == ["a1", "ā2"]
    assert ours[2].value is None
    # What SQLAlchemy wrote for c1 is what the prepared statement wrote for c2.
    assert stored[0][1:] == stored[1][1:]


async def test_first_is_none_without_rows(database: Database) -> None:
    def work(connection: Connection) -> Any:
        return ANSWERS.first(connection, {"assessment_id": -1})

    assert await database.store.run(work) is None


async def test_a_database_error_is_sqlalchemys_and_hides_the_values(database: Database) -> None:
    def work(connection: Connection) -> None:
        assessment_id = an_assessment(connection)
        NEW_ANSWER.rowcount(connection, answer(assessment_id, "c1"))
        NEW_ANSWER.rowcount(connection, answer(assessment_id, "c1", comment="private words"))

    with pytest.raises(IntegrityError) as raised:
        await database.store.run(work)
    assert "private words" not in str(raised.value)

    def count(connection: Connection) -> int:
        return len(connection.execute(select(Answer.id)).all())

    assert await database.store.run(count) == 0  # the failed unit left nothing behind


async def test_a_missing_value_is_refused(database: Database) -> None:
    def without_parameter(connection: Connection) -> Any:
        return ANSWERS.rows(connection, {})

    def without_default(connection: Connection) -> Any:
        values = answer(1, "c1")
        del values["answered_at"]  # a column SQLAlchemy would fill in from its default
        return NEW_ANSWER.rowcount(connection, values)

    with pytest.raises((KeyError, StatementError)):
        await database.store.run(without_parameter)
    with pytest.raises(ValueError, match="defaults"):
        await database.store.run(without_default)


async def test_a_statement_first_on_its_connection_is_committed_with_it(
    database: Database, database_url: str
) -> None:
    def work(connection: Connection) -> None:
        assessment_id = an_assessment(connection)
        connection.commit()
        # Nothing of SQLAlchemy's has begun the next transaction: the prepared statement does.
        NEW_ANSWER.rowcount(connection, answer(assessment_id, "c1"))
        connection.commit()

    # An engine of the store's kind, whose driver's cursor the statements run on.
    engine = (
        sqlite_engine(database_url) if is_sqlite(database_url) else server_engine(database_url)
    )
    try:
        with engine.connect() as sync_connection:
            work(sync_connection)
    finally:
        engine.dispose()
    async with database.engine.connect() as connection:
        stored = (await connection.execute(select(Answer.criterion))).scalars().all()
    assert stored == ["c1"]
