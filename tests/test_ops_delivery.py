"""Delivery as an operator meets it: a rolling restart, a misdirected webhook request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.telegram.delivery import SECRET_HEADER, listening_socket, poll, serve, webhook_app
from storage.store import Database
from tests.fake_bot_api import BotAPIError, FakeBotAPI, message_update
from tests.telegram_harness import Harness, offline_settings, running_bot

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


class HeldSends(FakeBotAPI):
    """Telegram taking its time over ``sendMessage`` until ``release`` is set."""

    held = False
    release: asyncio.Event

    async def handle(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        if method == "sendMessage":
            self.held = True
            await self._notify()
            await self.release.wait()
        return await super().handle(method, params, files)


async def test_stopping_a_webhook_server_waits_for_views_it_acknowledged(
    database: Database, database_url: str
) -> None:
    api = HeldSends()
    api.release = asyncio.Event()
    settings = offline_settings(
        database_url,
        listen_port=0,
        webhook_url="https://sicheck.test/hook",
        webhook_secret_token="s3cret",
    )
    async with running_bot(database_url, api) as bot:
        listening = listening_socket(settings)
        port = listening.getsockname()[1]
        stop = asyncio.Event()
        serving = asyncio.ensure_future(serve(bot.application, settings, stop, listening))
        async with httpx.AsyncClient(timeout=30) as client:
            acknowledged = await client.post(
                f"http://127.0.0.1:{port}/hook",
                json=message_update(USER, "/start"),
                headers={SECRET_HEADER: "s3cret"},
            )
        assert acknowledged.status_code == 200  # applied; its view is on its way
        await api.wait_for(lambda: api.held, 30)
        stop.set()
        # Nothing can complete while the view is held: a server that returned now would let
        # the bot close its connections under the view, or before a view waiting for budget.
        done, _ = await asyncio.wait({serving}, timeout=1)
        assert not done, "the server stopped before the view it acknowledged was sent"
        api.release.set()
        await asyncio.wait_for(serving, 30)
        assert api.message_calls == 1
        assert bot.errors == []
