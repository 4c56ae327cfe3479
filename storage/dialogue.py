"""One dialogue step in one transaction: load the snapshot, apply the event, record it all.

Units of work for ``storage.store.Store``: the caller shows the returned view only after the
transaction committed, so every answer is durable before it is confirmed. Each step first
claims its update and locks the respondent's row (``load``), and writes an assessment only at
the version it was read at, so redelivered and concurrent updates change nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import cache
from importlib import import_module
from types import MappingProxyType
from typing import Any

from sqlalchemy import Executable, Select, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

from dialogs import engine, events, machine
from dialogs.content import Content
from dialogs.effects import GiveConsent, RecordAnswer, SetLanguage, StartNew
from dialogs.i18n import N_, SOURCE_LANGUAGE
from dialogs.snapshot import Draft, Earlier, Profile, RecordedAnswer, Snapshot
from dialogs.views import View
from storage.coordination import cohort_id
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    Base,
    MentorFeedback,
    MentorShare,
    ProcessedUpdate,
    Respondent,
    utcnow,
)
from storage.peers import peer_medians

EARLIER_LOOKBACK = 50
"""How many of a respondent's latest completed assessments are searched for the same practice."""
MOVED_ON = N_("This question has moved on. Here is where you are now.")


class ConcurrentUpdateError(Exception):
    """Another writer changed the assessment between our read and our write; retry."""


@dataclass(frozen=True)
class Who:
    """A respondent as an adapter knows them."""

    platform: str
    external_id: str
    language: str | None = None
    """The language to use if this is the respondent's first contact."""


@dataclass(frozen=True)
class Expected:
    """The step a client was looking at when it sent an event (from a button's data)."""

    checklist_version: int
    assessment_id: int
    version: int


@dataclass(frozen=True)
class Outcome:
    assessment_id: int
    checklist_version: int
    language: str
    view: View
    problem: str | None
    """Why the event changed nothing (a message id), or ``None`` when it was applied."""
    state: str
    version: int
    """The assessment's version after the step: which view is the current one."""
    repeated: bool = False
    """Whether the update was applied before, so only the current view was read."""
    finished: Snapshot | None = None
    """The assessment this step finished, with what its summary shows (the chart's data)."""
    finished_at: datetime | None = None
    """When this step finished the assessment (its ``completed_at``)."""

    @property
    def accepted(self) -> bool:
        """Whether the event was applied."""
        return self.problem is None

    @property
    def expected(self) -> Expected:
        """What a button of this outcome's view must carry to be accepted."""
        return Expected(self.checklist_version, self.assessment_id, self.version)


STATUS_OF_STATE = {
    machine.SUMMARY: "completed",
    machine.CANCELLED: "cancelled",
    machine.DECLINED: "declined",
}


@dataclass
class RespondentRow:
    id: int
    language: str | None
    consent_at: datetime | None
    cohort_id: int | None = None


@dataclass
class AssessmentRow:
    id: int
    checklist_version: int
    state: str
    status: str
    practice_name: str | None = None
    country: str | None = None
    organisation: str | None = None
    target_groups: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    completed_at: datetime | None = None
    team_id: int | None = None
    answers: dict[str, RecordedAnswer] | None = None
    """The answers as read with the row, or ``None`` when they are still to be read."""


@dataclass(frozen=True)
class Claim:
    """An update to record as applied: the bot it came to (its id from getMe) and its id."""

    bot_id: int
    update_id: int


@dataclass
class Loaded:
    """A respondent's rows as a step starts, locked until its transaction ends."""

    respondent: RespondentRow
    assessment: AssessmentRow | None
    claimed: bool = True
    """Whether the update being applied was new (always, when no update was claimed)."""


def _read(model: type[Base], row: type[Any]) -> Select[Any]:
    """A select of the columns of ``model`` that the dataclass ``row`` has fields for."""
    return select(*(getattr(model, f.name) for f in fields(row) if hasattr(model, f.name)))


@cache
def _claim(dialect: str) -> Executable:
    """The insert recording an update as applied, in the dialect of the database at hand (so
    that a SQLite install never loads PostgreSQL's)."""
    dialect_insert = import_module(f"sqlalchemy.dialects.{dialect}").insert
    # The row count tells whether the update was new; without preserve_rowcount, drivers need
    # not report it for an INSERT (psycopg's does not).
    statement: Executable = (
        dialect_insert(ProcessedUpdate)
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.bot_id, ProcessedUpdate.update_id])
        .execution_options(preserve_rowcount=True)
    )
    return statement


# The statements of a step are built once; SQLAlchemy caches their compiled form.
_FIND = _read(Respondent, RespondentRow).where(
    Respondent.platform == bindparam("platform"),
    Respondent.external_id == bindparam("external_id"),
)
# The lock is its own statement: on PostgreSQL a statement that waited for it reads other
# tables as they were when it began, so the assessment is read by the next one.
_LOCK = _FIND.with_for_update()
ASSESSMENTS_OF = (
    _read(Assessment, AssessmentRow)
    .where(Assessment.respondent_id == bindparam("respondent_id"))
    .order_by(Assessment.id.desc())
)
"""A respondent's assessments as ``AssessmentRow`` fields, newest first."""
_LATEST = ASSESSMENTS_OF.limit(1)
_NEW_RESPONDENT = insert(Respondent).returning(Respondent.id)
_UPDATE_RESPONDENT = update(Respondent).where(Respondent.id == bindparam("respondent_id"))
_NEW_ASSESSMENT = insert(Assessment).returning(Assessment.id)
_ANSWERS = select(
    Answer.criterion, Answer.value, Answer.aspects, Answer.comment, Answer.revision
).where(Answer.assessment_id == bindparam("assessment_id"))
_EARLIER = (
    select(Assessment.id, Assessment.practice_name, Assessment.completed_at)
    .where(Assessment.respondent_id == bindparam("respondent_id"))
    .where(Assessment.id < bindparam("before"))
    .where(Assessment.status == "completed")
    .where(Assessment.checklist_version == bindparam("checklist_version"))
    .order_by(Assessment.id.desc())
    .limit(EARLIER_LOOKBACK)
)
_FEEDBACK = (
    select(MentorFeedback.criterion, MentorFeedback.text)
    .join(MentorShare, MentorShare.assessment_id == MentorFeedback.assessment_id)
    .where(
        MentorFeedback.assessment_id == bindparam("assessment_id"),
        MentorShare.revoked_at.is_(None),
    )
)
"""The mentor's feedback on an assessment while it is shared: revoking hides it."""
_JOIN = (
    update(Assessment)
    .where(Assessment.id == bindparam("assessment_id"))
    .values(cohort_id=bindparam("joined"))
)
_NEW_ANSWER = insert(Answer)
_CHANGE_ANSWER = update(Answer).where(
    Answer.assessment_id == bindparam("answer_of"), Answer.criterion == bindparam("code")
)
_LOG = insert(AnswerLog)
_WRITE = update(Assessment).where(
    Assessment.id == bindparam("assessment_id"), Assessment.version == bindparam("seen")
)


def claim_update(connection: Connection, claim: Claim) -> bool:
    """Record ``claim``'s update as applied in this transaction; ``False`` if it already was."""
    values = {"bot_id": claim.bot_id, "update_id": claim.update_id, "at": utcnow()}
    return bool(connection.execute(_claim(connection.dialect.name), values).rowcount)


def load(connection: Connection, who: Who, *, claiming: Claim | None = None) -> Loaded:
    """Find and lock the respondent, creating them on first contact, with their latest
    assessment; with ``claiming``, first record that update as applied (see ``claimed``)."""
    claimed = True if claiming is None else claim_update(connection, claiming)
    keys = {"platform": who.platform, "external_id": who.external_id}
    row = connection.execute(_LOCK, keys).mappings().first()
    if row is None:
        values = {**keys, "language": who.language}
        created = connection.execute(_NEW_RESPONDENT, values).scalar_one()
        return Loaded(RespondentRow(created, who.language, None), None, claimed)
    latest = connection.execute(_LATEST, {"respondent_id": row["id"]}).mappings().first()
    assessment = None if latest is None else AssessmentRow(**latest)
    return Loaded(RespondentRow(**row), assessment, claimed)


def _loaded(connection: Connection, who: Who | Loaded) -> Loaded:
    return who if isinstance(who, Loaded) else load(connection, who)


def language_for(respondent: RespondentRow | None, who: Who) -> str:
    """The language to answer in: the respondent's choice, else their client's, else English."""
    return (respondent.language if respondent else None) or who.language or SOURCE_LANGUAGE


def find_respondent(connection: Connection, who: Who) -> RespondentRow | None:
    """The respondent ``who`` names, without locking or creating them; ``None`` if unknown."""
    keys = {"platform": who.platform, "external_id": who.external_id}
    row = connection.execute(_FIND, keys).mappings().first()
    return None if row is None else RespondentRow(**row)


def _update_respondent(connection: Connection, respondent_id: int, **values: Any) -> None:
    connection.execute(_UPDATE_RESPONDENT, {"respondent_id": respondent_id, **values})


def _start(connection: Connection, content: Content, respondent: RespondentRow) -> AssessmentRow:
    state = engine.initial_state(
        language_known=respondent.language is not None,
        consented=respondent.consent_at is not None,
    )
    version, status, now = content.latest.version, STATUS_OF_STATE.get(state, "active"), utcnow()
    values = {"checklist_version": version, "state": state, "status": status}
    created = connection.execute(
        _NEW_ASSESSMENT,
        # The profile, the context and the version: the model's defaults.
        {**values, "respondent_id": respondent.id, "cohort_id": respondent.cohort_id}
        | {"started_at": now, "updated_at": now},
    ).scalar_one()
    return AssessmentRow(created, version, state, status, answers={})  # none to read yet


def load_snapshot(
    connection: Connection,
    assessment: AssessmentRow,
    respondent: RespondentRow,
    content: Content | None = None,
) -> Snapshot:
    """The engine's view of a stored assessment; a finished one's with what its summary shows
    (``with_summary``)."""
    answers = assessment.answers
    if answers is None:
        answers = {
            row.criterion: RecordedAnswer(row.value, tuple(row.aspects), row.comment, row.revision)
            for row in connection.execute(_ANSWERS, {"assessment_id": assessment.id})
        }
    context = assessment.context
    draft = context.get("draft", {})
    snapshot = Snapshot(
        checklist_version=assessment.checklist_version,
        state=assessment.state,
        language=respondent.language or "en",
        consented=respondent.consent_at is not None,
        profile=Profile(
            assessment.practice_name,
            assessment.country,
            assessment.organisation,
            tuple(assessment.target_groups),
            tuple(assessment.themes),
        ),
        answers=MappingProxyType(answers),
        draft=Draft(tuple(draft.get("aspects", ())), draft.get("comment")),
        editing=bool(context.get("editing", False)),
        in_team=assessment.team_id is not None,
    )
    if assessment.state != machine.SUMMARY:
        return snapshot
    return with_summary(connection, content, assessment, respondent.id, snapshot)


def with_summary(
    connection: Connection,
    content: Content | None,
    assessment: AssessmentRow,
    respondent_id: int,
    snapshot: Snapshot,
) -> Snapshot:
    """``snapshot`` with what only its summary shows: the earlier assessment of the practice,
    the peers' medians (given ``content``) and the mentor's feedback while it is shared."""
    return replace(
        snapshot,
        earlier=earlier_of(connection, respondent_id, assessment),
        peers=None
        if content is None
        else peer_medians(connection, content, assessment.checklist_version, assessment.id),
        feedback=shared_feedback(connection, assessment.id),
    )


def shared_feedback(connection: Connection, assessment_id: int) -> Mapping[str, str]:
    """The mentor's feedback per criterion on a finished assessment while it is shared."""
    rows = connection.execute(_FEEDBACK, {"assessment_id": assessment_id})
    return MappingProxyType({row.criterion: row.text for row in rows})


def earlier_of(
    connection: Connection, respondent_id: int, assessment: AssessmentRow
) -> Earlier | None:
    """The respondent's previous completed assessment of the same practice, if any."""
    if not assessment.practice_name:
        return None
    # Compared in Python: SQLite's lower() folds ASCII letters only, and names are Latvian.
    wanted = assessment.practice_name.strip().casefold()
    rows = connection.execute(
        _EARLIER,
        {
            "respondent_id": respondent_id,
            "before": assessment.id,
            # Answers on another checklist's scale do not compare with these.
            "checklist_version": assessment.checklist_version,
        },
    )
    row = next((r for r in rows if (r.practice_name or "").strip().casefold() == wanted), None)
    if row is None:
        return None
    answers = connection.execute(_ANSWERS, {"assessment_id": row.id})
    return Earlier({answer.criterion: answer.value for answer in answers}, row.completed_at)


def _outcome(
    assessment: AssessmentRow, snapshot: Snapshot, view: View, problem: str | None = None
) -> Outcome:
    return Outcome(
        assessment_id=assessment.id,
        checklist_version=assessment.checklist_version,
        language=snapshot.language,
        view=view,
        problem=problem,
        state=snapshot.state,
        version=assessment.version,
    )


def _show(
    connection: Connection,
    content: Content,
    respondent: RespondentRow,
    assessment: AssessmentRow,
    *,
    notice: str | None = None,
) -> Outcome:
    snapshot = load_snapshot(connection, assessment, respondent, content)
    view = engine.show(content.checklist(assessment.checklist_version), snapshot, notice)
    return _outcome(assessment, snapshot, view, notice)


def open_dialogue(
    connection: Connection,
    content: Content,
    who: Who | Loaded,
    *,
    fresh: bool = False,
    start_payload: str | None = None,
) -> Outcome:
    """Resume the respondent's unfinished assessment, or start one (always, when ``fresh``).

    ``start_payload`` is a deep link's payload (``/start <payload>``), kept on the respondent.
    """
    loaded = _loaded(connection, who)
    respondent, active = loaded.respondent, loaded.assessment
    if active is not None and active.status != "active":
        active = None
    if start_payload:
        joined = cohort_id(connection, start_payload)
        respondent.cohort_id = joined or respondent.cohort_id
        _update_respondent(
            connection, respondent.id, start_payload=start_payload, cohort_id=respondent.cohort_id
        )
        if joined and active is not None and not fresh:
            # The invitation also counts for the assessment the practitioner goes on with.
            connection.execute(_JOIN, {"assessment_id": active.id, "joined": joined})
    if active is not None and fresh:
        cancelled = replace(load_snapshot(connection, active, respondent), state=machine.CANCELLED)
        write_snapshot(connection, active, cancelled, utcnow())
    assessment = _start(connection, content, respondent) if active is None or fresh else active
    return _show(connection, content, respondent, assessment)


def current_view(connection: Connection, content: Content, who: Who | Loaded) -> Outcome:
    """Show where the respondent is, starting an assessment if they have none."""
    loaded = _loaded(connection, who)
    respondent, assessment = loaded.respondent, loaded.assessment
    return _show(
        connection, content, respondent, assessment or _start(connection, content, respondent)
    )


def set_language(
    connection: Connection, content: Content, who: Who | Loaded, language: str
) -> Outcome:
    """Change the respondent's language and show their current step in it."""
    loaded = _loaded(connection, who)
    _update_respondent(connection, loaded.respondent.id, language=language)
    loaded.respondent.language = language
    return current_view(connection, content, loaded)


def apply(
    connection: Connection,
    content: Content,
    who: Who | Loaded,
    event: events.Event,
    *,
    source: str,
    expected: Expected | None = None,
) -> Outcome:
    """Apply ``event`` to the respondent's current assessment and record what it changed.

    With ``expected`` (what the client was shown), an event sent from an older view, another
    assessment or another checklist version changes nothing and the current view is shown.
    """
    loaded = _loaded(connection, who)
    respondent, assessment = loaded.respondent, loaded.assessment
    if assessment is None:
        assessment = _start(connection, content, respondent)
        return _show(connection, content, respondent, assessment, notice=MOVED_ON)
    if expected is not None and expected != Expected(
        assessment.checklist_version, assessment.id, assessment.version
    ):
        return _show(connection, content, respondent, assessment, notice=MOVED_ON)
    checklist = content.checklist(assessment.checklist_version)
    before = load_snapshot(connection, assessment, respondent, content)
    result = engine.step(checklist, before, event)
    if not result.accepted:
        return _outcome(assessment, before, result.view, result.problem)
    now = utcnow()
    start_new = False
    recorded: list[RecordAnswer] = []
    for effect in result.effects:
        if isinstance(effect, SetLanguage):
            respondent.language = effect.language
            _update_respondent(connection, respondent.id, language=effect.language)
        elif isinstance(effect, GiveConsent):
            respondent.consent_at = now
            _update_respondent(connection, respondent.id, consent_at=now)
        elif isinstance(effect, RecordAnswer):
            recorded.append(effect)
        elif isinstance(effect, StartNew):
            start_new = True
    if result.snapshot.state == machine.DECLINED:
        # Declining consent leaves nothing behind: not even that they came.
        connection.execute(delete(Assessment).where(Assessment.respondent_id == respondent.id))
        connection.execute(delete(Respondent).where(Respondent.id == respondent.id))
        return _outcome(assessment, result.snapshot, result.view)
    write_snapshot(connection, assessment, result.snapshot, now)
    for effect in recorded:
        _record(connection, assessment.id, effect, result.snapshot, now, source)
    if start_new:
        started = _start(connection, content, respondent)
        return _show(connection, content, respondent, started)
    view = result.view
    if result.snapshot.state == machine.SUMMARY and before.state != machine.SUMMARY:
        # What only the summary shows is read by the one step that reaches it.
        finished = with_summary(connection, content, assessment, respondent.id, result.snapshot)
        outcome = _outcome(assessment, result.snapshot, engine.show(checklist, finished))
        return replace(outcome, finished=finished, finished_at=now)
    return _outcome(assessment, result.snapshot, view)


def _record(
    connection: Connection,
    assessment_id: int,
    effect: RecordAnswer,
    after: Snapshot,
    now: datetime,
    source: str,
) -> None:
    """Write ``effect``'s answer over any earlier one, and its line in the answer log."""
    answer = {
        "criterion": effect.criterion,
        "value": effect.value,
        "aspects": list(effect.aspects),
        "comment": effect.comment,
        "revision": after.answers[effect.criterion].revision,
    }
    if answer["revision"] == 1:
        connection.execute(
            _NEW_ANSWER, {**answer, "assessment_id": assessment_id, "answered_at": now}
        )
    else:
        where = {"answer_of": assessment_id, "code": effect.criterion}
        connection.execute(_CHANGE_ANSWER, {**answer, **where, "answered_at": now})
    connection.execute(
        _LOG, {**answer, "assessment_id": assessment_id, "at": now, "source": source}
    )


def _context(snapshot: Snapshot) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if snapshot.draft != Draft():
        context["draft"] = {
            "aspects": list(snapshot.draft.aspects),
            "comment": snapshot.draft.comment,
        }
    if snapshot.editing:
        context["editing"] = True
    return context


def write_snapshot(
    connection: Connection, assessment: AssessmentRow, after: Snapshot, now: datetime
) -> None:
    """Store ``after`` over the assessment as it was read and bump its version."""
    status = STATUS_OF_STATE.get(after.state, "active")
    values: dict[str, Any] = {
        "assessment_id": assessment.id,
        "seen": assessment.version,
        "state": after.state,
        "status": status,
        "practice_name": after.profile.practice_name,
        "country": after.profile.country,
        "organisation": after.profile.organisation,
        "target_groups": list(after.profile.target_groups),
        "themes": list(after.profile.themes),
        "context": _context(after),
        "updated_at": now,
        "version": assessment.version + 1,
    }
    # A finished assessment keeps the moment it was finished, whatever is pressed after.
    if assessment.status != "completed" or status != "completed":
        values["completed_at"] = now if status == "completed" else None
    if connection.execute(_WRITE, values).rowcount != 1:
        raise ConcurrentUpdateError(f"assessment {assessment.id} changed under us")
    assessment.answers = None  # as recorded now, they are read again when next needed
    assessment.version += 1
    assessment.state = after.state
    assessment.status = status
