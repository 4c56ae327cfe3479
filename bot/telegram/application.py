"""Building the python-telegram-bot ``Application`` of SI Check and its lifecycle."""

from __future__ import annotations

import asyncio
import logging
import ssl
from functools import partial
from typing import Any

from telegram import BotCommand, BotCommandScopeChat
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest, HTTPXRequest

from bot.documents import warm_up
from bot.runtime import StartupError, load_checked_content, open_database, require_pseudonym_key
from bot.settings import Settings
from bot.telegram import handlers
from bot.telegram.budget import TelegramBudget, causes
from bot.telegram.context import PLATFORM, SERVICES, BotContext, Services
from dialogs.i18n import N_, SUPPORTED_LANGUAGES, _, use_language
from storage.coordination import coordinator_chats

log = logging.getLogger(__name__)
SICheckApplication = Application[Any, BotContext, Any, Any, Any, Any]

COMMANDS = (
    ("start", N_("Continue or begin an assessment")),
    ("new", N_("Begin a fresh assessment")),
    ("resume", N_("Show where you are")),
    ("back", N_("Go back to the previous question")),
    ("history", N_("Your finished assessments and their reports")),
    ("team", N_("Assess the practice with your team")),
    ("language", N_("Change the language")),
    ("privacy", N_("What is recorded, why, and for how long")),
    ("mydata", N_("A copy of everything recorded about you")),
    ("delete", N_("Erase everything recorded about you")),
    ("help", N_("How SI Check works")),
    ("cancel", N_("Cancel this assessment")),
)


COORDINATOR_COMMANDS = (
    ("stats", N_("Aggregate figures; /stats map draws the ecosystem map")),
    ("export", N_("Download the answers or the answer log")),
    ("cohort", N_("Create a cohort and its invitation link, or list them")),
    ("mentees", N_("The summaries your mentees shared with you")),
    ("notify", N_("Be told, or not, when an assessment in your cohorts is completed")),
)
"""Published only in coordinators' own chats, after the practitioners' commands."""


def certificate_problem(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The failed certificate check behind ``error``, if that is what it is."""
    found = (cause for cause in causes(error) if isinstance(cause, ssl.SSLCertVerificationError))
    return next(found, None)


def bot_api_request(settings: Settings, *, connections: int) -> HTTPXRequest:
    """python-telegram-bot's httpx transport, through ``TELEGRAM_PROXY`` if set, else the
    environment's proxies (``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``); the trusted
    certificates come from ``SSL_CERT_FILE``/``SSL_CERT_DIR``."""
    return HTTPXRequest(
        connection_pool_size=connections,
        proxy=settings.telegram_proxy or None,
        # A call waiting for a free connection is bounded by the calls holding them, each
        # bounded by its own connect, write and read timeouts.
        pool_timeout=None,
    )


def _bot_commands(listed: tuple[tuple[str, str], ...], language: str) -> list[BotCommand]:
    with use_language(language):
        return [BotCommand(name, _(description)) for name, description in listed]


async def register_commands(application: SICheckApplication) -> None:
    """Publish the command list in every supported language (``DEFAULT_LOCALE``'s for other
    languages, as the bot speaks to them), and in each coordinator's chat the coordinators'
    commands too, in their language."""
    bot = application.bot
    services: Services = application.bot_data[SERVICES]
    settings = services.settings
    for language in (None, *SUPPORTED_LANGUAGES):
        await bot.set_my_commands(
            _bot_commands(COMMANDS, language or settings.default_locale), language_code=language
        )
    chats = await services.database.store.run(
        lambda c: coordinator_chats(c, PLATFORM, settings.coordinators)
    )
    every = (*COMMANDS, *COORDINATOR_COMMANDS)
    for chat, language in chats:
        commands = _bot_commands(every, language or settings.default_locale)
        try:
            await bot.set_my_commands(commands, scope=BotCommandScopeChat(int(chat)))
        except TelegramError as error:
            # A coordinator who never opened the bot has no chat yet; the role still works.
            log.info("coordinator commands not published in chat %s: %s", chat, error)


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> SICheckApplication:
    """The Application, with handlers registered and start-up and shut-down hooks set."""
    token = settings.telegram_bot_token
    assert token is not None
    api = settings.telegram_api_url.rstrip("/")
    builder = (
        ApplicationBuilder()
        .token(token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .updater(None)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .context_types(ContextTypes(context=BotContext))
        .rate_limiter(
            TelegramBudget(
                rate=settings.telegram_rate_limit,
                chat_rate=settings.telegram_chat_rate_limit,
                retries=settings.telegram_retries,
                backoff=settings.telegram_retry_backoff,
            )
        )
        .post_init(partial(_post_init, settings))
        .post_shutdown(_post_shutdown)
    )
    builder = builder.request(
        request or bot_api_request(settings, connections=settings.telegram_connections)
    ).get_updates_request(
        # One long poll, and the confirmation of the last batch when stopping.
        updates_request or bot_api_request(settings, connections=2)
    )
    application: SICheckApplication = builder.build()
    handlers.register(application)
    return application


async def _post_init(settings: Settings, application: SICheckApplication) -> None:
    """Load the content, open the database and publish the commands."""
    content = load_checked_content(settings.stats_min_group)
    database = await open_database(settings.database_url)
    try:
        key = settings.sicheck_pseudonym_key
        await require_pseudonym_key(database, key.get_secret_value() if key else None)
    except StartupError:
        await database.close()
        raise
    services = Services(settings, content, database)
    application.bot_data[SERVICES] = services
    await asyncio.get_running_loop().run_in_executor(services.drawing, warm_up, content)
    await register_commands(application)


async def _post_shutdown(application: SICheckApplication) -> None:
    """Close the drawing pool and the database connections (``stop`` awaited the follow-ups)."""
    services = application.bot_data.pop(SERVICES, None)
    if isinstance(services, Services):
        services.drawing.shutdown()
        await services.database.close()
