"""Baseline: python-telegram-bot alone, answering presses with an SI Check-sized question.

Each update is a button press on a question message carrying a 12-button keyboard; the
handler answers the callback query and edits the message with a new keyboard, through the
same offline Bot API double as ``bench.telegram_bench`` but with no database and no SI Check
logic. It shows what one core can do before SI Check adds anything. Prints one JSON object.

    uv run python -m bench.ptb_baseline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, Defaults

from tests.fake_bot_api import FakeBotAPI, FakeRequest, callback_update

LABELS = (
    "⬜ New needs", "⬜ New product or service", "⬜ New methods", "⬜ New actors",
    "0 · Not at all", "1 · Partly", "2 · Largely", "3 · Fully",
    "Not applicable / don't know", "ℹ️ Guidance", "⬅️ Back", "Skip ➡️",
)  # fmt: skip
TEXT = (
    "<b>Criterion 2/10: Kinds and relativity of novelty</b>\n\n"
    "How new is the practice in its own place and time, in the aspects it changes?\n\n"
    "Tick every kind of novelty the practice brings, then choose a level.\n\n"
    "<i>You may add a comment by sending a text message.</i>"
)


def _keyboard(version: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=f"v1:123456:{version}:a:C02:{index}")]
            for index, label in enumerate(LABELS)
        ]
    )


async def run(updates: int) -> dict[str, Any]:
    api = FakeBotAPI()
    application = (
        ApplicationBuilder()
        .token(api.token)
        .request(FakeRequest(api))
        .get_updates_request(FakeRequest(api))
        .updater(None)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .build()
    )

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer the press and edit the question, as SI Check does."""
        assert update.callback_query is not None
        await update.callback_query.answer()
        await context.bot.edit_message_text(
            f"{TEXT} {update.update_id}",
            chat_id=1,
            message_id=1,
            reply_markup=_keyboard(update.update_id),
        )

    application.add_handler(CallbackQueryHandler(press))
    await application.initialize()
    message = (await application.bot.send_message(1, TEXT, reply_markup=_keyboard(0))).to_dict()
    started = time.perf_counter()
    for _ in range(updates):
        data = callback_update(1, "v1:123456:1:a:C02:2", message)
        await application.process_update(Update.de_json(data, application.bot))
    elapsed = time.perf_counter() - started
    await application.shutdown()
    return {"updates": updates, "updates_per_second": round(updates / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3000)
    print(json.dumps(asyncio.run(run(parser.parse_args().updates))))


if __name__ == "__main__":
    main()
