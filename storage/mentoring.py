"""Mentoring: a finished assessment shared with its cohort's coordinator, and their feedback.

Plain units of work over a ``Connection``. Nothing is shared until the practitioner shares
it; every read and write of a mentor goes through an active share to that coordinator, so an
assessment not shared with them (never, no longer, or with someone else) is not found, and a
forged id reveals nothing. Revoking keeps the share's row and its feedback but hides both.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, insert, select, update
from sqlalchemy.engine import Connection

from dialogs.content import Content
from dialogs.report import Report, build_report
from storage.dialogue import ASSESSMENTS_OF, AssessmentRow, RespondentRow, Who, load_snapshot
from storage.models import (
    Assessment,
    Cohort,
    Coordinator,
    MentorFeedback,
    MentorShare,
    Respondent,
    utcnow,
)

FEEDBACK_MAX = 1000
"""Characters of one criterion's feedback: a message with its heading stays well within 4096."""
LISTED_MAX = 30
"""Shares a mentor's list shows, the latest first."""

_ACTIVE = MentorShare.revoked_at.is_(None)
_PRACTITIONERS = select(
    Assessment.id,
    Assessment.checklist_version,
    Assessment.practice_name,
    Respondent.platform,
    Respondent.external_id,
    Respondent.language,
).join(Respondent, Respondent.id == Assessment.respondent_id)
"""Assessments with what telling their practitioner needs."""


@dataclass(frozen=True)
class ShareNotice:
    """What to tell a mentor when an assessment is shared with them."""

    external_id: str
    language: str | None
    assessment_id: int
    practice: str | None
    cohort_name: str


@dataclass(frozen=True)
class Shared:
    """What a share or a revocation did: ``changed`` unless it was so already."""

    shared: bool
    changed: bool
    language: str | None
    practice: str | None
    notice: ShareNotice | None = None
    """For a new share: the mentor to tell."""


@dataclass(frozen=True)
class Mentee:
    """An assessment shared with a mentor, as their list shows it."""

    assessment_id: int
    checklist_version: int
    practice: str | None
    organisation: str | None
    cohort_name: str | None
    shared_at: datetime


def clean_feedback(text: str) -> str | None:
    """The feedback as it is kept, or ``None`` if it is empty or longer than allowed."""
    # No control characters other than tabs and line breaks: PostgreSQL refuses NUL in text.
    kept = "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 32 and ord(ch) != 127))
    kept = kept.strip()
    return kept if 0 < len(kept) <= FEEDBACK_MAX else None


def _owned(who: Who, assessment_id: int) -> Any:
    """The practitioner's own completed assessment ``assessment_id``, if it is theirs."""
    owner = select(Respondent.id).where(
        Respondent.platform == who.platform, Respondent.external_id == who.external_id
    )
    return select(Assessment.id, Assessment.cohort_id, Assessment.practice_name).where(
        Assessment.id == assessment_id,
        Assessment.status == "completed",
        Assessment.respondent_id.in_(owner.scalar_subquery()),
    )


def _mentor_of(connection: Connection, cohort: int | None) -> Any:
    """The coordinator who made the cohort, with the language they chose as a respondent."""
    if cohort is None:
        return None
    return connection.execute(
        select(
            Coordinator.id,
            Coordinator.external_id,
            Coordinator.from_settings,
            Cohort.name,
            Respondent.language,
        )
        .select_from(Cohort)
        .join(Coordinator, Coordinator.id == Cohort.created_by)
        .outerjoin(
            Respondent,
            (Respondent.platform == Coordinator.platform)
            & (Respondent.external_id == Coordinator.external_id),
        )
        .where(Cohort.id == cohort)
    ).first()


def language_of(connection: Connection, who: Who) -> str | None:
    """The language ``who`` chose in SI Check, if they did."""
    found = connection.execute(
        select(Respondent.language).where(
            Respondent.platform == who.platform, Respondent.external_id == who.external_id
        )
    ).scalar()
    return found or who.language


def _active_share(connection: Connection, assessment_id: int) -> int | None:
    """The coordinator an assessment is shared with now, if any."""
    return connection.execute(
        select(MentorShare.coordinator_id).where(
            MentorShare.assessment_id == assessment_id, _ACTIVE
        )
    ).scalar()


def _mentoring(mentor: Any, configured: Collection[str]) -> bool:
    """Whether ``mentor`` (a ``_mentor_of`` row) mentors: someone recorded only because the
    settings named them stops once the settings (``configured``) no longer do."""
    return mentor is not None and not (
        mentor.from_settings and mentor.external_id not in configured
    )


def share_state(
    connection: Connection,
    assessment_id: int,
    cohort_id: int | None,
    configured: Collection[str] = (),
) -> bool | None:
    """Whether a finished assessment of the cohort ``cohort_id`` is shared with its mentor;
    ``None`` if it is not and the cohort has no mentor to share it with."""
    if _active_share(connection, assessment_id) is not None:
        return True
    return False if _mentoring(_mentor_of(connection, cohort_id), configured) else None


def set_shared(
    connection: Connection,
    who: Who,
    assessment_id: int,
    wanted: bool,
    configured: Collection[str] = (),
) -> Shared | None:
    """Share the practitioner's finished assessment with their cohort's coordinator, or stop;
    ``None`` if it is not theirs, or (to share) its cohort has no mentor (``_mentoring``)."""
    # Locked, so two replicas sharing the same assessment at once take turns.
    found = connection.execute(_owned(who, assessment_id).with_for_update()).first()
    if found is None:
        return None
    language = language_of(connection, who)
    row = connection.execute(
        select(MentorShare.revoked_at).where(MentorShare.assessment_id == assessment_id)
    ).first()
    active = row is not None and row.revoked_at is None
    if not wanted:
        if active:
            connection.execute(
                update(MentorShare)
                .where(MentorShare.assessment_id == assessment_id)
                .values(revoked_at=utcnow())
            )
        return Shared(False, active, language, found.practice_name)
    mentor = _mentor_of(connection, found.cohort_id)
    if not _mentoring(mentor, configured):
        return None  # and nobody is told of it: an ex-coordinator is no mentor
    if active:
        return Shared(True, False, language, found.practice_name)
    values = {"coordinator_id": mentor.id, "shared_at": utcnow(), "revoked_at": None}
    if row is None:
        connection.execute(insert(MentorShare).values(assessment_id=assessment_id, **values))
    else:
        connection.execute(
            update(MentorShare).where(MentorShare.assessment_id == assessment_id).values(values)
        )
    notice = ShareNotice(
        mentor.external_id, mentor.language, assessment_id, found.practice_name, mentor.name
    )
    return Shared(True, True, language, found.practice_name, notice)


def _feedback(connection: Connection, assessment_id: int) -> dict[str, str]:
    rows = connection.execute(
        select(MentorFeedback.criterion, MentorFeedback.text).where(
            MentorFeedback.assessment_id == assessment_id
        )
    )
    return {row.criterion: row.text for row in rows}


def with_mentoring(
    connection: Connection, report: Report, assessment_id: int, configured: Collection[str] = ()
) -> Report:
    """``report`` as its practitioner sees it: the mentor's feedback under each criterion while
    the assessment is shared, and whether it is (``None``: no mentor to share it with, as
    ``share_state`` says)."""
    if _active_share(connection, assessment_id) is not None:
        return _with_feedback(connection, replace(report, shared=True), assessment_id)
    cohort = connection.execute(
        select(Assessment.cohort_id).where(Assessment.id == assessment_id)
    ).scalar()
    mentoring = _mentoring(_mentor_of(connection, cohort), configured)
    return replace(report, shared=False if mentoring else None)


def _with_feedback(connection: Connection, report: Report, assessment_id: int) -> Report:
    written = _feedback(connection, assessment_id)
    lines = tuple(replace(line, feedback=written.get(line.code)) for line in report.criteria)
    return replace(report, criteria=lines)


def _shared_with(coordinator: int) -> ColumnElement[bool]:
    return and_(MentorShare.coordinator_id == coordinator, _ACTIVE)


def mentees(connection: Connection, coordinator: int) -> list[Mentee]:
    """The assessments shared with the coordinator now, the latest share first."""
    rows = connection.execute(
        select(
            Assessment.id,
            Assessment.checklist_version,
            Assessment.practice_name,
            Assessment.organisation,
            Cohort.name,
            MentorShare.shared_at,
        )
        .select_from(MentorShare)
        .join(Assessment, Assessment.id == MentorShare.assessment_id)
        .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
        .where(_shared_with(coordinator))
        .order_by(MentorShare.shared_at.desc(), Assessment.id.desc())
        .limit(LISTED_MAX)
    )
    return [Mentee(*row) for row in rows]


def mentee_report(
    connection: Connection, content: Content, coordinator: int, assessment_id: int, language: str
) -> Report | None:
    """The summary of an assessment shared with the coordinator, in ``language``, with the
    feedback given so far; ``None`` unless it is shared with them now."""
    owner = connection.execute(
        select(Assessment.respondent_id)
        .join(MentorShare, MentorShare.assessment_id == Assessment.id)
        .where(Assessment.id == assessment_id, _shared_with(coordinator))
    ).scalar()
    if owner is None:
        return None
    keys = {"respondent_id": owner}
    row = (
        connection.execute(
            ASSESSMENTS_OF.where(Assessment.id == assessment_id, Assessment.status == "completed"),
            keys,
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    assessment = AssessmentRow(**row)
    respondent = RespondentRow(owner, language, None)
    # Only what was shared: not the comparison with the practitioner's earlier assessment.
    snapshot = replace(load_snapshot(connection, assessment, respondent), earlier=None)
    checklist = content.checklist(assessment.checklist_version)
    report = build_report(checklist, snapshot, completed_at=assessment.completed_at)
    return _with_feedback(connection, replace(report, shared=True), assessment_id)


def leave_feedback(
    connection: Connection,
    content: Content,
    coordinator: int,
    assessment_id: int,
    criterion: str,
    text: str,
) -> bool:
    """Keep the coordinator's feedback on one criterion of an assessment shared with them,
    over any earlier one; ``False`` unless it is shared with them now and has that criterion."""
    # The share is locked: feedback on one assessment is written one at a time.
    shared = connection.execute(
        select(MentorShare.assessment_id)
        .where(MentorShare.assessment_id == assessment_id, _shared_with(coordinator))
        .with_for_update()
    ).scalar()
    if shared is None:
        return False
    version = connection.execute(
        select(Assessment.checklist_version).where(Assessment.id == assessment_id)
    ).scalar_one()
    if criterion not in {c.code for c in content.checklist(version).criteria}:
        return False
    # Not yet announced: the notices job (claim_feedback_notices) tells the practitioner.
    values = {
        "coordinator_id": coordinator,
        "text": text,
        "written_at": utcnow(),
        "notified_at": None,
    }
    keys = {"assessment_id": assessment_id, "criterion": criterion}
    where = and_(*(getattr(MentorFeedback, key) == value for key, value in keys.items()))
    if connection.execute(update(MentorFeedback).where(where).values(values)).rowcount == 0:
        connection.execute(insert(MentorFeedback).values(**keys, **values))
    return True


@dataclass(frozen=True)
class FeedbackNotice:
    """A mentor's feedback to announce to its practitioner, claimed for sending."""

    feedback_id: int
    assessment_id: int
    external_id: str
    language: str | None
    checklist_version: int
    practice: str | None
    criterion: str
    text: str


def claim_feedback_notices(
    connection: Connection, now: datetime | None = None
) -> list[FeedbackNotice]:
    """Claim the notices of feedback not yet announced on an active share, each once however
    many replicas ask at the same time; those of Telegram practitioners, to send.

    One ``UPDATE … RETURNING`` marks and returns them, as ``claim_reminders`` does: a second
    replica's update finds them marked already. It runs in a unit after the feedback's own, so
    a process that stops between the two leaves the notice for the next run. A notice whose
    sending then fails is not retried. Feedback under a revoked share stays unclaimed; it is
    announced if the practitioner shares again, when it shows in their summary again.
    """
    shared = select(MentorShare.assessment_id).where(_ACTIVE)
    claimed = connection.execute(
        update(MentorFeedback)
        .where(MentorFeedback.notified_at.is_(None), MentorFeedback.assessment_id.in_(shared))
        .values(notified_at=now or utcnow())
        .returning(
            MentorFeedback.id,
            MentorFeedback.assessment_id,
            MentorFeedback.criterion,
            MentorFeedback.text,
        )
    ).all()
    if not claimed:
        return []
    owners = connection.execute(
        _PRACTITIONERS.where(Assessment.id.in_({row.assessment_id for row in claimed}))
    )
    found = {row.id: row for row in owners}
    return [
        FeedbackNotice(
            row.id,
            row.assessment_id,
            owner.external_id,
            owner.language,
            owner.checklist_version,
            owner.practice_name,
            row.criterion,
            row.text,
        )
        for row in sorted(claimed, key=lambda row: row.id)
        # A console practitioner reads it in their summary; a retired identity has no chat.
        if (owner := found[row.assessment_id]).platform == "telegram"
    ]


def still_to_announce(connection: Connection, notice: FeedbackNotice) -> bool:
    """Whether a claimed notice is still to be sent: its share active, its feedback as claimed
    (a rewrite is announced by a claim of its own)."""
    found = connection.execute(
        select(MentorFeedback.id)
        .join(MentorShare, MentorShare.assessment_id == MentorFeedback.assessment_id)
        .where(
            MentorFeedback.id == notice.feedback_id,
            MentorFeedback.notified_at.is_not(None),
            MentorFeedback.text == notice.text,
            _ACTIVE,
        )
    ).first()
    return found is not None


def my_mentoring(connection: Connection, assessment_id: int) -> dict[str, Any]:
    """An assessment's share and feedback, as ``/mydata`` gives them (times in ISO 8601)."""
    share = connection.execute(
        select(MentorShare.shared_at, MentorShare.revoked_at).where(
            MentorShare.assessment_id == assessment_id
        )
    ).first()
    feedback = connection.execute(
        select(MentorFeedback.criterion, MentorFeedback.text, MentorFeedback.written_at)
        .where(MentorFeedback.assessment_id == assessment_id)
        .order_by(MentorFeedback.criterion)
    )

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return {
        "shared_with_mentor": None
        if share is None
        else {"shared_at": iso(share.shared_at), "revoked_at": iso(share.revoked_at)},
        "mentor_feedback": [
            {"criterion": row.criterion, "text": row.text, "written_at": iso(row.written_at)}
            for row in feedback
        ],
    }
