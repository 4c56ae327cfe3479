"""Data rights: decline stores nothing, /mydata, /delete, purging by age, and reminders."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, event, func, make_url, select, update

from bot import cli
from bot.telegram.callback_data import RemindersOffPress, encode
from bot.telegram.privacy import notice_text, send_reminders
from dialogs.content import default_content
from dialogs.i18n import SUPPORTED_LANGUAGES, use_language
from storage.database import is_sqlite
from storage.dialogue import Claim, Who, claim_update, open_dialogue
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    Base,
    Coordinator,
    ProcessedUpdate,
    Respondent,
    utcnow,
)
from storage.privacy import RETIRED, UPDATES_KEPT, erase, purge
from storage.store import Database
from tests.conftest import SERVER_URL
from tests.fake_bot_api import buttons, callback_update
from tests.telegram_harness import Harness, running_bot
from tests.test_console import COUNTS, DAY_FORMS

REMINDERS_OFF = encode(RemindersOffPress())
ANA = 801
BEN = 802
LONG_AGO = timedelta(days=400)


async def finish(
    bot: Harness,
    user_id: int,
    *,
    complete: bool = True,
    practice: str = "Soup kitchen",
    comment: str = "A comment",
) -> None:
    """An assessment answered to the end (or to criterion 2), with a comment on criterion 1."""
    await bot.say(user_id, "/start")
    await bot.tap(user_id, "y")
    await bot.say(user_id, practice)
    for action in ("c:LV", "s", "ok", "ok"):
        await bot.tap(user_id, action)
    await bot.say(user_id, comment)
    for number in range(1, 11 if complete else 3):
        await bot.tap(user_id, f"a:C{number:02d}:2")
    if complete:
        await bot.tap(user_id, "ok")


def _points_at_user(column: Column[Any]) -> str | None:
    for key in column.foreign_keys:
        if key.column.table.name in ("respondent", "assessment"):
            return key.column.table.name
    return None


async def rows_of(
    database: Database, user_id: int, respondents: set[int], assessments: set[int]
) -> dict[str, int]:
    """Rows in any table that belong to the user, found by walking the whole schema."""
    found: dict[str, int] = {}
    with database.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                target = _points_at_user(column)
                if target == "respondent" or (table.name == "respondent" and column.name == "id"):
                    ids: set[Any] = respondents
                elif target == "assessment" or (
                    table.name == "assessment" and column.name == "id"
                ):
                    ids = assessments
                elif column.name == "external_id":
                    ids = {str(user_id)}
                else:
                    continue
                count = session.scalar(
                    select(func.count()).select_from(table).where(column.in_(ids))
                )
                if count:
                    found[f"{table.name}.{column.name}"] = int(count or 0)
    return found


async def ids_of(database: Database, user_id: int) -> tuple[set[int], set[int]]:
    with database.sessions() as session:
        respondents = set(
            session.scalars(select(Respondent.id).where(Respondent.external_id == str(user_id)))
        )
        assessments = set(
            session.scalars(select(Assessment.id).where(Assessment.respondent_id.in_(respondents)))
        )
    return respondents, assessments


async def test_declining_consent_stores_nothing(bot: Harness, database: Database) -> None:
    await bot.say(ANA, "/start")
    await bot.tap(ANA, "n")
    assert "nothing more will be asked or recorded" in bot.text(ANA)
    assert await ids_of(database, ANA) == (set(), set())
    assert await rows_of(database, ANA, set(), set()) == {}


async def test_delete_erases_every_row_of_the_user_and_nothing_else(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(ANA)) as bot:
        await finish(bot, ANA)
        await finish(bot, BEN)
        await bot.say(ANA, "/cohort new Mine")
        respondents, assessments = await ids_of(database, ANA)
        assert await rows_of(database, ANA, respondents, assessments)
        await bot.say(ANA, "/delete")
        assert "Erase everything?" in bot.text(ANA)
        await bot.press(ANA, "🗑")
        assert "Erased: 1 assessment, 10 answers and 10 answer-log entries" in bot.text(ANA)
        assert await rows_of(database, ANA, respondents, assessments) == {}
        assert await ids_of(database, BEN) != (set(), set())
        await bot.say(BEN, "/mydata")
        assert bot.api.files_in(BEN)
        assert bot.errors == []
        assert bot.api.violations == []


def file_bytes(database_url: str) -> bytes:
    """The raw bytes of an SQLite database file and of its write-ahead log."""
    path = Path(str(make_url(database_url).database))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.skipif(SERVER_URL is not None, reason="reads the SQLite file")
async def test_erased_texts_leave_the_sqlite_file_and_its_log(
    database: Database, database_url: str
) -> None:
    # Texts, and the identity as a row and its unique index store it (adjacent columns).
    ana = ("Zvaigžņu virtuve QX7", "Slepens komentārs QX7-31", f"telegram{ANA}")
    ben = ("Upes darbnīca BZ4", "Palicis komentārs BZ4-77", f"telegram{BEN}")
    async with running_bot(database_url) as bot:
        await finish(bot, ANA, practice=ana[0], comment=ana[1])
        await finish(bot, BEN, practice=ben[0], comment=ben[1])
        await bot.say(ANA, "/start")  # a second assessment, its draft name still unfinished
        await bot.say(ANA, ana[0] + " 2")
        for text in (*ana, *ben):
            assert text.encode() in file_bytes(database_url)
        await bot.say(ANA, "/delete")
        await bot.press(ANA, "🗑")
        assert "Erased: 2 assessments" in bot.text(ANA)
        stored = file_bytes(database_url)
        for text in ana:
            assert text.encode() not in stored
        for text in ben:  # the scan does find what was not erased
            assert text.encode() in stored


async def test_an_erasure_is_reclaimed_after_its_commit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    await database.store.run(lambda c: open_dialogue(c, default_content(), Who("telegram", "9")))
    erased = await database.store.run(lambda c: erase(c, "telegram", "9"))
    event.remove(database.engine, "before_cursor_execute", seen)
    assert erased.anything
    reclaimed = [text for text in statements if text.startswith(("VACUUM", "PRAGMA wal_"))]
    if is_sqlite(database.engine.url):
        assert reclaimed == ["PRAGMA wal_checkpoint(TRUNCATE)"]
    else:
        tables = "answer, answer_log, assessment, coordinator, mentor_feedback, mentor_share, "
        tables += "respondent, team"
        assert reclaimed == [f"VACUUM {tables}"]
    # Nothing to erase, nothing to reclaim.
    statements.clear()
    event.listen(database.engine, "before_cursor_execute", seen)
    await database.store.run(lambda c: erase(c, "telegram", "9"))
    event.remove(database.engine, "before_cursor_execute", seen)
    assert statements
    assert not [text for text in statements if text.startswith(("VACUUM", "PRAGMA wal_"))]


async def test_the_purge_forgets_update_ids_after_three_days(database: Database) -> None:
    def claim(update_id: int) -> Callable[[Connection], bool]:
        return lambda c: claim_update(c, Claim(5, update_id))

    assert await database.store.run(claim(1))
    later = utcnow() + UPDATES_KEPT - timedelta(minutes=1)
    await database.store.run(lambda c: purge(c, timedelta(days=365), now=later))
    assert not await database.store.run(claim(1))  # still known: a redelivery changes nothing
    assert await database.store.run(claim(2))
    later = utcnow() + UPDATES_KEPT + timedelta(minutes=1)
    await database.store.run(lambda c: purge(c, timedelta(days=365), now=later))
    assert await session_count(database, ProcessedUpdate) == 0


async def test_keeping_ones_data_erases_nothing(bot: Harness, database: Database) -> None:
    await finish(bot, ANA)
    await bot.say(ANA, "/delete")
    await bot.press(ANA, "Keep")
    assert "Nothing was erased." in bot.text(ANA)
    respondents, assessments = await ids_of(database, ANA)
    assert len(respondents) == len(assessments) == 1


async def test_mydata_holds_everything_recorded(bot: Harness, database: Database) -> None:
    await finish(bot, ANA)
    await bot.say(ANA, "/mydata")
    [document] = [upload for upload in bot.api.files_in(ANA) if upload.method == "sendDocument"]
    data = json.loads(document.content)
    assert data["respondent"]["user_id"] == str(ANA)
    [assessment] = data["assessments"]
    with database.sessions() as session:
        answers = session.scalar(select(func.count()).select_from(Answer))
        entries = session.scalar(select(func.count()).select_from(AnswerLog))
    assert len(assessment["answers"]) == answers == 10
    assert len(assessment["answer_log"]) == entries == 10
    assert assessment["practice_name"] == "Soup kitchen"
    assert "A comment" in [entry["comment"] for entry in assessment["answer_log"]]


async def test_mydata_names_the_cohort_and_the_coordinator_role(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(ANA)) as bot:
        await bot.say(ANA, "/cohort new Ours")
        code = bot.text(ANA).rsplit("start=", 1)[1].strip()
        await bot.say(ANA, f"/start {code}")
        await bot.say(ANA, "/mydata")
        [document] = bot.api.files_in(ANA)
        data = json.loads(document.content)
        assert data["assessments"][-1]["cohort"] == {"code": code, "name": "Ours"}
        assert data["coordinator"]["notify_completed"] is False
        assert bot.errors == []


async def test_mydata_of_a_stranger_says_there_is_none(bot: Harness) -> None:
    await bot.say(BEN, "/mydata")
    assert bot.text(BEN) == "SI Check has no data about you."


async def _age(database: Database, user_id: int, by: timedelta) -> None:
    respondents, assessments = await ids_of(database, user_id)
    with database.sessions() as session, session.begin():
        session.execute(
            update(Assessment)
            .where(Assessment.id.in_(assessments))
            .values(updated_at=utcnow() - by, started_at=utcnow() - by)
        )
        session.execute(
            update(Respondent)
            .where(Respondent.id.in_(respondents))
            .values(created_at=utcnow() - by)
        )


async def test_purge_removes_what_is_past_the_retention_period(
    bot: Harness, database: Database
) -> None:
    await finish(bot, ANA, complete=False)
    await finish(bot, BEN)
    await _age(database, ANA, LONG_AGO)
    await _age(database, BEN, LONG_AGO)
    erased = await database.store.run(lambda c: purge(c, timedelta(days=365)))
    assert (erased.assessments, erased.answers) == (1, 2)
    assert await ids_of(database, ANA) == (set(), set())
    with database.sessions() as session:
        kept = (session.scalars(select(Respondent))).all()
        assert [(r.platform, r.external_id) for r in kept] == [(RETIRED, str(kept[0].id))]
        assert session.scalar(select(func.count()).select_from(Answer)) == 10
    again = await database.store.run(lambda c: purge(c, timedelta(days=365)))
    assert (again.assessments, again.respondents) == (0, 0)


async def test_a_fresh_assessment_is_not_purged(bot: Harness, database: Database) -> None:
    await finish(bot, ANA, complete=False)
    erased = await database.store.run(lambda c: purge(c, timedelta(days=365)))
    assert (erased.assessments, erased.respondents) == (0, 0)


async def test_a_due_reminder_is_sent_once_after_a_restart(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url) as before:
        await finish(before, ANA, complete=False)
    await _age(database, ANA, timedelta(hours=25))
    async with running_bot(database_url) as after:
        assert await send_reminders(after.application.bot, after.services) == 1
        assert await send_reminders(after.application.bot, after.services) == 0
        [reminder] = after.api.chat(ANA)
        assert "Soup kitchen" in reminder["text"]
        assert [data for _label, data in buttons(reminder)] == [REMINDERS_OFF]


async def test_two_replicas_send_a_reminder_once(database: Database, database_url: str) -> None:
    async with running_bot(database_url) as first:
        await finish(first, ANA, complete=False)
        await _age(database, ANA, timedelta(hours=25))
        async with running_bot(database_url, api=first.api) as second:
            sent = await asyncio.gather(
                send_reminders(first.application.bot, first.services),
                send_reminders(second.application.bot, second.services),
            )
    assert sorted(sent) == [0, 1]


async def test_no_more_reminders_means_none(bot: Harness, database: Database) -> None:
    await finish(bot, ANA, complete=False)
    await _age(database, ANA, timedelta(hours=25))
    assert await send_reminders(bot.application.bot, bot.services) == 1
    reminder = bot.api.chat(ANA)[-1]
    await bot.feed(callback_update(ANA, REMINDERS_OFF, reminder))
    await bot.say(ANA, "/new")
    await _age(database, ANA, timedelta(hours=25))
    assert await send_reminders(bot.application.bot, bot.services) == 0


def test_the_cli_erases_a_respondent_on_request(
    database: Database, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--database-url", database_url]
    assert cli.main(["erase", "--telegram-id", str(ANA), *url]) == 1
    assert "erased 0 respondent" in capsys.readouterr().out
    # Someone who is only a coordinator is erased too: their role is their data.
    assert cli.main(["coordinator", "add", str(ANA), *url]) == 0
    capsys.readouterr()
    assert cli.main(["erase", "--telegram-id", str(ANA), *url]) == 0
    assert f"{ANA} is no longer a coordinator" in capsys.readouterr().out
    with database.sessions() as session:
        assert session.scalar(select(Coordinator)) is None
    assert cli.main(["erase", "--telegram-id", "me", *url]) == 2
    assert cli.main(["purge", *url]) == 0


async def test_the_erase_button_of_someone_else_erases_only_the_presser(
    bot: Harness, database: Database
) -> None:
    await finish(bot, ANA)
    await bot.say(ANA, "/delete")
    [erase] = [data for label, data in buttons(bot.last(ANA)) if "🗑" in label]
    await bot.feed(callback_update(BEN, erase, bot.last(ANA)))
    respondents, _assessments = await ids_of(database, ANA)
    assert respondents
    assert await session_count(database, Coordinator) == 0


async def session_count(database: Database, model: type[Base]) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_privacy_notice_counts_days_right_in_every_language(language: str) -> None:
    for count, day in zip(COUNTS, DAY_FORMS[language], strict=True):
        with use_language(language):
            notice = notice_text(count)
        assert f"{count} {day} " in notice, notice
        assert "%(" not in notice
