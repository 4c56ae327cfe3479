"""The finished assessment on Telegram: the chart, the PDF report and ``/history``.

Reports are read only through the respondent who owns them, after the commit that finished
the assessment; charts and PDFs are drawn in a worker thread while other chats are served.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.error import Forbidden

from bot.documents import chart_photo, report_filename, report_pdf
from bot.telegram import mentoring
from bot.telegram.budget import UnknownOutcomeError
from bot.telegram.callback_data import OpenPress, Press, ReportPress
from bot.telegram.context import BotContext, chat_of, client_language, once
from bot.telegram.replies import answer_press, buttons, send, telegram_length
from dialogs import events
from dialogs.i18n import N_, _, use_language
from dialogs.report import Report, build_report, overall_text
from dialogs.views import NOT_AVAILABLE, Button, history_view, summary_view
from storage.dialogue import Expected, Outcome
from storage.reports import history, report_of

log = logging.getLogger(__name__)
CAPTION_MAX = 1024
TextAndButtons = tuple[str, InlineKeyboardMarkup | None]
"""A message's HTML text and its buttons."""
PREPARING = N_("Preparing your report…")


def caption(report: Report) -> str:
    """The practice and its overall score, for a chart or a report, within Telegram's limit."""
    lines = ["<b>" + escape(report.practice) + "</b>"]
    if report.percent_text is not None and report.band is not None:
        lines += [overall_text(report, report.percent_text), escape(report.band)]
    text = "\n".join(lines)
    if telegram_length(text) <= CAPTION_MAX:
        return text
    return escape(report.practice[: CAPTION_MAX // 8])


async def _owned_report(
    update: Update, context: BotContext, asked: Expected | OpenPress, toast: str | None = None
) -> Report | None:
    """The report a button asks for, if the sender owns it, the press answered with ``toast``;
    else the press is told no."""
    assert update.callback_query is not None
    content, wanted = context.services.content, asked.assessment_id
    configured = context.services.settings.coordinators
    claimed = await once(
        update, context, lambda c, who: report_of(c, content, who, wanted, configured)
    )
    report = claimed.result
    if report is None or report.checklist_version != asked.checklist_version:
        await refuse_report(update, context)
        return None
    with use_language(report.language):
        await answer_press(update.callback_query, _(toast) if toast else None)
    return report


async def refuse_report(update: Update, context: BotContext) -> None:
    """Tell the presser that the report or summary a button names is not available."""
    query = update.callback_query
    assert query is not None
    with use_language(client_language(update, context)):
        await answer_press(query, _(NOT_AVAILABLE))


async def send_chart(
    update: Update, context: BotContext, finished: Outcome, then: TextAndButtons | None = None
) -> bool:
    """Send the radar chart of the assessment the sender has just finished, with the message
    ``then`` (text and buttons) in its caption where both fit; whether ``then`` went with it."""
    snapshot = finished.finished
    assert snapshot is not None, "only a step that finished an assessment has a chart"
    checklist = context.services.content.checklist(finished.checklist_version)

    def drawn() -> tuple[Report, bytes]:
        report = build_report(checklist, snapshot, completed_at=finished.finished_at)
        return report, chart_photo(report)

    report, photo = await context.services.draw(drawn)
    file = InputFile(photo, filename="sicheck-chart.jpg")
    return await _send(update, context, report, file, then)


async def send_report(update: Update, context: BotContext, press: ReportPress) -> None:
    """Send the PDF report of the assessment a "📄 Report" button belongs to."""
    report = await _owned_report(update, context, press.expected, PREPARING)
    if report is not None:
        pdf = await context.services.draw(lambda: report_pdf(report))
        await _send(update, context, report, InputFile(pdf, filename=report_filename(report)))


async def _send(
    update: Update,
    context: BotContext,
    report: Report,
    file: InputFile,
    then: TextAndButtons | None = None,
) -> bool:
    """Send ``file`` (the chart as a photo, else a document) with the report's caption, and
    ``then`` below it where both fit in one caption; whether ``then`` was taken along."""
    with use_language(report.language):
        text = caption(report)
    markup = None
    # The HTML's length bounds the text Telegram counts once the tags are read.
    if then is not None and telegram_length(combined := f"{text}\n\n{then[0]}") <= CAPTION_MAX:
        text, markup = combined, then[1]
    photo = file.mimetype.startswith("image/")
    # The kind only: a report's file name holds the practice's name, which logs never do.
    kind = "chart" if photo else "report"
    try:
        await (context.bot.send_photo if photo else context.bot.send_document)(
            chat_of(update), file, text, reply_markup=markup
        )
    except Forbidden:
        log.info("chat %s blocked the bot; %s not sent", chat_of(update), kind)
    except UnknownOutcomeError as error:
        # Sent or not, it is not sent again, nor what it carried.
        log.info("%s may not have reached chat %s: %s", kind, chat_of(update), error)
    return markup is not None


async def history_command(update: Update, context: BotContext) -> None:
    """List the sender's finished assessments, each opening its summary."""
    content = context.services.content
    found = (await once(update, context, lambda c, who: history(c, content, who))).result
    if found is None:
        return
    with use_language(found.language):
        view = history_view(found)
    versions = {past.assessment_id: past.checklist_version for past in found.assessments}

    def opening(button: Button) -> tuple[str, OpenPress]:
        event = events.decode(button.action)
        assert isinstance(event, events.Open), "a history view's buttons open summaries"
        return button.label, OpenPress(versions[event.assessment_id], event.assessment_id)

    rows = [[opening(button) for button in row] for row in view.buttons]
    await send(context.bot, chat_of(update), view.text, buttons(rows))


async def open_summary(update: Update, context: BotContext, press: OpenPress) -> None:
    """Show the summary of one of the sender's finished assessments, from ``/history``."""
    report = await _owned_report(update, context, press)
    if report is None:
        return
    view = summary_view(report, past=True)
    asked = ReportPress(Expected(press.checklist_version, press.assessment_id, 0))
    rows: list[list[tuple[str, Press]]] = [[(b.label, asked) for b in row] for row in view.buttons]
    with use_language(report.language):
        rows += mentoring.share_rows(report, press.assessment_id)
    await send(context.bot, chat_of(update), view.text, buttons(rows))
