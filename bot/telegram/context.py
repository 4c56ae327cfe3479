"""What every handler needs, carried by a typed ``CallbackContext``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, ExtBot

from bot.locks import KeyedLocks
from bot.settings import Settings
from bot.telegram.metrics import Metrics
from dialogs.content import Content
from dialogs.i18n import negotiate
from storage.dialogue import Claim, Who, claim_update, find_respondent
from storage.store import Database

log = logging.getLogger(__name__)
SERVICES = "services"
PLATFORM = "telegram"
T = TypeVar("T")
DRAWN_AT_ONCE = 1


@dataclass
class Services:
    """Configuration and connections shared by the handlers; no dialogue state lives here."""

    settings: Settings
    content: Content
    database: Database
    chat_locks: KeyedLocks = field(default_factory=KeyedLocks)
    drawing: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(DRAWN_AT_ONCE, thread_name_prefix="draw")
    )
    """Charts and PDFs are CPU-bound: one thread of their own keeps memory flat when many
    practitioners finish at once, and leaves the other core to the answers (a second thread
    cost 10% of the updates/s and 15 MB of peak RSS in the loopback benchmark, for no chart
    sooner)."""
    metrics: Metrics = field(default_factory=Metrics)

    follow_ups: set[asyncio.Task[Any]] = field(default_factory=set)
    """Work that follows a committed update (a chart), awaited before shutting down."""

    @property
    def pseudonym_secret(self) -> str:
        """``SICHECK_PSEUDONYM_KEY``, checked against the database at start."""
        key = self.settings.sicheck_pseudonym_key
        return key.get_secret_value() if key else ""

    async def draw(self, work: Callable[[], bytes]) -> bytes:
        """Run ``work`` (a chart or a PDF) in the drawing pool."""
        return await asyncio.get_running_loop().run_in_executor(self.drawing, work)

    async def settle(self) -> None:
        """Wait until every follow-up has finished."""
        while self.follow_ups:
            await asyncio.gather(*self.follow_ups, return_exceptions=True)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The handlers' context: ``services`` (content, store, settings) and the sender's language."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.client_language: str | None = None
        """The ``language_code`` the sender's Telegram client reports, if any."""

    @classmethod
    def from_update(
        cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]
    ) -> BotContext:
        """Build the context of ``update``, keeping its sender's client language."""
        context = super().from_update(update, application)
        user = update.effective_user if isinstance(update, Update) else None
        context.client_language = user.language_code if user else None
        return context

    @property
    def language(self) -> str:
        """The supported language closest to the sender's client, for first contact."""
        return negotiate(self.client_language, self.services.settings.default_locale)

    @property
    def services(self) -> Services:
        """The services installed at start-up by ``post_init``."""
        services: Services = self.application.bot_data[SERVICES]
        return services


def who_sent(update: Update, context: BotContext) -> Who:
    """The respondent behind an update, with the language their Telegram client uses."""
    user = update.effective_user
    assert user is not None
    return Who(PLATFORM, str(user.id), context.language)


def chat_of(update: Update) -> int:
    """The id of the chat an update came from."""
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def once(
    update: Update, context: BotContext, read: Callable[[Connection, Who], T]
) -> T | None:
    """Run ``read`` for the sender unless this update was handled before (then ``None``)."""
    who = who_sent(update, context)
    claim = Claim(context.bot.id, update.update_id)

    def work(connection: Connection) -> T | None:
        if not claim_update(connection, claim):
            return None
        return read(connection, who)

    return await context.services.database.store.run(work)


async def respondent_language(update: Update, context: BotContext) -> str:
    """The language the sender chose in SI Check, else their client's."""
    who = who_sent(update, context)
    found = await context.services.database.store.run(
        lambda connection: find_respondent(connection, who)
    )
    chosen = found.language if found is not None else None
    return str(chosen or who.language or context.language)


def follow_up(update: Update, context: BotContext, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` after this update's handler, its errors going to the error handlers."""

    async def guarded() -> None:
        try:
            await work
        except TelegramError as error:
            # The update itself was applied: a chart or notice that could not be delivered
            # (a coordinator who never started the bot) is no failure of the user's action.
            log.info("a follow-up of update %s was not delivered: %s", update.update_id, error)
        except Exception as error:  # reported like a handler's error, never lost silently
            await context.application.process_error(update, error)

    task = asyncio.create_task(guarded())
    context.services.follow_ups.add(task)
    task.add_done_callback(context.services.follow_ups.discard)
