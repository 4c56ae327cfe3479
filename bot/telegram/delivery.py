"""Getting updates to the handlers: a long-polling loop and a webhook server.

Both acknowledge an update only once it has been applied and committed: the polling loop
moves the ``getUpdates`` offset past a batch only after the whole batch was processed, and the
webhook answers Telegram's POST only after processing it. A crash in between makes Telegram
deliver the update again, and the recorded update id makes the repeat harmless.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import time
import warnings
from collections import defaultdict
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import timedelta
from json import JSONDecodeError
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.error import NetworkError, RetryAfter, TelegramError

from bot.runtime import StartupError
from bot.settings import Settings
from bot.telegram.context import SERVICES, Services
from bot.telegram.health import routes
from bot.telegram.metrics import update_kind
from bot.telegram.replies import WEBHOOK_REPLY, WebhookReply

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
POLL_BACKOFF_MAX = 30.0


def _chat_key(update: Update) -> Hashable:
    chat = update.effective_chat
    return chat.id if chat is not None else ("update", update.update_id)


async def processed(application: Any, update: Update) -> None:
    """Process one update, counting it and its time for ``/metrics``."""
    started = time.perf_counter()
    await application.process_update(update)
    services = application.bot_data.get(SERVICES)
    if isinstance(services, Services):
        services.metrics.observe(update_kind(update), time.perf_counter() - started)


async def process_batch(application: Any, updates: Sequence[Update]) -> None:
    """Process a batch: each chat's updates in order, different chats concurrently."""
    by_chat: dict[Hashable, list[Update]] = defaultdict(list)
    for update in updates:
        by_chat[_chat_key(update)].append(update)

    async def in_order(chain: list[Update]) -> None:
        for update in chain:
            await processed(application, update)

    await asyncio.gather(*(in_order(chain) for chain in by_chat.values()))


async def poll(application: Any, stop: asyncio.Event, *, wait_seconds: int) -> None:
    """Long-poll ``getUpdates`` until ``stop`` is set, confirming each batch once applied."""
    offset: int | None = None
    failures = 0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            application.bot.get_updates(
                offset=offset, timeout=wait_seconds, allowed_updates=Update.ALL_TYPES
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
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
                delay = max(delay, _seconds(error))
            log.warning("getUpdates failed (%s); again in %.1f s", error, delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            continue
        failures = 0
        _heartbeat(application)
        if updates:
            await process_batch(application, updates)
            offset = updates[-1].update_id + 1
    if offset is not None:
        # Confirm the last batch, so a restart does not fetch it again (it would be harmless).
        try:
            await application.bot.get_updates(offset=offset, timeout=0)
        except NetworkError:
            log.info("could not confirm the last batch; it will be redelivered and skipped")


def _seconds(error: RetryAfter) -> float:
    """The pause Telegram asked for, whichever type this python-telegram-bot reports it in."""
    with warnings.catch_warnings():  # it warns that it will become a timedelta
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _heartbeat(application: Any) -> None:
    services = application.bot_data.get(SERVICES)
    if isinstance(services, Services):
        services.metrics.heartbeat = time.monotonic()


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
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, ValueError):
            return Response(status_code=400)
        reply = WebhookReply()
        context = WEBHOOK_REPLY.set(reply)
        try:
            async with application.bot_data[SERVICES].chat_locks.hold(
                ("webhook", _chat_key(update))
            ):
                await processed(application, update)
        finally:
            reply.open = False  # what the handler's follow-ups do later goes as calls
            WEBHOOK_REPLY.reset(context)
        if reply.call is not None:
            return JSONResponse(reply.call)
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            *routes(application, settings, polling=False),
        ]
    )


async def serve_webhook(application: Any, settings: Settings, stop: asyncio.Event) -> None:
    """Register the webhook with Telegram and serve it until ``stop`` is set."""
    assert settings.webhook_url is not None
    assert settings.webhook_secret_token is not None
    config = uvicorn.Config(
        webhook_app(application, settings), log_level="warning", lifespan="off"
    )
    server = _Server(config)
    # Listening before Telegram learns the URL: its first POST waits in the backlog.
    listening = _listening(settings)
    serving = asyncio.ensure_future(server.serve(sockets=[listening]))
    await application.bot.set_webhook(
        settings.webhook_url,
        secret_token=settings.webhook_secret_token.get_secret_value(),
        allowed_updates=Update.ALL_TYPES,
    )
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True  # finish requests in flight; Telegram redelivers the rest
    stopping.cancel()
    await serving


def _listening(settings: Settings) -> socket.socket:
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


async def serve_health(application: Any, settings: Settings, stop: asyncio.Event) -> None:
    """In polling mode, serve ``/healthz`` and ``/metrics`` until ``stop`` is set."""
    app = Starlette(routes=routes(application, settings, polling=True))
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.ensure_future(server.serve(sockets=[_listening(settings)]))
    await stop.wait()
    server.should_exit = True
    await serving
