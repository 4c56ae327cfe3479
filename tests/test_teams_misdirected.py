"""A mentor's feedback sent as a reply to the shared summary (or its notice) instead of to a
criterion's prompt is not taken as an answer of the mentor's own assessment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.telegram.callback_data import MenteePress, encode
from storage.models import Assessment, MentorFeedback
from storage.store import Database
from tests.telegram_harness import Harness, running_bot
from tests.test_mentoring import (
    ANA,
    MENTOR,
    OTHER_MENTOR,
    cohort,
    finish,
    press_data,
    reply,
    share_with_mentor,
    with_button,
)

FEEDBACK = "Talk to the families first"


@pytest.fixture
async def mentored(database: Database, database_url: str) -> AsyncIterator[Harness]:
    async with running_bot(
        database_url, sicheck_coordinators=f"{MENTOR},{OTHER_MENTOR}"
    ) as harness:
        yield harness
        assert harness.errors == []


async def test_a_reply_to_the_summary_is_no_answer_of_the_mentors_own(
    mentored: Harness, database: Database
) -> None:
    bot = mentored
    code = await cohort(bot, MENTOR, "pilot")
    shared = await finish(bot, ANA, code)
    await share_with_mentor(bot, ANA, shared)
    notice = with_button(bot, MENTOR, "mo:")
    await bot.say(MENTOR, "/start")  # the mentor's own assessment, at its practice's name
    await bot.tap(MENTOR, "y")
    await press_data(bot, MENTOR, encode(MenteePress(shared)))
    summary = bot.last(MENTOR)
    for wrong in (summary, notice):
        await reply(bot, MENTOR, wrong, FEEDBACK)
        assert "reply to the message that asks for it" in bot.text(MENTOR)
    with database.sessions() as session:
        names = session.scalars(select(Assessment.practice_name).order_by(Assessment.id)).all()
        assert FEEDBACK not in names
        assert session.scalars(select(MentorFeedback.text)).all() == []
