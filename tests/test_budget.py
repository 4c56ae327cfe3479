"""Telegram's budget: pacing per bot and per chat, answers first, coalesced edits, safe retries.

The bot runs against the Bot API double keeping Telegram's limits (``Limits``), scaled so that
a second of Telegram's time passes in a fraction of one; nothing here measures time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from functools import partial
from typing import Any

import httpx
from sqlalchemy import select
from telegram.error import NetworkError, RetryAfter

from bench.loopback import ANSWERS, ASSESSMENT
from bot.telegram.budget import TelegramBudget, UnknownOutcomeError, never_sent
from storage.models import Answer
from storage.store import Database
from tests.fake_bot_api import (
    AFTER,
    DROP,
    REFUSED,
    FakeBotAPI,
    FakeRequest,
    Faults,
    Limits,
    buttons,
    callback_update,
    message_update,
)
from tests.telegram_harness import Harness, running_bot

CHAT = 7001
OTHER = 7002
SCALE = 40
"""Telegram's second lasts 1/40 s here: its per-chat pace is 40 calls a real second."""
PACED = {"telegram_rate_limit": 30 * SCALE, "telegram_chat_rate_limit": 1 * SCALE}


def telegram_like() -> FakeBotAPI:
    """The double with Telegram's limits, in the tests' time."""
    return FakeBotAPI(limits=Limits().scaled(SCALE))


def request_of(harness: Harness) -> FakeRequest:
    request = harness.application.bot.request
    assert isinstance(request, FakeRequest)
    return request


async def test_a_chat_is_paced_and_telegram_refuses_nothing(
    database: Database, database_url: str
) -> None:
    api = telegram_like()
    async with running_bot(database_url, api, **PACED) as harness:
        bot = harness.application.bot
        await asyncio.gather(*(bot.send_message(CHAT, f"line {n}") for n in range(15)))
    assert api.refused == 0
    assert [message["text"] for message in api.chat(CHAT)] == [f"line {n}" for n in range(15)]


async def test_without_pacing_telegram_refuses_a_burst(
    database: Database, database_url: str
) -> None:
    # The check above can fail: the same burst unpaced meets Telegram's flood control.
    api = FakeBotAPI(limits=Limits())
    async with running_bot(database_url, api, telegram_retries=0) as harness:
        bot = harness.application.bot
        sent = await asyncio.gather(
            *(bot.send_message(CHAT, f"line {n}") for n in range(15)), return_exceptions=True
        )
    assert api.refused > 0
    assert any(isinstance(result, RetryAfter) for result in sent)


async def test_a_429_is_honoured_and_the_call_made_again() -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    budget = TelegramBudget(rate=30, chat_rate=1, sleep=sleep)
    await budget.initialize()
    attempts: list[str] = []

    async def call() -> dict[str, Any]:
        attempts.append("sendMessage")
        if len(attempts) == 1:
            raise RetryAfter(3)
        return {"message_id": 1}

    result = await budget.process_request(call, (), {}, "sendMessage", {"chat_id": CHAT}, None)
    assert result == {"message_id": 1}
    assert len(attempts) == 2
    assert budget.refused == 1
    assert len(pauses) == 1
    assert 2 < pauses[0] <= 3


async def test_a_press_is_answered_while_its_chat_has_a_backlog(
    database: Database, database_url: str
) -> None:
    api = FakeBotAPI(limits=Limits())  # Telegram's own pace: a backlog waits for seconds
    async with running_bot(
        database_url, api, telegram_rate_limit=30, telegram_chat_rate_limit=1
    ) as harness:
        bot = harness.application.bot
        backlog = [asyncio.ensure_future(bot.send_message(CHAT, f"part {n}")) for n in range(10)]
        await api.wait_for(lambda: len(api.chat(CHAT)) >= 3)  # the burst went out
        press = callback_update(CHAT, "x", {"message_id": 1, "chat": {"id": CHAT}, "date": 0})
        api.delivered(press)
        assert await bot.answer_callback_query(press["callback_query"]["id"])
        await bot.send_message(OTHER, "your next question")  # another chat is not held up
        waiting = sum(1 for part in backlog if not part.done())
        for part in backlog:
            part.cancel()
        await asyncio.gather(*backlog, return_exceptions=True)
    assert waiting > 0  # the backlog was still waiting when both went through
    assert api.last(OTHER)["text"] == "your next question"
    assert api.expired_answers == 0
    assert api.unanswered() == 0
    assert api.refused == 0


async def test_only_the_newest_waiting_edit_of_a_message_is_sent(
    database: Database, database_url: str
) -> None:
    # A slow chat (a call every 2 s after its burst), so the edits surely wait together.
    api = FakeBotAPI(limits=Limits(chat_rate=0.5))
    async with running_bot(
        database_url, api, telegram_rate_limit=30, telegram_chat_rate_limit=0.5
    ) as harness:
        bot = harness.application.bot
        first = await bot.send_message(CHAT, "question 1")
        await asyncio.gather(bot.send_message(CHAT, "note"), bot.send_message(CHAT, "note 2"))
        # The chat's burst is spent: these edits wait, and each newer one replaces the last.
        results = await asyncio.gather(
            *(bot.edit_message_text(f"question {n}", CHAT, first.message_id) for n in range(2, 6))
        )
        budget = harness.application.bot.rate_limiter
        assert isinstance(budget, TelegramBudget)
        superseded = budget.superseded
    edits = api.calls_to("editMessageText")
    assert [call.params["text"] for call in edits] == ["question 5"]
    assert results[:3] == [True, True, True]  # the older edits return as done, no error
    assert superseded == 3
    assert api.chat(CHAT)[0]["text"] == "question 5"


async def test_a_send_whose_outcome_is_unknown_is_not_sent_again(
    database: Database, database_url: str
) -> None:
    for fate, arrived in ((DROP, 0), (AFTER, 1)):
        api = FakeBotAPI()
        async with running_bot(database_url, api) as harness:
            fates = iter([fate])
            request_of(harness).fault = lambda method, fates=fates: (
                next(fates, None) if method == "sendMessage" else None
            )
            user = CHAT + arrived
            await harness.say(user, "/start")
            assert len(api.calls_to("sendMessage")) == 1  # reached Telegram once, not again
            assert len(api.chat(user)) == arrived
            assert harness.errors == []  # no apology for a step that was applied
            # The practitioner's next action shows where they are, once.
            await harness.say(user, "/resume")
            assert len(api.chat(user)) == arrived + 1
            assert "I agree" in buttons(api.last(user))[0][0]
            assert api.duplicates == 0
            assert api.repeated_after_applied == {}


async def test_a_call_that_never_reached_telegram_is_made_again(bot: Harness) -> None:
    fates = iter([REFUSED, REFUSED])
    request_of(bot).fault = lambda method: next(fates, None) if method == "sendMessage" else None
    await bot.say(CHAT, "/start")
    assert len(bot.api.chat(CHAT)) == 1
    assert len(bot.api.calls_to("sendMessage")) == 1  # the two refused never arrived


async def test_a_lost_edit_is_made_again_and_not_modified_means_done(bot: Harness) -> None:
    await bot.say(CHAT, "/start")
    fates = iter([AFTER])
    request_of(bot).fault = lambda method: (
        next(fates, None) if method == "editMessageText" else None
    )
    await bot.press(CHAT, "I agree")
    edits = bot.api.calls_to("editMessageText")
    assert len(edits) == 2  # the repeat found the edit applied ("not modified"): done
    assert "name of the practice" in bot.text(CHAT)
    assert len(bot.api.chat(CHAT)) == 1
    assert bot.api.repeated_after_applied == {"editMessageText": 1}


async def test_a_certificate_failure_is_not_retried() -> None:
    budget = TelegramBudget(rate=0, retries=5)
    await budget.initialize()
    attempts = 0

    async def call() -> bool:
        nonlocal attempts
        attempts += 1
        failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
        cause = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]")
        cause.__cause__ = failure
        raise NetworkError("httpx.ConnectError") from cause

    with contextlib.suppress(NetworkError):
        await budget.process_request(call, (), {}, "getMe", {}, None)
    assert attempts == 1


def test_what_counts_as_never_sent() -> None:
    refused = httpx.ConnectError("refused")
    wrapped = NetworkError("httpx.ConnectError")
    wrapped.__cause__ = refused
    assert never_sent(wrapped)
    assert not never_sent(NetworkError("Bad Gateway"))
    lost = NetworkError("httpx.RemoteProtocolError")
    lost.__cause__ = httpx.RemoteProtocolError("Server disconnected")
    assert not never_sent(lost)
    assert issubclass(UnknownOutcomeError, NetworkError)


async def test_a_faulty_bot_api_shows_no_message_twice(
    database: Database, database_url: str
) -> None:
    # A fault's 429 asks for a whole second of real time: queries keep Telegram's own 10 s.
    api = FakeBotAPI(limits=Limits(bot_rate=30 * SCALE, chat_rate=SCALE))
    faults = Faults(rate=0.03, seed=5, kinds=("429", "500", "502", "refused",
                    "dropped_before", "dropped_after"))  # fmt: skip
    async with running_bot(database_url, api, **PACED) as harness:
        request_of(harness).fault = faults
        for kind, what, marker in ASSESSMENT:
            for _attempt in range(10):
                if kind == "say":
                    await harness.say(CHAT, what)
                else:
                    await harness.feed(_press_update(api, what))
                if _shows(api, marker):
                    break
                await harness.say(CHAT, "/resume")  # nothing came: the person asks again
                if _shows(api, marker):
                    break
            assert _shows(api, marker), (what, marker)
        errors = harness.errors
    with database.sessions() as session:
        recorded = {answer.criterion: answer.value for answer in session.scalars(select(Answer))}
    assert recorded == ANSWERS
    assert sum(faults.counts.values()) > 0
    assert api.duplicates == 0
    assert set(api.repeated_after_applied) <= {"editMessageText"}
    answered = [call.params["callback_query_id"] for call in api.calls_to("answerCallbackQuery")]
    assert api.expired_answers == 0, answered
    # An edit that failed as often as retries allow is logged for the operators, no apology.
    assert all(isinstance(error, NetworkError) for error in errors)


def _shows(api: FakeBotAPI, marker: str) -> bool:
    if not api.chat(CHAT):
        return False
    message = api.chat(CHAT)[-1] if "text" in api.chat(CHAT)[-1] else api.last(CHAT)
    return marker in message.get("text", "") or any(
        marker in label for label, _ in buttons(message)
    )


def _press_update(api: FakeBotAPI, label: str) -> dict[str, Any]:
    for message in reversed(api.chat(CHAT)):
        for text, data in buttons(message):
            if label in text:
                return callback_update(CHAT, data, message)
    return message_update(CHAT, "/resume")


async def test_a_press_is_answered_before_its_view_is_edited(bot: Harness) -> None:
    await bot.say(CHAT, "/start")
    await bot.press(CHAT, "I agree")
    await bot.press(CHAT, "I agree", message=bot.api.chat(CHAT)[0] | {"reply_markup": {
        "inline_keyboard": [[{"text": "✅ I agree", "callback_data": "stale"}]]}})  # fmt: skip
    replies = [
        call.method
        for call in bot.api.calls
        if call.method in ("answerCallbackQuery", "editMessageText")
    ]
    assert replies == ["answerCallbackQuery", "editMessageText"] * 2
    assert len(bot.api.calls_to("answerCallbackQuery")) == bot.presses  # each once


async def test_chats_get_the_bots_budget_in_the_order_they_asked() -> None:
    budget = TelegramBudget(rate=200, chat_rate=1000)
    await budget.initialize()
    rng = random.Random(1)
    asked: list[int] = []
    made: list[int] = []

    async def call(chat: int) -> bool:
        made.append(chat)
        return True

    async def ask(chat: int, delay: float) -> None:
        # Chats ask at random moments, while earlier ones still wait for the bucket.
        await asyncio.sleep(delay)
        asked.append(chat)
        request = partial(call, chat)
        await budget.process_request(request, (), {}, "sendMessage", {"chat_id": chat}, None)

    await asyncio.gather(*(ask(chat, rng.uniform(0, 1)) for chat in range(400)))
    assert len(made) == 400
    assert made == asked
