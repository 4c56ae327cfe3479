"""Telegram handlers: each turns an update into an engine event, commits, then replies.

All handlers are registered in ``register``; a button press goes to the handler of its kind
(``bot.telegram.callback_data``), chosen by the kind's pattern. A handler's work on the
database happens in one transaction that also records the update id, so a redelivered update
is applied only once; the reply goes out only after that transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.telegram.callback_data import (
    ErasePress,
    LanguagePress,
    NoticesOffPress,
    OpenPress,
    P,
    RemindersOffPress,
    ReportPress,
    StepPress,
    asks_for_a_report,
    decode_as,
    encode,
)
from bot.telegram.context import (
    PLATFORM,
    SERVICES,
    BotContext,
    Services,
    chat_of,
    committed,
    follow_up,
    is_committed,
    who_sent,
)
from bot.telegram.coordinators import (
    cohort_command,
    export_command,
    notices_off,
    notify_command,
    notify_completion,
    stats_command,
)
from bot.telegram.privacy import (
    delete_answer,
    delete_command,
    mydata_command,
    privacy_command,
    reminders_off,
)
from bot.telegram.replies import answer_press, keyboard, send, show
from bot.telegram.summary import (
    history_command,
    open_summary,
    refuse_report,
    send_chart,
    send_report,
)
from dialogs import events
from dialogs.content import Content
from dialogs.i18n import N_, SUPPORTED_LANGUAGES, _, negotiate, use_language
from dialogs.machine import SUMMARY
from dialogs.views import language_name
from storage.dialogue import (
    MOVED_ON,
    Claim,
    Loaded,
    Outcome,
    apply,
    current_view,
    load,
    open_dialogue,
    set_language,
)

log = logging.getLogger(__name__)
Work = Callable[[Connection, Loaded], Outcome]

HELP = N_(
    "<b>SI Check</b> checks a social-innovation practice against the 10 criteria of the EAPN "
    "checklist. Answer each question with the buttons; send a text message to add a comment "
    "to the current criterion. Your answers are saved as you go.\n\n"
    "/start: continue or begin an assessment\n/new: a fresh assessment\n"
    "/resume: show where you are\n/back: the previous question\n/history: your finished "
    "assessments and their reports\n/language: change the language\n/cancel: cancel this "
    "assessment\n/privacy: what is recorded and why\n/mydata: a copy of your data\n"
    "/delete: erase your data\n/help: this help"
)
UNKNOWN_COMMAND = N_("Unknown command. Send /help to see the commands.")
NOT_READABLE = N_("SI Check reads text messages and button presses only.")
EDITS_IGNORED = N_("Edited messages are not applied: please send the change as a new message.")
FAILED = N_("Something went wrong and your last action was not saved. Please try again.")
CHOOSE_LANGUAGE = N_("Choose your language.")


async def run_step(update: Update, context: BotContext, work: Work) -> Outcome:
    """Apply ``work`` and record the update id in one transaction; a repeat only shows the view.

    Once this returns, the update is committed: ``on_error`` no longer tells the user that
    their action was not saved.
    """
    services = context.services
    who = who_sent(update, context)
    claim = Claim(context.bot.id, update.update_id)

    def once(connection: Connection) -> Outcome:
        loaded = load(connection, who, claiming=claim)
        if not loaded.claimed:
            return replace(current_view(connection, services.content, loaded), repeated=True)
        return work(connection, loaded)

    chat = update.effective_chat
    assert chat is not None
    async with services.chat_locks.hold(chat.id):
        outcome = await services.database.store.run(once)
    committed(update)
    return outcome


async def _reply(
    update: Update,
    context: BotContext,
    work: Work,
    *,
    edit: Message | None = None,
    notice: str | None = None,
) -> Outcome:
    outcome = await run_step(update, context, work)
    with use_language(outcome.language):
        await _present(update, context, outcome, edit=edit, notice=notice)
    return outcome


async def _present(
    update: Update,
    context: BotContext,
    outcome: Outcome,
    *,
    edit: Message | None,
    notice: str | None,
) -> None:
    """Show the committed outcome; a repeat at most brings ``edit`` to the current view."""
    if outcome.repeated:
        # Applied before, and its reply possibly shown: nothing new appears in the chat.
        if edit is not None:
            await _edit_in_place(context, chat_of(update), edit, outcome)
        return
    await show(
        context.bot,
        chat_of(update),
        outcome,
        edit=edit,
        notice=_(notice) if notice else None,
    )


async def _edit_in_place(
    context: BotContext, chat_id: int, message: Message, outcome: Outcome
) -> None:
    """Bring the pressed message to the current view, never sending a new one."""
    try:
        await context.bot.edit_message_text(
            outcome.view.text,
            chat_id=chat_id,
            message_id=message.message_id,
            reply_markup=keyboard(outcome),
        )
    except BadRequest as error:  # "not modified" above all: the chat shows it already
        log.debug("repeat of a press in chat %s left as it is: %s", chat_id, error.message)


def _applying(event: events.Event, content: Content) -> Work:
    """Work that applies ``event`` to the sender's current assessment."""
    return lambda session, loaded: apply(session, content, loaded, event, source=PLATFORM)


def _showing(content: Content) -> Work:
    """Work that only shows where the sender is."""
    return lambda session, loaded: current_view(session, content, loaded)


async def start(update: Update, context: BotContext) -> None:
    """Continue the current assessment or begin one; keep a deep link's payload."""
    payload = context.args[0][:64] if context.args else None
    content = context.services.content
    await _reply(
        update,
        context,
        lambda session, loaded: open_dialogue(session, content, loaded, start_payload=payload),
    )


async def new(update: Update, context: BotContext) -> None:
    """Begin a fresh assessment, cancelling an unfinished one."""
    content = context.services.content
    await _reply(
        update,
        context,
        lambda session, loaded: open_dialogue(session, content, loaded, fresh=True),
    )


async def resume(update: Update, context: BotContext) -> None:
    """Show the current step again."""
    await _reply(update, context, _showing(context.services.content))


async def back(update: Update, context: BotContext) -> None:
    """Go back to the previous question."""
    await _reply(update, context, _applying(events.Back(), context.services.content))


async def cancel(update: Update, context: BotContext) -> None:
    """Cancel the current assessment, keeping its answers."""
    await _reply(update, context, _applying(events.Cancel(), context.services.content))


async def text(update: Update, context: BotContext) -> None:
    """Answer a text prompt (a name, or a comment on the current criterion)."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    event = events.Text(message.text.strip())
    await _reply(update, context, _applying(event, context.services.content))


async def button(update: Update, context: BotContext, press: StepPress) -> None:
    """Apply a dialogue button to the view it was shown on; a stale press changes nothing."""
    content = context.services.content
    outcome = await run_step(
        update,
        context,
        lambda session, loaded: apply(
            session, content, loaded, press.event, source=PLATFORM, expected=press.expected
        ),
    )
    await _answer_then_show(update, context, outcome)
    finished = isinstance(press.event, events.Confirm)
    if finished and outcome.accepted and not outcome.repeated and outcome.state == SUMMARY:
        # The chart follows the committed summary without holding up this update's handler.
        follow_up(update, context, send_chart(update, context, outcome.assessment_id))
        follow_up(update, context, notify_completion(context, outcome.assessment_id))


async def language_press(update: Update, context: BotContext, press: LanguagePress) -> None:
    """Speak the chosen language from now on, and show the current step in it."""
    content = context.services.content
    outcome = await run_step(
        update,
        context,
        lambda session, loaded: set_language(session, content, loaded, press.language),
    )
    await _answer_then_show(update, context, outcome)


async def stale_press(update: Update, context: BotContext) -> None:
    """Answer a press no kind reads: "not available" for a report, else "moved on" and the step."""
    query = update.callback_query
    assert query is not None
    if asks_for_a_report(query.data):
        await refuse_report(update, context)
        return
    outcome = await run_step(update, context, _showing(context.services.content))
    await _answer_then_show(update, context, outcome, notice=MOVED_ON)


async def _answer_then_show(
    update: Update, context: BotContext, outcome: Outcome, notice: str | None = None
) -> None:
    """Answer the committed press at once, so the phone stops waiting, then show the step."""
    query = update.callback_query
    assert query is not None
    # A refused press gets its reason as a toast too, where the user's eyes are.
    toast = notice or outcome.problem
    with use_language(outcome.language):
        await answer_press(query, _(toast)[:200] if toast else None)
        await _present(update, context, outcome, edit=_editable(query.message), notice=notice)


def _editable(message: object) -> Message | None:
    """The pressed message if the bot may still edit it (Telegram dates old ones 0)."""
    return message if isinstance(message, Message) and message.is_accessible else None


async def language(update: Update, context: BotContext) -> None:
    """Offer the supported languages."""
    buttons = [
        InlineKeyboardButton(language_name(code), callback_data=encode(LanguagePress(code)))
        for code in SUPPORTED_LANGUAGES
    ]
    outcome = await run_step(update, context, _showing(context.services.content))
    if outcome.repeated:
        return
    rows = [buttons[start : start + 2] for start in range(0, len(buttons), 2)]
    with use_language(outcome.language):
        await send(context.bot, chat_of(update), _(CHOOSE_LANGUAGE), InlineKeyboardMarkup(rows))


async def _tell(update: Update, context: BotContext, message: str) -> None:
    """Send a translated note, then the current step again."""
    await _reply(update, context, _showing(context.services.content), notice=message)


async def help_command(update: Update, context: BotContext) -> None:
    """Explain how SI Check works and list the commands."""
    outcome = await run_step(update, context, _showing(context.services.content))
    if outcome.repeated:
        return
    with use_language(outcome.language):
        await send(context.bot, chat_of(update), _(HELP), None)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Say that the command is not known."""
    await _tell(update, context, UNKNOWN_COMMAND)


async def unreadable(update: Update, context: BotContext) -> None:
    """Say that photos, stickers, files and the like are not read."""
    await _tell(update, context, NOT_READABLE)


async def edited(update: Update, context: BotContext) -> None:
    """Say that edits of earlier messages are not applied."""
    await _tell(update, context, EDITS_IGNORED)


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
    if is_committed(update):
        # The action is saved; only what followed (a reply, a file) failed.
        log.warning(
            "update %s in chat %s was applied, but what followed failed: %s",
            update.update_id,
            chat_id,
            type(context.error).__name__,
            exc_info=context.error,
        )
        return
    log.error(
        "update %s in chat %s failed: %s",
        update.update_id,
        chat_id,
        type(context.error).__name__,
        exc_info=context.error,
    )
    user = update.effective_user
    language_code = negotiate(user.language_code if user else None)
    if update.callback_query is not None:
        with use_language(language_code):
            try:
                await answer_press(update.callback_query, _(FAILED)[:200])
            except Exception:  # the user is told below if this fails too
                log.info("could not answer the callback of update %s", update.update_id)
    if chat_id is not None:
        with use_language(language_code):
            try:
                await context.bot.send_message(chat_id, _(FAILED))
            except Exception:  # nothing more can be done for this update
                log.info("could not tell chat %s about the failure", chat_id)


def on_press(
    kind: type[P], handle: Callable[[Update, BotContext, P], Awaitable[None]]
) -> CallbackQueryHandler[BotContext, None]:
    """A handler of ``kind``'s presses alone, called with the press decoded."""

    async def callback(update: Update, context: BotContext) -> None:
        query = update.callback_query
        assert query is not None
        press = decode_as(kind, query.data)
        if press is None:  # python-telegram-bot lets a press without data past any pattern
            await stale_press(update, context)
            return
        await handle(update, context, press)

    return CallbackQueryHandler(callback, pattern=lambda data: decode_as(kind, data) is not None)


def register(application: Application[Any, BotContext, Any, Any, Any, Any]) -> None:
    """Register every handler of SI Check, in the order they are tried."""
    private = filters.ChatType.PRIVATE
    application.add_handlers(
        [
            CommandHandler("start", start, filters=private),
            CommandHandler("new", new, filters=private),
            CommandHandler("resume", resume, filters=private),
            CommandHandler("back", back, filters=private),
            CommandHandler("cancel", cancel, filters=private),
            CommandHandler("language", language, filters=private),
            CommandHandler("help", help_command, filters=private),
            CommandHandler("history", history_command, filters=private),
            CommandHandler("privacy", privacy_command, filters=private),
            CommandHandler("mydata", mydata_command, filters=private),
            CommandHandler("delete", delete_command, filters=private),
            CommandHandler("cohort", cohort_command, filters=private),
            CommandHandler("notify", notify_command, filters=private),
            CommandHandler("stats", stats_command, filters=private),
            CommandHandler("export", export_command, filters=private),
            on_press(StepPress, button),
            on_press(ReportPress, send_report),
            on_press(OpenPress, open_summary),
            on_press(LanguagePress, language_press),
            on_press(ErasePress, delete_answer),
            on_press(RemindersOffPress, reminders_off),
            on_press(NoticesOffPress, notices_off),
            CallbackQueryHandler(stale_press),
            MessageHandler(filters.UpdateType.EDITED & private, edited),
            MessageHandler(filters.COMMAND & private, unknown_command),
            MessageHandler(filters.TEXT & private, text),
            MessageHandler(private, unreadable),
        ]
    )
    application.add_error_handler(on_error)
