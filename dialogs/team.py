"""Team assessments as plain data: the team summary and the team's views.

Each member of a team answers the same checklist on their own. The summary counts the answers
of the finished members per criterion and level, never saying whose they are; its median and
spread leave out "not applicable" and unanswered criteria, and a criterion whose answers lie
two levels or more apart is flagged as one to discuss first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from statistics import median

from babel.numbers import format_decimal

from dialogs.content import Checklist
from dialogs.i18n import N_, _, current_language, ngettext, use_language
from dialogs.report import typeset
from dialogs.views import Button, View

FLAG_SPREAD = 2
"""Levels apart at which a criterion's answers are flagged as the ones to discuss first."""
SUMMARY, LEAVE, LEAVE_YES, CLOSE = "summary", "leave", "leave-yes", "close"
"""The team views' button actions; each adapter wraps them in its own data."""

SUMMARY_LABEL = N_("📊 Team summary")
LEAVE_LABEL = N_("🚪 Leave the team")
LEAVE_YES_LABEL = N_("Yes, leave the team")
CLOSE_LABEL = N_("🔒 Close the team")
NO_ASSESSMENT = N_(
    "Start an assessment and answer the questions about the practice first: then /team "
    "invites your team to assess it with you."
)
UNKNOWN_TEAM = N_("That team invitation is not valid. Ask the team's owner for a new invitation.")
TEAM_CLOSED = N_("That team is closed: its owner no longer takes new members.")
OWN_TEAM = N_("That is your own team's invitation: share it with your team.")
JOINED = N_(
    "You joined the team assessing %(practice)s. Answer on your own: nobody sees your answers "
    "until you finish, and then only as counts."
)
ASK_JOIN = N_(
    "You have an unfinished assessment of %(own)s. Join the team assessing %(practice)s "
    "instead? Your unfinished assessment is then cancelled."
)
JOIN_LABEL = N_("Join the team")
KEEP_MINE = N_("Keep my assessment")
KEPT = N_("You go on with your own assessment.")
NOT_YET = N_("The team summary opens once you finish your own assessment.")
NOT_A_MEMBER = N_("That team is not available.")
ASK_LEAVE = N_("Leave the team? Your answers stay yours and leave the team summary.")
LEFT = N_("You left the team. Your assessment stays yours.")
OWNER_STAYS = N_("You own this team: close it instead of leaving.")
CLOSED = N_("The team is closed: nobody new can join. The summary stays.")
ALREADY_CLOSED = N_("The team was closed already.")
ONLY_OWNER = N_("Only the team's owner can close it.")
NO_TEAM = N_("You are not in a team. /team invites your team to the practice you assess.")


@dataclass(frozen=True)
class Notice:
    """A message to show above a step, with its parameters, to be put in the reader's
    language."""

    message: str
    params: Mapping[str, str] = field(default_factory=dict)

    def text(self, language: str) -> str:
        """The notice in ``language``, as plain text (the adapter escapes it)."""
        with use_language(language):
            return _(self.message, **self.params)


@dataclass(frozen=True)
class CriterionSpread:
    """The finished members' answers to one criterion."""

    code: str
    title: str
    counts: tuple[int, ...]
    """How many answered each level of the scale, from 0 up."""
    not_applicable: int
    """How many answered "not applicable" or left the criterion unanswered."""
    median: float | None
    low: int | None
    high: int | None

    @property
    def spread(self) -> int:
        """Levels between the lowest and the highest answer; 0 with fewer than two."""
        return 0 if self.low is None or self.high is None else self.high - self.low

    @property
    def flagged(self) -> bool:
        """Whether the answers differ by ``FLAG_SPREAD`` levels or more."""
        return self.spread >= FLAG_SPREAD


@dataclass(frozen=True)
class TeamSummary:
    practice: str
    language: str
    max_value: int
    finished: int
    """Finished members' assessments counted, the owner's among them."""
    members: int
    """Members' assessments in the team, finished or not."""
    criteria: tuple[CriterionSpread, ...]
    closed: bool = False

    @property
    def flagged(self) -> tuple[str, ...]:
        """The codes of the criteria to discuss first."""
        return tuple(line.code for line in self.criteria if line.flagged)


def spread_of(
    code: str, title: str, values: Sequence[int | None], max_value: int
) -> CriterionSpread:
    """One criterion's counts, median and spread; ``None`` values are "not applicable"."""
    scored = sorted(value for value in values if value is not None)
    counts = tuple(scored.count(level) for level in range(max_value + 1))
    if not scored:
        return CriterionSpread(code, title, counts, len(values), None, None, None)
    return CriterionSpread(
        code, title, counts, len(values) - len(scored), median(scored), scored[0], scored[-1]
    )


def team_summary(
    checklist: Checklist,
    practice: str,
    answers: Sequence[Mapping[str, int | None]],
    *,
    language: str,
    members: int,
    closed: bool = False,
) -> TeamSummary:
    """The summary of the finished members' ``answers`` (one mapping of criterion to value
    each; a criterion left out was not answered) in ``language``."""
    with use_language(language):
        criteria = tuple(
            spread_of(
                criterion.code,
                _(criterion.title),
                [one.get(criterion.code) for one in answers],
                checklist.max_value,
            )
            for criterion in checklist.criteria
        )
    return TeamSummary(
        practice, language, checklist.max_value, len(answers), members, criteria, closed
    )


def number_text(value: float) -> str:
    """A median as people of the current language write it: ``2``, ``1.5`` or ``1,5``."""
    return format_decimal(value, locale=current_language())


def finished_text(finished: int, members: int) -> str:
    """How many of the team finished, in the current language."""
    return ngettext(
        "%(count)s of %(members)s member finished.",
        "%(count)s of %(members)s members finished.",
        finished,
        members=members,
    )


def _criterion_line(line: CriterionSpread) -> str:
    counts = " · ".join(f"{level}: {count}" for level, count in enumerate(line.counts))
    counts += " · " + _("n/a: %(count)s", count=line.not_applicable)
    mark = "⚠️ " if line.flagged else ""
    title = f"{mark}<b>{escape(line.title)}</b>"
    if line.median is None or line.low is None or line.high is None:
        return f"{title}\n{counts}"
    figures = _(
        "median %(median)s, from %(low)s to %(high)s",
        median=number_text(line.median),
        low=line.low,
        high=line.high,
    )
    return f"{title}\n{figures} · {counts}"


def summary_view(summary: TeamSummary) -> View:
    """The team summary as chat text: counts per level, never names."""
    with use_language(summary.language):
        lines = [
            "<b>" + _("Team summary: %(practice)s", practice=escape(summary.practice)) + "</b>",
            finished_text(summary.finished, summary.members),
            "",
        ]
        lines += [_criterion_line(line) for line in summary.criteria]
        flagged = [line.title for line in summary.criteria if line.flagged]
        lines.append("")
        if flagged:
            lines.append("<b>" + _("To discuss first:") + "</b> " + escape("; ".join(flagged)))
        else:
            lines.append(_("No criterion has answers two levels or more apart."))
        return View(typeset("\n".join(lines), summary.language))


@dataclass(frozen=True)
class TeamStatus:
    """One person's place in a team, as the ``/team`` view shows it."""

    team_id: int
    code: str
    practice: str
    owner: bool
    closed: bool
    members: int
    finished: int
    own_finished: bool
    language: str


def status_view(status: TeamStatus, invitation: str) -> View:
    """The team's invitation (``invitation``: a link or a code) with what its holder may do."""
    with use_language(status.language):
        lines = ["<b>" + _("Team: %(practice)s", practice=escape(status.practice)) + "</b>"]
        if status.closed:
            lines.append(_("The team is closed: nobody new can join."))
        else:
            lines.append(
                _(
                    "Your team joins with this invitation; each member answers on their own:"
                    "\n%(invitation)s",
                    invitation=escape(invitation),
                )
            )
        lines.append(finished_text(status.finished, status.members))
        if not status.own_finished:
            lines.append(_(NOT_YET))
        rows: list[tuple[Button, ...]] = []
        if status.own_finished:
            rows.append((Button(_(SUMMARY_LABEL), SUMMARY),))
        if status.owner and not status.closed:
            rows.append((Button(_(CLOSE_LABEL), CLOSE),))
        if not status.owner:
            rows.append((Button(_(LEAVE_LABEL), LEAVE),))
        return View(typeset("\n\n".join(lines), status.language), tuple(rows))
