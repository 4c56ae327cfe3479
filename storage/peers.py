"""The peers of an assessment: other practices' medians, from whole batches of them only.

A read-only unit of work returning data (``dialogs.peers.PeerMedians``) or nothing.

Peers are the latest completed assessments of other respondents' practices (one per respondent
and case-folded practice name) on the same checklist version, in the same country, else in the
same cohort. They are counted in *cells* and *batches*:

- Every completed assessment falls in one cell: its country and its cohort, as it recorded
  them. A country's peers are those of its cells, a cohort's those of its cells. (A practice
  assessed again in another cohort or country is one practice in each cell it was assessed in.)
- In a cell, the viewer's peers are taken in the order each practice was first completed, and
  only in whole batches of the threshold: the first ``t``, ``2t``, … of them, each practice as
  it stood when the last of its batch was completed. The rest of the cell waits for its batch.
- A group (the country, else the cohort) is shown only when its batches hold at least ``t``
  practices, and a median only when at least ``t`` of them gave a score to take it of.

Why two comparisons cannot be told apart to find a hidden group: everything one respondent is
ever shown (their country's medians now, their cohort's, either one later after more practices
were finished or re-assessed, from this assessment or another) is the median of whole batches.
A cell's batches are cut from one sequence, the other practices in the order they were first
finished, which only grows at its end (the viewer's own practices are never in it); so two
readings differ only by whole batches of at least ``t`` practices, and by re-assessments that
reach the medians only along with such a batch. A practice in no full batch is in no median at
all, and a batch is never shown less one of its members; so no set of fewer than ``t`` other
practices is ever the difference of two readings.

Teams. A team's practice is one practice: its owner's (the owner's assessments of it, counted
as any respondent's), never a member's assessment of it. The owner's is the one that stays put:
the owner cannot leave and the team ends with the owner, so the practice keeps one place in one
cell, whoever joins or leaves; a member's would move it each time one left (the earliest
member's finish gives the practice its place, and a member who left would come back as a
practice of their own, in the middle of the sequence). Counted "as it stood when the batch
filled", the team's practice is the owner's answers then; the members' answers never reach a
median, so a member finishing late changes nothing. A member's assessment is recognised by its
team and, since leaving clears that, also by what it is: another respondent's assessment of the
team's practice (its case-folded name) on the team's checklist, begun after the team was made.
So a leave changes nothing, and a member's assessment never re-enters the sequence.

The viewer's own teams (each team they assessed the practice of, as owner or member, now or
before) are never their peers: the batch holding such a team's practice is left out whole. The
practice keeps its place in the sequence, so the batches stay those every viewer shares; a
viewer joining a team loses exactly one whole batch, and a leave changes nothing.

Not covered, as for any threshold: people who pool what each was shown, or who fill a cell with
made-up practices of their own. An erasure takes its practice out at once, as it must; its
batch is then made up again with the next practice in the cell. An owner's erasure takes their
team too, and its members' assessments then count as practices of their own.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, case, func, or_, select
from sqlalchemy.engine import Connection

from dialogs.content import Checklist, Content
from dialogs.peers import PeerMedians, Scope
from storage.models import Answer, Assessment, Team

Cell = tuple[str | None, int | None]
"""A country code (``None``: another country) and a cohort's id (``None``: none)."""

_VIEWED = select(Assessment.respondent_id, Assessment.country, Assessment.cohort_id).where(
    Assessment.id == bindparam("assessment_id")
)
_COLUMNS = (
    Assessment.id,
    Assessment.respondent_id,
    Assessment.practice_name,
    Assessment.country,
    Assessment.cohort_id,
    Assessment.completed_at,
    Assessment.team_id,
    Assessment.started_at,
)
_TEAMS = select(Team.id, Team.owner_id, Team.practice_name, Team.created_at).where(
    Team.checklist_version == bindparam("checklist_version")
)
_VIEWERS = select(Assessment.team_id, Assessment.practice_name, Assessment.started_at).where(
    Assessment.respondent_id == bindparam("viewer"),
    Assessment.checklist_version == bindparam("checklist_version"),
)
Key = tuple[int, str]
"""A practice: its respondent and its case-folded name."""


def _key(respondent_id: int, name: str | None) -> Key:
    return (respondent_id, (name or "").strip().casefold())


class _Teams:
    """The teams on one checklist version, to tell a member's assessment from a practice."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self.by_id = {row.id: row for row in rows}
        self.by_name: defaultdict[str, list[Any]] = defaultdict(list)
        for row in self.by_id.values():
            self.by_name[_key(row.owner_id, row.practice_name)[1]].append(row)

    def joined(
        self, respondent_id: int, team_id: int | None, name: str | None, started: Any
    ) -> list[Any]:
        """The teams whose practice this assessment is a member's assessment of."""
        found = [self.by_id[team_id]] if team_id in self.by_id else []
        found += [
            team
            for team in self.by_name.get(_key(respondent_id, name)[1], ())
            if started >= team.created_at and team not in found
        ]
        return [team for team in found if team.owner_id != respondent_id]


@cache
def _candidates(codes: tuple[str, ...]) -> Select[Any]:
    """Other respondents' completed assessments in a country or cohort, oldest first, each
    with its answer to every criterion of ``codes`` (no row for each answer: a summary may
    read thousands of peers)."""
    # "Not applicable" and unanswered are both NULL here: neither counts in a median.
    columns: list[Any] = [
        *_COLUMNS,
        *(func.max(case((Answer.criterion == code, Answer.value))) for code in codes),
    ]
    return (
        select(*columns)
        .select_from(Assessment)
        .outerjoin(Answer, Answer.assessment_id == Assessment.id)
        .where(
            Assessment.status == "completed",
            Assessment.checklist_version == bindparam("checklist_version"),
            Assessment.respondent_id != bindparam("viewer"),
            Assessment.completed_at.is_not(None),
            or_(
                Assessment.country == bindparam("country"),
                Assessment.cohort_id == bindparam("cohort"),
            ),
        )
        .group_by(*_COLUMNS)
        .order_by(Assessment.completed_at, Assessment.id)
    )


def peer_medians(
    connection: Connection, content: Content, checklist_version: int, assessment_id: int
) -> PeerMedians | None:
    """The medians of the peers of an assessment, groups of at least
    ``content.stats_min_group``; ``None`` without one."""
    viewed = connection.execute(_VIEWED, {"assessment_id": assessment_id}).first()
    if viewed is None or (viewed.country is None and viewed.cohort_id is None):
        return None
    checklist, threshold = content.checklist(checklist_version), content.stats_min_group
    keys = {
        "checklist_version": checklist_version,
        "viewer": viewed.respondent_id,
        "country": viewed.country,
        "cohort": viewed.cohort_id,
    }
    teams = _Teams(connection.execute(_TEAMS, keys))
    joined_by_viewer = [
        team
        for row in connection.execute(_VIEWERS, keys)
        for team in teams.joined(viewed.respondent_id, *row)
    ]
    own_teams = {_key(team.owner_id, team.practice_name) for team in joined_by_viewer}
    own_team_ids = {team.id for team in joined_by_viewer}
    cells: defaultdict[Cell, list[Any]] = defaultdict(list)
    codes = tuple(criterion.code for criterion in checklist.criteria)
    for row in connection.execute(_candidates(codes), keys):
        if row.team_id in own_team_ids:  # the owner's, under whatever name it has now
            own_teams.add(_key(row.respondent_id, row.practice_name))
        joined = teams.joined(row.respondent_id, row.team_id, row.practice_name, row.started_at)
        if not joined:  # a member's assessment is the team's practice, which is the owner's
            cells[(row.country, row.cohort_id)].append(row)
    scopes: tuple[tuple[Scope, int, object], ...] = (
        ("country", 0, viewed.country),
        ("cohort", 1, viewed.cohort_id),
    )
    for scope, part, wanted in scopes:
        if wanted is None:
            continue
        counted = [
            row
            for cell, rows in cells.items()
            if cell[part] == wanted
            for row in batches(rows, threshold, own_teams)
        ]
        if len(counted) >= threshold:
            country = viewed.country if scope == "country" else None
            return _medians(checklist, scope, country, counted, threshold)
    return None


def batches(rows: Iterable[Any], threshold: int, left_out: Collection[Key] = ()) -> list[Any]:
    """One cell's practices in whole batches of ``threshold``, each as the batch found it,
    less every batch holding a practice of ``left_out`` (the viewer's teams').

    ``rows`` come in the order they were completed, so each practice's first completion
    orders the practices, and later completions of any of them join at the end.
    """
    practices: dict[Key, list[tuple[int, Any]]] = {}
    for place, row in enumerate(rows):
        practices.setdefault(_key(row.respondent_id, row.practice_name), []).append((place, row))
    first = list(practices.items())
    whole = len(first) // threshold * threshold
    if not whole:
        return []
    closed = first[whole - 1][1][0][0]
    counted = []
    for start in range(0, whole, threshold):
        batch = first[start : start + threshold]
        # Left out whole, the practice still holding its place: the batches stay the same.
        if not any(key in left_out for key, _found in batch):
            counted += [
                [row for place, row in found if place <= closed][-1] for _k, found in batch
            ]
    return counted


def _medians(
    checklist: Checklist,
    scope: Scope,
    country: str | None,
    counted: Sequence[Any],
    threshold: int,
) -> PeerMedians:
    codes = [criterion.code for criterion in checklist.criteria]
    answers = [tuple(row)[len(_COLUMNS) :] for row in counted]
    # The overall score as dialogs.scoring reckons it: points over the points possible.
    percents = [_percent(given, checklist.max_value) for given in answers]
    criteria = {
        code: _median([given[index] for given in answers], threshold)
        for index, code in enumerate(codes)
    }
    return PeerMedians(scope, country, _median(percents, threshold), criteria)


def _percent(values: Sequence[int | None], top: int) -> float | None:
    scored = [value for value in values if value is not None]
    return 100 * sum(scored) / (top * len(scored)) if scored else None


def _median(values: Iterable[float | None], threshold: int) -> float | None:
    """The median of the given values, if at least ``threshold`` were given."""
    given = [value for value in values if value is not None]
    return statistics.median(given) if len(given) >= threshold else None
