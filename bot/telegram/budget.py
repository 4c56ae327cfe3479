"""Telegram's message budget, kept by python-telegram-bot's ``BaseRateLimiter`` extension point.

What it guarantees for every Bot API call the bot makes:

- ``answerCallbackQuery`` never waits for budget: it goes out at once, never behind a send.
- Message calls (sends, uploads, edits) are paced to ``rate`` a second for the bot and
  ``chat_rate`` a second per chat after a burst of ``CHAT_BURST``. A chat's calls first wait
  their turn in their own chat, and only then queue for the bot's budget, first come first
  served: a chat with a backlog (a summary, a chart, a report) holds at most its burst in that
  queue, so it never delays another chat's next question by more than that.
- An edit still waiting for budget when a newer edit of the same message arrives is dropped:
  only the newer one is sent, and the older call returns ``True`` as if it had been applied.
- A 429 is honoured: the chat (or, for a call without one, the bot) pauses for Telegram's
  ``retry_after`` and the call is made again.
- A call is made again only if it cannot have reached Telegram (the connection was never
  made, or Telegram refused it with a 429) or if repeating it is harmless (edits, settings,
  reads). A send or callback answer whose outcome is unknown (connection lost after it was
  written, a 5xx, a timeout while reading) is not repeated: it fails with ``UnknownOutcomeError``.
  Certificate failures are never retried.

Hand-written around aiolimiter's buckets because no library schedules per-chat queues into a
shared budget with superseded edits and outcome-aware retries.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.settings import Settings

log = logging.getLogger(__name__)

ANSWER = "answerCallbackQuery"
EDITS = frozenset(
    {"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia"}
)
SENDS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendAudio", "sendVideo", "sendAnimation",
     "sendVoice", "sendSticker", "sendMediaGroup", "sendLocation", "sendContact", "sendPoll",
     "sendDice", "sendVenue", "copyMessage", "forwardMessage"}
)  # fmt: skip
MESSAGE_METHODS = EDITS | SENDS
"""The calls Telegram counts against a bot's and a chat's message budget."""
REPEATABLE = EDITS | frozenset(
    {"getMe", "getFile", "getChat", "getWebhookInfo", "setWebhook", "deleteWebhook",
     "setMyCommands", "deleteMyCommands", "getMyCommands", "deleteMessage", "sendChatAction"}
)  # fmt: skip
"""Calls that leave Telegram as they are when made twice, so an unknown outcome may be retried."""
CHAT_BURST = 3
"""Calls a chat may make at once before pacing starts (Telegram allows a few more)."""
BOT_BURST_SECONDS = 0.5
"""The bot's bucket holds this many seconds of its rate: a burst well inside Telegram's."""
NOT_MODIFIED = "message is not modified"
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, ConnectionRefusedError)
"""Failures that happen before a request is written: the call cannot have reached Telegram."""


class UnknownOutcomeError(NetworkError):
    """A call that may or may not have been applied by Telegram, and is not repeated."""


def never_sent(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) shows the request was never written."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return False  # a certificate failure is reported, not retried
        if isinstance(seen, NEVER_SENT):
            return not _certificate_failure(seen)
        seen = seen.__cause__ or seen.__context__
    return False


def _certificate_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after_seconds(error: RetryAfter) -> float:
    """The pause Telegram asked for, whichever type this python-telegram-bot reports it in."""
    with warnings.catch_warnings():  # it warns that it will become a timedelta
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


@dataclass
class _Chat:
    """One chat's own pacing, and its newest waiting edit of each message."""

    limiter: AsyncLimiter
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while one call of the chat waits for budget: its calls go out in order."""
    waiting_edits: dict[Any, asyncio.Future[None]] = field(default_factory=dict)
    paused_until: float = 0.0
    calls: int = 0
    """Calls of this chat in progress; an idle chat is forgotten."""


class TelegramBudget(BaseRateLimiter[None]):
    """Paces message calls per bot and per chat, fairly; answers go at once; safe retries."""

    def __init__(
        self,
        *,
        rate: float = 30,
        chat_rate: float = 1,
        retries: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.chat_rate = chat_rate
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._bot: AsyncLimiter | None = None
        self._chats: dict[Hashable, _Chat] = {}
        self._paused_until = 0.0
        self.superseded = 0
        """Edits dropped because a newer edit of the same message came while they waited."""
        self.refused = 0
        """429 answers met (each honoured)."""

    async def initialize(self) -> None:
        """Create the bot's bucket on the running loop."""
        if self.rate > 0:
            burst = max(1.0, self.rate * BOT_BURST_SECONDS)
            self._bot = AsyncLimiter(burst, burst / self.rate)

    async def shutdown(self) -> None:
        """Forget every chat."""
        self._chats.clear()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Make the call within the budget, retrying only what may safely be retried."""
        if endpoint not in MESSAGE_METHODS or self.rate <= 0:
            return await self._attempts(callback, args, kwargs, endpoint, None)
        key: Hashable = data.get("chat_id")
        chat = self._chats.get(key)
        if chat is None:
            chat = self._chats[key] = _Chat(AsyncLimiter(CHAT_BURST, CHAT_BURST / self.chat_rate))
        chat.calls += 1
        try:
            if not await self._turn(chat, endpoint, data):
                self.superseded += 1
                return True
            return await self._attempts(callback, args, kwargs, endpoint, chat)
        finally:
            chat.calls -= 1
            if (
                chat.calls == 0
                and chat.limiter.has_capacity(CHAT_BURST)
                and chat.paused_until < time.monotonic()
            ):
                self._chats.pop(key, None)

    async def _turn(self, chat: _Chat, endpoint: str, data: dict[str, Any]) -> bool:
        """Wait for the chat's turn, then the bot's; ``False`` if a newer edit took over."""
        if endpoint not in EDITS:
            await self._both_turns(chat)
            return True
        message = data.get("message_id", data.get("inline_message_id"))
        superseded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        older = chat.waiting_edits.get(message)
        if older is not None and not older.done():
            older.set_result(None)
        chat.waiting_edits[message] = superseded
        waiting = asyncio.ensure_future(self._both_turns(chat))
        try:
            await asyncio.wait({waiting, superseded}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if chat.waiting_edits.get(message) is superseded:
                del chat.waiting_edits[message]
            turn = waiting.done()
            if not turn:
                waiting.cancel()  # superseded, or the handler itself was cancelled
        return turn

    async def _both_turns(self, chat: _Chat) -> None:
        async with chat.turn:  # asyncio's lock is fair: the chat's calls keep their order
            await chat.limiter.acquire()
            await self._bot_turn()

    async def _bot_turn(self) -> None:
        if self._bot is not None:
            await self._bot.acquire()

    async def _paused(self, chat: _Chat | None) -> None:
        """Wait out a 429 pause of the chat, or of the whole bot."""
        until = max(self._paused_until, chat.paused_until if chat else 0.0)
        remaining = until - time.monotonic()
        if remaining > 0:
            await self._sleep(remaining)

    async def _attempts(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        chat: _Chat | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            if attempt and chat is not None:
                await self._both_turns(chat)  # a retry spends budget like any other call
            await self._paused(chat)
            try:
                result: bool | dict[str, Any] | list[dict[str, Any]]
                result = await callback(*args, **kwargs)
                return result
            except RetryAfter as error:
                # Refused, not applied: wait as asked, then the same call again.
                self.refused += 1
                pause = retry_after_seconds(error)
                if chat is not None:
                    chat.paused_until = time.monotonic() + pause
                else:
                    self._paused_until = time.monotonic() + pause
                if attempt >= self.retries:
                    raise
                log.info("%s refused for flood control; again in %.1f s", endpoint, pause)
            except BadRequest as error:
                if attempt > 0 and endpoint in EDITS and NOT_MODIFIED in error.message.lower():
                    return True  # the earlier attempt was applied after all
                raise
            except NetworkError as error:
                if _certificate_failure(error):
                    raise
                if not never_sent(error) and endpoint not in REPEATABLE:
                    if endpoint == ANSWER or endpoint in SENDS:
                        raise UnknownOutcomeError(f"{endpoint}: {error.message}") from error
                    raise
                if attempt >= self.retries:
                    raise
                log.info("%s failed (%s); trying again", endpoint, error.message)
                await self._sleep(self.backoff * 2**attempt)
            attempt += 1


def budget_for(settings: Settings) -> TelegramBudget:
    """The budget the settings ask for (``TELEGRAM_RATE_LIMIT`` 0: no pacing)."""
    return TelegramBudget(
        rate=settings.telegram_rate_limit,
        chat_rate=settings.telegram_chat_rate_limit,
        retries=settings.telegram_retries,
        backoff=settings.telegram_retry_backoff,
    )
