"""What every handler needs, carried by a typed ``CallbackContext``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import CallbackContext, ExtBot

from bot.locks import KeyedLocks
from bot.settings import Settings
from bot.telegram.metrics import Metrics
from dialogs.content import Content
from dialogs.i18n import N_, negotiate
from storage.dialogue import Claim, Who, claim_update, find_respondent
from storage.store import Database

log = logging.getLogger(__name__)
SERVICES = "services"
PLATFORM = "telegram"
T = TypeVar("T")
FOLLOW_UP = "sicheck-follow-up"
"""The name prefix of follow-up tasks (``follow_up``), by which ``Services.settle`` finds them."""
COMMITTED: ContextVar[int | None] = ContextVar("committed_update", default=None)
"""The id of the update whose work the current task (or the task that started it) committed:
a later failure must not say that it was lost."""
FAILED = N_("Something went wrong and your last action was not saved. Please try again.")


@dataclass
class Services:
    """Configuration and connections shared by the handlers; no dialogue state lives here."""

    settings: Settings
    content: Content
    database: Database
    chat_locks: KeyedLocks = field(default_factory=KeyedLocks)
    drawing: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="draw")
    )
    """Charts and PDFs, one at a time: memory stays flat when many finish at once."""
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def pseudonym_secret(self) -> str:
        """``SICHECK_PSEUDONYM_KEY``, checked against the database at start."""
        key = self.settings.sicheck_pseudonym_key
        return key.get_secret_value() if key else ""

    async def draw(self, work: Callable[[], T]) -> T:
        """Run ``work`` (a chart or a PDF) in the drawing pool."""
        return await asyncio.get_running_loop().run_in_executor(self.drawing, work)

    async def settle(self) -> None:
        """Wait until every follow-up started so far, and those it started, has finished."""
        while pending := [
            task
            for task in asyncio.all_tasks()
            if task.get_name().startswith(FOLLOW_UP) and task is not asyncio.current_task()
        ]:
            await asyncio.gather(*pending, return_exceptions=True)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The handlers' context: ``services`` (content, store, settings)."""

    @property
    def services(self) -> Services:
        """The services installed at start-up by ``post_init``."""
        services: Services = self.application.bot_data[SERVICES]
        return services


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def client_language(update: Update, context: BotContext) -> str:
    """The supported language closest to the sender's Telegram client, for first contact."""
    user = update.effective_user
    return negotiate(
        user.language_code if user else None, context.services.settings.default_locale
    )


def who_sent(update: Update, context: BotContext) -> Who:
    """The respondent behind an update, with the language their Telegram client uses."""
    user = update.effective_user
    assert user is not None
    return Who(PLATFORM, str(user.id), client_language(update, context))


def chat_of(update: Update) -> int:
    """The id of the chat an update came from."""
    chat = update.effective_chat
    assert chat is not None
    return chat.id


@dataclass(frozen=True)
class Once(Generic[T]):
    """What ``once`` found: ``read``'s result (``fresh`` unless the update was handled before)
    and the language the sender chose in SI Check, else their client's, as it was before."""

    fresh: bool
    language: str
    result: T | None = None


async def once(
    update: Update, context: BotContext, read: Callable[[Connection, Who], T]
) -> Once[T]:
    """Run ``read`` for the sender unless this update was handled before."""
    who = who_sent(update, context)
    claim = Claim(context.bot.id, update.update_id)

    def work(connection: Connection) -> Once[T]:
        found = find_respondent(connection, who)
        language = (found.language if found else None) or client_language(update, context)
        if not claim_update(connection, claim):
            return Once(False, language)
        return Once(True, language, read(connection, who))

    result = await context.services.database.store.run(work)
    COMMITTED.set(update.update_id)
    return result


def follow_up(update: Update, context: BotContext, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` after this update's handler, as a task the Application awaits on stop; its
    errors go to the error handlers, with the update they followed."""

    async def guarded() -> None:
        try:
            await work
        except TelegramError as error:
            # The update itself was applied: a chart or notice that could not be delivered
            # (a coordinator who never started the bot) is no failure of the user's action.
            log.info("a follow-up of update %s was not delivered: %s", update.update_id, error)

    context.application.create_task(
        guarded(), update=update, name=f"{FOLLOW_UP}-{update.update_id}"
    )
