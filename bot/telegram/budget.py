"""Telegram's message budget, kept by python-telegram-bot's ``BaseRateLimiter`` extension point.

- ``answerCallbackQuery`` never waits for budget.
- Message calls (sends, uploads, edits) wait their turn in their chat (``chat_rate`` a second
  after a burst of ``CHAT_BURST``), then in the bot's budget (``rate`` a second), first come
  first served: a chat with a backlog holds one place at a time in the bot's queue.
- An edit still waiting when a newer edit of the same message arrives is dropped, and returns
  ``True`` as if it had been applied.
- A 429 pauses the chat (or the bot, for a call without a chat) for ``retry_after``, and the
  call is made again.
- A call is repeated only if it cannot have reached Telegram (never connected, or a 429) or if
  repeating it is harmless (edits, settings, reads): a send or callback answer whose outcome is
  unknown fails with ``UnknownOutcomeError``. Certificate failures are never retried.

Hand-written around aiolimiter's buckets: no library schedules per-chat queues into a shared
budget with superseded edits and outcome-aware retries.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

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


Result = bool | dict[str, Any] | list[dict[str, Any]]
Call = Callable[..., Coroutine[Any, Any, Result]]


class UnknownOutcomeError(NetworkError):
    """A call that may or may not have been applied by Telegram, and is not repeated."""


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions that caused it, outermost first."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def certificate_failure(error: BaseException) -> bool:
    """Whether ``error`` comes from a TLS failure (an untrusted certificate, for one)."""
    return any(
        isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen)
        for seen in causes(error)
    )


def never_sent(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) shows the request was never written."""
    return not certificate_failure(error) and any(
        isinstance(seen, NEVER_SENT) for seen in causes(error)
    )


def retry_after_seconds(error: RetryAfter) -> float:
    """The pause Telegram asked for, whichever type this python-telegram-bot reports it in."""
    with warnings.catch_warnings():  # it warns that it will become a timedelta
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


@dataclass
class _Chat:
    """One chat's own pacing, its newest waiting edit of each message, its calls in progress."""

    limiter: AsyncLimiter
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting_edits: dict[Any, asyncio.Future[None]] = field(default_factory=dict)
    paused_until: float = 0.0
    calls: int = 0


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
        self._bot_turn = asyncio.Lock()
        """Chats wait for the bot's bucket in this fair lock, one inside at a time: a chat woken
        by the bucket could otherwise lose its place to a newcomer and queue again at the end."""
        self._chats: dict[Hashable, _Chat] = {}
        self.paused_until = 0.0
        """Until when a 429 of a call without a chat pauses every call."""
        self.superseded = 0
        """Edits dropped for a newer edit of the same message."""
        self.refused = 0
        """429 answers met."""

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
        callback: Call,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Result:
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
        bot_free = self._bot is None or (not self._bot_turn.locked() and self._bot.has_capacity())
        if endpoint not in EDITS or (
            not chat.turn.locked() and chat.limiter.has_capacity() and bot_free
        ):
            await self._both_turns(chat)  # an edit that need not wait cannot be superseded
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
            if self._bot is not None:
                async with self._bot_turn:
                    await self._bot.acquire()

    async def _attempts(
        self,
        callback: Call,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        chat: _Chat | None,
    ) -> Result:
        attempt = 0
        while True:
            if attempt and chat is not None:
                await self._both_turns(chat)  # a retry spends budget like any other call
            paused = max(self.paused_until, chat.paused_until if chat else 0.0) - time.monotonic()
            if paused > 0:
                await self._sleep(paused)
            try:
                result: Result = await callback(*args, **kwargs)
                return result
            except RetryAfter as error:
                # Refused, not applied: wait as asked, then the same call again.
                self.refused += 1
                pause = retry_after_seconds(error)
                (chat or self).paused_until = time.monotonic() + pause
                if attempt >= self.retries:
                    raise
                log.info("%s refused for flood control; again in %.1f s", endpoint, pause)
            except BadRequest as error:
                if attempt > 0 and endpoint in EDITS and NOT_MODIFIED in error.message.lower():
                    return True  # the earlier attempt was applied after all
                raise
            except NetworkError as error:
                if certificate_failure(error):
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
