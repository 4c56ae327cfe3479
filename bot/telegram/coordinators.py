"""Coordinator commands on Telegram: cohorts, notifications, exports and aggregate figures.

Every command first checks the sender's role. Anyone else gets the same plain refusal
whatever they asked for and whatever exists, so the refusal reveals nothing; it is logged
by update id only.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Coroutine
from html import escape
from pathlib import Path
from typing import Any

from babel.units import format_unit
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from telegram import InputFile, Message, Update
from telegram.error import BadRequest

from bot import exporting
from bot.admin import invitation_link
from bot.documents import stats_png
from bot.telegram.callback_data import NoticesOffPress
from bot.telegram.context import (
    COMMITTED,
    FAILED,
    PLATFORM,
    BotContext,
    Handler,
    chat_of,
    follow_up,
    once,
)
from bot.telegram.ecosystem import asks_for_map, send_map
from bot.telegram.replies import answer_press, buttons, send
from bot.telegram.stats_text import stats_html
from dialogs.i18n import N_, _, current_language, ngettext, use_language
from storage import coordination
from storage.dialogue import Who

log = logging.getLogger(__name__)
REFUSED = N_("This command is for coordinators.")
COHORT_USAGE = N_(
    "Send /cohort new followed by a name to create a cohort and its invitation link, "
    "or /cohort list to see the cohorts."
)
COHORT_MADE = N_(
    "Cohort %(name)s created. Practitioners who start SI Check through this link belong to "
    "it:\n%(link)s"
)
COHORT_MADE_BEFORE = N_(
    "You made the cohort %(name)s before: here is its link again. Practitioners who start SI "
    "Check through it belong to it:\n%(link)s"
)
NOTICES_ON = N_("You will be told when an assessment in one of your cohorts is completed.")
NOTICES_OFF = N_("You will no longer be told about completed assessments.")
NOTIFY_USAGE = N_("Send /notify on or /notify off.")
EXPORT_USAGE = N_(
    "Unknown export option: %(option)s. For example: /export csv assessments completed "
    "country=LV since=2026-01-01 (formats xlsx, csv, excel, jsonl; codes for stable column "
    "names; cohort=, until=, version=)."
)
NAME_MAX = 200
LIST_MAX = 3500
Command = Callable[[Update, BotContext, int], Coroutine[Any, Any, None]]


def _coordinator(context: BotContext) -> Callable[[Connection, Who], int | None]:
    """A read of the sender's coordinator id, ``None`` for anyone else."""
    configured = context.services.settings.coordinators
    return lambda c, who: coordination.coordinator_id(c, PLATFORM, who.external_id, configured)


def for_coordinators(command: Command) -> Handler:
    """``command``, called with the sender's coordinator id in their language (``use_language``);
    anyone else gets the one refusal. Options it cannot read are explained."""

    async def handle(update: Update, context: BotContext) -> None:
        claimed = await once(update, context, _coordinator(context))
        if not claimed.fresh:
            return
        with use_language(claimed.language):
            if claimed.result is None:
                log.info("coordinator command refused (update %s)", update.update_id)
                await send(context.bot, chat_of(update), _(REFUSED))
                return
            try:
                await command(update, context, claimed.result)
            except SQLAlchemyError:
                # Only the update's claim was committed, not what the command was to do: the
                # error handler is to ask the coordinator to try again.
                COMMITTED.set(None)
                raise
            except exporting.ExplainedRequestError as error:
                await send(context.bot, chat_of(update), escape(str(error)))
            except exporting.ExportRequestError as error:
                option = escape(str(error)[:NAME_MAX])
                await send(context.bot, chat_of(update), _(EXPORT_USAGE, option=option))

    return handle


@for_coordinators
async def cohort_command(update: Update, context: BotContext, coordinator: int) -> None:
    """Create a cohort with its invitation link, or list the cohorts with their counts."""
    args = context.args or []
    name = " ".join(args[1:]).strip()[:NAME_MAX]
    store = context.services.database.store
    if args[:1] == ["new"] and name:
        asked = await store.run(lambda c: coordination.ask_cohort(c, name, coordinator))
        made = COHORT_MADE_BEFORE if asked.existed else COHORT_MADE
        link = escape(invitation_link(context.bot.username, asked.code))
        text = _(made, name=f"<b>{escape(name)}</b>", link=link)
    elif args[:1] == ["list"]:
        text = _cohort_list(await store.run(coordination.list_cohorts))
    else:
        text = _(COHORT_USAGE)
    await send(context.bot, chat_of(update), text)


def _cohort_list(cohorts: list[coordination.CohortSummary]) -> str:
    if not cohorts:
        return _("There are no cohorts yet.")
    lines = ["<b>" + _("Cohorts") + "</b>"]
    for cohort in cohorts:
        if sum(len(line) + 1 for line in lines) > LIST_MAX:
            # The rest is one `sicheck cohort list` away; a message has 4096 characters.
            lines.append("…")
            break
        line = _(
            "%(name)s — joined: %(respondents)s, started: %(started)s, completed: %(completed)s",
            name=f"<b>{escape(cohort.name)}</b> (<code>{escape(cohort.code)}</code>)",
            respondents=cohort.respondents,
            started=cohort.started,
            completed=cohort.completed,
        )
        lines.append(line)
    return "\n".join(lines)


@for_coordinators
async def notify_command(update: Update, context: BotContext, coordinator: int) -> None:
    """Turn messages about completed assessments in one's cohorts on or off."""
    choice = (context.args or [""])[0].lower()
    told = {"on": NOTICES_ON, "off": NOTICES_OFF}
    if choice in told:
        store = context.services.database.store
        await store.run(lambda c: coordination.set_notify(c, coordinator, choice == "on"))
    await send(context.bot, chat_of(update), _(told.get(choice, NOTIFY_USAGE)))


async def notify_completion(context: BotContext, assessment_id: int) -> None:
    """Tell the coordinators who asked for it that an assessment in their cohort finished."""
    store = context.services.database.store
    configured = context.services.settings.coordinators
    notices = await store.run(
        lambda c: coordination.completion_notices(c, assessment_id, configured)
    )
    default = context.services.settings.default_locale
    for notice in notices:
        with use_language(notice.language or default):
            text = ngettext(
                "An assessment in the cohort %(name)s was completed. Completed so far: "
                "%(count)s assessment.",
                "An assessment in the cohort %(name)s was completed. Completed so far: "
                "%(count)s assessments.",
                notice.completed,
                name=f"<b>{escape(notice.cohort_name)}</b>",
            )
            stop = buttons([[(_("🔕 Stop these notices"), NoticesOffPress())]])
        await send(context.bot, int(notice.external_id), text, stop)


async def notices_off(update: Update, context: BotContext, press: NoticesOffPress) -> None:
    """Stop completion notices for the coordinator who pressed; anyone else is refused."""
    assert update.callback_query is not None
    read = _coordinator(context)

    def work(connection: Connection, who: Who) -> int | None:
        found = read(connection, who)
        if found is not None:
            coordination.set_notify(connection, found, False)
        return found

    claimed = await once(update, context, work)
    refused = claimed.fresh and claimed.result is None
    if refused:
        log.info("coordinator button refused (update %s)", update.update_id)
    with use_language(claimed.language):
        await answer_press(update.callback_query, _(REFUSED if refused else NOTICES_OFF))


@for_coordinators
async def stats_command(update: Update, context: BotContext, _coordinator: int) -> None:
    """Aggregate figures per group with a chart, small groups left out; with ``map``, the map."""
    language = current_language()
    options = dict(arg.split("=", 1) for arg in context.args or [] if "=" in arg)
    services = context.services
    content, threshold = services.content, services.settings.stats_min_group
    figures = exporting.figures(
        content, threshold, options.get("cohort"), options.get("country"), language
    )
    groups = await services.database.store.run(figures)
    if asks_for_map(context.args or []):
        await send_map(context, chat_of(update), groups, language)
        return
    await send(context.bot, chat_of(update), stats_html(groups, content, language))
    png = await services.draw(lambda: stats_png(groups, content, language) or b"")
    if png:
        await context.bot.send_photo(chat_of(update), InputFile(png, filename="sicheck-stats.png"))


UPLOAD_MAX = 49_000_000
"""Under Telegram's 50 MB (50,000,000 bytes) for a file a bot sends, with room for the form."""
PROGRESS_EVERY = 3.0
"""Seconds between edits of the progress message, well within Telegram's edit limits."""


@for_coordinators
async def export_command(update: Update, context: BotContext, _coordinator: int) -> None:
    """Send an export as files, editing a progress message while it is written."""
    request = exporting.parse_words(context.args or [], current_language())
    store = context.services.database.store
    await store.run(exporting.known_cohort(request.filter.cohort, request.language))
    progress = await context.bot.send_message(chat_of(update), _("Preparing the export…"))
    # Written after this handler returns, so a long export holds up no other update.
    follow_up(update, context, _export(context, request, progress))


async def _export(
    context: BotContext, request: exporting.ExportRequest, progress: Message
) -> None:
    """Write the export, keeping the progress message current, then send its files."""
    services, language = context.services, request.language
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sicheck-export-") as folder, use_language(language):
        path = Path(folder) / request.filename
        source = (services.settings.database_url, services.content, request, path)
        writing = asyncio.create_task(
            asyncio.to_thread(exporting.run_export, *source, services.pseudonym_secret)
        )
        while not (await asyncio.wait([writing], timeout=PROGRESS_EVERY))[0]:
            if path.exists():
                megabytes = path.stat().st_size / 1_000_000
                size = format_unit(megabytes, "digital-megabyte", length="short", locale=language)
                await _edit(progress, _("Exporting: %(size)s written so far…", size=size))
        try:
            rows = writing.result()
        except Exception:
            # The progress message would otherwise promise an export that never comes.
            await _edit(progress, _(FAILED))
            raise
        services.metrics.exports += 1
        services.metrics.export_seconds += time.monotonic() - started
        files = await asyncio.to_thread(exporting.within, path, request.filename, UPLOAD_MAX)
        text = ngettext("Export ready: %(count)s row.", "Export ready: %(count)s rows.", rows)
        if len(files) > 1:
            text += "\n" + ngettext(
                "The file is larger than Telegram allows, so it comes zipped in %(count)s "
                "part: 7-Zip opens it as one archive.",
                "The file is larger than Telegram allows, so it comes zipped in %(count)s "
                "parts: 7-Zip opens them as one archive.",
                len(files),
            )
        await _edit(progress, text)
        for part, name in files:
            with part.open("rb") as handle:
                await context.bot.send_document(progress.chat_id, InputFile(handle, filename=name))


async def _edit(message: Message, text: str) -> None:
    try:
        await message.edit_text(text)
    except BadRequest as error:
        # The same text again is no change, and an export must not fail over its progress.
        log.info("progress not edited: %s", error.message)
