"""The Bot API transport: python-telegram-bot's ``HTTPXRequest``, proxies and TLS trust.

Every server here is on loopback: the Bot API double behind TLS with a certificate authority
made for the test, and an HTTP CONNECT proxy that counts the tunnels it opens.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path

import pytest
import trustme
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.runtime import StartupError
from bot.telegram.application import bot_api_request, build_application
from bot.telegram.run import initialize
from tests.fake_bot_api import FakeBotAPI, LoopbackTelegram, buttons, callback_update
from tests.telegram_harness import offline_settings

USER = 6060
KEYBOARD = [("Yes", "v1:a1:3:yes"), ("No", "v1:a1:3:no")]
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


class TLSTelegram(LoopbackTelegram):
    """The Bot API double behind TLS on 127.0.0.1, counting the connections it accepts."""

    def __init__(self, api: FakeBotAPI, context: ssl.SSLContext) -> None:
        super().__init__(api)
        self.context = context
        self.connections = 0

    async def start(self) -> None:
        """Listen on a free loopback port; the TLS handshake follows each accept."""
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://127.0.0.1:{port}"

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await writer.start_tls(self.context)
        except (ssl.SSLError, ConnectionError):
            writer.close()  # the client refused the certificate
            return
        await self._connection(reader, writer)


class ConnectProxy:
    """An HTTP proxy on loopback that only tunnels (``CONNECT``), counting its tunnels."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        """Stop listening and close every tunnel."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.close()
        await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            verb, target, _version = head.split(b"\r\n", 1)[0].decode().split(" ")
            if verb != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            self._open.add(upstream_writer)
            self.tunnels.append(target)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            return
        finally:
            writer.close()
            self._open.discard(writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()
        self._open.discard(writer)


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment naming no proxy, whatever the machine's has."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(authority: trustme.CA, tmp_path: Path) -> Path:
    """The test authority's certificate as a bundle file for ``SSL_CERT_FILE``."""
    path = tmp_path / "test-ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch, trusted: Path) -> None:
    """TLS clients in the test trust the test authority, and it alone."""
    monkeypatch.setenv("SSL_CERT_FILE", str(trusted))


@pytest.fixture
async def tls_telegram(authority: trustme.CA) -> AsyncIterator[TLSTelegram]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = TLSTelegram(FakeBotAPI(), context)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    server = ConnectProxy()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class IdleClosingTelegram(LoopbackTelegram):
    """The Bot API double, able to close its idle keep-alive connections as a NAT would."""

    def __init__(self, api: FakeBotAPI) -> None:
        super().__init__(api)
        self.open: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen on a free loopback port, keeping each connection's writer."""
        self._server = await asyncio.start_server(self._kept, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _kept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open.add(writer)
        try:
            await self._connection(reader, writer)
        finally:
            self.open.discard(writer)

    async def close_idle(self) -> int:
        """Close every connection (none is busy between calls); how many were open."""
        closing = list(self.open)
        for writer in closing:
            writer.close()
        for writer in closing:
            with suppress(ConnectionError):
                await writer.wait_closed()
        return len(closing)


@pytest.fixture
async def plain_telegram() -> AsyncIterator[IdleClosingTelegram]:
    server = IdleClosingTelegram(FakeBotAPI())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in KEYBOARD]]
    )


def bot_on(url: str, **settings: object) -> Bot:
    chosen = offline_settings("sqlite+aiosqlite://", telegram_api_url=url, **settings)
    return Bot(
        "123:abc",
        base_url=f"{url}/bot",
        request=bot_api_request(chosen, connections=4),
        get_updates_request=bot_api_request(chosen, connections=2),
    )


@pytest.mark.usefixtures("no_proxy_variables")
async def test_answers_come_back_as_telegram_sent_them(
    plain_telegram: IdleClosingTelegram,
) -> None:
    api = plain_telegram.api
    async with bot_on(plain_telegram.url) as bot:
        sent = await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
        assert sent.reply_markup == markup()
        edited = await bot.edit_message_text(
            "Is the practice new here? (edited)", USER, sent.message_id, reply_markup=markup()
        )
        assert isinstance(edited, Message)
        assert edited.text == "Is the practice new here? (edited)"
        assert edited.reply_markup == markup()
        api.queue(callback_update(USER, KEYBOARD[0][1], api.last(USER)))
        (update,) = await bot.get_updates(timeout=0)
        query = update.callback_query
        assert query is not None
        assert isinstance(query.message, Message)
        assert query.message.reply_markup == markup()
    assert buttons(api.last(USER)) == KEYBOARD
    assert api.violations == []


@pytest.mark.usefixtures("no_proxy_variables")
async def test_a_keep_alive_connection_the_server_closed_is_not_a_failure(
    plain_telegram: IdleClosingTelegram,
) -> None:
    async with bot_on(plain_telegram.url) as bot:
        await bot.send_message(USER, "One")
        assert await plain_telegram.close_idle() == 1
        await bot.send_message(USER, "Two")
    chat = plain_telegram.api.chat(USER)
    assert [message["text"] for message in chat] == ["One", "Two"]
    assert len(plain_telegram.api.calls_to("sendMessage")) == 2  # nothing sent twice


@pytest.mark.usefixtures("no_proxy_variables", "trusting")
async def test_the_bot_api_through_telegram_proxy_tunnels_tls(
    tls_telegram: TLSTelegram, proxy: ConnectProxy
) -> None:
    async with bot_on(tls_telegram.url, telegram_proxy=proxy.url) as bot:
        assert (await bot.get_me()).username == "sicheck_test_bot"
        await bot.send_message(USER, "Through the proxy", reply_markup=markup())
    assert tls_telegram.api.last(USER)["text"] == "Through the proxy"
    address = tls_telegram.url.removeprefix("https://")
    assert proxy.tunnels == [address]  # one kept-alive tunnel for both calls


@pytest.mark.usefixtures("no_proxy_variables", "trusting")
async def test_https_proxy_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, tls_telegram: TLSTelegram, proxy: ConnectProxy
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    async with bot_on(tls_telegram.url) as bot:
        await bot.get_me()
    assert len(proxy.tunnels) == 1


async def test_an_untrusted_certificate_is_one_clear_start_up_error(
    no_proxy_variables: None,
    monkeypatch: pytest.MonkeyPatch,
    tls_telegram: TLSTelegram,
    tmp_path: Path,
) -> None:
    stranger = tmp_path / "another-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger))
    settings = offline_settings(
        "sqlite+aiosqlite://", telegram_api_url=tls_telegram.url, telegram_retries=5
    )
    application = build_application(settings)
    with pytest.raises(StartupError, match="certificate that is not trusted") as raised:
        await initialize(application, settings)
    assert "unable to get local issuer certificate" in str(raised.value)
    assert "SSL_CERT_FILE" in str(raised.value)
    assert tls_telegram.connections == 1  # tried once, not once per retry
    assert tls_telegram.api.calls == []


def test_a_socks5_proxy_is_accepted() -> None:
    settings = offline_settings("sqlite+aiosqlite://", telegram_proxy="socks5://127.0.0.1:1080")
    assert bot_api_request(settings, connections=1).read_timeout == 5.0
