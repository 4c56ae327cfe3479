"""One dialogue step in one transaction: load the snapshot, apply the event, record it all.

These are plain synchronous functions over a ``Session``: a ``storage.store.Store`` runs each
in a transaction (a writer thread for SQLite, ``run_sync`` for PostgreSQL), and the caller
shows the returned view only after that transaction committed, so every answer is durable
before it is confirmed. Every step first locks the respondent's row, so one person's updates
are applied one at a time even when several processes share the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dialogs import engine, events, machine
from dialogs.content import Content
from dialogs.effects import GiveConsent, RecordAnswer, SetLanguage, StartNew
from dialogs.i18n import N_
from dialogs.snapshot import Draft, Profile, RecordedAnswer, Snapshot
from dialogs.views import View
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    ProcessedUpdate,
    Respondent,
    utcnow,
)

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
    accepted: bool
    state: str
    version: int
    """The assessment's version after the step: which view is the current one."""

    @property
    def expected(self) -> Expected:
        """What a button of this outcome's view must carry to be accepted."""
        return Expected(self.checklist_version, self.assessment_id, self.version)


STATUS_OF_STATE = {
    machine.SUMMARY: "completed",
    machine.CANCELLED: "cancelled",
    machine.DECLINED: "declined",
}


def status_of(state: str) -> str:
    """The assessment status a state stands for."""
    return STATUS_OF_STATE.get(state, "active")


def claim_update(session: Session, update_id: int) -> bool:
    """Record ``update_id`` as applied in this transaction; ``False`` if it already was."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(ProcessedUpdate)
        .values(update_id=update_id, at=utcnow())
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
    )
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _respondent(session: Session, who: Who) -> Respondent:
    """Find and lock the respondent, creating them on first contact."""
    query = select(Respondent).where(
        Respondent.platform == who.platform, Respondent.external_id == who.external_id
    )
    found = session.scalar(query.with_for_update())
    if found is not None:
        return found
    respondent = Respondent(
        platform=who.platform, external_id=who.external_id, language=who.language
    )
    session.add(respondent)
    session.flush()
    return respondent


def _latest(session: Session, respondent_id: int) -> Assessment | None:
    return session.scalar(
        select(Assessment)
        .where(Assessment.respondent_id == respondent_id)
        .order_by(Assessment.id.desc())
        .limit(1)
    )


def _start(session: Session, content: Content, respondent: Respondent) -> Assessment:
    state = engine.initial_state(
        language_known=respondent.language is not None,
        consented=respondent.consent_at is not None,
    )
    assessment = Assessment(
        respondent_id=respondent.id,
        checklist_version=content.latest.version,
        state=state,
        status=status_of(state),
        context={},
        version=1,
    )
    session.add(assessment)
    session.flush()
    return assessment


def _snapshot(session: Session, assessment: Assessment, respondent: Respondent) -> Snapshot:
    rows = session.execute(
        select(
            Answer.criterion, Answer.value, Answer.aspects, Answer.comment, Answer.revision
        ).where(Answer.assessment_id == assessment.id)
    )
    answers = {
        row.criterion: RecordedAnswer(
            row.value, tuple(row.aspects or ()), row.comment, row.revision
        )
        for row in rows
    }
    context = assessment.context or {}
    draft = context.get("draft", {})
    return Snapshot(
        checklist_version=assessment.checklist_version,
        state=assessment.state,
        language=respondent.language or "en",
        consented=respondent.consent_at is not None,
        profile=Profile(assessment.practice_name, assessment.country, assessment.organisation),
        answers=MappingProxyType(answers),
        draft=Draft(tuple(draft.get("aspects", ())), draft.get("comment")),
        editing=bool(context.get("editing", False)),
    )


def _outcome(assessment: Assessment, snapshot: Snapshot, view: View, *, accepted: bool) -> Outcome:
    return Outcome(
        assessment_id=assessment.id,
        checklist_version=assessment.checklist_version,
        language=snapshot.language,
        view=view,
        accepted=accepted,
        state=snapshot.state,
        version=assessment.version,
    )


def _show(
    session: Session,
    content: Content,
    respondent: Respondent,
    assessment: Assessment,
    *,
    notice: str | None = None,
) -> Outcome:
    snapshot = _snapshot(session, assessment, respondent)
    view = engine.show(content.checklist(assessment.checklist_version), snapshot, notice)
    return _outcome(assessment, snapshot, view, accepted=notice is None)


def open_dialogue(
    session: Session,
    content: Content,
    who: Who,
    *,
    fresh: bool = False,
    start_payload: str | None = None,
) -> Outcome:
    """Resume the respondent's unfinished assessment, or start one (always, when ``fresh``).

    ``start_payload`` is a deep link's payload (``/start <payload>``), kept on the respondent.
    """
    respondent = _respondent(session, who)
    if start_payload:
        respondent.start_payload = start_payload
    assessment = _latest(session, respondent.id)
    if assessment is not None and assessment.status == "active" and fresh:
        _close(session, assessment, machine.CANCELLED)
    if assessment is None or fresh or assessment.status != "active":
        assessment = _start(session, content, respondent)
    return _show(session, content, respondent, assessment)


def current_view(session: Session, content: Content, who: Who) -> Outcome:
    """Show where the respondent is, starting an assessment if they have none."""
    respondent = _respondent(session, who)
    assessment = _latest(session, respondent.id)
    if assessment is None:
        assessment = _start(session, content, respondent)
    return _show(session, content, respondent, assessment)


def set_language(session: Session, content: Content, who: Who, language: str) -> Outcome:
    """Change the respondent's language and show their current step in it."""
    respondent = _respondent(session, who)
    respondent.language = language
    return current_view(session, content, who)


def apply(
    session: Session,
    content: Content,
    who: Who,
    event: events.Event,
    *,
    source: str,
    expected: Expected | None = None,
) -> Outcome:
    """Apply ``event`` to the respondent's current assessment and record what it changed.

    With ``expected`` (what the client was shown), an event sent from an older view, another
    assessment or another checklist version changes nothing and the current view is shown.
    """
    respondent = _respondent(session, who)
    assessment = _latest(session, respondent.id)
    if assessment is None:
        assessment = _start(session, content, respondent)
        return _show(session, content, respondent, assessment, notice=MOVED_ON)
    if expected is not None and expected != Expected(
        assessment.checklist_version, assessment.id, assessment.version
    ):
        return _show(session, content, respondent, assessment, notice=MOVED_ON)
    checklist = content.checklist(assessment.checklist_version)
    before = _snapshot(session, assessment, respondent)
    result = engine.step(checklist, before, event)
    if not result.accepted:
        return _outcome(assessment, before, result.view, accepted=False)
    now = utcnow()
    start_new = False
    for effect in result.effects:
        if isinstance(effect, SetLanguage):
            respondent.language = effect.language
        elif isinstance(effect, GiveConsent):
            respondent.consent_at = now
        elif isinstance(effect, RecordAnswer):
            _record_answer(session, assessment.id, effect, result.snapshot, now, source)
        elif isinstance(effect, StartNew):
            start_new = True
    write_snapshot(session, assessment, result.snapshot, now)
    if start_new:
        started = _start(session, content, respondent)
        return _show(session, content, respondent, started)
    return _outcome(assessment, result.snapshot, result.view, accepted=True)


def _close(session: Session, assessment: Assessment, state: str) -> None:
    session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id)
        .values(
            state=state,
            status=status_of(state),
            updated_at=utcnow(),
            version=Assessment.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


def _record_answer(
    session: Session,
    assessment_id: int,
    effect: RecordAnswer,
    after: Snapshot,
    now: datetime,
    source: str,
) -> None:
    revision = after.answers[effect.criterion].revision
    values: dict[str, Any] = {
        "value": effect.value,
        "aspects": list(effect.aspects),
        "comment": effect.comment,
        "revision": revision,
    }
    if revision == 1:
        session.execute(
            insert(Answer).values(
                assessment_id=assessment_id, criterion=effect.criterion, answered_at=now, **values
            )
        )
    else:
        session.execute(
            update(Answer)
            .where(Answer.assessment_id == assessment_id, Answer.criterion == effect.criterion)
            .values(answered_at=now, **values)
        )
    session.execute(
        insert(AnswerLog).values(
            assessment_id=assessment_id,
            criterion=effect.criterion,
            at=now,
            source=source,
            **values,
        )
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
    session: Session, assessment: Assessment, after: Snapshot, now: datetime
) -> None:
    """Store ``after`` over the assessment as it was read, and bump its version."""
    status = status_of(after.state)
    result = session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.version == assessment.version)
        .values(
            state=after.state,
            status=status,
            practice_name=after.profile.practice_name,
            country=after.profile.country,
            organisation=after.profile.organisation,
            context=_context(after),
            updated_at=now,
            completed_at=now if status == "completed" else None,
            version=assessment.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentUpdateError(f"assessment {assessment.id} changed under us")
    # Keep the loaded row in step without making the session write it a second time.
    for key, value in (("version", assessment.version + 1), ("state", after.state)):
        set_committed_value(assessment, key, value)
