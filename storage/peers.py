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

Not covered, as for any threshold: people who pool what each was shown, or who fill a cell with
made-up practices of their own. An erasure takes its practice out at once, as it must; its
batch is then made up again with the next practice in the cell.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, case, func, or_, select
from sqlalchemy.engine import Connection

from dialogs.content import Checklist, Content
from dialogs.peers import PeerMedians, Scope
from storage.models import Answer, Assessment

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
)


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
    cells: defaultdict[Cell, list[Any]] = defaultdict(list)
    codes = tuple(criterion.code for criterion in checklist.criteria)
    for row in connection.execute(_candidates(codes), keys):
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
            for row in batches(rows, threshold)
        ]
        if len(counted) >= threshold:
            country = viewed.country if scope == "country" else None
            return _medians(checklist, scope, country, counted, threshold)
    return None


def batches(rows: Iterable[Any], threshold: int) -> list[Any]:
    """One cell's practices in whole batches of ``threshold``, each as the batch found it.

    ``rows`` come in the order they were completed, so each practice's first completion
    orders the practices, and later completions of any of them join at the end.
    """
    practices: dict[tuple[int, str], list[tuple[int, Any]]] = {}
    for place, row in enumerate(rows):
        key = (row.respondent_id, (row.practice_name or "").strip().casefold())
        practices.setdefault(key, []).append((place, row))
    first = list(practices.values())
    whole = len(first) // threshold * threshold
    if not whole:
        return []
    closed = first[whole - 1][0][0]
    return [[row for place, row in found if place <= closed][-1] for found in first[:whole]]


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
