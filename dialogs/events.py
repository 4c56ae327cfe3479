"""Engine events, and the compact action tokens that buttons carry.

A token is what a button sends back: ``a:C03:2`` answers criterion 3 with 2, ``a:C03:-`` says
"not applicable". Tokens name the criterion they belong to, so a press on an old question can
be told apart from a press on the current one. This is the one place where a view's button
action becomes an engine event; adapters wrap tokens in their own data (the console in option
numbers, Telegram in ``bot.telegram.callback_data``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


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


@dataclass(frozen=True)
class Show:
    """Show the current step again, changing nothing."""


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
    | Show
)

_CRITERION = r"C\d\d"


_TOKENS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Event]], ...] = (
    (re.compile(r"l:([a-z]{2})"), lambda m: ChooseLanguage(m[1])),
    (re.compile(r"c:([A-Z]{2}|-)"), lambda m: ChooseCountry(None if m[1] == "-" else m[1])),
    (
        re.compile(rf"a:({_CRITERION}):([0-9]|-)"),
        lambda m: Answer(m[1], None if m[2] == "-" else int(m[2])),
    ),
    (re.compile(rf"t:({_CRITERION}):([a-z_]{{1,20}})"), lambda m: ToggleAspect(m[1], m[2])),
    (re.compile(r"g:([a-z_]{1,24})"), lambda m: ToggleTag(m[1])),
    (re.compile(rf"e:({_CRITERION})"), lambda m: Edit(m[1])),
    (re.compile(r"o:(\d{1,19})"), lambda m: Open(int(m[1]))),
)
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


def encode(event: Event) -> str:
    """Return the button token that stands for ``event``."""
    match event:
        case ChooseLanguage(language):
            return f"l:{language}"
        case ChooseCountry(country):
            return f"c:{country or '-'}"
        case Answer(criterion, value):
            return f"a:{criterion}:{'-' if value is None else value}"
        case ToggleAspect(criterion, aspect):
            return f"t:{criterion}:{aspect}"
        case ToggleTag(code):
            return f"g:{code}"
        case Edit(criterion):
            return f"e:{criterion}"
        case Open(assessment_id):
            return f"o:{assessment_id}"
    for token, simple in _SIMPLE.items():
        if simple == event:
            return token
    raise ValueError(f"{event!r} has no button token")


def decode(token: str) -> Event | None:
    """Return the event a button token stands for, or ``None`` for an unknown or forged one."""
    if token in _SIMPLE:
        return _SIMPLE[token]
    for pattern, build in _TOKENS:
        match = pattern.fullmatch(token)
        if match is not None:
            return build(match)
    return None
