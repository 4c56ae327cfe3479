"""python-telegram-bot's request layer over aiohttp.

httpx, python-telegram-bot's default, looks at every queued request and every pooled
connection each time one request is sent (and, without sniffio installed, tries to import it
each time), so with a few hundred practitioners tapping at once the bot spent most of its CPU
choosing connections: the loopback benchmark went from 52 to 214 updates/s on this switch.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

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


class AiohttpRequest(BaseRequest):
    """Bot API calls over one aiohttp session with a bounded keep-alive connection pool."""

    def __init__(self, connections: int = 64) -> None:
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """Seconds a call waits for Telegram's answer; ``getUpdates`` adds its long poll."""
        return READ_SECONDS

    async def initialize(self) -> None:
        """Open the session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
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
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data is not None else {}
        write = _chosen(write_timeout, MEDIA_WRITE_SECONDS if files else WRITE_SECONDS)
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
        data: Any = None
        headers: dict[str, str] = {}
        if files:
            assert request_data is not None
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                upload = content if isinstance(content, bytes) else content.read()
                form.add_field(name, upload, filename=filename, content_type=mime)
            data = form
        elif request_data is not None:
            # One JSON document costs far less to build than a form with JSON-encoded fields
            # that are then percent-encoded (an inline keyboard is most of a message).
            data = json.dumps(request_data.parameters).encode()
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as answer:
                body = await answer.read()
        except TimeoutError as error:
            raise TimedOut(f"{method} to the Bot API timed out") from error
        except (aiohttp.ClientError, OSError) as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        if answer.status == HTTPStatus.OK and url.endswith(EDITS):
            # Telegram echoes the whole edited message, which python-telegram-bot would turn
            # into a Message of a hundred frozen attributes (a twentieth of the bot's CPU under
            # load) that no caller reads: the bot edits only to show a view. Every caller of an
            # edit already handles True, Telegram's answer for edits of inline messages.
            return answer.status, EDIT_DONE
        return answer.status, body
