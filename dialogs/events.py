"""Engine events, and the compact action tokens that buttons carry.

A token is what a button sends back: ``a:C03:2`` answers criterion 3 with 2, ``a:C03:-`` says
"not applicable". Tokens name the criterion they belong to, so a press on an old question can
be told apart from a press on the current one. Adapters wrap tokens in their own data (the
console in option numbers, Telegram in ``bot.telegram.callback_data``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ChooseLanguage:
    language: str


@dataclass(frozen=True)
class Consent:
    accepted: bool


_CONTROL = {code: None for code in (*range(32), 127) if chr(code) not in "\t\n\r"}


@dataclass(frozen=True)
class Text:
    """What a person typed, without control characters other than tabs and line breaks."""

    text: str

    def __post_init__(self) -> None:
        # No name or comment means anything by a control character, and PostgreSQL refuses NUL
        # in text: they go here, before anything is checked or stored.
        object.__setattr__(self, "text", self.text.translate(_CONTROL))


@dataclass(frozen=True)
class ChooseCountry:
    country: str | None
    """ISO 3166 alpha-2 code, ``None`` for a country not offered."""


@dataclass(frozen=True)
class Answer:
    criterion: str
    value: int | None
    """0..3 on the scale, ``None`` for "not applicable / don't know"."""


@dataclass(frozen=True)
class ToggleAspect:
    criterion: str
    aspect: str


@dataclass(frozen=True)
class ToggleTag:
    """Tick or untick a target group or theme of the profile (the step says which)."""

    code: str


@dataclass(frozen=True)
class Edit:
    criterion: str


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Skip:
    pass


@dataclass(frozen=True)
class Info:
    """Show the seed's guidance for the current question."""


@dataclass(frozen=True)
class Confirm:
    pass


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class Restart:
    """Leave the current assessment and start a fresh one."""


@dataclass(frozen=True)
class Report:
    """Ask for the finished assessment's report as a document; the adapter sends it."""


@dataclass(frozen=True)
class Open:
    """Open the summary of one of the practitioner's finished assessments."""

    assessment_id: int


Event = (
    ChooseLanguage
    | Consent
    | Text
    | ChooseCountry
    | Answer
    | ToggleAspect
    | ToggleTag
    | Edit
    | Back
    | Skip
    | Info
    | Confirm
    | Cancel
    | Restart
    | Report
    | Open
)

_CRITERION = r"C\d\d"
_FIELDS: dict[str, tuple[Callable[..., Event], tuple[str, ...]]] = {
    "l": (ChooseLanguage, (r"[a-z]{2}",)),
    "c": (ChooseCountry, (r"[A-Z]{2}|-",)),
    "a": (Answer, (_CRITERION, r"[0-9]|-")),
    "t": (ToggleAspect, (_CRITERION, r"[a-z_]{1,20}")),
    "g": (ToggleTag, (r"[a-z_]{1,24}",)),
    "e": (Edit, (_CRITERION,)),
    "o": (Open, (r"[0-9]{1,19}",)),
}
"""Tokens with data: a prefix, then each field's text, ``-`` for ``None``; digits make ints."""
_PATTERNS = {
    prefix: re.compile(":".join((prefix, *(f"({field})" for field in fields))))
    for prefix, (_, fields) in _FIELDS.items()
}
_SIMPLE: dict[str, Event] = {
    "y": Consent(accepted=True),
    "n": Consent(accepted=False),
    "b": Back(),
    "s": Skip(),
    "i": Info(),
    "ok": Confirm(),
    "x": Cancel(),
    "new": Restart(),
    "pdf": Report(),
}


_SIMPLE_TOKENS = {event: token for token, event in _SIMPLE.items()}
_PREFIXES = {kind: prefix for prefix, (kind, _) in _FIELDS.items()}


def encode(event: Event) -> str:
    """Return the button token that stands for ``event``."""
    if event in _SIMPLE_TOKENS:
        return _SIMPLE_TOKENS[event]
    prefix = _PREFIXES.get(type(event))
    if prefix is None:
        raise ValueError(f"{event!r} has no button token")
    values = (
        "-" if value is None else str(value)
        for value in (getattr(event, f.name) for f in fields(event))
    )
    return ":".join((prefix, *values))


def decode(token: str) -> Event | None:
    """Return the event a button token stands for, or ``None`` for an unknown or forged one."""
    if token in _SIMPLE:
        return _SIMPLE[token]
    prefix = token.partition(":")[0]
    match = _PATTERNS[prefix].fullmatch(token) if prefix in _PATTERNS else None
    if match is None:
        return None
    values = (None if v == "-" else int(v) if v.isdigit() else v for v in match.groups())
    return _FIELDS[prefix][0](*values)
