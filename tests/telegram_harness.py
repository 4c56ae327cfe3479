"""The real python-telegram-bot Application of SI Check, fed Update JSON, offline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr
from telegram import Update
from telegram.ext import CallbackContext

from bot.settings import Settings
from bot.telegram.application import SICheckApplication, build_application
from bot.telegram.context import SERVICES, Services
from tests.fake_bot_api import FakeBotAPI, FakeRequest, buttons, callback_update, message_update


class Harness:
    """Drive the bot as Telegram users would, and see what they would see."""

    def __init__(self, application: SICheckApplication, api: FakeBotAPI) -> None:
        self.application = application
        self.api = api
        self.errors: list[BaseException] = []
        self.presses = 0
        """How many callback queries were fed: each must be answered exactly once."""

    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data[SERVICES]
        return services

    async def feed(self, data: dict[str, Any]) -> None:
        """Process one update given as Telegram's JSON, and the follow-ups it started."""
        if "callback_query" in data:
            self.presses += 1
        self.api.delivered(data)
        await self.application.process_update(Update.de_json(data, self.application.bot))
        await self.services.settle()

    async def say(self, user_id: int, text: str, *, language: str | None = "en") -> None:
        """The user sends a text message (or a command)."""
        await self.feed(message_update(user_id, text, language=language))

    async def press(
        self,
        user_id: int,
        label: str,
        *,
        language: str | None = "en",
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The user taps the button whose label contains ``label`` on their latest message."""
        target = message or self.last(user_id)
        matching = [data for text, data in buttons(target) if label in text]
        assert matching, (label, [text for text, _ in buttons(target)])
        update = callback_update(user_id, matching[0], target, language=language)
        await self.feed(update)
        return update

    async def tap(self, user_id: int, action: str, *, language: str | None = "en") -> None:
        """The user taps the button sending ``action`` (an event token), whatever its label."""
        target = self.last(user_id)
        matching = [data for _, data in buttons(target) if data.split(":", 3)[-1] == action]
        assert matching, (action, [data for _, data in buttons(target)])
        await self.feed(callback_update(user_id, matching[0], target, language=language))

    def last(self, chat_id: int) -> dict[str, Any]:
        """The bot's latest message in the chat."""
        return self.api.last(chat_id)

    def text(self, chat_id: int) -> str:
        """The text of the bot's latest message in the chat."""
        return str(self.last(chat_id)["text"])

    def summary(self, chat_id: int) -> dict[str, Any]:
        """The bot's latest message in the chat offering a PDF report: a summary (the
        chart and its "What next?" follow a finished one)."""
        return next(
            message
            for message in reversed(self.api.chat(chat_id))
            if any(data.endswith(":pdf") for _label, data in buttons(message))
        )


def offline_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for an offline bot: no rate limit, quick retries."""
    values: dict[str, Any] = {
        "telegram_bot_token": SecretStr("123:abc"),
        "database_url": database_url,
        "telegram_rate_limit": 0,
        "telegram_retries": 2,
        "telegram_retry_backoff": 0,
        "sicheck_pseudonym_key": SecretStr("offline test pseudonym key"),
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_bot(
    database_url: str, api: FakeBotAPI | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """An initialised Application on ``database_url``, shut down afterwards."""
    api = api or FakeBotAPI()
    settings = offline_settings(database_url, **overrides)
    application = build_application(
        settings, request=FakeRequest(api), updates_request=FakeRequest(api)
    )
    harness = Harness(application, api)

    async def collect(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        assert context.error is not None
        harness.errors.append(context.error)

    application.add_error_handler(collect)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    await application.start()
    try:
        yield harness
    finally:
        await application.stop()
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)
