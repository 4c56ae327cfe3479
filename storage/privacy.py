"""Data rights and retention: a respondent's or coordinator's data, its erasure, purging, and
reminders.

Plain units of work over a ``Connection``. Rows of a respondent go with them through the
schema's ``ON DELETE CASCADE`` (assessments, answers, the answer log); so do the shares held by
a coordinator, while the cohorts they made stay, without them (``SET NULL``). A unit that erased
rows asks the store to reclaim them after its commit (``storage.store.reclaim``), so their
bytes leave the database files too (see ``docs/operations.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, delete, exists, select, update
from sqlalchemy.engine import Connection

from storage.coordination import remove_coordinator
from storage.dialogue import Who, find_respondent
from storage.mentoring import my_mentoring
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    Cohort,
    Coordinator,
    MentorFeedback,
    MentorShare,
    ProcessedUpdate,
    Respondent,
    Team,
    utcnow,
)
from storage.store import reclaim
from storage.teams import membership

UPDATES_KEPT = timedelta(hours=72)
"""How long an applied update's id is kept: Telegram redelivers an update for up to 24 hours."""
ERASED_TABLES = tuple(
    table.__tablename__
    for table in (
        *(AnswerLog, Answer, Assessment, Respondent, Coordinator),
        *(MentorShare, MentorFeedback, Team),
    )
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
    coordinators: int = 0

    @property
    def anything(self) -> bool:
        """Whether there was anything to erase."""
        return bool(self.respondents or self.coordinators)


@dataclass(frozen=True)
class Reminder:
    chat_id: str
    language: str | None
    practice: str | None


def _delete(connection: Connection, assessments: Any) -> tuple[int, int, int]:
    """Delete the assessments chosen with their answers and log; how many of each went."""
    # Deleted child first, so nothing depends on the cascade being switched on in SQLite.
    counts = [
        connection.execute(delete(table).where(table.assessment_id.in_(assessments))).rowcount
        for table in (AnswerLog, Answer)
    ]
    gone = connection.execute(delete(Assessment).where(Assessment.id.in_(assessments))).rowcount
    return gone, counts[1], counts[0]


def _coordinator(who: Who) -> Any:
    return select(Coordinator.id, Coordinator.added_at).where(
        Coordinator.platform == who.platform, Coordinator.external_id == who.external_id
    )


def coordinator_since(connection: Connection, who: Who) -> tuple[int, datetime] | None:
    """The coordinator record of ``who`` (its id, and when it was made), if there is one."""
    found = connection.execute(_coordinator(who)).first()
    return None if found is None else (int(found.id), found.added_at)


def erase(connection: Connection, platform: str, external_id: str) -> Erased:
    """Erase a respondent with everything they answered, and a coordinator role with the
    feedback written in it and the shares it held; either may exist without the other."""
    who = Who(platform, external_id)
    found = find_respondent(connection, who)
    coordinators = int(remove_coordinator(connection, platform, external_id))  # and feedback
    if coordinators or found is not None:
        reclaim(connection, ERASED_TABLES)
    if found is None:
        return Erased(0, 0, 0, 0, coordinators)
    theirs = select(Assessment.id).where(Assessment.respondent_id == found.id)
    erased = Erased(1, *_delete(connection, theirs), coordinators)
    connection.execute(delete(Respondent).where(Respondent.id == found.id))
    return erased


def _all(connection: Connection, statement: Any) -> list[dict[str, Any]]:
    """The rows of ``statement`` as JSON-ready data, times in ISO 8601."""
    rows = connection.execute(statement).mappings()
    return [
        {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in row.items()
        }
        for row in rows
    ]


def _one(connection: Connection, statement: Any) -> dict[str, Any] | None:
    return next(iter(_all(connection, statement)), None)


_FIELDS = (Answer.criterion, Answer.value, Answer.aspects, Answer.comment, Answer.revision)
_LOGGED = [getattr(AnswerLog, column.key) for column in _FIELDS]
_ASSESSMENT = (
    Assessment.id,
    Assessment.checklist_version,
    Assessment.status,
    Assessment.state.label("step"),
    Assessment.practice_name,
    Assessment.country,
    Assessment.organisation,
    Assessment.target_groups,
    Assessment.themes,
    Assessment.context.label("unsaved_draft"),
    Assessment.started_at,
    Assessment.updated_at,
    Assessment.completed_at,
    Assessment.reminded_at,
    Assessment.cohort_id,
)


def my_data(connection: Connection, who: Who) -> dict[str, Any] | None:
    """Everything SI Check keeps about the respondent or coordinator, as JSON-ready data;
    ``None`` if they are neither."""
    respondent = _one(
        connection,
        select(
            Respondent.id,
            Respondent.platform,
            Respondent.external_id.label("user_id"),
            Respondent.language,
            Respondent.consent_at,
            Respondent.start_payload,
            Respondent.reminders,
            Respondent.created_at,
        ).where(Respondent.platform == who.platform, Respondent.external_id == who.external_id),
    )
    coordinator = _my_coordinating(connection, who)
    if respondent is None:
        if coordinator is None:
            return None
        return {
            "respondent": None,
            "assessments": [],
            "teams_owned": [],
            "coordinator": coordinator,
        }
    respondent_id = respondent.pop("id")
    theirs = Assessment.respondent_id == respondent_id
    assessments = _all(connection, select(*_ASSESSMENT).where(theirs).order_by(Assessment.id))
    for assessment in assessments:
        cohort = select(Cohort.code, Cohort.name).where(Cohort.id == assessment.pop("cohort_id"))
        assessment["cohort"] = _one(connection, cohort)
        of = assessment["id"]
        answers = select(*_FIELDS, Answer.answered_at).where(Answer.assessment_id == of)
        assessment["answers"] = _all(connection, answers.order_by(Answer.criterion))
        log = select(*_LOGGED, AnswerLog.at, AnswerLog.source).where(AnswerLog.assessment_id == of)
        assessment["answer_log"] = _all(connection, log.order_by(AnswerLog.id))
        assessment.update(my_mentoring(connection, of))
        assessment["team"] = membership(connection, of, respondent_id) or None
    # Listed apart from the assessments: the purge may have taken the owner's own one of it.
    owned = select(Team.practice_name.label("practice"), Team.created_at, Team.closed_at).where(
        Team.owner_id == respondent_id
    )
    return {
        "respondent": respondent,
        "assessments": assessments,
        "teams_owned": _all(connection, owned.order_by(Team.id)),
        "coordinator": coordinator,
    }


def _my_coordinating(connection: Connection, who: Who) -> dict[str, Any] | None:
    """The coordinator record of ``who`` with the cohorts they made, the shares they hold and
    the feedback they wrote; of a practitioner, only what the mentor was shown."""
    record = _one(
        connection,
        select(Coordinator.id, Coordinator.notify_completed, Coordinator.added_at).where(
            Coordinator.platform == who.platform, Coordinator.external_id == who.external_id
        ),
    )
    if record is None:
        return None
    mine = record.pop("id")
    made = select(Cohort.name, Cohort.created_at).where(Cohort.created_by == mine)
    held = (
        select(
            MentorShare.assessment_id,
            Assessment.practice_name.label("practice"),
            MentorShare.shared_at,
            MentorShare.revoked_at,
        )
        .join(Assessment, Assessment.id == MentorShare.assessment_id)
        .where(MentorShare.coordinator_id == mine)
    )
    written = select(
        MentorFeedback.assessment_id,
        MentorFeedback.criterion,
        MentorFeedback.text,
        MentorFeedback.written_at,
    ).where(MentorFeedback.coordinator_id == mine)
    order = MentorFeedback.assessment_id, MentorFeedback.criterion
    return {
        **record,
        "cohorts_created": _all(connection, made.order_by(Cohort.id)),
        "shares_held": _all(connection, held.order_by(MentorShare.assessment_id)),
        "feedback_written": _all(connection, written.order_by(*order)),
    }


def purge(connection: Connection, retention: timedelta, now: datetime | None = None) -> Erased:
    """Remove what is past ``retention``: unfinished assessments, then idle identities; and
    the ids of updates applied more than ``UPDATES_KEPT`` ago.

    An assessment is unfinished when it is active, cancelled or declined; a respondent goes
    once they have no assessment left and have not been seen within the period, unless they
    own a team that members' assessments are in: then only their identity goes.
    """
    moment = now or utcnow()
    connection.execute(delete(ProcessedUpdate).where(ProcessedUpdate.at < moment - UPDATES_KEPT))
    cutoff = moment - retention
    # The stale ones are chosen and locked once, and exactly those go with their answers: a
    # step that touched one since cannot lose answers to a second look at the dates, and
    # one a step is writing right now is left for the next purge.
    stale = select(Assessment.id).where(
        Assessment.status != "completed", Assessment.updated_at < cutoff
    )
    chosen = [row.id for row in connection.execute(stale.with_for_update(skip_locked=True))]
    assessments, answers, log_entries = _delete(connection, chosen)
    # An owner's row holds their team, which members' assessments still belong to: such an
    # owner is only retired below, as the team goes with their row.
    others_team = exists().where(
        Team.owner_id == Respondent.id, exists().where(Assessment.team_id == Team.id)
    )
    idle = and_(
        Respondent.created_at < cutoff,
        ~exists().where(Assessment.respondent_id == Respondent.id),
        ~others_team,
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
    ids = [respondent for respondent, _practice in claimed]
    people = select(Respondent.id, Respondent.external_id, Respondent.language)
    found = {row.id: row for row in connection.execute(people.where(Respondent.id.in_(ids)))}
    return [
        Reminder(found[respondent].external_id, found[respondent].language, practice)
        for respondent, practice in claimed
    ]


def set_reminders(connection: Connection, who: Who, wanted: bool) -> None:
    """Allow or stop reminders of unfinished assessments for the respondent."""
    connection.execute(
        update(Respondent)
        .where(Respondent.platform == who.platform, Respondent.external_id == who.external_id)
        .values(reminders=wanted)
    )
