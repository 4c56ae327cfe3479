"""What follows a finished assessment on Telegram: the chart, captioned "What next?".

Sent after the commit that finished the assessment, so the chat reads the summary, then the
chart with the team and mentoring options in one place: one message of the chat's budget. A
caption too long for both sends the options as a message of their own after the chart.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.error import TelegramError

from bot.telegram import summary
from bot.telegram.callback_data import Press, SharePress, TeamInvitePress, TeamPress
from bot.telegram.context import BotContext, chat_of, who_sent
from bot.telegram.replies import buttons, send
from dialogs import team
from dialogs import what_next as views
from dialogs.what_next import WhatNext, what_next_view
from storage.dialogue import Outcome
from storage.what_next import what_next

log = logging.getLogger(__name__)


def press_of(action: str, found: WhatNext, assessment_id: int) -> Press:
    """The press a "What next?" button sends for ``action``."""
    if action == team.SUMMARY and found.team is not None:
        return TeamPress(found.team.team_id, team.SUMMARY)
    if action == views.INVITE:
        return TeamInvitePress(assessment_id)
    return SharePress(assessment_id, action == views.SHARE)


async def after_finish(update: Update, context: BotContext, finished: Outcome) -> None:
    """Send the chart of the assessment the sender has just finished, with what may follow in
    its caption (or after it, where the caption cannot hold both)."""
    assessment_id = finished.assessment_id
    who = who_sent(update, context)
    configured = context.services.settings.coordinators
    try:
        found = await context.services.database.store.run(
            lambda c: what_next(c, who, assessment_id, configured)
        )
    except SQLAlchemyError:  # the chart is worth sending without the options
        log.warning("what follows assessment %s was not read", assessment_id, exc_info=True)
        found = None
    options = None if found is None else _options(found, assessment_id)
    try:
        taken = await summary.send_chart(update, context, finished, options)
    except TelegramError as error:  # the options are worth sending without the chart
        log.info("the chart after update %s was not delivered: %s", update.update_id, error)
        taken = False
    if options is not None and not taken:
        await send(context.bot, chat_of(update), *options)


def _options(found: WhatNext, assessment_id: int) -> summary.TextAndButtons:
    """The "What next?" message's text and buttons."""
    view = what_next_view(found)
    rows = [
        [(button.label, press_of(button.action, found, assessment_id)) for button in row]
        for row in view.buttons
    ]
    return view.text, buttons(rows)
