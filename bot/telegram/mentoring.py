"""Mentoring on Telegram: a practitioner shares a finished summary with their cohort's
coordinator, who reads it (``/mentees``) and leaves feedback on its criteria.

Nothing is kept in memory between updates: a mentor's feedback prompt is a message asking
for a reply (``ForceReply``) that names the assessment and the criterion, and the reply, which
Telegram delivers with the bot's own message it answers, carries them back. Every read and
write checks again that the sender is a coordinator and that the assessment is shared with
them now; anything else gets the same "not available", whatever exists.

The practitioner hears of feedback through an outbox: writing it leaves it unannounced, and a
job of every replica (``announce_feedback``, run each minute and at once after a reply) claims
what is unannounced in the database and sends it, so a restart loses no notice and replicas
send each once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from html import escape

from sqlalchemy.engine import Connection
from telegram import Bot, ForceReply, Message, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import filters

from bot.telegram.callback_data import FeedbackPress, MenteePress, Press, SharePress, decode
from bot.telegram.context import (
    PLATFORM,
    BotContext,
    Once,
    Services,
    chat_of,
    follow_up,
    once,
    who_sent,
)
from bot.telegram.coordinators import for_coordinators
from bot.telegram.replies import answer_press, buttons, send
from dialogs.i18n import N_, _, negotiate, ngettext, use_language
from dialogs.report import Report, format_day
from dialogs.views import MESSAGE_MAX, NOT_AVAILABLE, plain, summary_view
from dialogs.what_next import SHARE_LABEL, STOP_LABEL
from storage import coordination, mentoring
from storage.dialogue import Who

log = logging.getLogger(__name__)
SHARED = N_(
    "Your mentor can now read the summary of %(practice)s and leave feedback on its criteria."
)
STOPPED = N_(
    "Your mentor can no longer see the summary of %(practice)s, and their feedback is hidden. "
    "You can share it again at any time."
)
PROMPT_MARK = re.compile(r"🔖 (\d{1,19})/(C\d\d)\s*\Z")
"""The last line of a feedback prompt: the assessment and criterion a reply to it is about.
Only at the end: the prompt's practice name and earlier feedback are anyone's text."""
FEEDBACK_ROW = 5
LIST_MAX = 3500
"""Characters of ``/mentees`` lines, leaving room for the rest of the message."""


def _coordinator(context: BotContext) -> Callable[[Connection, Who], int | None]:
    """A read of the sender's coordinator id, ``None`` for anyone else."""
    configured = context.services.settings.coordinators
    return lambda c, who: coordination.coordinator_id(c, PLATFORM, who.external_id, configured)


def share_rows(report: Report, assessment_id: int) -> list[list[tuple[str, Press]]]:
    """The button that shares the summary or stops sharing it, in the current language; none
    where there is no one to share it with."""
    if report.shared is None:
        return []
    label = STOP_LABEL if report.shared else SHARE_LABEL
    return [[(_(label), SharePress(assessment_id, not report.shared))]]


async def share_press(update: Update, context: BotContext, press: SharePress) -> None:
    """Share the presser's finished assessment with their mentor, or stop; only theirs."""
    query = update.callback_query
    assert query is not None
    wanted, configured = press.share, context.services.settings.coordinators
    claimed = await once(
        update,
        context,
        lambda c, who: mentoring.set_shared(c, who, press.assessment_id, wanted, configured),
    )
    done = claimed.result
    with use_language(claimed.language):
        if not claimed.fresh:
            await answer_press(query)
            return
        if done is None:
            await answer_press(query, _(NOT_AVAILABLE))
            return
        if done.changed:
            toast = _("Shared with your mentor.") if wanted else _("No longer shared.")
        else:
            toast = _("Already shared.") if wanted else _("Not shared.")
        await answer_press(query, toast)
        if not done.changed:
            return
        practice = f"<b>{escape(done.practice or '…')}</b>"
        text = _(SHARED if wanted else STOPPED, practice=practice)
        label = STOP_LABEL if wanted else SHARE_LABEL
        again = buttons([[(_(label), SharePress(press.assessment_id, not wanted))]])
    await send(context.bot, chat_of(update), text, again)
    if done.notice is not None:
        follow_up(update, context, notify_mentor(context, done.notice))


async def notify_mentor(context: BotContext, notice: mentoring.ShareNotice) -> None:
    """Tell the mentor that an assessment was shared with them, with a button to open it."""
    with use_language(notice.language or context.services.settings.default_locale):
        text = _(
            "A practitioner in the cohort %(cohort)s shared their assessment of %(practice)s "
            "with you for mentoring.",
            cohort=f"<b>{escape(notice.cohort_name)}</b>",
            practice=f"<b>{escape(notice.practice or '…')}</b>",
        )
        markup = buttons([[(_("📊 Open the summary"), MenteePress(notice.assessment_id))]])
    await send(context.bot, int(notice.external_id), text, markup)


@for_coordinators
async def mentees_command(update: Update, context: BotContext, coordinator: int) -> None:
    """List the assessments shared with the coordinator now, each opening its summary."""
    found = await context.services.database.store.run(lambda c: mentoring.mentees(c, coordinator))
    if not found:
        text = _("No practitioner shares an assessment with you at the moment.")
        await send(context.bot, chat_of(update), text)
        return
    lines = ["<b>" + _("Shared with you for mentoring") + "</b>", ""]
    opens = []
    for number, mentee in enumerate(found, start=1):
        name = escape(mentee.practice or "…")
        if mentee.organisation:
            name += f" ({escape(mentee.organisation)})"
        line = _(
            "%(number)s. %(practice)s, cohort %(cohort)s, shared %(date)s",
            number=number,
            practice=f"<b>{name}</b>",
            cohort=escape(mentee.cohort_name or "–"),
            date=format_day(mentee.shared_at),
        )
        if sum(len(plain(text)) + 1 for text in (*lines, line)) > LIST_MAX:
            # The rest is one `sicheck mentor list` away; a message has 4096 characters.
            lines.append("…")
            break
        lines.append(line)
        opens.append((f"📊 {number}", MenteePress(mentee.assessment_id)))
    lines += ["", _("Choose a number to open that summary.")]
    rows = [opens[at : at + FEEDBACK_ROW] for at in range(0, len(opens), FEEDBACK_ROW)]
    await send(context.bot, chat_of(update), "\n".join(lines), buttons(rows))


async def _mentee_report(
    update: Update, context: BotContext, assessment_id: int
) -> Once[Report | None]:
    """Once per update, the summary shared with the presser, in their language; ``None`` for
    anyone but the coordinator it is shared with now."""
    coordinator, content = _coordinator(context), context.services.content
    client = who_sent(update, context).language or context.services.settings.default_locale

    def work(connection: Connection, who: Who) -> Report | None:
        found = coordinator(connection, who)
        if found is None:
            return None
        language = mentoring.language_of(connection, who) or client
        return mentoring.mentee_report(connection, content, found, assessment_id, language)

    claimed = await once(update, context, work)
    if claimed.fresh and claimed.result is None:
        log.info("mentee summary refused (update %s)", update.update_id)
    return claimed


async def open_mentee(update: Update, context: BotContext, press: MenteePress) -> None:
    """Show a mentor the summary shared with them, with a feedback button per criterion."""
    query = update.callback_query
    assert query is not None
    claimed = await _mentee_report(update, context, press.assessment_id)
    report = claimed.result
    with use_language(claimed.language):
        if report is None:
            await answer_press(query, _(NOT_AVAILABLE) if claimed.fresh else None)
            return
        await answer_press(query)
        text = summary_view(report, past=True).text
        hint = _("Choose a number to leave feedback on that criterion.")
        if len(plain(text)) + len(hint) + 2 <= MESSAGE_MAX:
            text += "\n\n" + hint
        asks = [
            (f"✍️ {line.number}", FeedbackPress(press.assessment_id, line.code))
            for line in report.criteria
        ]
    rows = [asks[at : at + FEEDBACK_ROW] for at in range(0, len(asks), FEEDBACK_ROW)]
    await send(context.bot, chat_of(update), text, buttons(rows))


async def ask_feedback(update: Update, context: BotContext, press: FeedbackPress) -> None:
    """Ask the mentor for feedback on one criterion, as a reply to the message sent."""
    query = update.callback_query
    assert query is not None
    claimed = await _mentee_report(update, context, press.assessment_id)
    report = claimed.result
    lines = () if report is None else report.criteria
    line = next((x for x in lines if x.code == press.criterion), None)
    with use_language(claimed.language):
        if report is None or line is None:
            await answer_press(query, _(NOT_AVAILABLE) if claimed.fresh else None)
            return
        await answer_press(query)
        parts = [
            _(
                "Feedback on criterion %(number)s, %(criterion)s, of %(practice)s.",
                number=line.number,
                criterion=f"<b>{escape(line.title)}</b>",
                practice=f"<b>{escape(report.practice)}</b>",
            ),
            ngettext(
                "Reply to this message with your feedback (at most %(count)s character). "
                "A new reply replaces it; the practitioner receives it in their chat.",
                "Reply to this message with your feedback (at most %(count)s characters). "
                "A new reply replaces it; the practitioner receives it in their chat.",
                mentoring.FEEDBACK_MAX,
            ),
        ]
        if line.feedback:
            feedback = f"<i>{escape(line.feedback)}</i>"
            parts.append(_("Your feedback so far: %(feedback)s", feedback=feedback))
        parts.append(f"🔖 {press.assessment_id}/{line.code}")
        placeholder = _("Your feedback")
    await context.bot.send_message(
        chat_of(update),
        "\n\n".join(parts),
        reply_markup=ForceReply(input_field_placeholder=placeholder[:64]),
    )


def prompt_target(message: Message | None) -> tuple[int, str] | None:
    """The assessment and criterion of the bot's feedback prompt ``message`` replies to."""
    replied = None if message is None else message.reply_to_message
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    found = PROMPT_MARK.search(replied.text or "")
    return None if found is None else (int(found[1]), found[2])


MISDIRECTED = N_(
    "To leave feedback, choose a criterion's number under the summary, then reply to the "
    "message that asks for it."
)


def misdirected(message: Message | None) -> bool:
    """Whether ``message`` replies to a shared summary or to the notice of a share (a message
    of the bot's with a button to open a summary or ask for feedback) rather than to a prompt:
    feedback sent to the wrong message, never an answer of the mentor's own assessment."""
    replied = None if message is None else message.reply_to_message
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return False
    markup = replied.reply_markup
    pressed = () if markup is None else (b for row in markup.inline_keyboard for b in row)
    return any(isinstance(decode(b.callback_data), MenteePress | FeedbackPress) for b in pressed)


class FeedbackReplies(filters.MessageFilter):
    """Text messages that reply to one of the bot's feedback prompts, or to a shared summary
    or its notice, where feedback was meant."""

    def filter(self, message: Message) -> bool:
        """Whether ``message`` answers a feedback prompt, or was meant to."""
        if message.text is None:
            return False
        return prompt_target(message) is not None or misdirected(message)


async def feedback_reply(update: Update, context: BotContext) -> None:
    """Keep a mentor's reply to a feedback prompt, and send it to the practitioner."""
    message = update.effective_message
    target = prompt_target(message)
    assert message is not None
    if target is None:  # sent to the summary, not to a criterion's prompt
        hinted = await once(update, context, _nothing)
        if hinted.fresh:
            with use_language(hinted.language):
                await send(context.bot, chat_of(update), _(MISDIRECTED))
        return
    assessment_id, criterion = target
    text = mentoring.clean_feedback(message.text or "")
    coordinator, content = _coordinator(context), context.services.content

    def work(connection: Connection, who: Who) -> str | None:
        """Why the feedback was refused, or ``None`` once it is saved."""
        found = coordinator(connection, who)
        if found is None:
            return NOT_AVAILABLE
        if text is None:
            return FEEDBACK_SIZE
        saved = mentoring.leave_feedback(
            connection, content, found, assessment_id, criterion, text
        )
        return None if saved else NOT_AVAILABLE

    claimed = await once(update, context, work)
    if not claimed.fresh:
        return
    refused = claimed.result
    with use_language(claimed.language):
        if refused is not None:
            log.info("feedback refused (update %s)", update.update_id)
            problem = _(NOT_AVAILABLE) if refused != FEEDBACK_SIZE else feedback_size()
            await send(context.bot, chat_of(update), problem)
            return
        saved = _("Feedback saved. The practitioner receives it and sees it in their summary.")
    # The notice is the job's, claimed from the database: run now so it arrives at once.
    follow_up(update, context, announce_feedback(context))
    await send(context.bot, chat_of(update), saved)


def _nothing(connection: Connection, who: Who) -> None:
    """Nothing to change: only the update's claim is recorded."""


FEEDBACK_SIZE = "size"


def feedback_size() -> str:
    """Why feedback was refused for its size, in the current language."""
    return ngettext(
        "Feedback must have some text and at most %(count)s character. Please reply to the "
        "prompt again.",
        "Feedback must have some text and at most %(count)s characters. Please reply to the "
        "prompt again.",
        mentoring.FEEDBACK_MAX,
    )


async def send_feedback_notices(bot: Bot, services: Services) -> int:
    """Announce the mentors' feedback not yet announced, each once; the number sent."""
    due = await services.database.store.run(mentoring.claim_feedback_notices)
    sent = 0
    for notice in due:
        if not await services.database.store.run(_still(notice)):
            continue  # revoked, or rewritten (the new text has a notice of its own)
        try:
            await bot.send_message(int(notice.external_id), _notice_text(services, notice))
            sent += 1
        except Forbidden:
            log.info("a practitioner blocked the bot; feedback notice dropped")
        except TelegramError as error:
            log.info("a feedback notice was not delivered: %s", type(error).__name__)
    return sent


def _still(notice: mentoring.FeedbackNotice) -> Callable[[Connection], bool]:
    return lambda connection: mentoring.still_to_announce(connection, notice)


async def announce_feedback(context: BotContext) -> None:
    """The job queue's minute job, also run after a mentor's reply: announce the mentors'
    feedback not yet announced."""
    await send_feedback_notices(context.bot, context.services)


def _notice_text(services: Services, notice: mentoring.FeedbackNotice) -> str:
    """A mentor's feedback as the practitioner is told it, in the practitioner's language."""
    checklist = services.content.checklist(notice.checklist_version)
    criterion = checklist.criterion(notice.criterion)
    with use_language(negotiate(notice.language, services.settings.default_locale)):
        return "\n\n".join(
            (
                _(
                    "Your mentor left feedback on criterion %(number)s, %(criterion)s, of "
                    "%(practice)s:",
                    number=criterion.number,
                    criterion=f"<b>{escape(_(criterion.title))}</b>",
                    practice=f"<b>{escape(notice.practice or '…')}</b>",
                ),
                f"<i>{escape(notice.text)}</i>",
                _("You find it under that criterion in the summary (/history) and its report."),
            )
        )
