"""The Bot API request layer over aiohttp, spoken to a loopback Bot API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest

from bot.telegram.http import AiohttpRequest
from tests.fake_bot_api import FakeBotAPI, LoopbackTelegram, buttons, callback_update

USER = 6060
KEYBOARD = [("Yes", "v1:a1:3:yes"), ("No", "v1:a1:3:no")]


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[FakeBotAPI, Bot]]:
    api = FakeBotAPI()
    server = LoopbackTelegram(api)
    await server.start()
    bot = Bot(
        api.token,
        base_url=f"{server.url}/bot",
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connections=2),
    )
    try:
        async with bot:
            yield api, bot
    finally:
        await server.stop()


def markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in KEYBOARD]]
    )


async def test_keyboards_reach_telegram_whole(loopback: tuple[FakeBotAPI, Bot]) -> None:
    api, bot = loopback
    sent = await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
    assert buttons(api.last(USER)) == KEYBOARD
    # The answer leaves the keyboard out: the bot built it and never reads it back.
    assert sent.reply_markup is None
    assert sent.text == "Is the practice new here?"
    edited = await bot.edit_message_text(
        "Is the practice new here? (edited)", USER, sent.message_id, reply_markup=markup()
    )
    # The edited message is not read back either: the edit is acknowledged as done.
    assert edited is True
    assert api.last(USER)["text"] == "Is the practice new here? (edited)"
    assert buttons(api.last(USER)) == KEYBOARD
    assert api.violations == []


async def test_a_failed_edit_still_raises(loopback: tuple[FakeBotAPI, Bot]) -> None:
    _api, bot = loopback
    sent = await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text(
            "Is the practice new here?", USER, sent.message_id, reply_markup=markup()
        )


async def test_a_pressed_button_arrives_without_its_keyboard(
    loopback: tuple[FakeBotAPI, Bot],
) -> None:
    api, bot = loopback
    await bot.send_message(USER, "Is the practice new here?", reply_markup=markup())
    question = api.last(USER)
    api.queue(callback_update(USER, KEYBOARD[0][1], question))
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None
    assert query.data == KEYBOARD[0][1]
    assert isinstance(query.message, Message)
    assert query.message.message_id == question["message_id"]
    assert query.message.reply_markup is None
    assert buttons(question) == KEYBOARD  # the double's own record is untouched
