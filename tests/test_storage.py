"""Dialogue steps against a real database: what is recorded, and what survives."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import OperationalError

from bot.runtime import StartupError, open_database
from dialogs import events
from dialogs.content import Content
from dialogs.scoring import score
from dialogs.snapshot import Snapshot
from storage import database as database_module
from storage.database import create_engine, database_url
from storage.dialogue import (
    AssessmentRow,
    Claim,
    ConcurrentUpdateError,
    Outcome,
    Who,
    apply,
    claim_update,
    current_view,
    load,
    open_dialogue,
    write_snapshot,
)
from storage.models import Answer, AnswerLog, Assessment, ProcessedUpdate, Respondent
from storage.store import ATTEMPTS, Database, Store
from tests.conftest import SERVER_URL
from tests.fake_bot_api import BOT_USER, FakeBotAPI, buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot

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
    with database.sessions() as session:
        respondent = session.scalar(select(Respondent))
        assert respondent is not None
        assert (respondent.platform, respondent.external_id) == ("console", "ana")
        assert respondent.language == "en"
        assert respondent.consent_at is None


async def test_answers_and_log_rows_are_written_with_the_checklist_version(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    outcome = await send(database, content, outcome, events.Answer("C01", 2))
    with database.sessions() as session:
        assessment = session.get_one(Assessment, outcome.assessment_id)
        assert assessment.checklist_version == content.latest.version
        assert (assessment.practice_name, assessment.country, assessment.organisation) == (
            "Community kitchen",
            "LV",
            "Red Cross",
        )
        assert assessment.state == "C02"
        answer = session.scalar(select(Answer))
        assert answer is not None
        assert (answer.criterion, answer.value, answer.revision) == ("C01", 2, 1)
        log = (session.scalars(select(AnswerLog))).all()
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
    with database.sessions() as session:
        log = (
            session.execute(
                select(AnswerLog.value, AnswerLog.revision)
                .where(AnswerLog.criterion == "C04")
                .order_by(AnswerLog.id)
            )
        ).all()
        assert [tuple(row) for row in log] == [(1, 1), (3, 2)]
        rows = session.execute(select(Answer.criterion, Answer.value))
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
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnswerLog)) == 0


async def test_restart_keeps_the_old_answers_and_opens_a_fresh_assessment(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    outcome = await send(database, content, outcome, events.Answer("C01", 3))
    fresh = await send(database, content, outcome, events.Restart())
    assert fresh.assessment_id != outcome.assessment_id
    assert fresh.state == "profile_name"
    with database.sessions() as session:
        statuses = (
            session.execute(select(Assessment.id, Assessment.status).order_by(Assessment.id))
        ).all()
        assert [status for _, status in statuses] == ["cancelled", "active"]
        assert session.scalar(select(func.count()).select_from(Answer)) == 1


async def test_a_completed_assessment_records_its_completion(
    database: Database, content: Content
) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    for criterion in content.latest.criteria:
        outcome = await send(database, content, outcome, events.Answer(criterion.code, None))
    outcome = await send(database, content, outcome, events.Confirm())
    assert outcome.state == "summary"
    assert "no overall score" in outcome.view.text
    with database.sessions() as session:
        assessment = session.get_one(Assessment, outcome.assessment_id)
        assert assessment.status == "completed"
        assert assessment.completed_at is not None
    again = await opened(database, content)
    assert again.assessment_id != outcome.assessment_id
    assert again.state == "profile_name"


async def test_a_stale_writer_is_told_to_retry(database: Database, content: Content) -> None:
    outcome = await send(database, content, await opened(database, content), *PROFILE)
    with database.sessions() as session:
        row = session.get_one(Assessment, outcome.assessment_id)
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
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnswerLog)) == 1


async def test_an_update_id_is_claimed_once_per_bot(database: Database) -> None:
    def claim(bot_id: int, update_id: int) -> Callable[[Connection], bool]:
        return lambda connection: claim_update(connection, Claim(bot_id, update_id))

    assert await database.store.run(claim(7, 1001))
    assert not await database.store.run(claim(7, 1001))
    assert await database.store.run(claim(7, 1002))
    # Another bot's numbering is its own: the same update id is a new update there.
    assert await database.store.run(claim(8, 1001))
    assert not await database.store.run(claim(8, 1001))


async def test_two_respondents_do_not_see_each_other(database: Database, content: Content) -> None:
    await send(database, content, await opened(database, content), *PROFILE)
    other = await opened(database, content, Who("console", "ben", "lv"))
    assert other.state == "consent"
    assert other.language == "lv"


async def test_a_failing_unit_is_undone_and_the_next_one_runs(tmp_path: Path) -> None:
    store = Store(create_engine(f"sqlite:///{tmp_path}/units.db"))

    def note(word: str, *, fail: bool = False) -> Callable[[Connection], str]:
        def unit(connection: Connection) -> str:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS noted (word TEXT)")
            connection.exec_driver_sql("INSERT INTO noted VALUES (?)", (word,))
            if fail:
                raise ValueError(word)
            return word

        return unit

    try:
        assert await store.run(note("kept")) == "kept"
        with pytest.raises(ValueError, match="undone"):
            await store.run(note("undone", fail=True))
        assert await store.run(note("also kept")) == "also kept"
        rows = await store.run(
            lambda c: [row[0] for row in c.exec_driver_sql("SELECT word FROM noted ORDER BY 1")]
        )
        assert rows == ["also kept", "kept"]
    finally:
        await store.close()


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_connections_the_server_closed_are_replaced_and_the_unit_runs(
    database: Database,
) -> None:
    def backend(connection: Connection) -> int:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

    before = await database.store.run(backend)
    assert SERVER_URL is not None
    other = create_engine(SERVER_URL)
    try:
        with other.connect() as connection:
            # As by a server restart: every connection of the store is closed under it.
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        other.dispose()
    # The unit meets a closed connection, fails, and runs again on a new one instead of
    # failing the tap.
    after = await database.store.run(backend)
    assert after != before


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

    assert await database.store.run(losing("losing twice", 2)) == "losing twice"
    with pytest.raises(ConcurrentUpdateError):
        await database.store.run(losing("always losing", 1_000))
    assert runs == {"losing twice": 3, "always losing": ATTEMPTS}


async def test_a_server_that_never_answers_fails_the_unit_instead_of_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(database_module.LIBPQ_TIMEOUTS, "connect_timeout", "1")
    # The kernel completes the connection, and nobody ever answers on it.
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    store = Store(create_engine(f"postgresql://nobody@127.0.0.1:{port}/none"))
    try:
        with pytest.raises(OperationalError):
            await asyncio.wait_for(store.run(lambda c: c.exec_driver_sql("SELECT 1")), 20)
    finally:
        silent.close()  # lets go of a worker still waiting on it
        await store.close()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///data/x.db", "sqlite:///data/x.db"),
        ("sqlite+aiosqlite:///data/x.db", "sqlite:///data/x.db"),
        ("sqlite+pysqlite:///data/x.db", "sqlite:///data/x.db"),
        ("postgresql://si:secret@db:5432/sicheck", "postgresql+psycopg://si:secret@db:5432/sicheck"),
        (
            "postgresql+asyncpg://si:secret@db:5432/sicheck?ssl=require",
            "postgresql+psycopg://si:secret@db:5432/sicheck?sslmode=require",
        ),
        (
            "postgresql+asyncpg://si@db/sicheck?ssl=verify-full&prepared_statement_cache_size=100",
            "postgresql+psycopg://si@db/sicheck?sslmode=verify-full",
        ),
        ("postgresql+asyncpg://si@db/sicheck?ssl=true", "postgresql+psycopg://si@db/sicheck?sslmode=require"),
        ("postgresql+asyncpg://si@db/sicheck?ssl=0", "postgresql+psycopg://si@db/sicheck?sslmode=disable"),
        ("postgresql+psycopg://si@db/sicheck?sslmode=require", "postgresql+psycopg://si@db/sicheck?sslmode=require"),
    ],
)  # fmt: skip
def test_every_url_form_reaches_its_database_through_the_one_driver(given: str, used: str) -> None:
    assert database_url(given).render_as_string(hide_password=False) == used


@pytest.mark.parametrize("url", ["mysql://db/sicheck", "postgresql+psycopg2://db/sicheck"])
def test_another_database_or_driver_is_refused_in_one_line(url: str) -> None:
    with pytest.raises(StartupError, match=r"^DATABASE_URL is not usable: unsupported database"):
        connect_checked(url)


def connect_checked(url: str) -> None:
    """Open ``url`` as the adapters do, up to the first connection."""
    asyncio.run(open_database(url))


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_lock_held_elsewhere_fails_its_unit_and_holds_up_no_other_chat(
    database: Database, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SERVER_URL is not None
    await opened(database, content)
    monkeypatch.setitem(database_module.LIBPQ_TIMEOUTS, "options", "-c lock_timeout=300ms")
    store = Store(create_engine(SERVER_URL))
    ana = partial(open_dialogue, content=content, who=ANA)
    bea = partial(open_dialogue, content=content, who=Who("console", "bea", "en"))
    try:
        with database.engine.connect() as holder:
            # As by a replica cut off from the server in the middle of ANA's step.
            holder.execute(
                select(Respondent.id).where(Respondent.external_id == "ana").with_for_update()
            )
            with pytest.raises(OperationalError):
                await asyncio.wait_for(store.run(ana), 20)
            assert (await asyncio.wait_for(store.run(bea), 20)).state == "consent"
            holder.rollback()
        assert (await store.run(ana)).accepted
    finally:
        await store.close()


def answering_the_first_question(
    content: Content, shown: Outcome, *, update_id: int
) -> Callable[[Connection], Outcome]:
    """A unit that answers C01 from ``shown`` as the bot applies a tap, claiming ``update_id``."""

    def answer(connection: Connection) -> Outcome:
        loaded = load(connection, ANA, claiming=Claim(1, update_id))
        return apply(
            connection, content, loaded, events.Answer("C01", 2), source="test",
            expected=shown.expected,
        )  # fmt: skip

    return answer


def in_transaction(connection: Connection, work: Callable[[Connection], Outcome]) -> Outcome:
    """Run ``work`` in a transaction of ``connection`` and commit it."""
    with connection.begin():
        return work(connection)


@pytest.mark.skipif(not SERVER_URL, reason="needs SICHECK_TEST_DATABASE_URL")
async def test_a_step_that_waited_for_another_process_reads_what_it_committed(
    database: Database, content: Content
) -> None:
    at_first_question = await send(database, content, await opened(database, content), *PROFILE)
    answer = answering_the_first_question(content, at_first_question, update_id=1)

    def resume(connection: Connection) -> Outcome:
        return current_view(connection, content, load(connection, ANA, claiming=Claim(1, 2)))

    with database.engine.connect() as first, database.engine.connect() as second:
        first.begin()
        assert answer(first).state == "C02"  # the respondent stays locked
        waiting_pid = second.execute(select(func.pg_backend_pid())).scalar_one()
        second.rollback()
        resuming = asyncio.ensure_future(asyncio.to_thread(in_transaction, second, resume))
        with database.engine.connect() as observer:
            blocked = select(func.cardinality(func.pg_blocking_pids(waiting_pid)) > 0)
            for _ in range(10_000):  # until the second waits for the first's lock
                if observer.execute(blocked).scalar_one():
                    break
                observer.rollback()
                await asyncio.sleep(0.001)
            else:
                first.rollback()
                pytest.fail("the second step never waited for the lock")
        first.commit()
        # Its lock was granted after the commit, and it read the assessment after that.
        assert (await resuming).state == "C02"


STAGING_BOT_ID = 4242


class StagingBotAPI(FakeBotAPI):
    """Telegram as another bot token sees it: a bot of its own, numbering updates anew."""

    async def _dispatch(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> Any:
        if method == "getMe":
            return {**BOT_USER, "id": STAGING_BOT_ID, "username": "sicheck_staging_bot"}
        return await super()._dispatch(method, params, files)


async def _whole_assessment(bot: Harness, user_id: int) -> None:
    """One practitioner's assessment, its updates numbered from 1 as a new bot's are."""
    update_ids = itertools.count(1)
    await bot.feed(message_update(user_id, "/start", update_id=next(update_ids)))
    steps = ("y", "text", "c:LV", "s", "ok", "ok", *(f"a:C{n:02d}:2" for n in range(1, 11)))
    for step in (*steps, "ok"):
        if step == "text":
            await bot.feed(message_update(user_id, "Soup kitchen", update_id=next(update_ids)))
            continue
        message = bot.api.last(user_id)
        data = next(data for _, data in buttons(message) if data.split(":", 3)[-1] == step)
        await bot.feed(callback_update(user_id, data, message, update_id=next(update_ids)))


async def test_two_bots_whose_update_ids_overlap_share_one_database(
    database: Database, database_url: str
) -> None:
    async with (
        running_bot(database_url) as production,
        running_bot(database_url, StagingBotAPI()) as staging,
    ):
        await _whole_assessment(production, 901)
        await _whole_assessment(staging, 902)
        for bot, user in ((production, 901), (staging, 902)):
            assert "Summary: Soup kitchen" in bot.summary(user)["text"]
            assert bot.errors == []
    with database.sessions() as session:
        claimed = session.execute(
            select(ProcessedUpdate.bot_id, func.count()).group_by(ProcessedUpdate.bot_id)
        ).all()
        bots = {production.application.bot.id: 18, STAGING_BOT_ID: 18}
    assert dict(claimed) == bots
