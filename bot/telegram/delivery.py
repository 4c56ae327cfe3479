"""Getting updates to the handlers: a long-polling loop and a webhook server.

Both acknowledge an update only once it has been applied and committed: its step committed
and its first reply begun (``replies.applied``), or its handler finished. The polling loop
moves the ``getUpdates`` offset past an update only once it and every earlier one are
applied, and the webhook answers Telegram's POST only then. A crash in between makes Telegram
deliver the update again, and the recorded update id makes the repeat harmless.

Each chat's updates are handled in order, one at a time; different chats never wait for each
other: polling keeps fetching while some chats are still busy (a view waiting for Telegram's
budget, a chart being drawn), skipping the updates it already holds.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import time
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.error import RetryAfter, TelegramError

from bot.runtime import StartupError
from bot.settings import Settings
from bot.telegram.budget import retry_after_seconds
from bot.telegram.context import FOLLOW_UP, SERVICES, Services
from bot.telegram.health import routes
from bot.telegram.metrics import Metrics, update_kind
from bot.telegram.replies import APPLIED, WEBHOOK_REPLY, WebhookReply

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
POLL_BACKOFF_MAX = 30.0
BUSY_POLL_PAUSE = 0.25
"""While an update is being applied, ``getUpdates`` returns it and every later one again (each
parsed anew): fetch once more when every update taken is applied, or after this long."""
POLL_GAP = 0.15
"""Seconds between a fetch that brought updates and the next: at a workshop's pace a call then
brings several updates instead of one, for a delay no practitioner notices."""


def _chat_key(update: Update) -> Hashable:
    chat = update.effective_chat
    return chat.id if chat is not None else ("update", update.update_id)


def _metrics(application: Any) -> Metrics:
    services = application.bot_data.get(SERVICES)
    return services.metrics if isinstance(services, Services) else Metrics()


async def processed(application: Any, update: Update) -> None:
    """Process one update, counting it and its time for ``/metrics``."""
    started = time.perf_counter()
    await application.process_update(update)
    _metrics(application).observe(update_kind(update), time.perf_counter() - started)


class Chats:
    """The updates being handled, each chat's in order, and which of them are applied."""

    def __init__(self, application: Any) -> None:
        self.application = application
        self.unapplied: set[int] = set()
        self.newest: int | None = None
        self.drained = asyncio.Event()
        """Set when every update taken is applied."""
        self._queues: dict[Hashable, list[Update]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    def offset(self) -> int | None:
        """The ``getUpdates`` offset confirming every update applied so far, and no other."""
        if self.unapplied:
            return min(self.unapplied)
        return None if self.newest is None else self.newest + 1

    def take(self, updates: Sequence[Update]) -> None:
        """Start handling the updates not taken before."""
        floor = self.offset() or 0
        for update in updates:
            update_id = update.update_id
            if update_id < floor or update_id in self.unapplied:
                continue
            if self.newest is not None and update_id <= self.newest:
                continue  # applied already; only an earlier one holds the offset back
            self.newest = update_id
            self.unapplied.add(update_id)
            key = _chat_key(update)
            queue = self._queues.get(key)
            if queue is not None:
                queue.append(update)
                continue
            self._queues[key] = [update]
            worker = asyncio.create_task(self._work(key))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    def _applied(self, update_id: int) -> None:
        self.unapplied.discard(update_id)
        if not self.unapplied:
            self.drained.set()

    async def _work(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                update = queue[0]
                token = APPLIED.set(partial(self._applied, update.update_id))
                try:
                    await processed(self.application, update)
                finally:
                    APPLIED.reset(token)
                    self._applied(update.update_id)
                    queue.pop(0)
        finally:
            del self._queues[key]

    async def finished(self) -> None:
        """Wait until every update taken has been handled."""
        while self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)


async def poll(application: Any, stop: asyncio.Event, *, wait_seconds: int) -> None:
    """Long-poll ``getUpdates`` until ``stop`` is set, confirming each update once applied."""
    chats = Chats(application)
    failures = 0
    stopping = asyncio.ensure_future(stop.wait())
    while not stop.is_set():
        chats.drained.clear()
        fetch = asyncio.ensure_future(
            application.bot.get_updates(
                offset=chats.offset(),
                timeout=0 if chats.unapplied else wait_seconds,
                allowed_updates=Update.ALL_TYPES,
            )
        )
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not fetch.done():
            fetch.cancel()
            break
        try:
            updates: tuple[Update, ...] = fetch.result()
        except TelegramError as error:
            # getUpdates bypasses the rate limiter: a 429 lands here, and so do a 409 (another
            # process polling, or a webhook set) and network failures. None of them ends polling.
            failures += 1
            delay = min(POLL_BACKOFF_MAX, 0.5 * 2**failures)
            if isinstance(error, RetryAfter):
                delay = max(delay, retry_after_seconds(error))
            log.warning("getUpdates failed (%s); again in %.1f s", error, delay)
            await asyncio.wait({stopping}, timeout=delay)
            continue
        failures = 0
        _metrics(application).heartbeat = time.monotonic()
        chats.take(updates)
        if updates:
            await asyncio.wait({stopping}, timeout=POLL_GAP)
        if chats.unapplied:
            with suppress(TimeoutError):
                await asyncio.wait_for(chats.drained.wait(), BUSY_POLL_PAUSE - POLL_GAP)
    stopping.cancel()
    await chats.finished()
    offset = chats.offset()
    if offset is not None:
        # Confirm what was applied, so a restart does not fetch it again (it would be harmless).
        # Any refusal is possible here: a 409 once the next process of a restart polls.
        try:
            await application.bot.get_updates(offset=offset, timeout=0)
        except TelegramError as error:
            log.info("could not confirm the last updates (%s); they will be skipped", error)


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave SIGINT and SIGTERM to ``sicheck run``, which stops the bot gracefully."""
        yield


def webhook_app(application: Any, settings: Settings) -> Starlette:
    """The ASGI app: the webhook endpoint (secret checked) and ``/healthz``."""
    assert settings.webhook_url is not None
    assert settings.webhook_secret_token is not None
    path = urlsplit(settings.webhook_url).path or "/"
    secret = settings.webhook_secret_token.get_secret_value().encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret):
            return Response(status_code=403)
        # Undecodable JSON is a ValueError; JSON that is no update object fails in de_json.
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (AttributeError, TypeError, KeyError, ValueError):
            return Response(status_code=400)
        reply = WebhookReply()
        services: Services = application.bot_data[SERVICES]
        applied = asyncio.Event()

        async def handle() -> None:
            WEBHOOK_REPLY.set(reply)
            APPLIED.set(applied.set)
            try:
                async with services.chat_locks.hold(("webhook", _chat_key(update))):
                    await processed(application, update)
            finally:
                reply.open = False  # what the handler does later goes as calls

        # The response goes once the update is applied; its view may still wait for budget.
        # Named as a follow-up, so that stopping and ``Services.settle`` wait for it.
        handling = asyncio.create_task(handle(), name=f"{FOLLOW_UP}-{update.update_id}")
        waiting = asyncio.ensure_future(applied.wait())
        await asyncio.wait({handling, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        reply.open = False
        failed = handling.exception() if handling.done() else None
        if failed is not None:
            raise failed  # answered with a 500: Telegram delivers the update again
        if reply.call is not None:
            return JSONResponse(reply.call)
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            *routes(application, settings, polling=False),
        ]
    )


def listening_socket(settings: Settings) -> socket.socket:
    """The socket the web server takes, bound at once: a port in use stops the start."""
    try:
        listening = socket.create_server((settings.listen_host, settings.listen_port))
    except OSError as error:
        raise StartupError(
            f"cannot listen on {settings.listen_host}:{settings.listen_port}: {error.strerror}"
        ) from None
    # uvicorn writes a response's head and body separately; with Nagle's algorithm on, the
    # body waited for the client's delayed acknowledgement of the head (up to 40 ms a
    # response). Connections accepted from this socket inherit the option.
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listening


async def serve(
    application: Any, settings: Settings, stop: asyncio.Event, listening: socket.socket
) -> None:
    """Serve ``/healthz`` and ``/metrics``, and the webhook registered with Telegram if
    ``WEBHOOK_URL`` is set, on ``listening`` until ``stop`` is set."""
    webhook = settings.webhook_url
    app = (
        webhook_app(application, settings)
        if webhook
        else Starlette(routes=routes(application, settings, polling=True))
    )
    # No log_config: its records go to the handler `sicheck run` set (JSON lines or text).
    server = _Server(uvicorn.Config(app, log_level="warning", log_config=None, lifespan="off"))
    # Listening before Telegram learns the URL: its first POST waits in the backlog.
    serving = asyncio.ensure_future(server.serve(sockets=[listening]))
    if webhook and settings.webhook_secret_token:
        try:
            await application.bot.set_webhook(
                webhook,
                secret_token=settings.webhook_secret_token.get_secret_value(),
                allowed_updates=Update.ALL_TYPES,
            )
        except TelegramError as error:
            # Telegram checks the URL (HTTPS, port) and the secret's characters itself.
            server.should_exit = True
            await serving
            raise StartupError(f"Telegram refused WEBHOOK_URL {webhook}: {error}") from None
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True  # finish requests in flight; Telegram redelivers the rest
    stopping.cancel()
    await serving
    # A response goes once its update is applied: the handlers of those answered may still
    # be sending their views, which must go out before the bot closes its connections.
    services = application.bot_data.get(SERVICES)
    if isinstance(services, Services):
        await services.settle()
