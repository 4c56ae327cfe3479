"""python-telegram-bot's request layer: Bot API calls on pooled HTTP/1.1 streams of its own.

httpx, python-telegram-bot's default, looks at every queued request and every pooled
connection each time one request is sent (and, without sniffio installed, tries to import it
each time), so with a few hundred practitioners tapping at once the bot spent most of its CPU
choosing connections: the loopback benchmark went from 52 to 214 updates/s on the switch to
aiohttp. aiohttp's client in turn cost 200 to 290 µs of CPU a call; ``StreamRequest`` sends
the calls itself on keep-alive connections for less than half of that.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
from functools import lru_cache
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import urlsplit

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


def form(request_data: RequestData) -> tuple[str, bytes]:
    """A call with files as ``multipart/form-data`` (RFC 7578): its content type and body."""
    boundary = secrets.token_hex(16)
    parts = [
        _part(boundary, name, None, None, value.encode())
        for name, value in request_data.json_parameters.items()
    ]
    for name, (filename, content, mime) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else content.read()
        parts.append(_part(boundary, name, filename, mime, data))
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def _part(boundary: str, name: str, filename: str | None, mime: str | None, data: bytes) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if mime is not None:
        head += f"Content-Type: {mime}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def _quoted(text: str) -> str:
    """``text`` inside a quoted header parameter, escaped as browsers and httpx escape it."""
    return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class StreamRequest(BaseRequest):
    """Bot API calls over keep-alive HTTP/1.1 connections of its own.

    aiohttp's client spent 200 to 290 µs of CPU on each call (timeouts, tracing, cookie jar,
    header objects), seven times what writing the request and reading the answer on an asyncio
    stream costs, and every press makes two calls: here a call is one write and one read on a
    pooled connection, 95 to 115 µs with the JSON encoding. Uploads (charts, reports, exports)
    go the same way as multipart forms (``form``).
    """

    def __init__(self, connections: int = 64) -> None:
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
        """Start the watch over calls that take too long."""
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name="bot-api-deadlines")

    async def shutdown(self) -> None:
        """Close the pooled connections."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        idle, self._idle = self._idle, {}
        for streams in idle.values():
            for stream in streams:
                stream.writer.close()

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
        origin, target = _split(url)
        content_type, body, writing = "application/json", b"", WRITE_SECONDS
        if request_data is not None and request_data.multipart_data:
            (content_type, body), writing = form(request_data), MEDIA_WRITE_SECONDS
        elif request_data is not None:
            body = json.dumps(request_data.parameters).encode()
        request = (
            f"{method} {target} HTTP/1.1\r\nHost: {origin.authority}\r\n"
            f"User-Agent: {self.USER_AGENT}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        exchange = (_chosen(read_timeout, READ_SECONDS) or 0) + (
            _chosen(write_timeout, writing) or 0
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
