"""python-telegram-bot's request layer: JSON calls on pooled HTTP/1.1 streams, uploads by aiohttp.

httpx, python-telegram-bot's default, looks at every queued request and every pooled
connection each time one request is sent (and, without sniffio installed, tries to import it
each time), so with a few hundred practitioners tapping at once the bot spent most of its CPU
choosing connections: the loopback benchmark went from 52 to 214 updates/s on the switch to
aiohttp. aiohttp's client in turn cost 200 to 290 µs of CPU a call; ``StreamRequest`` sends
the JSON calls itself on keep-alive connections for less than half of that.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from functools import lru_cache
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

KEYBOARD = "reply_markup"
EDITS = ("/editMessageText", "/editMessageReplyMarkup")
EDIT_DONE = b'{"ok":true,"result":true}'
"""How Telegram answers an edit of an inline message, and how the bot takes every edit."""
CONNECT_SECONDS = 5.0
READ_SECONDS = 5.0
WRITE_SECONDS = 5.0
MEDIA_WRITE_SECONDS = 20.0
POOL_SECONDS = 10.0
"""How long a request may wait for a free connection when all of them are busy."""
WATCH_SECONDS = 0.5
"""How often calls are checked against their deadlines (``StreamRequest``)."""


def without_keyboards(update: Any) -> Any:
    """``update`` (Bot API JSON) without the keyboard of the message a pressed button is on.

    Telegram repeats a message's whole inline keyboard in every callback query, and
    python-telegram-bot turns each button into a frozen object: a tenth of the bot's CPU under
    load, for keyboards the bot never reads, as its buttons carry all they mean in their data.
    """
    if isinstance(update, dict):
        query = update.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("message"), dict):
            query["message"].pop(KEYBOARD, None)
    return update


def _chosen(value: Any, default: float) -> float | None:
    """``value``, or ``default`` where the caller left python-telegram-bot's placeholder."""
    return default if value is BaseRequest.DEFAULT_NONE else value


class _Stream(NamedTuple):
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class _Origin(NamedTuple):
    host: str
    port: int
    tls: bool
    authority: str
    """The host (and port, if not the scheme's own) as the ``Host`` header gives it."""


@lru_cache(maxsize=256)
def _split(url: str) -> tuple[_Origin, str]:
    """The server of ``url`` and the request target to ask it for."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an HTTP URL: {parts.scheme}://{parts.hostname}")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    authority = parts.netloc.rpartition("@")[2]
    return _Origin(parts.hostname, parts.port or (443 if tls else 80), tls, authority), target


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the connection may carry another call."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, code, *_ = status_line.split(" ", 2)
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    reusable = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, reusable = await reader.read(), False
    return int(code), body, reusable


class StreamRequest(BaseRequest):
    """Bot API calls as JSON over keep-alive HTTP/1.1 connections of its own.

    aiohttp's client spent 200 to 290 µs of CPU on each call (timeouts, tracing, cookie jar,
    header objects), seven times what writing the request and reading the answer on an asyncio
    stream costs, and every press makes two calls: here a call is one write and one read on a
    pooled connection, 95 to 115 µs with the JSON encoding. Uploads (charts, reports, exports)
    go through aiohttp's forms.
    """

    def __init__(self, connections: int = 64) -> None:
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        """For uploads only."""
        self._slots = asyncio.Semaphore(connections)
        self._idle: dict[_Origin, list[_Stream]] = {}
        self._tls: ssl.SSLContext | None = None
        self._deadlines: dict[_Stream, float] = {}
        """Calls in flight, by the loop time they must be answered by."""
        self._expired: set[_Stream] = set()
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def read_timeout(self) -> float | None:
        """Seconds a call waits for Telegram's answer; ``getUpdates`` adds its long poll."""
        return READ_SECONDS

    async def initialize(self) -> None:
        """Open aiohttp's session, and start the watch over calls that take too long."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name="bot-api-deadlines")

    async def shutdown(self) -> None:
        """Close the pooled connections and aiohttp's session."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        idle, self._idle = self._idle, {}
        for streams in idle.values():
            for stream in streams:
                stream.writer.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """Telegram's answer, keyboards the bot never reads left out (``without_keyboards``)."""
        answer = BaseRequest.parse_json_payload(payload)
        result = answer.get("result")
        if isinstance(result, list):
            for update in result:
                without_keyboards(update)
        elif isinstance(result, dict) and "message_id" in result:
            # The message just sent or edited, whose keyboard the bot has just built itself.
            result.pop(KEYBOARD, None)
        return answer

    async def _watch(self) -> None:
        """Cut the connection of every call past its deadline; the call then times out.

        A timer per call (``asyncio.timeout``) cost a quarter of a call's CPU; calls last
        seconds at most, so a sweep twice a second is precise enough.
        """
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            now = loop.time()
            for stream, deadline in list(self._deadlines.items()):
                if deadline < now:
                    self._expired.add(stream)
                    stream.writer.transport.abort()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one call; network failures become python-telegram-bot's ``NetworkError``."""
        if request_data is not None and request_data.multipart_data:
            return await self._upload(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        origin, target = _split(url)
        body = json.dumps(request_data.parameters).encode() if request_data is not None else b""
        request = (
            f"{method} {target} HTTP/1.1\r\nHost: {origin.authority}\r\n"
            f"User-Agent: {self.USER_AGENT}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        exchange = (_chosen(read_timeout, READ_SECONDS) or 0) + (
            _chosen(write_timeout, WRITE_SECONDS) or 0
        )
        if self._slots.locked():
            try:
                async with asyncio.timeout(_chosen(pool_timeout, POOL_SECONDS)):
                    await self._slots.acquire()
            except TimeoutError as error:
                raise TimedOut("no connection to the Bot API free in time") from error
        else:
            await self._slots.acquire()
        stream: _Stream | None = None
        try:
            stream = self._reused(origin) or await self._opened(
                origin, _chosen(connect_timeout, CONNECT_SECONDS)
            )
            if exchange:
                self._deadlines[stream] = asyncio.get_running_loop().time() + exchange
            try:
                stream.writer.write(request)
                await stream.writer.drain()
                status, answer, reusable = await _response(stream.reader)
            except BaseException:
                stream.writer.close()
                raise
            if reusable:
                self._idle.setdefault(origin, []).append(stream)
            else:
                stream.writer.close()
        except TimeoutError as error:
            raise TimedOut(f"{method} to the Bot API timed out") from error
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            if stream in self._expired:
                raise TimedOut(f"{method} to the Bot API timed out") from e
            raise NetworkError(f"{type(e).__name__} talking to the Bot API: {e}") from e
        finally:
            self._slots.release()
            if stream is not None:
                self._deadlines.pop(stream, None)
                self._expired.discard(stream)
        if status == HTTPStatus.OK and url.endswith(EDITS):
            # Telegram echoes the whole edited message, which python-telegram-bot would turn
            # into a Message of a hundred frozen attributes (a twentieth of the bot's CPU under
            # load) that no caller reads: the bot edits only to show a view. Every caller of an
            # edit already handles True, Telegram's answer for edits of inline messages.
            return status, EDIT_DONE
        return status, answer

    async def _upload(
        self,
        url: str,
        method: str,
        request_data: RequestData,
        read_timeout: Any,
        write_timeout: Any,
        connect_timeout: Any,
        pool_timeout: Any,
    ) -> tuple[int, bytes]:
        """Send a call with files as a multipart form through aiohttp."""
        if self._session is None or self._session.closed:
            raise RuntimeError("StreamRequest is not initialized")
        write = _chosen(write_timeout, MEDIA_WRITE_SECONDS)
        read = _chosen(read_timeout, READ_SECONDS)
        waiting = (_chosen(pool_timeout, POOL_SECONDS) or 0) + (
            _chosen(connect_timeout, CONNECT_SECONDS) or 0
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=waiting or None,
            sock_connect=_chosen(connect_timeout, CONNECT_SECONDS),
            # aiohttp has no separate write timeout: a slow upload counts against reading.
            sock_read=(read or 0) + (write or 0) or None,
        )
        form = aiohttp.FormData()
        for name, value in request_data.json_parameters.items():
            form.add_field(name, value)
        for name, (filename, content, mime) in request_data.multipart_data.items():
            upload = content if isinstance(content, bytes) else content.read()
            form.add_field(name, upload, filename=filename, content_type=mime)
        try:
            async with self._session.request(method, url, data=form, timeout=timeout) as answer:
                return answer.status, await answer.read()
        except TimeoutError as error:
            raise TimedOut(f"{method} to the Bot API timed out") from error
        except (aiohttp.ClientError, OSError) as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _reused(self, origin: _Origin) -> _Stream | None:
        """An idle connection to ``origin`` the server has not closed meanwhile."""
        idle = self._idle.get(origin)
        while idle:
            stream = idle.pop()
            if not stream.reader.at_eof() and not stream.writer.is_closing():
                return stream
            stream.writer.close()
        return None

    async def _opened(self, origin: _Origin, connect_seconds: float | None) -> _Stream:
        if origin.tls and self._tls is None:
            self._tls = ssl.create_default_context()
        async with asyncio.timeout(connect_seconds):
            reader, writer = await asyncio.open_connection(
                origin.host,
                origin.port,
                ssl=self._tls if origin.tls else None,
                server_hostname=origin.host if origin.tls else None,
            )
        return _Stream(reader, writer)
