"""Dialogue steps against a real database: what is recorded, and what survives."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.runtime import Database, StartupError, open_database
from dialogs import events
from dialogs.content import Content
from dialogs.scoring import score
from dialogs.snapshot import Snapshot
from storage import store as store_module
from storage.database import psycopg_url
from storage.dialogue import (
    AssessmentRow,
    ConcurrentUpdateError,
    Outcome,
    Who,
    apply,
    claim_update,
    confirm_current,
    current_view,
    load,
    open_dialogue,
    write_snapshot,
)
from storage.models import Answer, AnswerLog, Assessment, Respondent
from storage.store import ATTEMPTS, PostgresStore, SQLiteStore
from tests.conftest import SERVER_URL

ANA = Who("console", "ana", "en")


async def opened(database: Database, content: Content, who: Who = ANA) -> Outcome:
    return await database.store.run(lambda session: open_dialogue(session, content, who))


async def send(
    database: Database, content: Content, outcome: Outcome, *sequence: events.Event
) -> Outcome:
    for event in sequence:
        outcome = await database.store.run(
            partial(
                apply,
                content=content,
                who=ANA,
                event=event,
                source="test",
                expected=outcome.expected,
            )
        )
        assert outcome.accepted, outcome.view.text
    return outcome


PROFILE = (
    events.Consent(True),
    events.Text("Community kitchen"),
    events.ChooseCountry("LV"),
    events.Text("Red Cross"),
    events.ToggleTag("homeless"),
    events.Confirm(),
    events.ToggleTag("housing"),
    events.Confirm(),
)


async def test_a_new_respondent_starts_at_consent_when_the_language_is_given(
    database: Database, content: Content
) -> None:
    outcome = await opened(database, content)
    assert outcome.state == "consent"
    async with database.sessions() as session:
        respondent = await session.scalar(select(Respondent))
        assert respondent is not None
        assert (respondent.platform, respondent.external_id) == ("console", "ana")
        assert respondent.language == "en"
        assert respondent.consent_at is None


async def test_answers_and_log_rows_are_written_with_the_checklist_version(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    outcome = await send(database, content, outcome, events.Answer("C01", 2))
    async with database.sessions() as session:
        assessment = await session.get_one(Assessment, outcome.assessment_id)
        assert assessment.checklist_version == content.latest.version
        assert (assessment.practice_name, assessment.country, assessment.organisation) == (
            "Community kitchen",
            "LV",
            "Red Cross",
        )
        assert assessment.state == "C02"
        answer = await session.scalar(select(Answer))
        assert answer is not None
        assert (answer.criterion, answer.value, answer.revision) == ("C01", 2, 1)
        log = (await session.scalars(select(AnswerLog))).all()
        assert [(row.criterion, row.value, row.source) for row in log] == [("C01", 2, "test")]


async def test_going_back_and_changing_keeps_both_revisions_and_scores_the_latest(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    for value, criterion in zip((1, 2, 3, 1), ("C01", "C02", "C03", "C04"), strict=True):
        outcome = await send(database, content, outcome, events.Answer(criterion, value))
    assert outcome.state == "C05"
    outcome = await send(database, content, outcome, events.Back(), events.Answer("C04", 3))
    assert outcome.state == "C05"
    async with database.sessions() as session:
        log = (
            await session.execute(
                select(AnswerLog.value, AnswerLog.revision)
                .where(AnswerLog.criterion == "C04")
                .order_by(AnswerLog.id)
            )
        ).all()
        assert [tuple(row) for row in log] == [(1, 1), (3, 2)]
        rows = await session.execute(select(Answer.criterion, Answer.value))
        answers = {row.criterion: row.value for row in rows}
    assert answers["C04"] == 3
    result = score(content.latest, answers)
    assert result.overall is not None
    assert result.overall * 12 == 1 + 2 + 3 + 3


async def test_opening_again_resumes_the_unfinished_assessment(
    database: Database, content: Content
) -> None:
    first = await send(database, content, await opened(database, content), *PROFILE)
    first = await send(database, content, first, events.Answer("C01", 2))
    again = await opened(database, content)
    assert again.assessment_id == first.assessment_id
    assert again.state == "C02"
    assert "Criterion 2/10" in again.view.text


async def test_a_refused_event_records_nothing(database: Database, content: Content) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    refused = await database.store.run(
        lambda session: apply(session, content, ANA, events.Answer("C07", 1), source="test")
    )
    assert not refused.accepted
    assert refused.version == outcome.version
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnswerLog)) == 0


async def test_restart_keeps_the_old_answers_and_opens_a_fresh_assessment(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    outcome = await send(database, content, outcome, events.Answer("C01", 3))
    fresh = await send(database, content, outcome, events.Restart())
    assert fresh.assessment_id != outcome.assessment_id
    assert fresh.state == "profile_name"
    async with database.sessions() as session:
        statuses = (
            await session.execute(select(Assessment.id, Assessment.status).order_by(Assessment.id))
        ).all()
        assert [status for _, status in statuses] == ["cancelled", "active"]
        assert await session.scalar(select(func.count()).select_from(Answer)) == 1


async def test_a_completed_assessment_records_its_completion(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    for criterion in content.latest.criteria:
        outcome = await send(database, content, outcome, events.Answer(criterion.code, None))
    outcome = await send(database, content, outcome, events.Confirm())
    assert outcome.state == "summary"
    assert "no overall score" in outcome.view.text
    async with database.sessions() as session:
        assessment = await session.get_one(Assessment, outcome.assessment_id)
        assert assessment.status == "completed"
        assert assessment.completed_at is not None
    again = await opened(database, content)
    assert again.assessment_id != outcome.assessment_id
    assert again.state == "profile_name"


async def test_a_stale_writer_is_told_to_retry(database: Database, content: Content) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    async with database.sessions() as session:
        row = await session.get_one(Assessment, outcome.assessment_id)
    stale = AssessmentRow(
        row.id,
        row.checklist_version,
        row.state,
        row.status,
        None,
        None,
        None,
        [],
        [],
        {},
        row.version,
    )
    await send(database, content, outcome, events.Answer("C01", 1))
    after = Snapshot(stale.checklist_version, "C02", "en")
    with pytest.raises(ConcurrentUpdateError):
        await database.store.run(
            lambda session: write_snapshot(session, stale, after, row.updated_at)
        )


async def test_an_event_from_an_older_view_changes_nothing(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    seen = outcome.expected
    await send(database, content, outcome, events.Answer("C01", 1))
    late = await database.store.run(
        lambda session: apply(
            session, content, ANA, events.Answer("C01", 3), source="test", expected=seen
        )
    )
    assert not late.accepted
    assert "This question has moved on" in late.view.text
    assert late.state == "C02"
    async with database.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AnswerLog)) == 1


async def test_an_update_id_is_claimed_once(database: Database) -> None:
    assert await database.store.run(lambda session: claim_update(session, 1001))
    assert not await database.store.run(lambda session: claim_update(session, 1001))
    assert await database.store.run(lambda session: claim_update(session, 1002))


async def test_two_respondents_do_not_see_each_other(database: Database, content: Content) -> None:
    await send(database, content, await opened(database, content), *PROFILE)
    other = await opened(database, content, Who("console", "ben", "lv"))
    assert other.state == "consent"
    assert other.language == "lv"


async def test_a_store_that_cannot_open_its_database_fails_each_unit_and_does_not_hang(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    try:
        for _attempt in range(2):
            with pytest.raises(OperationalError, match="unable to open database file"):
                await asyncio.wait_for(store.run(lambda c: c.exec_driver_sql("SELECT 1")), 30)
    finally:
        await store.close()


async def test_a_failing_unit_of_a_group_commit_is_undone_alone(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite+aiosqlite:///{tmp_path}/units.db")
    holding, queued = threading.Event(), threading.Event()

    def hold(connection: Connection) -> None:
        # Keeps the writer busy until the three units below wait together for the next batch.
        connection.exec_driver_sql("CREATE TABLE noted (word TEXT)")
        holding.set()
        queued.wait(30)

    def note(word: str, *, fail: bool = False) -> Callable[[Connection], str]:
        def unit(connection: Connection) -> str:
            connection.exec_driver_sql("INSERT INTO noted VALUES (?)", (word,))
            if fail:
                raise ValueError(word)
            return word

        return unit

    try:
        first = asyncio.ensure_future(store.run(hold))
        await asyncio.to_thread(holding.wait, 30)
        batch = [
            asyncio.ensure_future(store.run(note("kept"))),
            asyncio.ensure_future(store.run(note("undone", fail=True))),
            asyncio.ensure_future(store.run(note("also kept"))),
        ]
        await asyncio.sleep(0)  # let the three put their units in the queue
        queued.set()
        await first
        results = await asyncio.gather(*batch, return_exceptions=True)
        assert results[0] == "kept"
        assert isinstance(results[1], ValueError)
        assert results[2] == "also kept"
        rows = await store.run(
            lambda c: [row[0] for row in c.exec_driver_sql("SELECT word FROM noted ORDER BY 1")]
        )
        assert rows == ["also kept", "kept"]
    finally:
        queued.set()
        await store.close()


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_connection_the_server_closed_is_replaced_and_the_unit_runs(
    database: Database,
) -> None:
    def backend(connection: Connection) -> int:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    before = await database.store.run(backend)
    assert SERVER_URL is not None
    other = create_async_engine(SERVER_URL, poolclass=NullPool)
    try:
        async with other.connect() as connection:
            await connection.execute(select(func.pg_terminate_backend(before)))
    finally:
        await other.dispose()
    # The store's one connection is closed under it, as by a server restart: the unit meets
    # it, fails, and is run again on a new one instead of failing the tap.
    after = await database.store.run(backend)
    assert after != before


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_unit_that_lost_a_race_runs_again_and_gives_up_after_its_attempts(
    database: Database,
) -> None:
    runs = {"losing twice": 0, "always losing": 0}

    def losing(name: str, times: int) -> Callable[[Connection], str]:
        def work(connection: Connection) -> str:
            connection.exec_driver_sql("SELECT 1")
            runs[name] += 1
            if runs[name] <= times:
                raise ConcurrentUpdateError("another replica was first")
            return name

        return work

    # A batch that fails is run once more unit by unit, so losing twice is one attempt lost.
    assert await database.store.run(losing("losing twice", 2)) == "losing twice"
    with pytest.raises(ConcurrentUpdateError):
        await database.store.run(losing("always losing", 1_000))
    assert runs == {"losing twice": 3, "always losing": 2 * ATTEMPTS}


async def test_a_server_that_never_answers_fails_the_unit_instead_of_holding_the_writer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(store_module.LIBPQ_TIMEOUTS, "connect_timeout", "1")
    # The kernel completes the connection, and nobody ever answers on it.
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    store = PostgresStore(f"postgresql+asyncpg://nobody@127.0.0.1:{port}/none")
    try:
        with pytest.raises(OperationalError):
            await asyncio.wait_for(store.run(lambda c: c.exec_driver_sql("SELECT 1")), 20)
    finally:
        silent.close()  # lets go of a writer still waiting on it
        await store.close()


@pytest.mark.parametrize(
    ("asyncpg_ssl", "libpq_sslmode"),
    [
        ("require", "require"),
        ("verify-full", "verify-full"),
        ("true", "require"),
        ("0", "disable"),
    ],
)
def test_the_store_reaches_the_database_of_the_app_url_through_psycopg(
    asyncpg_ssl: str, libpq_sslmode: str
) -> None:
    url = psycopg_url(
        f"postgresql+asyncpg://si:secret@db:5432/sicheck?ssl={asyncpg_ssl}"
        "&prepared_statement_cache_size=100"
    )
    assert url.render_as_string(hide_password=False) == (
        f"postgresql+psycopg://si:secret@db:5432/sicheck?sslmode={libpq_sslmode}"
    )


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_server_the_store_cannot_reach_stops_the_start_in_one_line(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SERVER_URL is not None  # and migrated by ``database``
    # asyncpg reaches the database, psycopg is sent elsewhere, as by a URL only one understands.
    monkeypatch.setattr(store_module, "psycopg_url", lambda url: psycopg_url(url).set(port=9))
    with pytest.raises(StartupError, match=r"^cannot reach the database at postgresql"):
        await open_database(SERVER_URL, migrate=False)


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_lock_held_elsewhere_fails_its_unit_and_holds_up_no_other_chat(
    database: Database, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SERVER_URL is not None
    await opened(database, content)
    monkeypatch.setitem(store_module.LIBPQ_TIMEOUTS, "options", "-c lock_timeout=300ms")
    store = PostgresStore(SERVER_URL)
    ana = partial(open_dialogue, content=content, who=ANA)
    bea = partial(open_dialogue, content=content, who=Who("console", "bea", "en"))
    try:
        async with database.engine.connect() as holder:
            # As by a replica cut off from the server in the middle of ANA's step.
            await holder.begin()
            await holder.execute(
                select(Respondent.id).where(Respondent.external_id == "ana").with_for_update()
            )
            with pytest.raises(OperationalError):
                await asyncio.wait_for(store.run(ana), 20)
            assert (await asyncio.wait_for(store.run(bea), 20)).state == "consent"
            await holder.rollback()
        assert (await store.run(ana)).accepted
    finally:
        await store.close()


def answering_the_first_question(
    content: Content, shown: Outcome, *, update_id: int
) -> Callable[[Connection], Outcome]:
    """A unit that answers C01 from ``shown`` as the bot applies a tap, claiming ``update_id``."""

    def answer(connection: Connection) -> Outcome:
        loaded = load(connection, ANA, claiming=update_id)
        return apply(
            connection, content, loaded, events.Answer("C01", 2), source="test",
            expected=shown.expected,
        )  # fmt: skip

    return answer


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_view_read_while_another_process_held_the_lock_is_not_shown(
    database: Database, content: Content
) -> None:
    at_first_question = await send(database, content, await opened(database, content), *PROFILE)
    answer = answering_the_first_question(content, at_first_question, update_id=1)

    def resume(connection: Connection) -> Outcome:
        loaded = load(connection, ANA, claiming=2)
        shown = current_view(connection, content, loaded)
        confirm_current(connection, loaded)
        return shown

    async with database.engine.connect() as first, database.engine.connect() as second:
        await first.begin()
        assert (await first.run_sync(answer)).state == "C02"  # the respondent stays locked
        waiting_pid = (await second.execute(select(func.pg_backend_pid()))).scalar_one()
        resuming = asyncio.ensure_future(second.run_sync(resume))
        async with database.engine.connect() as observer:
            blocked = select(func.cardinality(func.pg_blocking_pids(waiting_pid)) > 0)
            for _ in range(10_000):  # until the second waits for the first's lock
                if (await observer.execute(blocked)).scalar_one():
                    break
                await observer.rollback()
            else:
                resuming.cancel()
                pytest.fail("the second step never waited for the lock")
        await first.commit()
        # It read C01, as its statement began before the commit: it must not show it.
        with pytest.raises(ConcurrentUpdateError):
            await resuming
    # Run again, as the store does, the same step shows where the respondent is now.
    assert (await database.store.run(resume)).state == "C02"


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_an_answer_is_two_statements_on_a_database_server(
    database: Database, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    statements: list[str] = []
    # Every statement reaches the server through the driver's cursor, whether SQLAlchemy runs
    # it or storage.prepared does.
    execute: Callable[..., Any] = psycopg.Cursor.execute

    def counted(cursor: psycopg.Cursor[Any], statement: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(statement))
        return execute(cursor, statement, *args, **kwargs)

    answer = answering_the_first_question(content, outcome, update_id=4242)
    monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    answered = await database.store.run(answer)
    monkeypatch.undo()
    assert (answered.accepted, answered.state) == (True, "C02")
    # Round trips, not statements, are what a step costs on a server: the claim comes with
    # the respondent's rows and answers, and the answer with the assessment's new state.
    assert len(statements) == 2, statements
    async with database.sessions() as session:
        log = (await session.execute(select(AnswerLog.criterion, AnswerLog.value))).all()
        stored = (await session.execute(select(Answer.criterion, Answer.revision))).all()
    assert (log, stored) == ([("C01", 2)], [("C01", 1)])
