"""Telegram handlers: each turns an update into an engine event, commits, then replies.

A handler's work and the update id are committed in one transaction, so a redelivered update
is applied only once, and the reply goes out only after that commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from html import escape
from typing import Any

from sqlalchemy.engine import Connection
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.telegram import callback_data as presses
from bot.telegram import coordinators, mentoring, privacy, summary, teams, what_next
from bot.telegram.callback_data import LanguagePress, P, StepPress
from bot.telegram.context import (
    COMMITTED,
    FAILED,
    PLATFORM,
    SERVICES,
    BotContext,
    Handler,
    Services,
    chat_of,
    client_language,
    follow_up,
    who_sent,
)
from bot.telegram.replies import answer_press, buttons, keyboard, send, show
from dialogs import events, machine
from dialogs.content import Content
from dialogs.i18n import N_, SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, _, negotiate, use_language
from dialogs.views import CHOOSE_LANGUAGE, language_name
from storage.dialogue import (
    MOVED_ON,
    Claim,
    Expected,
    Loaded,
    Outcome,
    apply,
    current_view,
    load,
    open_dialogue,
    set_language,
)
from storage.teams import code_of

log = logging.getLogger(__name__)
Work = Callable[[Connection, Content, Loaded], Outcome]

HELP = N_(
    "<b>SI Check</b> checks a social-innovation practice against the 10 criteria of the EAPN "
    "checklist. Answer each question with the buttons; send a text message to add a comment "
    "to the current criterion. Your answers are saved as you go.\n\n"
    "/start: continue or begin an assessment\n/new: a fresh assessment\n"
    "/resume: show where you are\n/back: the previous question\n/history: your finished "
    "assessments and their reports\n/team: assess the practice with your team\n"
    "/language: change the language\n/cancel: cancel this "
    "assessment\n/privacy: what is recorded and why\n/mydata: a copy of your data\n"
    "/delete: erase your data\n/help: this help"
)
UNKNOWN_COMMAND = N_("Unknown command. Send /help to see the commands.")
NOT_READABLE = N_("SI Check reads text messages and button presses only.")
EDITS_IGNORED = N_(
    "Edited messages are not applied: to change what you sent, go /back to that question and "
    "send it again."
)
SUMMARY_MOVED_ON = N_("You have moved on from this summary: where you are now is further down.")
FIRST = frozenset({machine.LANGUAGE, machine.CONSENT})
"""Steps never shown below a summary: after /delete a tap on one begins anew there."""
PRIVATE_ONLY = N_("SI Check works in a private chat, where your answers stay yours: %(link)s")


async def run_step(update: Update, context: BotContext, work: Work) -> Outcome:
    """Apply ``work`` and claim the update in one transaction (a repeat only shows the view)."""
    content = context.services.content
    who = who_sent(update, context)
    claim = Claim(context.bot.id, update.update_id)

    def once(connection: Connection) -> Outcome:
        loaded = load(connection, who, claiming=claim)
        if not loaded.claimed:
            return replace(current_view(connection, content, loaded), repeated=True)
        return work(connection, content, loaded)

    async with context.services.chat_locks.hold(chat_of(update)):
        outcome = await context.services.database.store.run(once)
    COMMITTED.set(update.update_id)
    return outcome


async def reply(
    update: Update, context: BotContext, work: Work, notice: str | None = None
) -> Outcome:
    """Commit ``work``, answer a press at once, then show the step with ``notice`` above it:
    in the pressed message for a press (below it for a summary's); for a repeat, nothing new,
    at most that edit."""
    outcome = await run_step(update, context, work)
    query = update.callback_query
    edit = None
    with use_language(outcome.language):
        if query is not None:
            message = query.message
            on_summary = isinstance(message, Message) and _summary(message)
            # A refused press gets its reason as a toast too, where the user's eyes are.
            toast = notice or outcome.problem
            # A summary stays for the practitioner to read again, so what follows goes below
            # it; a stale tap on it (a double tap) adds nothing, as the step it moved on to is
            # already the chat's latest message.
            stale_summary = (
                on_summary and outcome.problem == MOVED_ON and outcome.state not in FIRST
            )
            if stale_summary:
                toast = SUMMARY_MOVED_ON
            await answer_press(query, _(toast)[:200] if toast else None)
            if stale_summary:
                return outcome
            # Telegram dates a message too old to edit 0: it is no longer accessible.
            if isinstance(message, Message) and message.is_accessible and not on_summary:
                edit = message
        if not outcome.repeated:
            note = _(notice) if notice else None
            await show(context.bot, chat_of(update), outcome, edit=edit, notice=note)
        elif edit is not None:
            try:
                await edit.edit_text(outcome.view.text, reply_markup=keyboard(outcome))
            except BadRequest as error:  # "not modified" above all: the chat shows it already
                log.debug("repeat of a press in chat %s left as it is: %s", edit.chat_id, error)
    return outcome


def _summary(message: Message) -> bool:
    """Whether ``message`` shows a finished assessment's summary (it offers its report)."""
    markup = message.reply_markup
    rows = markup.inline_keyboard if markup is not None else ()
    return any(
        presses.decode_as(presses.ReportPress, button.callback_data) is not None
        for row in rows
        for button in row
    )


def applying(event: events.Event, expected: Expected | None = None) -> Work:
    """Work that applies ``event`` to the sender's current assessment (at view ``expected``)."""
    return partial(apply, event=event, source=PLATFORM, expected=expected)


def replying(work: Work, notice: str | None = None) -> Handler:
    """A handler that commits ``work`` and shows the step, with ``notice`` above it."""

    async def handle(update: Update, context: BotContext) -> None:
        await reply(update, context, work, notice)

    return handle


async def start(update: Update, context: BotContext) -> None:
    """Continue the current assessment or begin one; keep a deep link's payload."""
    payload = context.args[0][:64] if context.args else None
    code = code_of(payload) if payload else None
    if code is not None:
        await teams.start_team(update, context, code)
        return
    await reply(update, context, partial(open_dialogue, start_payload=payload))


async def text(update: Update, context: BotContext) -> None:
    """Answer a text prompt (a name, or a comment on the current criterion)."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    await reply(update, context, applying(events.Text(message.text.strip())))


async def step_press(update: Update, context: BotContext, press: StepPress) -> None:
    """Apply a dialogue button to the view it was shown on; a stale press changes nothing."""
    outcome = await reply(update, context, applying(press.event, press.expected))
    if outcome.finished is not None:
        # The chart and "What next?" follow the committed summary without holding up this
        # update's handler.
        follow_up(update, context, what_next.after_finish(update, context, outcome))
        follow_up(update, context, coordinators.notify_completion(context, outcome.assessment_id))


async def language_press(update: Update, context: BotContext, press: LanguagePress) -> None:
    """Speak the chosen language from now on, and show the current step in it."""
    await reply(update, context, partial(set_language, language=press.language))


async def stale_press(update: Update, context: BotContext) -> None:
    """Answer a press no kind reads: "not available" for a report, else "moved on" and the step."""
    assert update.callback_query is not None
    if presses.asks_for_a_report(update.callback_query.data):
        await summary.refuse_report(update, context)
    else:
        await reply(update, context, current_view, MOVED_ON)


async def in_a_group(update: Update, context: BotContext) -> None:
    """Point a command sent in a group to the private chat SI Check works in; nothing about the
    group or its members is recorded."""
    with use_language(client_language(update, context)):
        link = escape(f"https://t.me/{context.bot.username}")
        await send(context.bot, chat_of(update), _(PRIVATE_ONLY, link=link))


def sending(text: str, markup: InlineKeyboardMarkup | None = None) -> Handler:
    """A handler that sends the translated ``text`` once, whatever the step."""

    async def handle(update: Update, context: BotContext) -> None:
        outcome = await run_step(update, context, current_view)
        if not outcome.repeated:
            with use_language(outcome.language):
                await send(context.bot, chat_of(update), _(text), markup)

    return handle


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure by update and chat id only; tell the user to try again only if their
    action was not committed."""
    services = context.application.bot_data.get(SERVICES)
    if isinstance(services, Services):
        services.metrics.errors += 1
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=context.error)
        return
    chat_id = update.effective_chat.id if update.effective_chat else None
    error, name = context.error, type(context.error).__name__
    if COMMITTED.get() == update.update_id:
        # The action is saved; only what followed (a reply, a file) failed.
        message = "update %s in chat %s was applied, but what followed failed: %s"
        log.warning(message, update.update_id, chat_id, name, exc_info=error)
        return
    log.error("update %s in chat %s failed: %s", update.update_id, chat_id, name, exc_info=error)
    user = update.effective_user
    default = SOURCE_LANGUAGE
    if isinstance(services, Services):
        default = services.settings.default_locale
    # The database may be what failed: the language is the one first contact gets.
    language = negotiate(user.language_code if user else None, default)
    with use_language(language):
        if update.callback_query is not None:
            try:
                await answer_press(update.callback_query, _(FAILED)[:200])
            except Exception:  # the user is told below if this fails too
                log.info("could not answer the callback of update %s", update.update_id)
        if chat_id is not None:
            try:
                await context.bot.send_message(chat_id, _(FAILED))
            except Exception:  # nothing more can be done for this update
                log.info("could not tell chat %s about the failure", chat_id)


def on_press(
    kind: type[P], handle: Callable[[Update, BotContext, P], Awaitable[None]]
) -> CallbackQueryHandler[BotContext, None]:
    """A handler of ``kind``'s presses alone, called with the press decoded."""

    async def callback(update: Update, context: BotContext) -> None:
        assert update.callback_query is not None
        press = presses.decode_as(kind, update.callback_query.data)
        if press is None:  # python-telegram-bot lets a press without data past any pattern
            await stale_press(update, context)
        else:
            await handle(update, context, press)

    return CallbackQueryHandler(
        callback, pattern=lambda data: presses.decode_as(kind, data) is not None
    )


def register(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    """Register every handler of SI Check, in the order they are tried."""
    languages = [(language_name(code), LanguagePress(code)) for code in SUPPORTED_LANGUAGES]
    choose = buttons(languages[at : at + 2] for at in range(0, len(languages), 2))
    commands: dict[str, Handler] = {
        "start": start,
        "new": replying(partial(open_dialogue, fresh=True)),
        "resume": replying(current_view),
        "back": replying(applying(events.Back())),
        "cancel": replying(applying(events.Cancel())),
        "language": sending(CHOOSE_LANGUAGE, choose),
        "help": sending(HELP),
        "history": summary.history_command,
        "privacy": privacy.privacy_command,
        "mydata": privacy.mydata_command,
        "delete": privacy.delete_command,
        "cohort": coordinators.cohort_command,
        "notify": coordinators.notify_command,
        "stats": coordinators.stats_command,
        "export": coordinators.export_command,
        "mentees": mentoring.mentees_command,
        "team": teams.team_command,
    }
    private = filters.ChatType.PRIVATE
    feedback_replies = mentoring.FeedbackReplies()
    # A command handler also takes edited messages unless told otherwise: an edit is never
    # applied, so an old message edited into /cancel or /delete must run nothing.
    sent = filters.UpdateType.MESSAGE & private
    application.add_handlers(
        [
            *(CommandHandler(name, handle, sent) for name, handle in commands.items()),
            CommandHandler(
                list(commands), in_a_group, filters.UpdateType.MESSAGE & filters.ChatType.GROUPS
            ),
            on_press(StepPress, step_press),
            on_press(presses.ReportPress, summary.send_report),
            on_press(presses.OpenPress, summary.open_summary),
            on_press(LanguagePress, language_press),
            on_press(presses.ErasePress, privacy.delete_answer),
            on_press(presses.RemindersOffPress, privacy.reminders_off),
            on_press(presses.NoticesOffPress, coordinators.notices_off),
            on_press(presses.SharePress, mentoring.share_press),
            on_press(presses.MenteePress, mentoring.open_mentee),
            on_press(presses.FeedbackPress, mentoring.ask_feedback),
            on_press(presses.TeamPress, teams.team_press),
            on_press(presses.TeamJoinPress, teams.join_press),
            on_press(presses.TeamInvitePress, teams.invite_press),
            CallbackQueryHandler(stale_press),
            # A mentor's reply to a feedback prompt is replaced by a new one: so by its edit.
            MessageHandler(
                filters.UpdateType.EDITED_MESSAGE & filters.TEXT & private & feedback_replies,
                mentoring.feedback_reply,
            ),
            MessageHandler(
                filters.UpdateType.EDITED & private, replying(current_view, EDITS_IGNORED)
            ),
            MessageHandler(filters.COMMAND & private, replying(current_view, UNKNOWN_COMMAND)),
            MessageHandler(filters.TEXT & private & feedback_replies, mentoring.feedback_reply),
            MessageHandler(filters.TEXT & private, text),
            # A pinned message or a new auto-delete timer is a note of the chat's, not
            # something the user sent: it gets no reply.
            MessageHandler(
                private & ~filters.StatusUpdate.ALL, replying(current_view, NOT_READABLE)
            ),
        ]
    )
    application.add_error_handler(on_error)
