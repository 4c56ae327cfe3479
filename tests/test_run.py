"""``sicheck run`` as a real process against a loopback Bot API server."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from bench.loopback import free_port
from storage.store import Database
from tests.fake_bot_api import (
    FakeBotAPI,
    buttons,
    callback_update,
    message_update,
)
from tests.test_http import PROXY_VARIABLES, ConnectProxy, TLSTelegram

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60
USER = 4242
pytestmark = pytest.mark.slow


async def start_bot(api_url: str, database_url: str, **env: str) -> asyncio.subprocess.Process:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in PROXY_VARIABLES  # the machine's own proxy would hide the test's
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **inherited,
            "TELEGRAM_BOT_TOKEN": "123:abc",
            "SICHECK_PSEUDONYM_KEY": "loopback test pseudonym key",
            "TELEGRAM_API_URL": api_url,
            "DATABASE_URL": database_url,
            "TELEGRAM_RATE_LIMIT": "0",
            "POLLING_TIMEOUT": "5",
            **env,
        },
    )


async def stop_bot(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, errors = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 0, errors.decode()
    return errors.decode()


class Driver:
    """Sends updates the way the chosen mode delivers them, and waits for their replies."""

    def __init__(self, api: FakeBotAPI, post: Any = None) -> None:
        self.api = api
        self.post = post

    async def deliver(self, update: dict[str, Any]) -> None:
        views = self.api.message_calls
        if self.post is not None:
            response = await self.post(update)
            assert response.status_code == 200
            await self.api.webhook_answered(response.content)
        else:
            self.api.queue(update)
            await self.api.wait_for(
                lambda: self.api.confirmed_offset > update["update_id"], TIMEOUT
            )
        # Acknowledged once committed; its view follows within Telegram's budget.
        await self.api.wait_for(lambda: self.api.message_calls > views, TIMEOUT)

    async def say(self, text: str) -> None:
        await self.deliver(message_update(USER, text))

    async def press(self, label: str) -> None:
        message = self.api.last(USER)
        data = next(data for text, data in buttons(message) if label in text)
        await self.deliver(callback_update(USER, data, message))

    async def whole_assessment(self) -> None:
        await self.say("/start")
        await self.press("✅")
        await self.say("Soup kitchen")
        await self.press("Latvia")
        await self.press("Skip")
        await self.press("✅")
        await self.press("✅")
        for number in range(1, 11):
            await self.press(f"{number % 4} ·")
        await self.press("✅")


async def test_a_missing_token_is_one_clear_line(database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        | {"DATABASE_URL": database_url},
    )  # fmt: skip
    _, errors = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert errors.decode().startswith("sicheck: TELEGRAM_BOT_TOKEN is not set")
    assert "sicheck console" in errors.decode()


async def test_a_missing_pseudonym_key_is_one_clear_line(database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "SICHECK_PSEUDONYM_KEY"}
        | {"DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": "123:abc"},
    )  # fmt: skip
    _, errors = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert errors.decode().startswith("sicheck: SICHECK_PSEUDONYM_KEY is not set")
    assert errors.decode().count("\n") == 1


async def test_a_rejected_token_is_one_clear_line(
    api_server: tuple[FakeBotAPI, str], database_url: str
) -> None:
    _, url = api_server
    process = await start_bot(url, database_url, TELEGRAM_BOT_TOKEN="999:wrong")
    _, errors = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert errors.decode().startswith("sicheck: Telegram rejected TELEGRAM_BOT_TOKEN")


async def test_long_polling_completes_the_whole_flow(
    api_server: tuple[FakeBotAPI, str], database: Database, database_url: str
) -> None:
    api, url = api_server
    port = free_port()
    process = await start_bot(url, database_url, LISTEN_PORT=str(port))
    try:
        await api.wait_for(lambda: bool(api.calls_to("getUpdates")), TIMEOUT)
        await Driver(api).whole_assessment()
        # The chart, captioned "What next?", follows the summary when it is drawn.
        assert any("Summary: Soup kitchen" in m.get("text", "") for m in api.chat(USER))
        await api.wait_for(lambda: bool(api.files_in(USER)), TIMEOUT)
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert (health.status_code, health.json()["problems"]) == (200, [])
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert 'sicheck_updates_total{kind="callback_query"} 16' in metrics
        assert 'sicheck_assessments{status="completed"} 1' in metrics
    finally:
        await stop_bot(process)
    assert api.violations == []
    assert api.calls_to("deleteWebhook")


async def test_webhook_mode_completes_the_whole_flow(
    api_server: tuple[FakeBotAPI, str], database: Database, database_url: str
) -> None:
    api, url = api_server
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram"
    process = await start_bot(
        url, database_url, WEBHOOK_URL=hook, WEBHOOK_SECRET_TOKEN="s3cret", LISTEN_PORT=str(port)
    )
    try:
        await api.wait_for(lambda: api.webhook == hook, TIMEOUT)
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            denied = await client.post(hook, json=message_update(USER, "/start"))
            assert denied.status_code == 403
            wrong = await client.post(
                hook,
                json=message_update(USER, "/start"),
                headers={"X-Telegram-Bot-Api-Secret-Token": "guess"},
            )
            assert wrong.status_code == 403
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
            assert health.status_code == 200

            async def post(update: dict[str, Any]) -> httpx.Response:
                return await client.post(
                    hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
                )

            await Driver(api, post).whole_assessment()
        # The chart, captioned "What next?", follows the summary when it is drawn.
        assert any("Summary: Soup kitchen" in m.get("text", "") for m in api.chat(USER))
        await api.wait_for(lambda: bool(api.files_in(USER)), TIMEOUT)
        [chart] = api.files_in(USER)
        assert chart.method == "sendPhoto"
    finally:
        await stop_bot(process)
    assert api.violations == []


@pytest.fixture
async def behind_tls(tmp_path: Path) -> AsyncIterator[tuple[TLSTelegram, Path]]:
    """The Bot API double behind TLS, and a bundle file with its test authority."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = TLSTelegram(FakeBotAPI(), context)
    await server.start()
    bundle = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    try:
        yield server, bundle
    finally:
        await server.stop()


async def test_a_whole_assessment_through_an_https_proxy(
    behind_tls: tuple[TLSTelegram, Path], database: Database, database_url: str
) -> None:
    telegram, bundle = behind_tls
    api = telegram.api
    proxy = ConnectProxy()
    await proxy.start()
    process = await start_bot(
        telegram.url,
        database_url,
        HTTPS_PROXY=proxy.url,
        SSL_CERT_FILE=str(bundle),
        LISTEN_PORT=str(free_port()),
    )
    try:
        await api.wait_for(lambda: bool(api.calls_to("getUpdates")), TIMEOUT)
        await Driver(api).whole_assessment()
        # The chart, captioned "What next?", follows the summary when it is drawn.
        assert any("Summary: Soup kitchen" in m.get("text", "") for m in api.chat(USER))
        await api.wait_for(lambda: bool(api.files_in(USER)), TIMEOUT)
    finally:
        await stop_bot(process)
        await proxy.stop()
    assert api.violations == []
    address = telegram.url.removeprefix("https://")
    # Every call went through the proxy, on a few kept-alive tunnels (calls and long polls).
    assert proxy.tunnels
    assert set(proxy.tunnels) == {address}
    assert len(proxy.tunnels) <= telegram.connections
    assert len(proxy.tunnels) < len(api.calls) / 4


async def test_an_untrusted_bot_api_certificate_stops_the_start_with_one_line(
    behind_tls: tuple[TLSTelegram, Path], database_url: str, tmp_path: Path
) -> None:
    telegram, _bundle = behind_tls
    stranger = tmp_path / "another-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    process = await start_bot(telegram.url, database_url, SSL_CERT_FILE=str(stranger))
    _, errors = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert errors.decode().startswith("sicheck: the Bot API at https://127.0.0.1:")
    assert "certificate that is not trusted" in errors.decode()
    assert errors.decode().count("\n") == 1
    assert telegram.connections == 1
