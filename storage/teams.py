"""Team assessments: invitations, joining, leaving, closing and the team summary.

Units of work over a ``Connection`` like ``storage.dialogue``. A team is found by its
unguessable code (to join) or by an id checked against the sender's own assessments (to see,
leave or close it), so a forged id reveals nothing. Each unit that changes a team first locks
the sender's respondent row, so repeated taps on any replica act once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection

from dialogs import engine, machine
from dialogs.content import Content
from dialogs.team import (
    ALREADY_CLOSED,
    CLOSED,
    JOINED,
    LEFT,
    NO_ASSESSMENT,
    NO_TEAM,
    NOT_A_MEMBER,
    NOT_YET,
    ONLY_OWNER,
    OWN_TEAM,
    OWNER_STAYS,
    TEAM_CLOSED,
    UNKNOWN_TEAM,
    Notice,
    TeamStatus,
    TeamSummary,
    team_summary,
)
from storage.dialogue import (
    Outcome,
    RespondentRow,
    Who,
    current_view,
    find_respondent,
    language_for,
    load,
    load_snapshot,
    open_dialogue,
    write_snapshot,
)
from storage.models import Answer, Assessment, Team, utcnow

TEAM_CODE_BYTES = 12
"""96 random bits, as cohort codes: 16 URL-safe characters."""
PAYLOAD_PREFIX = "team-"
"""A team's deep-link payload is this and its code: 21 characters, where a cohort's code has
16, so the two cannot be taken for each other."""
NAMED = Assessment.practice_name.is_not(None) & Assessment.status.in_(("active", "completed"))
STARTED = (machine.LANGUAGE, machine.CONSENT, machine.PROFILE_NAME)
"""States where an assessment holds nothing a team invitation would set aside."""
PROFILING = (machine.LANGUAGE, machine.CONSENT, *machine.PROFILE_FIELDS)
"""States before the first criterion, where the practice's profile may still be incomplete:
members copy the owner's, so no team is made from an assessment in them."""
_PROFILE = ("practice_name", "country", "organisation", "target_groups", "themes")


def payload(code: str) -> str:
    """The ``/start`` payload of a team's invitation."""
    return PAYLOAD_PREFIX + code


def code_of(start_payload: str) -> str | None:
    """The team code a ``/start`` payload carries, ``None`` if it is no team's."""
    return start_payload.removeprefix(PAYLOAD_PREFIX) if is_team_payload(start_payload) else None


def is_team_payload(start_payload: str | None) -> bool:
    """Whether a ``/start`` payload is a team invitation."""
    return bool(start_payload) and str(start_payload).startswith(PAYLOAD_PREFIX)


@dataclass(frozen=True)
class Refused:
    """Why a team action did nothing (an untranslated message id), in the sender's language."""

    reason: str
    language: str


def team_status(
    connection: Connection, team_id: int, respondent: RespondentRow, who: Who
) -> TeamStatus:
    """The team as the respondent sees it: its progress, and their own part in it."""
    team = connection.execute(select(Team).where(Team.id == team_id)).mappings().one()
    members = Assessment.team_id == team_id
    counted = connection.execute(
        select(func.count(), func.count().filter(Assessment.status == "completed")).where(
            members,
            Assessment.status != "cancelled",  # set aside, it is no one's part
        )
    ).one()
    own = connection.execute(
        select(func.count()).where(
            members, Assessment.respondent_id == respondent.id, Assessment.status == "completed"
        )
    ).scalar_one()
    return TeamStatus(
        team_id=team_id,
        code=team["code"],
        practice=team["practice_name"] or "…",
        owner=team["owner_id"] == respondent.id,
        closed=team["closed_at"] is not None,
        members=counted[0],
        finished=counted[1],
        own_finished=bool(own),
        language=language_for(respondent, who),
    )


def _named(connection: Connection, respondent_id: int) -> Any:
    """The respondent's latest started or finished assessment that names its practice."""
    statement = (
        select(Assessment.id, Assessment.team_id, Assessment.practice_name, Assessment.state)
        .where(Assessment.respondent_id == respondent_id, NAMED)
        .order_by(Assessment.id.desc())
        .limit(1)
    )
    return connection.execute(statement).first()


def invite(connection: Connection, who: Who) -> TeamStatus | Refused:
    """The team of the sender's latest named assessment, created for it on first asking once
    its profile is complete (its first criterion reached)."""
    found = find_respondent(connection, who)
    if found is None:
        return Refused(NO_ASSESSMENT, language_for(None, who))
    respondent = load(connection, who).respondent  # locked: two taps make one team
    assessment = _named(connection, respondent.id)
    if assessment is None:
        return Refused(NO_ASSESSMENT, language_for(respondent, who))
    return _team_of(connection, assessment, respondent, who)


def invite_for(connection: Connection, who: Who, assessment_id: int) -> TeamStatus | Refused:
    """The team of the sender's own assessment ``assessment_id`` (under way past its profile, or
    finished), created for it on first asking; anyone else's is not found."""
    found = find_respondent(connection, who)
    if found is None:
        return Refused(NOT_A_MEMBER, language_for(None, who))
    respondent = load(connection, who).respondent  # locked: two taps make one team
    assessment = connection.execute(
        select(
            Assessment.id, Assessment.team_id, Assessment.practice_name, Assessment.state
        ).where(Assessment.id == assessment_id, Assessment.respondent_id == respondent.id, NAMED)
    ).first()
    if assessment is None:
        return Refused(NOT_A_MEMBER, language_for(respondent, who))
    return _team_of(connection, assessment, respondent, who)


def _team_of(
    connection: Connection, assessment: Any, respondent: RespondentRow, who: Who
) -> TeamStatus | Refused:
    """The team of ``assessment`` (its id, team, practice and state), made on first asking
    once its profile is complete."""
    team_id = assessment.team_id
    if team_id is None and assessment.state in PROFILING:
        return Refused(NO_ASSESSMENT, language_for(respondent, who))
    if team_id is None:
        checklist_version = connection.execute(
            select(Assessment.checklist_version).where(Assessment.id == assessment.id)
        ).scalar_one()
        team_id = connection.execute(
            insert(Team)
            .values(
                code=secrets.token_urlsafe(TEAM_CODE_BYTES),
                owner_id=respondent.id,
                practice_name=assessment.practice_name,
                checklist_version=checklist_version,
            )
            .returning(Team.id)
        ).scalar_one()
        connection.execute(
            update(Assessment).where(Assessment.id == assessment.id).values(team_id=team_id)
        )
    return team_status(connection, team_id, respondent, who)


def status(connection: Connection, who: Who) -> TeamStatus | Refused:
    """The team of the sender's latest named assessment, without creating one."""
    respondent = find_respondent(connection, who)
    assessment = None if respondent is None else _named(connection, respondent.id)
    if respondent is None or assessment is None or assessment.team_id is None:
        return Refused(NO_TEAM, language_for(respondent, who))
    return team_status(connection, assessment.team_id, respondent, who)


@dataclass(frozen=True)
class Joined:
    """What following a team invitation did: the step to show, with a notice in its text, or a
    question (``ask``: the unfinished assessment's practice; ``cancels``: its id) before setting
    one aside."""

    outcome: Outcome | None
    language: str
    notice: Notice | None = None
    """What to say above the step."""
    ask: str | None = None
    practice: str | None = None
    code: str | None = None
    cancels: int | None = None


def join(
    connection: Connection,
    content: Content,
    who: Who,
    code: str,
    *,
    confirmed: int | None = None,
) -> Joined:
    """Follow a team's invitation: start the sender's own assessment of the team's practice,
    at its first criterion when they have chosen a language and consented before.

    An unfinished assessment of another practice is set aside (cancelled) only when it is the
    one ``confirmed`` names (its id, as the question gave it in ``cancels``); otherwise the
    sender is asked first, so an old answer never cancels an assessment started since. A
    former member whose latest assessment is the one they began in the team and left with is
    back in the team with it.
    """
    loaded = load(connection, who)
    respondent, latest = loaded.respondent, loaded.assessment
    team = connection.execute(select(Team).where(Team.code == code)).mappings().first()

    def current(notice: str | None) -> Joined:
        # Where the sender is: a finished assessment's summary, else the one under way.
        finished = latest is not None and latest.status == "completed"
        outcome = (current_view if finished else open_dialogue)(connection, content, loaded)
        return Joined(outcome, outcome.language, notice=Notice(notice) if notice else None)

    if team is None:
        return current(UNKNOWN_TEAM)
    if team["owner_id"] == respondent.id:
        return current(OWN_TEAM)
    # In the team already, though perhaps busy with another practice since: one place each.
    if any(
        row.status in ("active", "completed")
        for row in _own_in(connection, respondent.id, team["id"])
    ):
        return current(None)
    if team["closed_at"] is not None:
        return current(TEAM_CLOSED)
    practice = team["practice_name"] or "…"
    if latest is not None and _left(connection, latest.id, team):
        # Back after leaving: the assessment begun in the team goes on in it, answers and all.
        connection.execute(
            update(Assessment).where(Assessment.id == latest.id).values(team_id=team["id"])
        )
        joined = current(JOINED)
        return replace(joined, notice=Notice(JOINED, {"practice": practice}))
    holds_work = latest is not None and latest.status == "active" and latest.state not in STARTED
    if holds_work and latest is not None and latest.id != confirmed:
        own, language = latest.practice_name or "…", language_for(respondent, who)
        return Joined(None, language, ask=own, practice=practice, code=code, cancels=latest.id)
    if latest is not None and latest.status == "active":
        # As /new does: the unfinished one is cancelled, never left behind half-active.
        cancelled = replace(load_snapshot(connection, latest, respondent), state=machine.CANCELLED)
        write_snapshot(connection, latest, cancelled, utcnow())
    _start_member(connection, content, respondent, team)
    outcome = current_view(connection, content, who)  # the one just started, the latest
    return Joined(outcome, outcome.language, notice=Notice(JOINED, {"practice": practice}))


def _start_member(
    connection: Connection, content: Content, respondent: RespondentRow, team: Any
) -> None:
    """Start the member's own assessment of the team's practice, its profile the owner's (or,
    once the purge took the owner's, a member's copy of it)."""
    version = team["checklist_version"]
    checklist = content.checklist(version)
    profile = _team_profile(connection, team)
    state = engine.initial_state(
        language_known=respondent.language is not None,
        consented=respondent.consent_at is not None,
    )
    if state == machine.PROFILE_NAME:
        state = checklist.criteria[0].code  # the profile is the team's: straight to the first
    now = utcnow()
    values = {
        "respondent_id": respondent.id,
        "checklist_version": version,
        "state": state,
        "status": "active",
        "cohort_id": respondent.cohort_id,
        "team_id": team["id"],
        "started_at": now,
        "updated_at": now,
        **profile,
    }
    connection.execute(insert(Assessment), values)


def _team_profile(connection: Connection, team: Any) -> dict[str, Any]:
    """The profile a member's assessment of the team copies: the owner's (or, once the purge
    took the owner's, a member's copy of it)."""
    owners = (
        connection.execute(
            select(*(getattr(Assessment, name) for name in _PROFILE))
            .where(Assessment.team_id == team["id"])
            .order_by(
                case((Assessment.respondent_id == team["owner_id"], 0), else_=1),
                Assessment.id.desc(),
            )
            .limit(1)
        )
        .mappings()
        .first()
    )
    profile: dict[str, Any] = dict(owners) if owners else {"practice_name": team["practice_name"]}
    if not profile.get("practice_name"):
        profile["practice_name"] = team["practice_name"] or "…"
    return profile


def _left(connection: Connection, assessment_id: int, team: Any) -> bool:
    """Whether the assessment was begun in the team and taken out of it by leaving: in no team
    now, on the team's checklist, begun since the team was made, with the team's profile (an
    assessment of one's own, or begun in another team, is no former member's)."""
    row = (
        connection.execute(
            select(*(getattr(Assessment, name) for name in _PROFILE)).where(
                Assessment.id == assessment_id,
                Assessment.team_id.is_(None),
                Assessment.status.in_(("active", "completed")),
                Assessment.checklist_version == team["checklist_version"],
                Assessment.started_at >= team["created_at"],
            )
        )
        .mappings()
        .first()
    )
    return row is not None and dict(row) == _team_profile(connection, team)


def _own_in(connection: Connection, respondent_id: int, team_id: int) -> list[Any]:
    """The respondent's assessments in the team, newest first."""
    return list(
        connection.execute(
            select(Assessment.id, Assessment.status)
            .where(Assessment.respondent_id == respondent_id, Assessment.team_id == team_id)
            .order_by(Assessment.id.desc())
        )
    )


def summary(
    connection: Connection, content: Content, who: Who, team_id: int
) -> TeamSummary | Refused:
    """The team summary, for a member (or the owner) whose own team assessment is finished;
    it counts finished members' assessments only."""
    respondent = find_respondent(connection, who)
    language = language_for(respondent, who)
    own = [] if respondent is None else _own_in(connection, respondent.id, team_id)
    if not own:
        return Refused(NOT_A_MEMBER, language)
    if not any(row.status == "completed" for row in own):
        return Refused(NOT_YET, language)
    team = connection.execute(select(Team).where(Team.id == team_id)).mappings().one()
    checklist = content.checklist(team["checklist_version"])
    members = connection.execute(
        select(Assessment.id, Assessment.status).where(
            Assessment.team_id == team_id,
            Assessment.checklist_version == team["checklist_version"],
            Assessment.status != "cancelled",
        )
    ).all()
    finished = [row.id for row in members if row.status == "completed"]
    answers: dict[int, dict[str, int | None]] = {one: {} for one in finished}
    if finished:
        rows = connection.execute(
            select(Answer.assessment_id, Answer.criterion, Answer.value).where(
                Answer.assessment_id.in_(finished)
            )
        )
        for row in rows:
            answers[row.assessment_id][row.criterion] = row.value
    return team_summary(
        checklist,
        team["practice_name"] or "…",
        [answers[one] for one in finished],
        language=language,
        members=len(members),
        closed=team["closed_at"] is not None,
    )


@dataclass(frozen=True)
class Done:
    """A team action that was carried out: its message id, in the sender's language."""

    message: str
    language: str


def may_leave(connection: Connection, who: Who, team_id: int) -> str | None:
    """Why the sender cannot leave the team (a message id), ``None`` if they may."""
    respondent = find_respondent(connection, who)
    if respondent is None or not _own_in(connection, respondent.id, team_id):
        return NOT_A_MEMBER
    owner = connection.execute(select(Team.owner_id).where(Team.id == team_id)).scalar()
    return OWNER_STAYS if owner == respondent.id else None


def leave(connection: Connection, who: Who, team_id: int) -> Done | Refused:
    """Take the sender's assessments out of the team; the owner closes it instead."""
    respondent = find_respondent(connection, who)
    language = language_for(respondent, who)
    if respondent is None or not _own_in(connection, respondent.id, team_id):
        return Refused(NOT_A_MEMBER, language)
    load(connection, who)  # locked, as every unit of this respondent
    refusal = may_leave(connection, who, team_id)
    if refusal is not None:
        return Refused(refusal, language)
    connection.execute(
        update(Assessment)
        .where(Assessment.respondent_id == respondent.id, Assessment.team_id == team_id)
        .values(team_id=None)
    )
    return Done(LEFT, language)


def close(connection: Connection, who: Who, team_id: int) -> Done | Refused:
    """Close the sender's own team to new members; anyone else's is refused."""
    respondent = find_respondent(connection, who)
    language = language_for(respondent, who)
    team = connection.execute(
        select(Team.owner_id, Team.closed_at).where(Team.id == team_id)
    ).first()
    if respondent is None or team is None:
        return Refused(NOT_A_MEMBER, language)
    # The owner's own assessment of the team may be gone (purged unfinished): it stays theirs.
    if team.owner_id != respondent.id:
        member = _own_in(connection, respondent.id, team_id)
        return Refused(ONLY_OWNER if member else NOT_A_MEMBER, language)
    if team.closed_at is not None:
        return Done(ALREADY_CLOSED, language)
    connection.execute(update(Team).where(Team.id == team_id).values(closed_at=utcnow()))
    return Done(CLOSED, language)


def membership(connection: Connection, assessment_id: int, respondent_id: int) -> dict[str, Any]:
    """What ``/mydata`` says of an assessment's team: its practice and the respondent's role,
    nothing of the other members."""
    row = connection.execute(
        select(Team.practice_name, Team.owner_id, Team.closed_at)
        .join(Assessment, Assessment.team_id == Team.id)
        .where(Assessment.id == assessment_id)
    ).first()
    if row is None:
        return {}
    return {
        "practice": row.practice_name,
        "role": "owner" if row.owner_id == respondent_id else "member",
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
    }
