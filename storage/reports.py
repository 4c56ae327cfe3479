"""A respondent's finished assessments: their history and the report of any one of them.

Read-only units of work: nothing here locks the respondent or changes a row, and an assessment
is only ever found through the respondent who owns it, so a forged id reveals nothing.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from dialogs.content import Content
from dialogs.report import History, PastAssessment, Report, build_report
from dialogs.scoring import score
from storage.dialogue import (
    ASSESSMENTS_OF,
    AssessmentRow,
    Who,
    find_respondent,
    language_for,
    load_snapshot,
)
from storage.mentoring import with_mentoring
from storage.models import Answer, Assessment

HISTORY_MAX = 10

_COMPLETED = ASSESSMENTS_OF.where(Assessment.status == "completed")
_ONE_COMPLETED = _COMPLETED.where(Assessment.id == bindparam("assessment_id"))
_VALUES = select(Answer.assessment_id, Answer.criterion, Answer.value).where(
    Answer.assessment_id.in_(bindparam("ids", expanding=True))
)


def history(
    connection: Connection, content: Content, who: Who, limit: int = HISTORY_MAX
) -> History:
    """The respondent's latest finished assessments with their scores, newest first."""
    respondent = find_respondent(connection, who)
    if respondent is None:
        return History((), language_for(None, who))
    rows = connection.execute(_COMPLETED.limit(limit), {"respondent_id": respondent.id}).all()
    values: dict[int, dict[str, int | None]] = {row.id: {} for row in rows}
    if values:
        for answer in connection.execute(_VALUES, {"ids": list(values)}):
            values[answer.assessment_id][answer.criterion] = answer.value
    past = tuple(
        PastAssessment(
            row.id,
            row.checklist_version,
            row.practice_name,
            row.completed_at,
            score(content.checklist(row.checklist_version), values[row.id]).percent,
        )
        for row in rows
    )
    return History(past, language_for(respondent, who))


def report_of(
    connection: Connection,
    content: Content,
    who: Who,
    assessment_id: int,
    configured: Collection[str] = (),
) -> Report | None:
    """The report of one of the respondent's finished assessments (its sharing as
    ``storage.mentoring.share_state`` says, given ``configured``); ``None`` if not theirs."""
    respondent = find_respondent(connection, who)
    if respondent is None:
        return None
    keys = {"respondent_id": respondent.id, "assessment_id": assessment_id}
    row = connection.execute(_ONE_COMPLETED, keys).mappings().first()
    if row is None:
        return None
    assessment = AssessmentRow(**row)
    snapshot = load_snapshot(connection, assessment, respondent, content)
    checklist = content.checklist(assessment.checklist_version)
    report = build_report(checklist, snapshot, completed_at=assessment.completed_at)
    return with_mentoring(connection, report, assessment.id, configured)
