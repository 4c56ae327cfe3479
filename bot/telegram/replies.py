"""Views into Bot API calls: edit the question message in place, or send a new one."""

from __future__ import annotations

import logging
from html import escape

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden

from bot.telegram.callback_data import pack
from storage.dialogue import Outcome

log = logging.getLogger(__name__)
NOT_MODIFIED = "message is not modified"


def keyboard(outcome: Outcome) -> InlineKeyboardMarkup | None:
    """The view's buttons, each carrying the version of the view it belongs to."""
    if not outcome.view.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    button.label, callback_data=pack(outcome.expected, button.action)
                )
                for button in row
            ]
            for row in outcome.view.buttons
        ]
    )


async def send(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Send a message, ignoring a chat that has blocked the bot."""
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except Forbidden:
        log.info("chat %s blocked the bot; nothing sent", chat_id)


async def show(
    bot: Bot,
    chat_id: int,
    outcome: Outcome,
    *,
    edit: Message | None = None,
    notice: str | None = None,
) -> None:
    """Show the outcome's view: edit the pressed message ``edit`` if given, else send anew."""
    text = outcome.view.text
    if notice:
        text = f"<i>{escape(notice)}</i>\n\n{text}"
    markup = keyboard(outcome)
    if edit is not None:
        try:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=edit.message_id, reply_markup=markup
            )
            return
        except BadRequest as error:
            if NOT_MODIFIED in error.message.lower():
                return
            # Too old, deleted, or otherwise not editable: the view goes in a new message.
            log.info("edit failed in chat %s (%s); sending a new message", chat_id, error.message)
    await send(bot, chat_id, text, markup)
