"""Coordinators and cohorts: who may see aggregate data, and the groups they invite.

Plain units of work over a ``Connection``, like ``storage.dialogue``. Coordinators come from
the ``SICHECK_COORDINATORS`` setting and from the database (``sicheck coordinator add``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage.models import (
    Assessment,
    Cohort,
    Coordinator,
    InstanceSecret,
    MentorFeedback,
    Respondent,
)

COHORT_CODE_BYTES = 12
"""96 random bits: 16 URL-safe characters, unguessable and within a deep link's 64."""
PSEUDONYM_KEY = "pseudonym_key"
PSEUDONYM_KEY_CHECK = "pseudonym_key_check"


@dataclass(frozen=True)
class CompletionNotice:
    """What to tell one coordinator when an assessment in their cohort is completed."""

    external_id: str
    cohort_name: str
    language: str | None
    completed: int
    """Completed assessments in the cohort so far."""


def completion_notices(
    connection: Connection, assessment_id: int, configured: Collection[str] = ()
) -> list[CompletionNotice]:
    """The notices due for a completed assessment: to its cohort's coordinator, if they asked
    and are one still (one recorded from the settings only while the settings name them)."""
    cohort = select(Assessment.cohort_id).where(Assessment.id == assessment_id).scalar_subquery()
    completed = (
        select(func.count())
        .where(Assessment.cohort_id == Cohort.id, Assessment.status == "completed")
        .scalar_subquery()
    )
    rows = connection.execute(
        select(Coordinator.external_id, Cohort.name, Respondent.language, completed)
        .select_from(Coordinator)
        .join(Cohort, Cohort.created_by == Coordinator.id)
        .outerjoin(
            Respondent,
            (Respondent.platform == Coordinator.platform)
            & (Respondent.external_id == Coordinator.external_id),
        )
        .where(
            Cohort.id == cohort,
            Coordinator.notify_completed,
            ~Coordinator.from_settings | Coordinator.external_id.in_(configured),
        )
    )
    return [CompletionNotice(*row) for row in rows]


@dataclass(frozen=True)
class CohortSummary:
    code: str
    name: str
    created_at: datetime
    respondents: int
    started: int
    completed: int


def _is(platform: str, external_id: str) -> ColumnElement[bool]:
    return and_(Coordinator.platform == platform, Coordinator.external_id == external_id)


def coordinator_id(
    connection: Connection, platform: str, external_id: str, configured: Collection[str] = ()
) -> int | None:
    """The coordinator's id if this person is one; those configured are recorded on sight.

    Someone recorded only because the settings named them stops being a coordinator when the
    settings no longer do; ``sicheck coordinator add`` makes the role independent of them.
    """
    named = platform == "telegram" and external_id in configured
    found = connection.execute(
        select(Coordinator.id, Coordinator.from_settings).where(_is(platform, external_id))
    ).first()
    if found is None:
        return _record(connection, platform, external_id, from_settings=True) if named else None
    if found.from_settings and not named:
        return None
    return int(found.id)


def add_coordinator(connection: Connection, platform: str, external_id: str) -> int:
    """Make someone a coordinator (no change if they are one); return their id."""
    found = connection.execute(select(Coordinator.id).where(_is(platform, external_id))).scalar()
    if found is None:
        return _record(connection, platform, external_id, from_settings=False)
    connection.execute(
        update(Coordinator).where(Coordinator.id == found).values(from_settings=False)
    )
    return int(found)


def _record(
    connection: Connection, platform: str, external_id: str, *, from_settings: bool
) -> int:
    values = {"platform": platform, "external_id": external_id, "from_settings": from_settings}
    made = insert(Coordinator).values(values).returning(Coordinator.id)
    return int(connection.execute(made).scalar_one())


def remove_coordinator(connection: Connection, platform: str, external_id: str) -> bool:
    """Take the role away with the feedback written in it; ``False`` if they did not have it.

    The shares they held go with them (``ON DELETE CASCADE``), and so their feedback could
    never be shown again: kept without its author, no ``/mydata`` or erasure would find it.
    """
    role = select(Coordinator.id).where(_is(platform, external_id)).scalar_subquery()
    connection.execute(delete(MentorFeedback).where(MentorFeedback.coordinator_id == role))
    gone = connection.execute(delete(Coordinator).where(_is(platform, external_id)))
    return bool(gone.rowcount)


def list_coordinators(connection: Connection) -> list[tuple[str, str, bool]]:
    """Every recorded coordinator: platform, id on it, and whether they get notified."""
    every = select(Coordinator.platform, Coordinator.external_id, Coordinator.notify_completed)
    return list(connection.execute(every.order_by(Coordinator.id)))


def coordinator_chats(
    connection: Connection, platform: str, configured: Collection[str] = ()
) -> list[tuple[str, str | None]]:
    """Every coordinator on ``platform`` (recorded, or named by the settings) with the language
    they last chose as a respondent, if any."""
    recorded = select(Coordinator.external_id, Coordinator.from_settings).where(
        Coordinator.platform == platform
    )
    found = {row.external_id: row.from_settings for row in connection.execute(recorded)}
    ids = sorted({i for i, from_settings in found.items() if not from_settings} | set(configured))
    languages = select(Respondent.external_id, Respondent.language).where(
        Respondent.platform == platform, Respondent.external_id.in_(ids)
    )
    language = {row.external_id: row.language for row in connection.execute(languages)}
    return [(external_id, language.get(external_id)) for external_id in ids]


def set_notify(connection: Connection, coordinator: int, notify: bool) -> None:
    """Opt in to or out of a message when an assessment in one's cohorts is completed."""
    connection.execute(
        update(Coordinator).where(Coordinator.id == coordinator).values(notify_completed=notify)
    )


def new_cohort(connection: Connection, name: str, created_by: int | None = None) -> str:
    """Create a cohort and return its invitation code."""
    code = secrets.token_urlsafe(COHORT_CODE_BYTES)
    connection.execute(insert(Cohort).values(code=code, name=name, created_by=created_by))
    return code


def own_cohort(connection: Connection, name: str, created_by: int | None = None) -> str | None:
    """The code of the cohort ``created_by`` made under ``name`` (case aside), if any: asked
    again for it, a coordinator gets its link, not a second cohort splitting the first."""
    wanted = name.strip().casefold()
    made = select(Cohort.code, Cohort.name).where(
        Cohort.created_by.is_(None) if created_by is None else Cohort.created_by == created_by
    )
    # Compared in Python: SQLite's lower() folds ASCII letters only.
    return next(
        (row.code for row in connection.execute(made) if row.name.casefold() == wanted), None
    )


@dataclass(frozen=True)
class AskedCohort:
    code: str
    existed: bool
    """Whether the coordinator had made it before: this is its link again."""


def ask_cohort(connection: Connection, name: str, created_by: int | None = None) -> AskedCohort:
    """The cohort ``created_by`` made under ``name``, made now if they have none."""
    found = own_cohort(connection, name, created_by)
    if found is not None:
        return AskedCohort(found, existed=True)
    return AskedCohort(new_cohort(connection, name, created_by), existed=False)


def new_cohort_by(
    name: str, coordinator: str | None, configured: Collection[str] = ()
) -> Callable[[Connection], AskedCohort | None]:
    """A unit asking for the cohort ``name`` of the Telegram coordinator ``coordinator`` (if
    given), who mentors its practitioners; it gives ``None`` if they are not a coordinator."""

    def work(connection: Connection) -> AskedCohort | None:
        if coordinator is None:
            return ask_cohort(connection, name)
        found = coordinator_id(connection, "telegram", coordinator, configured)
        return None if found is None else ask_cohort(connection, name, found)

    return work


def cohort_id(connection: Connection, code: str) -> int | None:
    """The cohort an invitation code belongs to, if any."""
    return connection.execute(select(Cohort.id).where(Cohort.code == code)).scalar()


def list_cohorts(connection: Connection) -> list[CohortSummary]:
    """Every cohort with how many joined it, started and completed an assessment in it."""

    def count(*conditions: ColumnElement[bool]) -> Any:
        return select(func.count()).where(*conditions).scalar_subquery()

    of_cohort = Assessment.cohort_id == Cohort.id
    rows = connection.execute(
        select(
            Cohort.code,
            Cohort.name,
            Cohort.created_at,
            count(Respondent.cohort_id == Cohort.id),
            count(of_cohort),
            count(of_cohort, Assessment.status == "completed"),
        ).order_by(Cohort.id)
    )
    return [CohortSummary(*row) for row in rows]


def _kept(connection: Connection, name: str, made: str) -> str:
    """The instance secret ``name``; ``made`` becomes it if there is none yet."""
    stored = connection.execute(
        select(InstanceSecret.value).where(InstanceSecret.name == name)
    ).scalar()
    if stored is not None:
        return str(stored)
    try:
        with connection.begin_nested():
            connection.execute(insert(InstanceSecret).values(name=name, value=made))
    except IntegrityError:  # another replica made it first: theirs is kept
        return _kept(connection, name, made)
    return made


def pseudonym_key(connection: Connection) -> bytes:
    """This installation's key for pseudonyms, made on first use and kept."""
    return bytes.fromhex(_kept(connection, PSEUDONYM_KEY, secrets.token_hex(32)))


def derived_key(configured: str) -> bytes:
    """The pseudonym key made from ``SICHECK_PSEUDONYM_KEY``."""
    return hashlib.sha256(configured.encode()).digest()


def adopt_pseudonym_key(connection: Connection, configured: str) -> bool:
    """Make ``configured`` this database's pseudonym key; ``False`` if it has another one.

    Pseudonyms stay stable only as long as the key does, so a different key is refused
    rather than silently giving every respondent a new pseudonym.
    """
    # Only a check value is kept: the key itself never rests in the database or its backups.
    wanted = hmac.new(derived_key(configured), b"pseudonym key check", "sha256").hexdigest()
    return _kept(connection, PSEUDONYM_KEY_CHECK, wanted) == wanted


def pseudonym(key: bytes, platform: str, external_id: str) -> str:
    """A respondent's stable pseudonym: a keyed hash that reveals nothing without the key."""
    digest = hmac.new(key, f"{platform}:{external_id}".encode(), hashlib.sha256).hexdigest()
    return f"r-{digest[:16]}"
