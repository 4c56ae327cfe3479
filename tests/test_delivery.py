"""Delivery: what Telegram answers to ``getUpdates`` never ends polling; a webhook's response
answers the press it delivered."""

from __future__ import annotations

import asyncio
import socket

import httpx
from pydantic import SecretStr
from telegram import Update
from telegram.ext import TypeHandler

from bot.telegram.delivery import SECRET_HEADER, listening_socket, poll, webhook_app
from bot.telegram.replies import WebhookReply
from storage.store import Database
from tests.fake_bot_api import (
    BotAPIError,
    FakeBotAPI,
    buttons,
    callback_update,
    message_update,
)
from tests.telegram_harness import Harness, running_bot

USER = 5150
OTHER = 6150


async def test_polling_outlasts_flood_control_and_a_conflict(
    database: Database, database_url: str
) -> None:
    api = FakeBotAPI()
    refusals = iter(
        [
            BotAPIError(429, "Too Many Requests: retry after 1", retry_after=1),
            BotAPIError(409, "Conflict: terminated by other getUpdates request"),
        ]
    )
    api.failure = lambda method: next(refusals, None) if method == "getUpdates" else None
    update = message_update(USER, "/start")
    api.queue(update)
    async with running_bot(database_url, api) as harness:
        stop = asyncio.Event()
        polling = asyncio.ensure_future(poll(harness.application, stop, wait_seconds=0))
        await api.wait_for(lambda: api.confirmed_offset > update["update_id"], 30)
        stop.set()
        await asyncio.wait_for(polling, 30)
        assert harness.errors == []
    assert next(refusals, None) is None  # both refusals were met
    assert next(label for label, _ in buttons(api.last(USER))).endswith("I agree")
    assert len(api.calls_to("sendMessage")) == 1


async def test_a_press_is_answered_in_the_webhooks_own_response(bot: Harness) -> None:
    settings = bot.services.settings.model_copy(
        update={"webhook_url": "https://sicheck.test/hook", "webhook_secret_token": SecretStr("s")}
    )
    transport = httpx.ASGITransport(app=webhook_app(bot.application, settings))
    headers = {SECRET_HEADER: "s"}
    async with httpx.AsyncClient(transport=transport, base_url="https://sicheck.test") as client:
        started = await client.post("/hook", json=message_update(USER, "/start"), headers=headers)
        question = bot.last(USER)
        data = next(data for label, data in buttons(question) if "✅" in label)
        press = callback_update(USER, data, question)
        pressed = await client.post("/hook", json=press, headers=headers)
    # A typed message needs no answer; the press is answered in the response, not by a call.
    assert started.status_code == 200
    assert started.content == b""
    assert pressed.status_code == 200
    assert pressed.json() == {
        "method": "answerCallbackQuery",
        "callback_query_id": press["callback_query"]["id"],
    }
    assert bot.api.calls_to("answerCallbackQuery") == []
    assert bot.last(USER)["text"] != question["text"]  # the press was applied and shown
    await bot.api.webhook_answered(pressed.content)
    assert len(bot.api.calls_to("answerCallbackQuery")) == 1


def test_a_webhook_response_carries_one_call_and_none_once_it_is_sent() -> None:
    reply = WebhookReply()
    assert reply.carry({"method": "answerCallbackQuery", "callback_query_id": "1"})
    assert not reply.carry({"method": "answerCallbackQuery", "callback_query_id": "2"})
    closed = WebhookReply()
    closed.open = False
    assert not closed.carry({"method": "answerCallbackQuery", "callback_query_id": "3"})


async def test_webhook_connections_send_responses_without_waiting(bot: Harness) -> None:
    settings = bot.services.settings.model_copy(
        update={"listen_host": "127.0.0.1", "listen_port": 0}
    )
    listening = listening_socket(settings)
    try:
        client = socket.create_connection(listening.getsockname()[:2])
        accepted, _ = listening.accept()
        # Nagle's algorithm off, or a response's body waits for the ack of its head.
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        accepted.close()
        client.close()
    finally:
        listening.close()


async def test_a_busy_chat_holds_up_neither_polling_nor_other_chats(
    database: Database, database_url: str
) -> None:
    api = FakeBotAPI()
    release = asyncio.Event()
    held: list[int] = []

    async def hold_first_chat(update: Update, context: object) -> None:
        # A chat whose update is still being worked on (not yet applied): a PDF, a long wait.
        if update.effective_chat is not None and update.effective_chat.id == USER:
            held.append(update.update_id)
            await release.wait()

    slow = message_update(USER, "/start")
    api.queue(slow)
    async with running_bot(database_url, api) as harness:
        harness.application.add_handler(TypeHandler(Update, hold_first_chat), group=-1)
        stop = asyncio.Event()
        polling = asyncio.ensure_future(poll(harness.application, stop, wait_seconds=1))
        await api.wait_for(lambda: bool(held))
        # Updates of other chats arrive after the held one, in later getUpdates answers.
        others = [message_update(OTHER + n, "/start") for n in range(3)]
        for update in others:
            api.queue(update)
        await api.wait_for(lambda: all(api.chat(OTHER + n) for n in range(3)))
        # They were handled, but the offset may not pass the held update: it is not applied.
        assert api.confirmed_offset <= slow["update_id"]
        assert api.chat(USER) == []
        later = message_update(USER, "/help")
        api.queue(later)  # the held chat's next update waits for its first, in order
        release.set()
        await api.wait_for(lambda: api.confirmed_offset > later["update_id"])
        stop.set()
        await asyncio.wait_for(polling, 30)
        assert harness.errors == []
    texts = [message["text"] for message in api.chat(USER)]
    assert len(texts) == 2
    assert "SI Check" in texts[1]
    assert len(api.calls_to("sendMessage")) == 5
