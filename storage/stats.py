"""Aggregate figures for coordinators: who started and completed, and how criteria were answered.

Read-only units of work returning data only (``bot/`` shows them). Answers are counted in SQL
per cohort and country; assessments reach Python as one short row each. A group with fewer
finishers than the threshold keeps its figures to itself, so nobody in it can be recognised.

A country is an ISO code, ``OTHER_COUNTRY`` when the practitioner chose "another country", or
``None`` when none is recorded (the assessment stopped before the country question).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from dialogs import machine
from dialogs.content import Content
from storage.models import Answer, Assessment, Cohort

SUPPRESS_BELOW = 5
"""A group needs at least this many respondents before any of its figures are shown."""
SCALE = (0, 1, 2, 3)
NOT_APPLICABLE = None
COUNTED: tuple[int | None, ...] = (*SCALE, NOT_APPLICABLE)
OTHER_COUNTRY = "other"
"""The country of a practitioner who chose "another country" (stored as no code)."""
BEFORE_COUNTRY = (machine.LANGUAGE, machine.CONSENT, machine.PROFILE_NAME, machine.PROFILE_COUNTRY)
"""States in which the country question has not been answered yet."""

GroupKey = tuple[int | None, str | None]
"""An assessment group: its cohort's id and its country."""


@dataclass(frozen=True)
class CriterionStats:
    code: str
    counts: dict[int | None, int]
    """How many completed assessments answered 0, 1, 2, 3 and ``None`` (not applicable)."""
    mean: float | None
    """The mean answer on the 0..3 scale, not-applicable answers left out."""

    @property
    def number(self) -> int:
        """The criterion's number in the checklist (codes are ``C01``..``C10``)."""
        return int(self.code[1:])


@dataclass(frozen=True)
class GroupStats:
    """The figures of one cohort and country, or of everything selected (``overall``)."""

    cohort: str | None
    """The cohort's invitation code; ``None`` means no cohort, or every cohort when overall."""
    cohort_name: str | None
    country: str | None
    """ISO code or ``OTHER_COUNTRY``; ``None`` means no country recorded, or every country
    when overall."""
    respondents: int
    """Distinct respondents who started an assessment in the group."""
    started: int
    completed: int
    completion_rate: float | None
    """Completed divided by started, a fraction from 0 to 1."""
    median_duration_seconds: float | None
    """From start to completion, over completed assessments."""
    criteria: tuple[CriterionStats, ...]
    suppressed: bool
    """Whether the group has fewer finishers than ``threshold``, or would give away one that
    has: then every figure is empty."""
    threshold: int = SUPPRESS_BELOW
    overall: bool = False


def country_key() -> Any:
    """The assessment's country as an SQL expression: its code, ``OTHER_COUNTRY`` or NULL.

    No code is stored for "another country" either, so the assessment's progress tells the two
    apart: one that never got past the country question (or was cancelled with nothing
    recorded after it) has no country recorded.
    """
    # Constants written into the statement, not bound: grouped by, the expression must read
    # the same in GROUP BY as in the select list, which positional parameters would break.
    given = aliased(Answer)  # apart from any answer the statement itself reads
    answered = exists().where(given.assessment_id == Assessment.id).correlate(Assessment)
    unknown = Assessment.state.in_([_constant(state) for state in BEFORE_COUNTRY]) | and_(
        Assessment.status == _constant("cancelled"), Assessment.organisation.is_(None), ~answered
    )
    return case(
        (Assessment.country.is_not(None), Assessment.country),
        (unknown, None),
        else_=_constant(OTHER_COUNTRY),
    )


def _constant(text: str) -> Any:
    return literal_column("'" + text.replace("'", "''") + "'")


# Labelled apart from the column: PostgreSQL would group by the column of a name they shared.
_COUNTRY = country_key().label("country_key")
_STARTED = (
    # Whoever declined consent asked for nothing to be recorded, and whoever has not yet given
    # it has not started: neither is counted.
    Assessment.status != "declined",
    Assessment.state.not_in(("language", "consent")),
)
_ASSESSMENTS = (
    select(
        Assessment.cohort_id,
        Cohort.code,
        Cohort.name,
        _COUNTRY,
        Assessment.respondent_id,
        Assessment.status,
        Assessment.started_at,
        Assessment.completed_at,
    )
    .select_from(Assessment)
    .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
    .where(*_STARTED)
)
_ANSWERS = (
    select(Assessment.cohort_id, _COUNTRY, Answer.criterion, Answer.value, func.count())
    .select_from(Answer)
    .join(Assessment, Assessment.id == Answer.assessment_id)
    .where(*_STARTED, Assessment.status == "completed")
    .group_by(Assessment.cohort_id, _COUNTRY, Answer.criterion, Answer.value)
)
"""How often each value is the current answer to each criterion, per group."""


def stats(
    connection: Connection,
    content: Content,
    *,
    cohort: str | None = None,
    country: str | None = None,
    threshold: int = SUPPRESS_BELOW,
) -> list[GroupStats]:
    """Figures of everything selected first, then of each cohort and country, small ones empty."""
    # Every group is read, chosen or not: whether one is hidden depends on the others.
    groups: defaultdict[GroupKey, list[Any]] = defaultdict(list)
    for row in connection.execute(_ASSESSMENTS):
        groups[(row.cohort_id, row.country_key)].append(row)
    # The figures are those of the people who finished: so few of them is what gives one away.
    hidden = hidden_groups({key: _finishers(rows) for key, rows in groups.items()}, threshold)
    chosen = {
        key: rows
        for key, rows in groups.items()
        if cohort in (None, rows[0].code) and country in (None, key[1])
    }
    answers: defaultdict[GroupKey, defaultdict[str, dict[int | None, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    # Answers add up across groups (unlike respondents), so the overall ones are summed here.
    every_answer: defaultdict[str, Counter[int | None]] = defaultdict(Counter)
    for cohort_id, found_country, code, value, count in connection.execute(_ANSWERS):
        if (cohort_id, found_country) in chosen:
            answers[(cohort_id, found_country)][code][value] = count
            every_answer[code][value] += count
    # The latest checklist's criteria in order, then any others that older answers used.
    codes = [criterion.code for criterion in content.latest.criteria]
    codes += sorted(set(every_answer) - set(codes))
    name = connection.execute(select(Cohort.name).where(Cohort.code == cohort)).scalar()
    # The total of a selection that holds a hidden group is hidden too: taken from the total
    # of another selection (a cohort's from its country's), it would give the hidden groups
    # of the difference away. Only the total of everything holds hidden groups, whose sum
    # the secondary suppression keeps at the threshold or above.
    selected = cohort is not None or country is not None
    holds_hidden = selected and any(key in hidden for key in chosen)
    everyone = [row for rows in chosen.values() for row in rows]
    result = [
        _group(
            (cohort, name, country), everyone, every_answer, codes, threshold, holds_hidden, True
        )
    ]
    for key in sorted(chosen, key=lambda key: _order(chosen[key][0])):
        first = chosen[key][0]
        group = (first.code, first.name, first.country_key)
        result.append(_group(group, chosen[key], answers[key], codes, threshold, key in hidden))
    return result


def _finishers(rows: Sequence[Any]) -> int:
    """Distinct respondents with a completed assessment: whose answers the figures show."""
    return len({row.respondent_id for row in rows if row.status == "completed"})


def hidden_groups(respondents: dict[GroupKey, int], threshold: int) -> set[GroupKey]:
    """The groups to leave out: the small ones, and enough others that no total gives them away.

    A total less the groups shown is the sum of those hidden; when that sum falls below the
    threshold, the smallest group still shown in that total is hidden too (secondary
    suppression), for the overall total and the total of every cohort and every country.
    """
    hidden = {key for key, count in respondents.items() if count < threshold}
    totals: list[list[GroupKey]] = [list(respondents)]
    for position in (0, 1):
        lines: dict[object, list[GroupKey]] = defaultdict(list)
        for key in respondents:
            lines[key[position]].append(key)
        totals += lines.values()
    changed = True
    while changed:
        changed = False
        for members in totals:
            left_out = sum(respondents[key] for key in members if key in hidden)
            shown = [key for key in members if key not in hidden]
            if 0 < left_out < threshold and shown:
                hidden.add(min(shown, key=lambda key: (respondents[key], str(key))))
                changed = True
    return hidden


def _order(row: Any) -> tuple[bool, str, str, bool, str]:
    """Cohorts by name with the uninvited last, then countries by code with the unknown last."""
    return (
        row.code is None,
        (row.name or "").casefold(),
        row.code or "",
        row.country_key is None,
        row.country_key or "",
    )


def _group(
    group: tuple[str | None, str | None, str | None],
    rows: Sequence[Any],
    answers: Mapping[str, Mapping[int | None, int]],
    codes: Sequence[str],
    threshold: int,
    hidden: bool,
    overall: bool = False,
) -> GroupStats:
    """The figures of one group (its cohort's code and name, its country) from its rows."""
    if hidden or _finishers(rows) < threshold:
        return GroupStats(*group, 0, 0, 0, None, None, (), True, threshold, overall)
    completed = [row for row in rows if row.status == "completed"]
    durations = [
        (row.completed_at - row.started_at).total_seconds()
        for row in completed
        if row.completed_at is not None
    ]
    return GroupStats(
        *group,
        respondents=len({row.respondent_id for row in rows}),
        started=len(rows),
        completed=len(completed),
        completion_rate=len(completed) / len(rows) if rows else None,
        median_duration_seconds=statistics.median(durations) if durations else None,
        criteria=tuple(_criterion(code, answers.get(code, {})) for code in codes),
        suppressed=False,
        threshold=threshold,
        overall=overall,
    )


def _criterion(code: str, found: Mapping[int | None, int]) -> CriterionStats:
    counts = {value: found.get(value, 0) for value in COUNTED}
    scored = sum(counts[value] for value in SCALE)
    total = sum(value * counts[value] for value in SCALE)
    return CriterionStats(code, counts, total / scored if scored else None)
