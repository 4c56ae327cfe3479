"""The data model: respondents, assessments, answers and the append-only answer log;
coordinators and the cohorts they invite practitioners to; teams that assess one practice
together; assessments shared with a mentor and the mentor's feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only makes INTEGER PRIMARY KEY an alias of its rowid (auto-increment).
Identifier = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Respondent(Base):
    __tablename__ = "respondent"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    start_payload: Mapped[str | None] = mapped_column(String(64))
    """The deep-link payload of the respondent's latest ``/start`` (cohort invitations)."""
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohort.id", ondelete="SET NULL"), index=True
    )
    """The cohort of the respondent's latest invitation; new assessments start in it."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    """Whether the respondent may be reminded of an unfinished assessment."""


class Assessment(Base):
    __tablename__ = "assessment"
    __table_args__ = (Index("ix_assessment_respondent_status", "respondent_id", "status"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondent.id", ondelete="CASCADE"))
    checklist_version: Mapped[int] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    practice_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    organisation: Mapped[str | None] = mapped_column(String(200))
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohort.id", ondelete="SET NULL"), index=True
    )
    target_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The engine's working data that is not an answer: the draft and the editing flag."""
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the one reminder of this unfinished assessment was claimed for sending."""
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="SET NULL"), index=True
    )
    """The team this assessment is one member's part of; cleared when the member leaves."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped by every step, so concurrent writers of one assessment notice each other."""


class Answer(Base):
    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("assessment_id", "criterion"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(8))
    value: Mapped[int | None] = mapped_column(SmallInteger)
    """0..3 on the checklist's scale; NULL means "not applicable / don't know"."""
    aspects: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnswerLog(Base):
    """Append-only: every answer and every change of one, as coordinators download them."""

    __tablename__ = "answer_log"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), index=True
    )
    criterion: Mapped[str] = mapped_column(String(8))
    value: Mapped[int | None] = mapped_column(SmallInteger)
    aspects: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(16))


BEFORE_KEYING = 0
"""The bot id of updates recorded before they were keyed by bot (no bot has id 0)."""


class ProcessedUpdate(Base):
    """Updates already applied, by bot and update id, so a redelivered update changes nothing.

    Telegram numbers updates per bot and may start again at random after a week without any,
    so rows older than ``storage.privacy.UPDATES_KEPT`` are purged daily.
    """

    __tablename__ = "processed_update"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class Cohort(Base):
    """A group of practitioners a coordinator invited with one deep link."""

    __tablename__ = "cohort"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    """Unguessable: the ``/start`` payload of the cohort's invitation link."""
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("coordinator.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Coordinator(Base):
    """Staff of a competence centre or network who may export and see aggregate figures."""

    __tablename__ = "coordinator"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    from_settings: Mapped[bool] = mapped_column(Boolean, default=False)
    """Recorded because ``SICHECK_COORDINATORS`` named them: the role ends when it stops."""
    notify_completed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether to be told when an assessment in one of their cohorts is completed."""
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Team(Base):
    """Practitioners who assess one practice together, each on their own, invited by one link.

    The owner's and the members' assessments point to the team (``Assessment.team_id``); an
    erased member's assessments leave it with them, an erased owner takes the team along.
    """

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    """Unguessable: what the team's invitation link (or the console's code) carries."""
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("respondent.id", ondelete="CASCADE"), index=True
    )
    practice_name: Mapped[str | None] = mapped_column(String(200))
    checklist_version: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the owner closed the team: nobody joins any more."""


class MentorShare(Base):
    """A finished assessment its practitioner chose to show their cohort's coordinator.

    Revoking keeps the row (and the feedback) but hides both from the mentor and the feedback
    from the summary, until the practitioner shares again.
    """

    __tablename__ = "mentor_share"

    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("assessment.id", ondelete="CASCADE"), primary_key=True
    )
    coordinator_id: Mapped[int] = mapped_column(
        ForeignKey("coordinator.id", ondelete="CASCADE"), index=True
    )
    shared_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MentorFeedback(Base):
    """A mentor's feedback on one criterion of a shared assessment, as the mentor wrote it."""

    __tablename__ = "mentor_feedback"
    __table_args__ = (UniqueConstraint("assessment_id", "criterion"),)

    id: Mapped[int] = mapped_column(Identifier, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(8))
    coordinator_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinator.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the practitioner's notice of this feedback was claimed for sending; cleared when
    the feedback is rewritten, so the new text is announced too."""


class InstanceSecret(Base):
    """Secrets this installation generates once and keeps, such as the pseudonym key."""

    __tablename__ = "instance_secret"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
