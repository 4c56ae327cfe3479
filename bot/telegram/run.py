"""``sicheck run``: the Telegram bot, by long polling or as a webhook server."""

from __future__ import annotations

import asyncio
import gc
import signal

from telegram.error import InvalidToken, NetworkError

from bot.runtime import PSEUDONYM_KEY_MIN, StartupError
from bot.settings import Settings
from bot.telegram.application import build_application
from bot.telegram.context import SERVICES, Services
from bot.telegram.delivery import poll, serve_health, serve_webhook
from bot.telegram.privacy import keep_schedule


def _check(settings: Settings) -> None:
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise StartupError(
            "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and set it, "
            "or try SI Check without Telegram with `sicheck console`"
        )
    key = settings.sicheck_pseudonym_key
    if key is None or len(key.get_secret_value()) < PSEUDONYM_KEY_MIN:
        raise StartupError(
            "SICHECK_PSEUDONYM_KEY is not set: set a secret of at least 16 characters and keep "
            "it for good (it makes the respondents' pseudonyms in exports)"
        )
    if settings.webhook_url and not settings.webhook_secret_token:
        raise StartupError(
            "WEBHOOK_URL is set but WEBHOOK_SECRET_TOKEN is not: set a long random secret"
        )


async def run_bot(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM; return the exit code."""
    _check(settings)
    application = build_application(settings)
    try:
        await application.initialize()
    except InvalidToken:
        raise StartupError(
            "Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather, "
            "or try SI Check without Telegram with `sicheck console`"
        ) from None
    except NetworkError as error:
        raise StartupError(
            f"cannot reach the Bot API at {settings.telegram_api_url}: {error}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        if application.post_init is not None:
            await application.post_init(application)
        services = application.bot_data[SERVICES]
        # Everything loaded so far lives as long as the process: kept out of the collector's
        # full passes, which would otherwise walk it all and pause every chat for it.
        gc.freeze()

        schedule = asyncio.ensure_future(keep_schedule(application.bot, services, stop))
        try:
            if settings.webhook_url:
                await serve_webhook(application, settings, stop)
            else:
                health = asyncio.ensure_future(serve_health(application, settings, stop))
                await application.bot.delete_webhook()
                await poll(application, stop, wait_seconds=settings.polling_timeout)
                stop.set()
                await health
        finally:
            stop.set()
            await schedule
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        services = application.bot_data.get(SERVICES)
        if isinstance(services, Services):
            # Charts still being drawn go out while the bot can still send them.
            await services.settle()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    return 0
