"""What a practitioner may do once an assessment is finished, as one message of plain data.

Sent once after the summary: the team's progress and its summary for a team member, the
team's invitation for anyone else (the owner sees the link again), and sharing with the
mentor where the cohort has a coordinator. Each adapter wraps the actions in its own data.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from dialogs.i18n import N_, _, use_language
from dialogs.report import typeset
from dialogs.team import SUMMARY, SUMMARY_LABEL, TeamStatus, finished_text
from dialogs.views import Button, View

INVITE, SHARE, STOP_SHARING = "invite", "share", "stop-sharing"
"""The view's own actions, beside the team summary's (``dialogs.team.SUMMARY``)."""

TITLE = N_("What next?")
INVITE_LABEL = N_("👥 Invite my team")
SHARE_LABEL = N_("🤝 Share with my mentor")
STOP_LABEL = N_("🚫 Stop sharing with my mentor")
INVITE_OFFER = N_(
    "Assess %(practice)s with your team: each member answers on their own, and the team "
    "summary shows where your answers differ."
)
INVITE_AGAIN = N_("Your team's invitation stays open: show it again to invite more members.")
OFFER = N_(
    "Your cohort's coordinator can mentor you: share this summary with them and they can "
    "leave feedback on each criterion. Nothing is shared unless you tap the button, and you "
    "can stop sharing at any time."
)
SHARED_NOW = N_(
    "Your mentor can read this summary and leave feedback on its criteria. You can stop "
    "sharing at any time."
)


@dataclass(frozen=True)
class WhatNext:
    """What applies to one finished assessment, in its practitioner's language."""

    language: str
    practice: str
    team: TeamStatus | None
    """The team the assessment is in, if any."""
    shared: bool | None
    """Whether it is shared with the cohort's coordinator; ``None``: no one to share it with."""

    @property
    def invites(self) -> bool:
        """Whether to offer the team's invitation: to anyone not in a team, and to the owner of
        an open one."""
        team = self.team
        return team is None or (team.owner and not team.closed)


def what_next_view(found: WhatNext) -> View:
    """The message after the summary: a paragraph and a button for each thing that applies."""
    with use_language(found.language):
        lines = ["<b>" + _(TITLE) + "</b>"]
        rows: list[tuple[Button, ...]] = []
        team = found.team
        if team is not None:
            heading = _("Team: %(practice)s", practice=escape(team.practice))
            lines.append(f"👥 {heading}\n" + finished_text(team.finished, team.members))
            rows.append((Button(_(SUMMARY_LABEL), SUMMARY),))
            if found.invites:
                lines.append(_(INVITE_AGAIN))
        else:
            lines.append(_(INVITE_OFFER, practice=f"<b>{escape(found.practice)}</b>"))
        if found.invites:
            rows.append((Button(_(INVITE_LABEL), INVITE),))
        if found.shared is not None:
            lines.append(_(SHARED_NOW if found.shared else OFFER))
            label, action = (STOP_LABEL, STOP_SHARING) if found.shared else (SHARE_LABEL, SHARE)
            rows.append((Button(_(label), action),))
        return View(typeset("\n\n".join(lines), found.language), tuple(rows))
