"""Data rights on Telegram (``/privacy``, ``/mydata``, ``/delete``), reminders and retention.

Reminders and purging are jobs in every replica; each run claims what is due in the database
with one statement, so a restart loses nothing and no reminder is sent twice.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from html import escape

from sqlalchemy.engine import Connection
from telegram import Bot, InputFile, Update
from telegram.error import TelegramError
from telegram.ext import JobQueue

from bot.telegram.callback_data import ErasePress, RemindersOffPress
from bot.telegram.context import BotContext, Services, chat_of, once
from bot.telegram.mentoring import announce_feedback
from bot.telegram.replies import answer_press, buttons, send
from dialogs.i18n import N_, _, negotiate, ngettext, use_language
from dialogs.views import DELETE_ASK, ERASE_LABEL, KEEP_LABEL, NOT_ERASED, NOTHING, erased_text
from storage.dialogue import RespondentRow, Who, find_respondent
from storage.privacy import (
    Erased,
    claim_reminders,
    coordinator_since,
    erase,
    my_data,
    purge,
    set_reminders,
)

log = logging.getLogger(__name__)
SCHEDULE_EVERY = timedelta(minutes=1)
PURGE_EVERY = timedelta(days=1)
NOTICE = N_(
    "<b>Privacy in SI Check</b>\n\n"
    "<b>What is recorded:</b> your Telegram user id and language, the practice's name, "
    "country, organisation, target groups and themes, your answers and comments, and every "
    "change of an answer.\n"
    "<b>Why:</b> to give you the scored summary, and to let the coordinators of your "
    "programme see how practices measure up against the EAPN checklist.\n"
    "<b>Who sees it:</b> you; the coordinators see answers under a pseudonym, never your "
    "name or user id, and figures only for groups of several respondents.\n"
    "%(how_long)s\n"
    "<b>Your rights:</b> /mydata sends you everything recorded about you, /delete erases it "
    "all. Declining consent records nothing."
)


def notice_text(days: int) -> str:
    """The privacy notice in the current language, for data kept ``days`` days unused."""
    how_long = ngettext(
        "<b>How long:</b> unfinished assessments are deleted after %(count)s day without "
        "activity, and so is your user id once you have not been seen for that long.",
        "<b>How long:</b> unfinished assessments are deleted after %(count)s days without "
        "activity, and so is your user id once you have not been seen for that long.",
        days,
    )
    return _(NOTICE, how_long=how_long)


async def privacy_command(update: Update, context: BotContext) -> None:
    """Show the privacy notice, once per update."""
    claimed = await once(update, context, lambda c, who: None)
    if claimed.fresh:
        with use_language(claimed.language):
            text = notice_text(context.services.settings.retention_days)
        await send(context.bot, chat_of(update), text)


async def mydata_command(update: Update, context: BotContext) -> None:
    """Send everything SI Check keeps about the sender, as a JSON document, once per update."""
    claimed = await once(update, context, my_data)
    if claimed.fresh and claimed.result is None:
        with use_language(claimed.language):
            await send(context.bot, chat_of(update), _(NOTHING))
    elif claimed.fresh:
        document = json.dumps(claimed.result, ensure_ascii=False, indent=2).encode()
        file = InputFile(document, filename="sicheck-my-data.json")
        await context.bot.send_document(chat_of(update), file)


def asked(connection: Connection, who: Who) -> RespondentRow | None:
    """Whom ``/delete`` asks: the respondent, else a coordinator who never answered.

    The coordinator stands in as a row of their coordinator id and the time they became one,
    so their buttons, like a respondent's, erase nothing once a new record replaced theirs.
    """
    found = find_respondent(connection, who)
    if found is not None:
        return found
    role = coordinator_since(connection, who)
    return None if role is None else RespondentRow(role[0], None, role[1])


async def delete_command(update: Update, context: BotContext) -> None:
    """Ask for confirmation before erasing everything about the sender, once per update."""
    claimed = await once(update, context, asked)
    found = claimed.result
    with use_language(claimed.language):
        if claimed.fresh and found is None:
            await send(context.bot, chat_of(update), _(NOTHING))
        elif found is not None:
            # The buttons name the respondent asked: once erased, a new one is not erased by them.
            erase, keep = ErasePress.of(found, True), ErasePress.of(found, False)
            choices = buttons([[(_(ERASE_LABEL), erase), (_(KEEP_LABEL), keep)]])
            await send(context.bot, chat_of(update), _(DELETE_ASK), choices)


async def delete_answer(update: Update, context: BotContext, press: ErasePress) -> None:
    """Erase, or not, as the confirmation's button says, if it was asked of the presser."""
    query = update.callback_query
    assert query is not None

    def work(connection: Connection, who: Who) -> Erased | str | None:
        """What was erased, else why nothing was (``None`` when keeping was chosen)."""
        if not press.erase:
            return None
        found = asked(connection, who)
        if found is None:  # erased already: a double tap says so, not that it failed
            return NOTHING
        # Someone else's question, or one asked before an earlier erasure, erases nothing.
        return (
            erase(connection, who.platform, who.external_id) if press.names(found) else NOT_ERASED
        )

    claimed = await once(update, context, work)
    erased = claimed.result
    refused = erased if claimed.fresh and isinstance(erased, str) else None
    with use_language(claimed.language):
        await answer_press(query, _(refused) if refused else None)
        if isinstance(erased, Erased):
            text = erased_text(erased.assessments, erased.answers, erased.log_entries)
            await send(context.bot, chat_of(update), text)
        elif claimed.fresh and not press.erase:
            await send(context.bot, chat_of(update), _(NOT_ERASED))


async def reminders_off(update: Update, context: BotContext, press: RemindersOffPress) -> None:
    """Stop reminders for the sender."""
    assert update.callback_query is not None
    claimed = await once(update, context, lambda c, who: set_reminders(c, who, False))
    with use_language(claimed.language):
        await answer_press(update.callback_query, _("No more reminders."))


async def send_reminders(bot: Bot, services: Services) -> int:
    """Send the reminders now due; the number sent."""
    after = timedelta(hours=services.settings.reminder_after_hours)
    due = await services.database.store.run(lambda c: claim_reminders(c, after))
    sent = 0
    for reminder in due:
        with use_language(negotiate(reminder.language, services.settings.default_locale)):
            text = _(
                "Your assessment of %(practice)s is waiting where you left it. "
                "Send /resume to go on.",
                practice=f"<b>{escape(reminder.practice or '…')}</b>",
            )
            markup = buttons([[(_("🔕 No more reminders"), RemindersOffPress())]])
        try:
            await bot.send_message(int(reminder.chat_id), text, reply_markup=markup)
            sent += 1
        except TelegramError as error:
            log.info("a reminder was not delivered: %s", type(error).__name__)
    return sent


async def remind(context: BotContext) -> None:
    """The job queue's minute job: send the reminders now due."""
    await send_reminders(context.bot, context.services)


async def purge_expired(context: BotContext) -> None:
    """The job queue's daily job: erase what is past the retention period."""
    retention = timedelta(days=context.services.settings.retention_days)
    erased = await context.services.database.store.run(lambda c: purge(c, retention))
    message = "purged %s assessments and %s identities past the retention period"
    log.info(message, erased.assessments, erased.respondents)


def schedule_upkeep(jobs: JobQueue[BotContext]) -> None:
    """Purge daily, and look for due reminders and feedback notices every minute, in this
    replica (``sicheck run`` also runs each once at start); a failed run (the database briefly
    down) goes to the error handlers and runs again later."""
    jobs.run_repeating(purge_expired, PURGE_EVERY, name="purge")
    jobs.run_repeating(remind, SCHEDULE_EVERY, name="reminders")
    jobs.run_repeating(announce_feedback, SCHEDULE_EVERY, name="feedback notices")
