"""What the practitioner sees once their action is committed: never an apology, never twice.

A redelivered update (the bot killed between the commit and the offset's confirmation) and a
failure after the commit (a callback answer Telegram refuses, a reply that cannot be sent)
are driven through the real Application and the Bot API double.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.telegram.context import FAILED
from storage.models import Answer, AnswerLog, Assessment
from storage.store import Database
from tests.fake_bot_api import BotAPIError, FakeBotAPI, buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot

ANA = 701
EXPIRED = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def apologies(api: FakeBotAPI) -> list[str]:
    """Every apology the bot tried to show, as a message or as a toast."""
    said = [
        str(call.params.get("text", ""))
        for call in api.calls
        if call.method in ("sendMessage", "editMessageText", "answerCallbackQuery")
    ]
    return [text for text in said if "went wrong" in text or FAILED[:40] in text]


def sent(api: FakeBotAPI) -> int:
    """How many messages the bot sent (edits are not new messages)."""
    return len(api.calls_to("sendMessage")) + len(api.calls_to("sendPhoto"))


async def to_first_criterion(bot: Harness) -> None:
    await bot.say(ANA, "/start")
    await bot.press(ANA, "✅")
    await bot.say(ANA, "Soup kitchen")
    await bot.press(ANA, "Latvi")
    await bot.press(ANA, "Skip")
    await bot.press(ANA, "✅")
    await bot.press(ANA, "✅")
    assert "Criterion 1/10" in bot.text(ANA)


def press_update(bot: Harness, label: str) -> dict[str, Any]:
    message = bot.last(ANA)
    data = next(data for text, data in buttons(message) if label in text)
    return callback_update(ANA, data, message)


async def counts(database: Database) -> tuple[int, int]:
    with database.sessions() as session:
        answers = session.scalar(select(func.count()).select_from(Answer))
        logged = session.scalar(select(func.count()).select_from(AnswerLog))
    return int(answers or 0), int(logged or 0)


async def test_an_expired_callback_answer_still_shows_the_next_view(
    bot: Harness, database: Database
) -> None:
    await to_first_criterion(bot)

    def expired(method: str) -> BotAPIError | None:
        return BotAPIError(400, EXPIRED) if method == "answerCallbackQuery" else None

    bot.api.failure = expired
    await bot.press(ANA, "2 ·")
    assert "Criterion 2/10" in bot.text(ANA)
    await bot.press(ANA, "3 ·")
    assert "Criterion 3/10" in bot.text(ANA)
    assert apologies(bot.api) == []
    assert await counts(database) == (2, 2)
    # The ``bot`` fixture checks that no error reached the error handlers.


async def test_a_press_delivered_twice_shows_nothing_new(bot: Harness, database: Database) -> None:
    await to_first_criterion(bot)
    update = press_update(bot, "2 ·")
    await bot.feed(update)
    shown = bot.api.chat(ANA)
    before = sent(bot.api)
    await bot.feed(update)  # as after a kill between the commit and the offset's confirmation
    assert sent(bot.api) == before
    assert bot.api.chat(ANA) == shown
    assert "Criterion 2/10" in bot.text(ANA)
    assert apologies(bot.api) == []
    assert await counts(database) == (1, 1)
    # The repeated press's spinner is still stopped.
    assert len(bot.api.calls_to("answerCallbackQuery")) == bot.presses


async def test_a_typed_answer_delivered_twice_asks_nothing_again(
    bot: Harness, database: Database
) -> None:
    await bot.say(ANA, "/start")
    await bot.press(ANA, "✅")
    name = message_update(ANA, "Soup kitchen")
    await bot.feed(name)
    assert "country" in bot.text(ANA)
    shown = bot.api.chat(ANA)
    before = sent(bot.api)
    await bot.feed(name)
    assert sent(bot.api) == before
    assert bot.api.chat(ANA) == shown
    assert apologies(bot.api) == []
    with database.sessions() as session:
        assert session.scalar(select(Assessment.practice_name)) == "Soup kitchen"


async def test_a_comment_and_a_command_delivered_twice_are_applied_and_shown_once(
    bot: Harness, database: Database
) -> None:
    await to_first_criterion(bot)
    comment = message_update(ANA, "Volunteers cook twice a week")
    await bot.feed(comment)
    helping = message_update(ANA, "/help")
    await bot.feed(helping)
    choosing = message_update(ANA, "/language")
    await bot.feed(choosing)
    before = sent(bot.api)
    await bot.feed(comment)
    await bot.feed(helping)
    await bot.feed(choosing)
    assert sent(bot.api) == before
    assert apologies(bot.api) == []
    question = [
        message
        for message in bot.api.chat(ANA)
        if any(label.startswith("2 ·") for label, _ in buttons(message))
    ][-1]
    await bot.press(ANA, "2 ·", message=question)
    with database.sessions() as session:
        comments = session.scalars(select(Answer.comment).where(Answer.comment.isnot(None)))
        assert list(comments) == ["Volunteers cook twice a week"]


async def test_a_reply_that_fails_after_the_commit_is_no_apology(
    database: Database, database_url: str
) -> None:
    api = FakeBotAPI()
    async with running_bot(database_url, api) as bot:
        await to_first_criterion(bot)

        def replies_fail(method: str) -> BotAPIError | None:
            failing = ("editMessageText", "sendMessage", "answerCallbackQuery")
            return BotAPIError(500, "Internal Server Error") if method in failing else None

        api.failure = replies_fail
        await bot.press(ANA, "2 ·")
        assert len(bot.errors) == 1  # reported to the operators' log, not to the practitioner
        api.failure = None
        assert apologies(api) == []
        assert await counts(database) == (1, 1)
        bot.errors.clear()
        await bot.say(ANA, "/resume")
        assert "Criterion 2/10" in bot.text(ANA)
        assert bot.errors == []


async def test_the_data_rights_commands_delivered_twice_say_nothing_again(bot: Harness) -> None:
    await to_first_criterion(bot)
    commands = [message_update(ANA, command) for command in ("/privacy", "/mydata", "/delete")]
    for command in commands:
        await bot.feed(command)
    assert len(bot.api.calls_to("sendDocument")) == 1
    shown = bot.api.chat(ANA)
    before = sent(bot.api)
    for command in commands:
        await bot.feed(command)
    assert sent(bot.api) == before
    assert bot.api.chat(ANA) == shown
    assert len(bot.api.calls_to("sendDocument")) == 1
    assert not any("no data" in str(call.params.get("text")) for call in bot.api.calls)
    assert apologies(bot.api) == []
