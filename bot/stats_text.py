"""Aggregate figures as words: headings, summary lines and one line per criterion.

``storage.stats`` counts; this module says what the counts are in the current language, for
the terminal (``stats_plain``), Telegram (``bot.telegram.stats_text``) and the chart.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.numbers import format_decimal
from babel.units import format_unit

from dialogs.content import Checklist, Content
from dialogs.i18n import _, current_language, ngettext, use_language
from dialogs.report import country_name, percent_text
from storage.stats import NOT_APPLICABLE, OTHER_COUNTRY, CriterionStats, GroupStats

MISSING = "–"
MINUTES_UP_TO = 120
HOURS_UP_TO = 48
GROUP_SEPARATOR = "\n\n"


def group_heading(group: GroupStats) -> str:
    """The group's cohort and country in the current language, unescaped; "another country"
    and "unknown country" kept apart."""
    if group.overall and group.cohort is None:
        cohort = _("All cohorts")
    else:
        cohort = group.cohort_name or group.cohort or _("No cohort")
    if group.overall and group.country is None:
        country = _("All countries")
    elif group.country is None:
        country = _("Unknown country")
    else:
        country = country_name(None if group.country == OTHER_COUNTRY else group.country)
    return f"{cohort} · {country}"


def duration_text(seconds: float | None) -> str:
    """A duration in minutes, hours or days as the current language abbreviates them."""
    if seconds is None:
        return MISSING
    minutes = seconds / 60
    if minutes <= MINUTES_UP_TO:
        amount, unit = minutes, "duration-minute"
    elif minutes / 60 <= HOURS_UP_TO:
        amount, unit = minutes / 60, "duration-hour"
    else:
        amount, unit = minutes / 60 / 24, "duration-day"
    return format_unit(amount, unit, length="short", format="#,##0.#", locale=current_language())


def summary_line(group: GroupStats) -> str:
    """Respondents, started, completed, completion rate and median time, without markup."""
    language = current_language()
    return _(
        "Respondents: %(respondents)s, started: %(started)s, completed: %(completed)s"
        " (%(rate)s), median time: %(duration)s",
        respondents=format_decimal(group.respondents, locale=language),
        started=format_decimal(group.started, locale=language),
        completed=format_decimal(group.completed, locale=language),
        rate=MISSING
        if group.completion_rate is None
        else percent_text(group.completion_rate * 100),
        duration=duration_text(group.median_duration_seconds),
    )


def criterion_title(checklist: Checklist, code: str) -> str:
    """The criterion's title in the current language; its code alone if the checklist lacks it."""
    try:
        return _(checklist.criterion(code).title)
    except KeyError:  # a criterion only an older checklist version had
        return code


def criterion_line(criterion: CriterionStats, checklist: Checklist) -> str:
    """``C01 Title: mean 2.2 · 0:1 1:2 2:3 3:0 N/A:1``, without markup."""
    # Bare counts keep ten lines per group short: the scale's values need no words.
    counts = [f"{level.value}:{criterion.counts.get(level.value, 0)}" for level in checklist.scale]
    counts.append(f"{_('N/A')}:{criterion.counts.get(NOT_APPLICABLE, 0)}")
    mean = (
        MISSING
        if criterion.mean is None
        else format_decimal(criterion.mean, format="0.0", locale=current_language())
    )
    return _(
        "%(code)s %(title)s: mean %(mean)s · %(counts)s",
        code=criterion.code,
        title=criterion_title(checklist, criterion.code),
        mean=mean,
        counts=" ".join(counts),
    )


def suppressed_line(group: GroupStats) -> str:
    """What a group not shown says instead of its figures: the same whether it is small or
    hidden so that a total cannot give a small one away, which would tell them apart."""
    return ngettext(
        "Fewer than %(count)s respondent finished here, or showing this group would give a "
        "smaller one away: not shown.",
        "Fewer than %(count)s respondents finished here, or showing this group would give a "
        "smaller one away: not shown.",
        group.threshold,
    )


def more_line(count: int) -> str:
    """The closing line when ``count`` groups did not fit."""
    return ngettext(
        "Group not shown here: %(count)s. The export lists them all.",
        "Groups not shown here: %(count)s. The export lists them all.",
        count,
    )


def group_lines(group: GroupStats, checklist: Checklist) -> list[str]:
    """The group's heading, then its summary and criterion lines, or why they are not shown."""
    if group.suppressed:
        return [group_heading(group), suppressed_line(group)]
    criteria = [criterion_line(criterion, checklist) for criterion in group.criteria]
    return [group_heading(group), summary_line(group), *criteria]


def stats_plain(groups: Sequence[GroupStats], content: Content, language: str) -> str:
    """Every group's figures as plain text in ``language``, for the terminal."""
    with use_language(language):
        blocks = ["\n".join(group_lines(group, content.latest)) for group in groups]
    return GROUP_SEPARATOR.join(blocks)


def no_map_line(threshold: int) -> str:
    """What the ecosystem map says instead when no group is large enough to be drawn."""
    return ngettext(
        "No group has at least %(count)s respondent who finished, so there is no map to draw.",
        "No group has at least %(count)s respondents who finished, so there is no map to draw.",
        threshold,
    )
