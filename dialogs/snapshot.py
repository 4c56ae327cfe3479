"""The state of one assessment as plain, immutable data: what the engine reads and returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from dialogs.peers import PeerMedians

NAME_MAX = 200
COMMENT_MAX = 1000


@dataclass(frozen=True)
class RecordedAnswer:
    value: int | None
    aspects: tuple[str, ...] = ()
    comment: str | None = None
    revision: int = 1


@dataclass(frozen=True)
class Profile:
    practice_name: str | None = None
    country: str | None = None
    organisation: str | None = None
    target_groups: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    """What the practitioner set on the current question before choosing a level."""

    aspects: tuple[str, ...] = ()
    comment: str | None = None


@dataclass(frozen=True)
class Earlier:
    """The practitioner's previous completed assessment of the same practice, for comparison."""

    answers: Mapping[str, int | None]
    completed_at: datetime | None = None


@dataclass(frozen=True)
class Snapshot:
    checklist_version: int
    state: str
    language: str
    consented: bool = False
    profile: Profile = Profile()
    answers: Mapping[str, RecordedAnswer] = field(default_factory=lambda: MappingProxyType({}))
    draft: Draft = Draft()
    editing: bool = False
    """Whether the current question was opened from the review, and returns there."""
    in_team: bool = False
    """Whether the assessment is a team's: its profile is the team's, the same for every member,
    and is not changed in it."""
    earlier: Earlier | None = None
    """Loaded for the summary only; never written back."""
    peers: PeerMedians | None = None
    """Other practices' medians, loaded for the summary only where a group is big enough."""
    feedback: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The mentor's feedback per criterion while the assessment is shared; loaded for the
    summary only."""
