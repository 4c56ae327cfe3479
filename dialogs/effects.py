"""What a step asks the outside world to record, besides the assessment's new snapshot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class GiveConsent:
    pass


@dataclass(frozen=True)
class RecordAnswer:
    criterion: str
    value: int | None
    aspects: tuple[str, ...]
    comment: str | None


@dataclass(frozen=True)
class StartNew:
    """Open a fresh assessment for the same respondent."""


Effect = SetLanguage | GiveConsent | RecordAnswer | StartNew
