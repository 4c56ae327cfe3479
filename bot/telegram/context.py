"""What every handler needs, carried by a typed ``CallbackContext``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.locks import KeyedLocks
from bot.runtime import Database
from bot.settings import Settings
from dialogs.content import Content

SERVICES = "services"


@dataclass
class Services:
    """Configuration and connections shared by the handlers; no dialogue state lives here."""

    settings: Settings
    content: Content
    database: Database
    chat_locks: KeyedLocks = field(default_factory=KeyedLocks)


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The handlers' context: ``context.services`` gives content, database and settings."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def services(self) -> Services:
        """The services installed at start-up by ``post_init``."""
        services: Services = self.application.bot_data[SERVICES]
        return services
