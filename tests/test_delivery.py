"""The polling loop: what Telegram answers to ``getUpdates`` never ends it."""

from __future__ import annotations

import asyncio

from bot.runtime import Database
from bot.telegram.delivery import poll
from tests.fake_bot_api import BotAPIError, FakeBotAPI, buttons, message_update
from tests.telegram_harness import running_bot

USER = 5150


async def test_polling_outlasts_flood_control_and_a_conflict(
    database: Database, database_url: str
) -> None:
    api = FakeBotAPI()
    refusals = iter(
        [
            BotAPIError(429, "Too Many Requests: retry after 1", retry_after=1),
            BotAPIError(409, "Conflict: terminated by other getUpdates request"),
        ]
    )
    api.failure = lambda method: next(refusals, None) if method == "getUpdates" else None
    update = message_update(USER, "/start")
    api.queue(update)
    async with running_bot(database_url, api) as harness:
        stop = asyncio.Event()
        polling = asyncio.ensure_future(poll(harness.application, stop, wait_seconds=0))
        await api.wait_for(lambda: api.confirmed_offset > update["update_id"], 30)
        stop.set()
        await asyncio.wait_for(polling, 30)
        assert harness.errors == []
    assert next(refusals, None) is None  # both refusals were met
    assert next(label for label, _ in buttons(api.last(USER))).endswith("I agree")
    assert len(api.calls_to("sendMessage")) == 1
