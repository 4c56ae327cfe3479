"""``run_bot`` meeting a start-up problem of its own serving: one ``StartupError``, at start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from datetime import timedelta

import pytest

from bot.runtime import StartupError
from bot.telegram.run import run_bot
from storage.store import Database
from tests.fake_bot_api import BotAPIError, FakeBotAPI
from tests.telegram_harness import offline_settings, running_bot
from tests.test_privacy import LONG_AGO, _age, finish, ids_of

TIMEOUT = 30
ANA = 811
BEN = 812


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


async def test_the_upkeep_runs_at_start_not_one_interval_later(
    api_server: tuple[FakeBotAPI, str], database: Database, database_url: str
) -> None:
    # Restarted more often than daily, a bot that purged only a day after its start would
    # never purge at all.
    async with running_bot(database_url) as bot:
        await finish(bot, ANA, complete=False)
        await finish(bot, BEN, complete=False)
    await _age(database, ANA, timedelta(hours=25))
    await _age(database, BEN, LONG_AGO)
    api, url = api_server
    settings = offline_settings(database_url, telegram_api_url=url, listen_port=0)
    running = asyncio.ensure_future(run_bot(settings))
    reminded = lambda: any("waiting where you left it" in m["text"] for m in api.chat(ANA))  # noqa: E731
    try:
        await api.wait_for(reminded, TIMEOUT / 2)  # the minute job's first run, at once
    finally:
        if not running.done():  # its handler is installed: stopping waits for the purge
            os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(running, TIMEOUT) == 0
    assert await ids_of(database, BEN) == (set(), set())
