"""Two bot processes' Applications on one database behave like one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from storage.models import AnswerLog, ProcessedUpdate
from storage.store import Database
from tests.fake_bot_api import FakeBotAPI, buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot

USERS = 12


@pytest.fixture
async def replicas(
    database: Database, database_url: str
) -> AsyncIterator[tuple[Harness, Harness]]:
    api = FakeBotAPI()  # one Telegram, seen by both replicas
    async with running_bot(database_url, api) as first, running_bot(database_url, api) as second:
        yield first, second
        assert first.errors == second.errors == []
        assert api.violations == []


def _tap(bot: Harness, user_id: int, action: str) -> dict[str, object]:
    message = bot.api.last(user_id)
    data = next(data for _, data in buttons(message) if data.split(":", 3)[-1] == action)
    return callback_update(user_id, data, message)


async def _assessment(first: Harness, second: Harness, user_id: int) -> None:
    """One user's whole assessment, its updates handed alternately to the two replicas."""
    steps: list[str] = [
        *("y", "text", "c:LV", "s", "ok", "ok"),
        *(f"a:C{n:02d}:{n % 4}" for n in range(1, 11)),
    ]
    await first.feed(message_update(user_id, "/start"))
    for index, step in enumerate([*steps, "ok"]):
        replica = second if index % 2 == 0 else first
        if step == "text":
            await replica.feed(message_update(user_id, "Soup kitchen"))
        else:
            await replica.feed(_tap(replica, user_id, step))


async def test_interleaved_replicas_lose_and_duplicate_nothing(
    replicas: tuple[Harness, Harness], database: Database
) -> None:
    first, second = replicas
    users = range(7000, 7000 + USERS)
    await asyncio.gather(*(_assessment(first, second, user) for user in users))
    for user in users:
        assert "Summary: Soup kitchen" in first.summary(user)["text"]
    with database.sessions() as session:
        rows = session.execute(
            select(AnswerLog.criterion, func.count()).group_by(AnswerLog.criterion)
        )
        assert {criterion: count for criterion, count in rows} == {
            f"C{n:02d}": USERS for n in range(1, 11)
        }


async def test_one_update_delivered_to_both_replicas_is_applied_once(
    replicas: tuple[Harness, Harness], database: Database
) -> None:
    first, second = replicas
    await first.feed(message_update(7100, "/start"))
    await first.feed(_tap(first, 7100, "y"))
    await second.feed(message_update(7100, "Soup kitchen"))
    await first.feed(_tap(first, 7100, "c:LV"))
    for step in ("s", "ok", "ok"):
        await first.feed(_tap(first, 7100, step))
    update = _tap(first, 7100, "a:C01:3")
    await asyncio.gather(first.feed(update), second.feed(update))
    # Whichever replica answered last shows the step after the answer, not the one before.
    assert any(data.endswith(":a:C02:2") for _, data in buttons(first.api.last(7100)))
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnswerLog)) == 1
        claimed = session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == update["update_id"])
        )
    assert claimed == 1


async def test_racing_updates_of_one_chat_on_two_replicas_keep_revisions_in_order(
    replicas: tuple[Harness, Harness], database: Database
) -> None:
    first, second = replicas
    users = range(7200, 7200 + USERS)

    async def race(user: int) -> None:
        await first.feed(message_update(user, "/start"))
        await first.feed(_tap(first, user, "y"))
        await first.feed(message_update(user, "Soup kitchen"))
        for step in ("c:LV", "s", "ok", "ok", "a:C01:1"):
            await first.feed(_tap(first, user, step))
        await first.feed(message_update(user, "/back"))
        # A comment on one replica and a new answer on the other, at the same moment.
        await asyncio.gather(
            first.feed(message_update(user, "Funded by the city")),
            second.feed(_tap(second, user, "a:C01:3")),
        )

    await asyncio.gather(*(race(user) for user in users))
    with database.sessions() as session:
        rows = (
            session.execute(
                select(AnswerLog.assessment_id, AnswerLog.revision).order_by(AnswerLog.id)
            )
        ).all()
    by_assessment: dict[int, list[int]] = {}
    for assessment_id, revision in rows:
        by_assessment.setdefault(assessment_id, []).append(revision)
    assert len(by_assessment) == USERS
    for revisions in by_assessment.values():
        # Nothing lost or doubled: each change is the next revision of criterion 1.
        assert revisions == list(range(1, len(revisions) + 1))
        assert 2 <= len(revisions) <= 3
