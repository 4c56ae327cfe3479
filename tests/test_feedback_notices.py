"""A mentor's feedback reaches the practitioner through an outbox: written unannounced, then
claimed and sent once by the notices job, in the practitioner's language, while it is shared."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot import cli
from bot.telegram.callback_data import FeedbackPress, SharePress, encode
from bot.telegram.mentoring import send_feedback_notices
from dialogs.content import Content
from dialogs.i18n import _, use_language
from storage import mentoring
from storage.dialogue import Who
from storage.models import MentorFeedback
from storage.store import Database
from tests.fake_bot_api import BotAPIError, message_update
from tests.telegram_harness import Harness, running_bot
from tests.test_mentoring import (
    ANA,
    MENTOR,
    _prepared,
    as_delivered,
    cohort,
    finish,
    press_data,
    with_button,
)

ABOUT = "Your mentor left feedback on criterion %(number)s, %(criterion)s, of %(practice)s:"


def told(bot: Harness, user: int = ANA) -> list[str]:
    """The feedback notices ``user`` received, oldest first (they speak Latvian)."""
    with use_language("lv"):
        heading = _(ABOUT, number=3, criterion="", practice="").split(" 3")[0]
    assert heading != ABOUT.split(" %")[0]  # translated
    return [m["text"] for m in bot.api.chat(user) if m.get("text", "").startswith(heading)]


def write(database: Database, content: Content, ids: dict[str, int], text: str) -> None:
    """The mentor's feedback on C03 of Ana's assessment, committed (no one told yet)."""
    assert database.store.run_now(
        lambda c: mentoring.leave_feedback(c, content, ids["mentor"], ids["Ana's"], "C03", text)
    )


def test_feedback_written_with_the_cli_is_announced_by_the_job(
    database: Database, database_url: str, content: Content
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    me, url = ["--as", f"telegram:{MENTOR}"], ["--database-url", database_url]
    assert cli.main(["mentor", "feedback", str(ids["Ana's"]), "3", "Ask <them>", *me, *url]) == 0

    async def job() -> None:
        async with running_bot(database_url) as bot:
            sent = [await send_feedback_notices(bot.application.bot, bot.services)]
            sent.append(await send_feedback_notices(bot.application.bot, bot.services))
            assert sent == [1, 0]
            [notice] = told(bot)
            assert "<i>Ask &lt;them&gt;</i>" in notice
            assert "<b>Ana&#x27;s</b>" in notice  # the practice, escaped
            assert bot.errors == []

    asyncio.run(job())


def test_a_notice_left_by_a_stopped_process_is_sent_by_the_next_run(
    database: Database, database_url: str, content: Content
) -> None:
    """The feedback's unit committed, then the process died before anything was sent: the
    claim is a unit of its own, so the notice waits in the database for the next run."""
    ids = database.store.run_now(lambda c: _prepared(c, content))
    write(database, content, ids, "Written before the crash")
    with database.sessions() as session:
        assert session.scalars(select(MentorFeedback.notified_at)).all() == [None]

    async def restarted() -> None:
        async with running_bot(database_url) as bot:
            assert await send_feedback_notices(bot.application.bot, bot.services) == 1
            assert "Written before the crash" in told(bot)[0]

    asyncio.run(restarted())


def test_revoked_before_the_job_nothing_is_sent_and_sharing_again_announces_it(
    database: Database, database_url: str, content: Content
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    write(database, content, ids, "Hidden now")
    ana = Who("telegram", str(ANA))
    database.store.run_now(lambda c: mentoring.set_shared(c, ana, ids["Ana's"], False))

    async def job() -> list[int]:
        async with running_bot(database_url) as bot:
            sent = [await send_feedback_notices(bot.application.bot, bot.services)]
            assert told(bot) == []
            database.store.run_now(lambda c: mentoring.set_shared(c, ana, ids["Ana's"], True))
            # Shared again, the feedback shows in the summary again: now it is announced.
            sent.append(await send_feedback_notices(bot.application.bot, bot.services))
            assert len(told(bot)) == 1
            return sent

    assert asyncio.run(job()) == [0, 1]


def test_revoked_or_rewritten_after_the_claim_the_claimed_notice_is_not_sent(
    database: Database, content: Content
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    write(database, content, ids, "First")
    [claimed] = database.store.run_now(mentoring.claim_feedback_notices)
    assert claimed.text == "First"
    assert database.store.run_now(lambda c: mentoring.still_to_announce(c, claimed))
    assert database.store.run_now(mentoring.claim_feedback_notices) == []  # claimed once
    write(database, content, ids, "Second")
    assert not database.store.run_now(lambda c: mentoring.still_to_announce(c, claimed))
    [rewritten] = database.store.run_now(mentoring.claim_feedback_notices)
    assert rewritten.text == "Second"
    ana = Who("telegram", str(ANA))
    database.store.run_now(lambda c: mentoring.set_shared(c, ana, ids["Ana's"], False))
    assert not database.store.run_now(lambda c: mentoring.still_to_announce(c, rewritten))


def test_a_rewrite_is_announced_again(
    database: Database, database_url: str, content: Content
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))

    async def job() -> None:
        async with running_bot(database_url) as bot:
            write(database, content, ids, "First thoughts")
            assert await send_feedback_notices(bot.application.bot, bot.services) == 1
            write(database, content, ids, "Second thoughts")
            assert await send_feedback_notices(bot.application.bot, bot.services) == 1
            assert await send_feedback_notices(bot.application.bot, bot.services) == 0
            notices = told(bot)
            assert len(notices) == 2
            assert "First thoughts" in notices[0]
            assert "Second thoughts" in notices[1]

    asyncio.run(job())


def test_a_practitioner_who_blocked_the_bot_is_skipped_once(
    database: Database, database_url: str, content: Content
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    write(database, content, ids, "Unread")

    async def job() -> None:
        async with running_bot(database_url) as bot:
            blocked = BotAPIError(403, "Forbidden: bot was blocked by the user")
            bot.api.failure = lambda method: blocked if method == "sendMessage" else None
            assert await send_feedback_notices(bot.application.bot, bot.services) == 0
            assert await send_feedback_notices(bot.application.bot, bot.services) == 0
            assert len(bot.api.calls_to("sendMessage")) == 1  # tried once, never again
            assert bot.errors == []

    asyncio.run(job())


async def test_two_replicas_claim_a_notice_once(
    database: Database, database_url: str, content: Content
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    write(database, content, ids, "Once only")
    async with running_bot(database_url) as first:
        async with running_bot(database_url, api=first.api) as second:
            sent = await asyncio.gather(
                send_feedback_notices(first.application.bot, first.services),
                send_feedback_notices(second.application.bot, second.services),
            )
        assert sorted(sent) == [0, 1]
        assert len(told(first)) == 1


async def reply_update(prompt: dict[str, Any], text: str) -> dict[str, Any]:
    return message_update(MENTOR, text, extra={"reply_to_message": as_delivered(prompt)})


async def test_telegram_feedback_is_announced_once_even_when_redelivered(
    database_url: str, database: Database
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(MENTOR)) as bot:
        code = await cohort(bot, MENTOR, "Ogre")
        ana = await finish(bot, ANA, code, language="lv")
        await press_data(bot, ANA, encode(SharePress(ana, True)), lang="lv")
        notice = with_button(bot, MENTOR, "mo:")
        await press_data(bot, MENTOR, encode(FeedbackPress(ana, "C03")), notice)
        prompt = bot.last(MENTOR)
        update = await reply_update(prompt, "Told at once")
        await bot.feed(update)
        # The reply's follow-up ran the job: the practitioner heard at once, in Latvian.
        assert len(told(bot)) == 1
        await bot.feed(update)  # Telegram delivers the same update again
        assert await send_feedback_notices(bot.application.bot, bot.services) == 0
        assert len(told(bot)) == 1
        assert "saved" in bot.text(MENTOR)
        assert bot.errors == []
        assert bot.api.violations == []
