"""``run_bot`` meeting a start-up problem of its own serving: one ``StartupError``, at start."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from bot.runtime import StartupError
from bot.telegram.run import run_bot
from storage.store import Database
from tests.fake_bot_api import BotAPIError, FakeBotAPI, LoopbackTelegram
from tests.telegram_harness import offline_settings

TIMEOUT = 30


@pytest.fixture
async def api_server() -> AsyncIterator[tuple[FakeBotAPI, str]]:
    api = FakeBotAPI()
    server = LoopbackTelegram(api)
    await server.start()
    yield api, server.url
    await server.stop()


async def test_a_port_in_use_stops_a_polling_bot_at_start(
    api_server: tuple[FakeBotAPI, str], database: Database, database_url: str
) -> None:
    api, url = api_server
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        settings = offline_settings(
            database_url, telegram_api_url=url, listen_port=port, polling_timeout=1
        )
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}"):
            await asyncio.wait_for(run_bot(settings), TIMEOUT)
    assert api.calls_to("getUpdates") == []  # it never took an update it could not serve


async def test_a_webhook_telegram_refuses_is_one_startup_error(
    api_server: tuple[FakeBotAPI, str], database: Database, database_url: str
) -> None:
    api, url = api_server
    refusal = BotAPIError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
    api.failure = lambda method: refusal if method == "setWebhook" else None
    with socket.create_server(("127.0.0.1", 0)) as free:
        port = free.getsockname()[1]
    settings = offline_settings(
        database_url,
        telegram_api_url=url,
        listen_port=port,
        webhook_url="http://sicheck.example.org/telegram",
        webhook_secret_token="a long random secret",
    )
    refused = r"^Telegram refused WEBHOOK_URL http://sicheck\.example\.org/telegram: .*https url"
    with pytest.raises(StartupError, match=refused):
        await asyncio.wait_for(run_bot(settings), TIMEOUT)
