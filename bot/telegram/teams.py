"""Team assessments on Telegram: ``/team``, the invitation's deep link, and the team buttons.

Every handler commits its unit of work with its update's claim (``once``), so a repeated
update or a double tap on any replica changes nothing twice, and replies only after it.
"""

from __future__ import annotations

from html import escape

from sqlalchemy.engine import Connection
from telegram import InputFile, Update

from bot.admin import invitation_link
from bot.telegram.callback_data import TeamInvitePress, TeamJoinPress, TeamPress
from bot.telegram.context import BotContext, chat_of, follow_up, once
from bot.telegram.replies import answer_press, buttons, send, show
from dialogs import team as views
from dialogs.i18n import _, use_language
from dialogs.team import TeamStatus, TeamSummary
from storage import teams
from storage.dialogue import Who


async def _send_status(update: Update, context: BotContext, status: TeamStatus) -> None:
    link = invitation_link(context.bot.username, teams.payload(status.code))
    view = views.status_view(status, link)
    rows = [
        [(button.label, TeamPress(status.team_id, button.action)) for button in row]
        for row in view.buttons
    ]
    await send(context.bot, chat_of(update), view.text, buttons(rows))


async def team_command(update: Update, context: BotContext) -> None:
    """Invite one's team to the practice one assesses (the team is made on first asking)."""
    claimed = await once(update, context, teams.invite)
    found = claimed.result
    if isinstance(found, TeamStatus):
        await _send_status(update, context, found)
    elif isinstance(found, teams.Refused):
        with use_language(found.language):
            await send(context.bot, chat_of(update), _(found.reason))


async def invite_press(update: Update, context: BotContext, press: TeamInvitePress) -> None:
    """Show the team's invitation of "Invite my team", as ``/team`` does, for the presser's
    own assessment only (the team is made on first asking)."""
    query = update.callback_query
    assert query is not None
    wanted = press.assessment_id
    claimed = await once(update, context, lambda c, who: teams.invite_for(c, who, wanted))
    found = claimed.result
    with use_language(claimed.language):
        await answer_press(query, _(found.reason) if isinstance(found, teams.Refused) else None)
    if isinstance(found, TeamStatus):
        await _send_status(update, context, found)


async def start_team(update: Update, context: BotContext, code: str) -> None:
    """Follow a team's invitation link: start one's own assessment of the team's practice."""
    content = context.services.content
    claimed = await once(update, context, lambda c, who: teams.join(c, content, who, code))
    await _joined(update, context, claimed.result)


async def _joined(update: Update, context: BotContext, joined: teams.Joined | None) -> None:
    if joined is None:  # a repeated update: shown already
        return
    if joined.ask is not None and joined.code is not None and joined.cancels is not None:
        code, cancels = joined.code, joined.cancels
        with use_language(joined.language):
            text = _(views.ASK_JOIN, own=_bold(joined.ask), practice=_bold(joined.practice))
            choices = buttons(
                [
                    [(_(views.JOIN_LABEL), TeamJoinPress(code, True, cancels))],
                    [(_(views.KEEP_MINE), TeamJoinPress(code, False, cancels))],
                ]
            )
        await send(context.bot, chat_of(update), text, choices)
    elif joined.outcome is not None:
        notice = joined.notice.text(joined.language) if joined.notice else None
        await show(context.bot, chat_of(update), joined.outcome, notice=notice)


def _bold(text: str | None) -> str:
    return f"<b>{escape(text or '…')}</b>"


async def join_press(update: Update, context: BotContext, press: TeamJoinPress) -> None:
    """Join the team after all (the unfinished assessment the question named cancelled, or
    asked again if it is another one now), or keep one's own."""
    query = update.callback_query
    assert query is not None
    content, named = context.services.content, press.assessment_id
    if press.join:
        claimed = await once(
            update,
            context,
            lambda c, who: teams.join(c, content, who, press.code, confirmed=named),
        )
        with use_language(claimed.language):
            await answer_press(query)
        await _joined(update, context, claimed.result)
        return
    kept = await once(update, context, _nothing)
    with use_language(kept.language):
        await answer_press(query, _(views.KEPT))
        if kept.fresh:
            await send(context.bot, chat_of(update), _(views.KEPT) + " /resume")


def _nothing(connection: Connection, who: Who) -> None:
    """Nothing to change: only the update's claim is recorded."""


async def team_press(update: Update, context: BotContext, press: TeamPress) -> None:
    """A team view's button, acting only on a team the presser belongs to."""
    query = update.callback_query
    assert query is not None
    content, team_id = context.services.content, press.team_id
    if press.action == views.SUMMARY:
        summarised = await once(
            update, context, lambda c, w: teams.summary(c, content, w, team_id)
        )
        found = summarised.result
        with use_language(summarised.language):
            if isinstance(found, teams.Refused) or found is None:
                await answer_press(query, _(found.reason) if found else None)
                return
            await answer_press(query)
        await send(context.bot, chat_of(update), views.summary_view(found).text)
        follow_up(update, context, _send_chart(update, context, found))
        return
    if press.action == views.LEAVE:
        checked = await once(update, context, lambda c, w: teams.may_leave(c, w, team_id))
        with use_language(checked.language):
            refusal = checked.result
            await answer_press(query, _(refusal) if refusal else None)
            if checked.fresh and refusal is None:
                sure = buttons([[(_(views.LEAVE_YES_LABEL), TeamPress(team_id, views.LEAVE_YES))]])
                await send(context.bot, chat_of(update), _(views.ASK_LEAVE), sure)
        return
    act = teams.leave if press.action == views.LEAVE_YES else teams.close
    done = await once(update, context, lambda c, w: act(c, w, team_id))
    result = done.result
    with use_language(done.language):
        if result is None:  # repeated
            await answer_press(query)
            return
        await answer_press(
            query, _(result.reason if isinstance(result, teams.Refused) else result.message)
        )
        if isinstance(result, teams.Done):
            await send(context.bot, chat_of(update), _(result.message))


async def _send_chart(update: Update, context: BotContext, summary: TeamSummary) -> None:
    """Send the team chart after the team summary."""
    from bot.documents.team_chart import team_chart

    png = await context.services.draw(lambda: team_chart(summary))
    await context.bot.send_photo(chat_of(update), InputFile(png, filename="sicheck-team.png"))
