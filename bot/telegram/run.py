"""``sicheck run``: the Telegram bot, by long polling or as a webhook server.

The Application goes through python-telegram-bot's lifecycle in the order ``run_polling``
uses (initialize, ``post_init``, start, stop, shutdown, ``post_shutdown``); updates are fed by
SI Check's own polling loop or webhook server, which acknowledge an update only after it was
committed. ``stop`` waits for the follow-ups (charts, reports, notices) and the jobs.
"""

from __future__ import annotations

import asyncio
import gc
import signal

from telegram.error import InvalidToken, NetworkError

from bot.runtime import PSEUDONYM_KEY_MIN, StartupError
from bot.settings import Settings
from bot.telegram.application import SICheckApplication, build_application, certificate_problem
from bot.telegram.delivery import listening_socket, poll, serve
from bot.telegram.privacy import schedule_upkeep


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


async def initialize(application: SICheckApplication, settings: Settings) -> None:
    """Reach the Bot API (``getMe``), or raise a ``StartupError`` saying why it failed."""
    api = settings.telegram_api_url
    try:
        await application.initialize()
    except InvalidToken:
        raise StartupError(
            "Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather, "
            "or try SI Check without Telegram with `sicheck console`"
        ) from None
    except NetworkError as error:
        problem = certificate_problem(error)
        if problem is not None:
            raise StartupError(
                f"the Bot API at {api} presented a certificate that is not trusted "
                f"({problem.verify_message}): set SSL_CERT_FILE to a bundle holding its "
                "certificate authority (a TLS-inspecting proxy's, for one)"
            ) from None
        raise StartupError(f"cannot reach the Bot API at {api}: {error}") from None


async def run_bot(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM; return the exit code."""
    _check(settings)
    # Bound before anything starts: with a port in use, polling would go on without /healthz.
    listening = listening_socket(settings)
    try:
        application = build_application(settings)
        await initialize(application, settings)
    except BaseException:
        listening.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = False
    try:
        if application.post_init is not None:
            await application.post_init(application)
        # Everything loaded so far lives as long as the process: kept out of the collector's
        # full passes, which would otherwise walk it all and pause every chat for it.
        gc.freeze()
        assert application.job_queue is not None
        schedule_upkeep(application.job_queue)
        await application.start()
        started = True
        # A repeating job first runs one interval after it is scheduled, whatever its first
        # run says (python-telegram-bot's run_repeating notes it): the upkeep runs now too,
        # or a bot restarted more often than daily would never purge.
        for job in application.job_queue.jobs():
            application.create_task(job.run(application), name=f"upkeep {job.name}")
        serving = asyncio.ensure_future(serve(application, settings, stop, listening))
        if not settings.webhook_url:
            await application.bot.delete_webhook()
            await poll(application, stop, wait_seconds=settings.polling_timeout)
            stop.set()
        await serving
    finally:
        stop.set()
        listening.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if started:
            # Follow-ups still running go out while the bot can still send them.
            await application.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    return 0
