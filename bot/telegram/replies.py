"""Views into Bot API calls: edit the question message in place, or send a new one.

A press is answered as soon as its step is committed, before its view is edited, so the tap
stops spinning while the edit waits for budget. The first reply of an update tells delivery
that the update is applied (``APPLIED``), so polling confirms it without waiting for the view.

A view whose ``sendMessage`` may not have reached Telegram (``UnknownOutcomeError``) is not
sent again: the practitioner's next action (a message, or a press on any message) shows the
current view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from html import escape
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.telegram.budget import NOT_MODIFIED, UnknownOutcomeError
from bot.telegram.callback_data import Press, encode, pack
from storage.dialogue import Outcome

log = logging.getLogger(__name__)
QUERY_EXPIRED = ("query is too old", "query id is invalid")


def telegram_length(text: str) -> int:
    """The length of ``text`` as Telegram counts it against its limits: in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class ViewKeyboard(InlineKeyboardMarkup):
    """A view's inline keyboard kept as the JSON Telegram reads: python-telegram-bot would build
    an object per button and turn each back into a dict to send it, a sixth of the bot's CPU.
    Its ``inline_keyboard`` is empty: read the buttons from ``to_dict()``."""

    __slots__ = ("_json",)

    def __init__(self, rows: list[list[dict[str, str]]]) -> None:
        super().__init__(())
        self._json: dict[str, Any] = {"inline_keyboard": rows}

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """The keyboard as Telegram reads it."""
        return self._json


class WebhookReply:
    """The one Bot API call the response to a webhook POST may carry, while it is open: Telegram
    applies it without a call of the bot's own, and reports nothing back, which suits
    ``answerCallbackQuery``."""

    __slots__ = ("call", "open")

    def __init__(self) -> None:
        self.call: dict[str, Any] | None = None
        self.open = True

    def carry(self, call: dict[str, Any]) -> bool:
        """Take ``call`` into the response; ``False`` if it is sent already or holds one."""
        if not self.open or self.call is not None:
            return False
        self.call = call
        return True


WEBHOOK_REPLY: ContextVar[WebhookReply | None] = ContextVar("webhook_reply", default=None)
"""Set by the webhook endpoint around the handling of its update."""
APPLIED: ContextVar[Callable[[], None] | None] = ContextVar("applied", default=None)
"""Set by delivery around an update: called once the update's step is committed."""


def applied() -> None:
    """Tell delivery that the update being handled is committed (its replies may follow)."""
    done = APPLIED.get()
    if done is not None:
        done()


async def answer_press(query: CallbackQuery, toast: str | None = None) -> None:
    """Answer a button press, with ``toast`` shown if given; a failed answer is only logged (the
    tap was applied all the same) and never sent twice."""
    applied()
    reply = WEBHOOK_REPLY.get()
    if reply is not None:
        call: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": query.id}
        if toast:
            call["text"] = toast
        if reply.carry(call):
            return
    try:
        await query.answer(toast)
    except BadRequest as error:
        if not any(expired in error.message.lower() for expired in QUERY_EXPIRED):
            raise
        # Answered already or too old: the phone stopped waiting, the press itself counts.
        log.debug("callback query %s not answered: %s", query.id, error.message)
    except NetworkError as error:  # maybe applied: never sent twice (budget.py)
        log.info("callback query %s may not be answered: %s", query.id, error.message)


def keyboard(outcome: Outcome) -> ViewKeyboard | None:
    """The view's buttons, each carrying the version of the view it belongs to."""
    rows, expected = outcome.view.buttons, outcome.expected
    if not rows:
        return None
    return ViewKeyboard(
        [[{"text": b.label, "callback_data": pack(expected, b.action)} for b in r] for r in rows]
    )


def buttons(rows: Iterable[Iterable[tuple[str, Press]]]) -> InlineKeyboardMarkup | None:
    """Inline buttons, each its label and the press it sends; ``None`` for none."""
    keyboard = [
        [InlineKeyboardButton(label, callback_data=encode(press)) for label, press in row]
        for row in rows
    ]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


async def send(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send a message, ignoring a chat that has blocked the bot; never sent twice."""
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except Forbidden:
        log.info("chat %s blocked the bot; nothing sent", chat_id)
    except UnknownOutcomeError as error:
        # Sent or not, it is not sent again; the chat's next update shows the current view.
        log.info("a message to chat %s may not have arrived: %s", chat_id, error.message)


async def show(
    bot: Bot,
    chat_id: int,
    outcome: Outcome,
    *,
    edit: Message | None = None,
    notice: str | None = None,
) -> None:
    """Show the outcome's view: edit the pressed message ``edit`` if given, else send anew."""
    applied()
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
