"""Data rights and retention: a respondent's data, its erasure, purging, and reminders.

Plain units of work over a ``Connection``. Rows of a respondent go with them through the
schema's ``ON DELETE CASCADE`` (assessments, answers, the answer log). A unit that erased
rows asks the store to reclaim them after its commit (``storage.store.reclaim``), so their
bytes leave the database files too (see ``docs/operations.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, delete, exists, func, select, update
from sqlalchemy.engine import Connection

from storage.dialogue import Who, find_respondent
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    Cohort,
    Coordinator,
    ProcessedUpdate,
    Respondent,
    utcnow,
)
from storage.store import reclaim

UPDATES_KEPT = timedelta(hours=72)
"""How long an applied update's id is kept: Telegram redelivers an update for up to 24 hours."""
ERASED_TABLES = (
    AnswerLog.__tablename__,
    Answer.__tablename__,
    Assessment.__tablename__,
    Respondent.__tablename__,
    Coordinator.__tablename__,
)
"""The tables a respondent's erasure deletes from."""

RETIRED = "retired"
"""The platform of a respondent whose identity the retention period removed."""


@dataclass(frozen=True)
class Erased:
    respondents: int
    assessments: int
    answers: int
    log_entries: int

    @property
    def anything(self) -> bool:
        """Whether there was anything to erase."""
        return bool(self.respondents)


@dataclass(frozen=True)
class Reminder:
    chat_id: str
    language: str | None
    practice: str | None


def _count(connection: Connection, statement: Any) -> int:
    return int(
        connection.execute(select(func.count()).select_from(statement.subquery())).scalar_one()
    )


def erase(connection: Connection, platform: str, external_id: str) -> Erased:
    """Erase a respondent with everything they answered; their coordinator role goes too."""
    found = find_respondent(connection, Who(platform, external_id))
    coordinator = connection.execute(
        delete(Coordinator).where(
            Coordinator.platform == platform, Coordinator.external_id == external_id
        )
    ).rowcount
    if coordinator or found is not None:
        reclaim(connection, ERASED_TABLES)
    if found is None:
        return Erased(0, 0, 0, 0)
    respondent = found.id
    theirs = select(Assessment.id).where(Assessment.respondent_id == respondent)
    erased = Erased(
        1,
        _count(connection, theirs),
        _count(connection, select(Answer.id).where(Answer.assessment_id.in_(theirs))),
        _count(connection, select(AnswerLog.id).where(AnswerLog.assessment_id.in_(theirs))),
    )
    # Deleted child first, so nothing depends on the cascade being switched on in SQLite.
    connection.execute(delete(AnswerLog).where(AnswerLog.assessment_id.in_(theirs)))
    connection.execute(delete(Answer).where(Answer.assessment_id.in_(theirs)))
    connection.execute(delete(Assessment).where(Assessment.respondent_id == respondent))
    connection.execute(delete(Respondent).where(Respondent.id == respondent))
    return erased


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _one(connection: Connection, statement: Any) -> dict[str, Any] | None:
    """The first row of ``statement`` as JSON-ready data, ``None`` if there is none."""
    row = connection.execute(statement).mappings().first()
    if row is None:
        return None
    return {
        key: _iso(value) if isinstance(value, datetime) else value for key, value in row.items()
    }


def my_data(connection: Connection, who: Who) -> dict[str, Any] | None:
    """Everything SI Check keeps about the respondent, as JSON-ready data."""
    # Core rows, named by column: a Connection does not build ORM objects.
    respondent = connection.execute(
        select(Respondent).where(
            Respondent.platform == who.platform, Respondent.external_id == who.external_id
        )
    ).first()
    if respondent is None:
        return None
    assessments = []
    for assessment in connection.execute(
        select(Assessment).where(Assessment.respondent_id == respondent.id).order_by(Assessment.id)
    ):
        answers = connection.execute(
            select(Answer).where(Answer.assessment_id == assessment.id).order_by(Answer.criterion)
        )
        log = connection.execute(
            select(AnswerLog)
            .where(AnswerLog.assessment_id == assessment.id)
            .order_by(AnswerLog.id)
        )
        assessments.append(
            {
                "id": assessment.id,
                "checklist_version": assessment.checklist_version,
                "status": assessment.status,
                "step": assessment.state,
                "practice_name": assessment.practice_name,
                "country": assessment.country,
                "organisation": assessment.organisation,
                "target_groups": assessment.target_groups,
                "themes": assessment.themes,
                "cohort": _one(
                    connection,
                    select(Cohort.code, Cohort.name).where(Cohort.id == assessment.cohort_id),
                ),
                "unsaved_draft": assessment.context,
                "started_at": _iso(assessment.started_at),
                "updated_at": _iso(assessment.updated_at),
                "completed_at": _iso(assessment.completed_at),
                "reminded_at": _iso(assessment.reminded_at),
                "answers": [
                    {
                        "criterion": answer.criterion,
                        "value": answer.value,
                        "aspects": answer.aspects,
                        "comment": answer.comment,
                        "revision": answer.revision,
                        "answered_at": _iso(answer.answered_at),
                    }
                    for answer in answers
                ],
                "answer_log": [
                    {
                        "criterion": entry.criterion,
                        "value": entry.value,
                        "aspects": entry.aspects,
                        "comment": entry.comment,
                        "revision": entry.revision,
                        "at": _iso(entry.at),
                        "source": entry.source,
                    }
                    for entry in log
                ],
            }
        )
    return {
        "respondent": {
            "platform": respondent.platform,
            "user_id": respondent.external_id,
            "language": respondent.language,
            "consent_at": _iso(respondent.consent_at),
            "start_payload": respondent.start_payload,
            "reminders": respondent.reminders,
            "created_at": _iso(respondent.created_at),
        },
        "assessments": assessments,
        "coordinator": _one(
            connection,
            select(Coordinator.notify_completed, Coordinator.added_at).where(
                Coordinator.platform == who.platform, Coordinator.external_id == who.external_id
            ),
        ),
    }


def purge(connection: Connection, retention: timedelta, now: datetime | None = None) -> Erased:
    """Remove what is past ``retention``: unfinished assessments, then idle identities; and
    the ids of updates applied more than ``UPDATES_KEPT`` ago.

    An assessment is unfinished when it is active, cancelled or declined; a respondent goes
    once they have no assessment left and have not been seen within the period.
    """
    moment = now or utcnow()
    connection.execute(delete(ProcessedUpdate).where(ProcessedUpdate.at < moment - UPDATES_KEPT))
    cutoff = moment - retention
    # The stale ones are chosen and locked once, and exactly those go with their answers: a
    # step that touched one since cannot lose answers to a second look at the dates, and
    # one a step is writing right now is left for the next purge.
    stale = [
        row.id
        for row in connection.execute(
            select(Assessment.id)
            .where(Assessment.status != "completed", Assessment.updated_at < cutoff)
            .with_for_update(skip_locked=True)
        )
    ]
    if not stale:
        answers = log_entries = assessments = 0
    else:
        answers = _count(connection, select(Answer.id).where(Answer.assessment_id.in_(stale)))
        log_entries = _count(
            connection, select(AnswerLog.id).where(AnswerLog.assessment_id.in_(stale))
        )
        connection.execute(delete(AnswerLog).where(AnswerLog.assessment_id.in_(stale)))
        connection.execute(delete(Answer).where(Answer.assessment_id.in_(stale)))
        assessments = connection.execute(
            delete(Assessment).where(Assessment.id.in_(stale))
        ).rowcount
    idle = and_(
        Respondent.created_at < cutoff,
        ~exists().where(Assessment.respondent_id == Respondent.id),
    )
    respondents = connection.execute(delete(Respondent).where(idle)).rowcount
    # Who answered long ago keeps their finished answers in the figures, but not their
    # Telegram id: the identity is replaced by the row's own number.
    quiet = and_(
        Respondent.platform != RETIRED,
        Respondent.created_at < cutoff,
        ~exists().where(
            Assessment.respondent_id == Respondent.id, Assessment.updated_at >= cutoff
        ),
    )
    respondents += connection.execute(
        update(Respondent)
        .where(quiet)
        .values(
            platform=RETIRED,
            external_id=cast(Respondent.id, String),
            language=None,
            start_payload=None,
        )
    ).rowcount
    # Always: it also finishes what an erasure's reclaiming could not (see storage.store).
    reclaim(connection, ERASED_TABLES)
    return Erased(respondents, assessments, answers, log_entries)


def claim_reminders(
    connection: Connection, after: timedelta, now: datetime | None = None
) -> list[Reminder]:
    """Claim the reminders now due, each once however many replicas ask at the same time.

    One ``UPDATE … RETURNING`` marks and returns them: a second replica's update finds them
    marked already. A reminder whose sending then fails is not retried: one nudge at most.
    """
    moment = now or utcnow()
    due = (
        update(Assessment)
        .where(
            Assessment.status == "active",
            Assessment.state.not_in(("language", "consent")),
            Assessment.reminded_at.is_(None),
            Assessment.updated_at < moment - after,
            Assessment.respondent_id.in_(
                select(Respondent.id).where(
                    Respondent.reminders,
                    Respondent.platform == "telegram",
                    Respondent.consent_at.is_not(None),
                )
            ),
        )
        .values(reminded_at=moment)
        .returning(Assessment.respondent_id, Assessment.practice_name)
    )
    claimed = connection.execute(due).all()
    if not claimed:
        return []
    people = {
        row.id: row
        for row in connection.execute(
            select(Respondent.id, Respondent.external_id, Respondent.language).where(
                Respondent.id.in_([row.respondent_id for row in claimed])
            )
        )
    }
    return [
        Reminder(
            people[row.respondent_id].external_id,
            people[row.respondent_id].language,
            row.practice_name,
        )
        for row in claimed
    ]


def set_reminders(connection: Connection, who: Who, wanted: bool) -> None:
    """Allow or stop reminders of unfinished assessments for the respondent."""
    connection.execute(
        update(Respondent)
        .where(Respondent.platform == who.platform, Respondent.external_id == who.external_id)
        .values(reminders=wanted)
    )
