"""Delivery as an operator meets it: a rolling restart, a misdirected webhook request."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr

from bot.telegram.delivery import SECRET_HEADER, poll, webhook_app
from storage.store import Database
from tests.fake_bot_api import BotAPIError, FakeBotAPI, message_update
from tests.telegram_harness import Harness, running_bot

USER = 7150


async def test_stopping_while_another_process_polls_ends_cleanly(
    database: Database, database_url: str
) -> None:
    # A rolling restart: the new process polls before the old one's last getUpdates, which
    # Telegram answers with 409 Conflict.
    api = FakeBotAPI()
    update = message_update(USER, "/start")
    api.queue(update)
    async with running_bot(database_url, api) as harness:
        stop = asyncio.Event()
        polling = asyncio.ensure_future(poll(harness.application, stop, wait_seconds=0))
        await api.wait_for(lambda: api.confirmed_offset > update["update_id"], 30)
        conflict = BotAPIError(409, "Conflict: terminated by other getUpdates request")
        api.failure = lambda method: conflict if method == "getUpdates" else None
        polls = len(api.calls_to("getUpdates"))
        await api.wait_for(lambda: len(api.calls_to("getUpdates")) > polls, 30)
        stop.set()
        await asyncio.wait_for(polling, 30)
        assert harness.errors == []


@pytest.mark.parametrize("body", [b"null", b"[1, 2]", b"42", b'{"update_id": 5, "message": 3}'])
async def test_a_webhook_body_that_is_no_update_is_refused(bot: Harness, body: bytes) -> None:
    settings = bot.services.settings.model_copy(
        update={"webhook_url": "https://sicheck.test/hook", "webhook_secret_token": SecretStr("s")}
    )
    transport = httpx.ASGITransport(
        app=webhook_app(bot.application, settings), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="https://sicheck.test") as client:
        response = await client.post("/hook", content=body, headers={SECRET_HEADER: "s"})
    assert response.status_code == 400
    assert bot.errors == []
