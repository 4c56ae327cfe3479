"""Team assessments in the terminal: ``/team`` shows the team's code, ``/join CODE`` joins,
and a finished summary says what may follow it ("What next?").

The same units of work as on Telegram (``storage.teams``, ``storage.what_next``) and the same
views (``dialogs.team``, ``dialogs.what_next``); their buttons are the console's numbered
choices. Sharing with a mentor is Telegram's: the console leaves it out.
"""

from __future__ import annotations

from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING

from dialogs import team as views
from dialogs.i18n import _, use_language
from dialogs.team import TeamStatus, TeamSummary
from dialogs.views import Button, View, back_button
from dialogs.what_next import INVITE, what_next_view
from storage import teams
from storage.what_next import what_next

if TYPE_CHECKING:
    from bot.console import Console

PREFIX = "team:"
"""The console's team actions: ``team:<action>`` of ``dialogs.team``, or
``team:join:<assessment>:<code>`` (the unfinished assessment joining cancels)."""
JOIN = "join:"
BACK = PREFIX + "back"
"""Back from a team menu to the dialogue, keyed ``b`` like the dialogue's own Back."""
KEEP = PREFIX + "keep"
"""Not joining: back to the dialogue, with the assessment under way kept."""


def invitation(code: str) -> str:
    """What a member types in their own console to join."""
    return f"/join {code}"


def _choices(view: View) -> tuple[tuple[Button, ...], ...]:
    """The view's buttons as the console's team actions."""
    return tuple(
        tuple(Button(button.label, PREFIX + button.action) for button in row)
        for row in view.buttons
    )


def _open(console: Console, view: View, team_id: int) -> bool:
    console.team_id = team_id
    rows = _choices(view)
    with use_language(console.language):
        console.menus = [View(view.text, (*rows, (Button(back_button().label, BACK),)))]
    return console.show()


async def show_team(console: Console) -> bool:
    """``/team``: the team of the assessment under way or finished, made on first asking."""
    found = await console.run(teams.invite, console.who)
    return _status(console, found)


def _status(console: Console, found: TeamStatus | teams.Refused) -> bool:
    if isinstance(found, teams.Refused):
        return console.tell(found.reason)
    return _open(console, views.status_view(found, invitation(found.code)), found.team_id)


async def join(console: Console, code: str, *, confirmed: int | None = None) -> bool:
    """``/join CODE``: start one's own assessment of the team's practice, cancelling the
    unfinished assessment ``confirmed`` names, if it is still the one under way."""
    joined = await console.run(
        teams.join, console.content, console.who, code.strip(), confirmed=confirmed
    )
    console.menus = []
    if joined.ask is not None:
        with use_language(joined.language):
            text = _(
                views.ASK_JOIN,
                own=f"<b>{escape(joined.ask)}</b>",
                practice=f"<b>{escape(joined.practice or '…')}</b>",
            )
            choices = (
                (Button(_(views.JOIN_LABEL), f"{PREFIX}{JOIN}{joined.cancels}:{code}"),),
                (Button(_(views.KEEP_MINE), KEEP),),
            )
        console.menus = [View(text, choices)]
        return console.show()
    console.outcome = joined.outcome
    if joined.notice:
        console.say(escape(joined.notice.text(joined.language)))
    return console.show()


async def act(console: Console, action: str) -> bool:
    """Carry out a team choice (``team:…``) of the menu shown."""
    chosen = action.removeprefix(PREFIX)
    if chosen.startswith(JOIN):
        named, code = chosen.removeprefix(JOIN).split(":", 1)
        return await join(console, code, confirmed=int(named))
    if action in (BACK, KEEP):
        console.menus = []
        return console.show(short=True)
    if chosen == INVITE and console.outcome is not None:
        assessment_id = console.outcome.assessment_id
        invited = await console.run(teams.invite_for, console.who, assessment_id)
        await after_finish(console)  # the summary's choices now name the team
        return _status(console, invited)
    team_id = console.team_id
    if chosen == views.SUMMARY:
        found = await console.run(teams.summary, console.content, console.who, team_id)
        return _summary(console, found)
    if chosen == views.LEAVE:
        with use_language(console.language):
            yes = Button(_(views.LEAVE_YES_LABEL), PREFIX + views.LEAVE_YES)
            back = Button(back_button().label, BACK)
            console.menus = [View(_(views.ASK_LEAVE), ((yes,), (back,)))]
        return console.show()
    work = teams.leave if chosen == views.LEAVE_YES else teams.close
    done = await console.run(work, console.who, team_id)
    console.menus = []
    return console.tell(done.reason if isinstance(done, teams.Refused) else done.message)


def _summary(console: Console, found: TeamSummary | teams.Refused) -> bool:
    if isinstance(found, teams.Refused):
        console.menus = []
        return console.tell(found.reason)
    with use_language(console.language):
        back = Button(back_button().label, BACK)
    console.menus = [View(views.summary_view(found).text, ((back,),))]
    return console.show()


async def after_finish(console: Console) -> None:
    """Read what may follow the assessment just finished, to show under its summary."""
    assert console.outcome is not None
    assessment_id = console.outcome.assessment_id
    found = await console.run(what_next, console.who, assessment_id)
    if found is None:
        console.what_next = None
        return
    if found.team is not None:
        console.team_id = found.team.team_id
    view = what_next_view(replace(found, shared=None))
    console.what_next = (assessment_id, View(view.text, _choices(view)))


def what_next_of(console: Console) -> View | None:
    """What may follow the finished assessment shown, read when it was finished."""
    after, outcome = console.what_next, console.outcome
    if after is None or outcome is None or after[0] != outcome.assessment_id:
        return None
    return after[1]
