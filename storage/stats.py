"""Aggregate figures for coordinators: who started and completed, and how criteria were answered.

Plain read-only units of work over a ``Connection``, like ``storage.reports``, returning data
only: how a chat or a terminal shows them is ``bot/``'s business. Everything is counted in SQL
per cohort and country; only one duration per completed assessment reaches Python, for the
median. A group with fewer respondents than the threshold keeps its figures to itself, so
nobody in a small group can be recognised by their answers.

A country is an ISO code, ``OTHER_COUNTRY`` when the practitioner chose "another country", or
``None`` when none is recorded (the assessment stopped before the country question).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    exists,
    func,
    literal_column,
    null,
    select,
)
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

_Row = TypeVarTuple("_Row")
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
    """Whether the group has fewer respondents than ``threshold``; then every figure is empty."""
    threshold: int = SUPPRESS_BELOW
    overall: bool = False


@dataclass
class _Counts:
    cohort: str | None
    cohort_name: str | None
    country: str | None
    respondents: int
    started: int
    completed: int
    finishers: int
    """Distinct respondents with a completed assessment: whose answers the figures show."""


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
        (unknown, null()),
        else_=_constant(OTHER_COUNTRY),
    )


def _constant(text: str) -> Any:
    return literal_column("'" + text.replace("'", "''") + "'")


def _selected(
    statement: Select[*_Row],
    cohort: str | None,
    country: str | None,
    *,
    completed: bool = False,
) -> Select[*_Row]:
    """``statement`` over the assessments chosen, with their cohort joined."""
    conditions: list[ColumnElement[bool]] = [
        # Whoever declined consent asked for nothing to be recorded, and whoever has not yet
        # given it has not started: neither is counted.
        Assessment.status != "declined",
        Assessment.state.not_in(("language", "consent")),
    ]
    if completed:
        conditions.append(Assessment.status == "completed")
    if cohort is not None:
        conditions.append(Cohort.code == cohort)
    if country == OTHER_COUNTRY:
        conditions.append(country_key() == OTHER_COUNTRY)
    elif country is not None:
        conditions.append(Assessment.country == country)
    return statement.outerjoin(Cohort, Cohort.id == Assessment.cohort_id).where(*conditions)


_COUNTRY = country_key().label("country_key")
_TALLIES = (
    func.count(distinct(Assessment.respondent_id)),
    func.count(),
    func.count().filter(Assessment.status == "completed"),
    func.count(distinct(Assessment.respondent_id)).filter(Assessment.status == "completed"),
)


def stats(
    connection: Connection,
    content: Content,
    *,
    cohort: str | None = None,
    country: str | None = None,
    threshold: int = SUPPRESS_BELOW,
) -> list[GroupStats]:
    """Figures of everything selected first, then of each cohort and country, small ones empty."""
    groups = _group_counts(connection, cohort, country)
    overall = _overall_counts(connection, cohort, country)
    answers = _answer_counts(connection, cohort, country)
    durations = _durations(connection, cohort, country)
    codes = _criterion_codes(content, (code for by_code in answers.values() for code in by_code))
    # Answers add up across groups (unlike respondents), so the overall ones are summed here.
    every_answer: defaultdict[str, Counter[int | None]] = defaultdict(Counter)
    for by_code in answers.values():
        for code, counts in by_code.items():
            every_answer[code].update(counts)
    every_duration = [seconds for found in durations.values() for seconds in found]
    # The figures are those of the people who finished: so few of them is what gives one away.
    every_group = _group_counts(connection, None, None)
    hidden = hidden_groups(
        {key: counts.finishers for key, counts in every_group.items()}, threshold
    )
    # A selection of one cohort in one country is a single group: its total is that group.
    single = cohort is not None and country is not None and any(key in hidden for key in groups)
    result = [
        _group(overall, every_answer, every_duration, codes, threshold, single, overall=True)
    ]
    for key in sorted(groups, key=lambda key: _order(groups[key])):
        result.append(
            _group(groups[key], answers[key], durations[key], codes, threshold, key in hidden)
        )
    return result


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


def _group_counts(
    connection: Connection, cohort: str | None, country: str | None
) -> dict[GroupKey, _Counts]:
    statement = (
        select(Assessment.cohort_id, Cohort.code, Cohort.name, _COUNTRY, *_TALLIES)
        .select_from(Assessment)
        .group_by(Assessment.cohort_id, Cohort.code, Cohort.name, _COUNTRY)
    )
    return {
        (cohort_id, found_country): _Counts(code, name, found_country, *tallies)
        for cohort_id, code, name, found_country, *tallies in connection.execute(
            _selected(statement, cohort, country)
        )
    }


def _overall_counts(connection: Connection, cohort: str | None, country: str | None) -> _Counts:
    # Respondents are counted again over the whole selection: one person may be in two groups.
    respondents, started, completed, finishers = connection.execute(
        _selected(select(*_TALLIES).select_from(Assessment), cohort, country)
    ).one()
    name = None
    if cohort is not None:
        name = connection.execute(select(Cohort.name).where(Cohort.code == cohort)).scalar()
    return _Counts(cohort, name, country, respondents, started, completed, finishers)


def _answer_counts(
    connection: Connection, cohort: str | None, country: str | None
) -> defaultdict[GroupKey, defaultdict[str, dict[int | None, int]]]:
    """How often each value was the current answer to each criterion, per group."""
    statement = (
        select(Assessment.cohort_id, _COUNTRY, Answer.criterion, Answer.value, func.count())
        .select_from(Answer)
        .join(Assessment, Assessment.id == Answer.assessment_id)
        .group_by(Assessment.cohort_id, _COUNTRY, Answer.criterion, Answer.value)
    )
    answers: defaultdict[GroupKey, defaultdict[str, dict[int | None, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for cohort_id, found_country, code, value, count in connection.execute(
        _selected(statement, cohort, country, completed=True)
    ):
        answers[(cohort_id, found_country)][code][value] = count
    return answers


def _durations(
    connection: Connection, cohort: str | None, country: str | None
) -> defaultdict[GroupKey, list[float]]:
    """Seconds from start to completion of every completed assessment, per group."""
    statement = select(
        Assessment.cohort_id, _COUNTRY, Assessment.started_at, Assessment.completed_at
    ).select_from(Assessment)
    durations: defaultdict[GroupKey, list[float]] = defaultdict(list)
    for cohort_id, found_country, started_at, completed_at in connection.execute(
        _selected(statement, cohort, country, completed=True)
    ):
        if completed_at is not None:
            durations[(cohort_id, found_country)].append(
                (completed_at - started_at).total_seconds()
            )
    return durations


def _order(counts: _Counts) -> tuple[bool, str, str, bool, str]:
    """Cohorts by name with the uninvited last, then countries by code with the unknown last."""
    return (
        counts.cohort is None,
        (counts.cohort_name or "").casefold(),
        counts.cohort or "",
        counts.country is None,
        counts.country or "",
    )


def _criterion_codes(content: Content, found: Iterable[str]) -> list[str]:
    """The latest checklist's criteria in order, then any others that older answers used."""
    codes = [criterion.code for criterion in content.latest.criteria]
    return codes + sorted(set(found) - set(codes))


def _group(
    counts: _Counts,
    answers: Mapping[str, Mapping[int | None, int]],
    durations: Sequence[float],
    codes: Sequence[str],
    threshold: int,
    hidden: bool = False,
    *,
    overall: bool = False,
) -> GroupStats:
    shown = GroupStats(
        counts.cohort,
        counts.cohort_name,
        counts.country,
        respondents=counts.respondents,
        started=counts.started,
        completed=counts.completed,
        completion_rate=counts.completed / counts.started if counts.started else None,
        median_duration_seconds=statistics.median(durations) if durations else None,
        criteria=tuple(_criterion(code, answers.get(code, {})) for code in codes),
        suppressed=False,
        threshold=threshold,
        overall=overall,
    )
    if not hidden and counts.finishers >= threshold:
        return shown
    return replace(
        shown,
        respondents=0,
        started=0,
        completed=0,
        completion_rate=None,
        median_duration_seconds=None,
        criteria=(),
        suppressed=True,
    )


def _criterion(code: str, found: Mapping[int | None, int]) -> CriterionStats:
    counts = {value: found.get(value, 0) for value in COUNTED}
    scored = sum(counts[value] for value in SCALE)
    total = sum(value * counts[value] for value in SCALE)
    return CriterionStats(code, counts, total / scored if scored else None)
