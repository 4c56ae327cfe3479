"""The callback data of every inline button SI Check sends, as typed presses.

Each kind is a frozen dataclass whose docstring shows its form. A view's buttons name the view
they were shown on, so a press on an older message never changes an answer. ``encode`` refuses
data over Telegram's 64 bytes; ``decode`` gives ``None`` for data garbled, over-long, of an
unknown kind or of an older form.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self, TypeVar

from dialogs import events
from dialogs.i18n import SUPPORTED_LANGUAGES
from storage.dialogue import Expected, RespondentRow

MAX_BYTES = 64
LARGEST = Expected(checklist_version=9999, assessment_id=2**63 - 1, version=2**31 - 1)
"""The largest ids a button can carry: the view's fields as the database can hold them."""
REPORT_TOKEN = events.encode(events.Report())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VIEW = re.compile(r"v(\d{1,4}):(\d{1,19}):(\d{1,10}):(.+)", re.ASCII)


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def pack(expected: Expected, action: str) -> str:
    """Callback data for a view's button sending ``action`` (an event token) from ``expected``."""
    return _checked(
        f"v{expected.checklist_version}:{expected.assessment_id}:{expected.version}:{action}"
    )


def _view(data: str) -> tuple[Expected, str] | None:
    match = _VIEW.fullmatch(data)
    return None if match is None else (Expected(*map(int, match.groups()[:3])), match[4])


class Press(ABC):
    """One kind of button: its data, and the press a piece of data stands for."""

    @abstractmethod
    def data(self) -> str:
        """The callback data standing for this press, unchecked."""

    @classmethod
    @abstractmethod
    def parse(cls, data: str) -> Self | None:
        """The press of this kind ``data`` stands for, or ``None``."""


@dataclass(frozen=True)
class StepPress(Press):
    """``v<checklist>:<assessment>:<version>:<token>``: a dialogue event (``a:C03:2``, from
    ``dialogs.events.encode``) sent from the view ``expected`` names."""

    expected: Expected
    event: events.Event

    def data(self) -> str:
        return pack(self.expected, events.encode(self.event))

    @classmethod
    def parse(cls, data: str) -> Self | None:
        # A report or history token is a kind of its own, not a step.
        view = _view(data)
        event = None if view is None else events.decode(view[1])
        if view is None or event is None or isinstance(event, events.Report | events.Open):
            return None
        return cls(view[0], event)


@dataclass(frozen=True)
class ReportPress(Press):
    """``v<checklist>:<assessment>:<version>:pdf``: the PDF report of the finished assessment
    ``expected`` names, sent only to the respondent who owns it."""

    expected: Expected

    def data(self) -> str:
        return pack(self.expected, REPORT_TOKEN)

    @classmethod
    def parse(cls, data: str) -> Self | None:
        view = _view(data)
        return cls(view[0]) if view is not None and view[1] == REPORT_TOKEN else None


@dataclass(frozen=True)
class OpenPress(Press):
    """``o:<checklist>:<assessment>``: a ``/history`` button opening a finished assessment's
    summary (the bare ``o:<assessment>`` of older lists is none)."""

    checklist_version: int
    assessment_id: int
    TAG: ClassVar[str] = "o:"
    _FORM: ClassVar[re.Pattern[str]] = re.compile(r"o:(\d{1,4}):(\d{1,19})", re.ASCII)

    def data(self) -> str:
        return f"{self.TAG}{self.checklist_version}:{self.assessment_id}"

    @classmethod
    def parse(cls, data: str) -> Self | None:
        match = cls._FORM.fullmatch(data)
        return cls(int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class LanguagePress(Press):
    """``L:<language>``: speak ``language`` (one SI Check speaks) from now on, whatever the
    step."""

    language: str

    def data(self) -> str:
        return f"L:{self.language}"

    @classmethod
    def parse(cls, data: str) -> Self | None:
        language = data.removeprefix("L:")
        return cls(language) if data.startswith("L:") and language in SUPPORTED_LANGUAGES else None


@dataclass(frozen=True)
class ErasePress(Press):
    """``D:<respondent>:<consented>:y`` (or ``…:n``): erase everything about the respondent
    ``/delete`` asked, or (``erase`` false) keep it; the ``D:yes`` of older questions is none.

    ``consented`` is when they consented, in microseconds since the epoch (0 if they did
    not): a respondent made anew after an erasure, even under the same id, differs in it.
    """

    respondent_id: int
    consented: int
    erase: bool
    _FORM: ClassVar[re.Pattern[str]] = re.compile(r"D:(\d{1,19}):(\d{1,17}):([yn])", re.ASCII)

    def data(self) -> str:
        return f"D:{self.respondent_id}:{self.consented}:{'y' if self.erase else 'n'}"

    @classmethod
    def parse(cls, data: str) -> Self | None:
        match = cls._FORM.fullmatch(data)
        return cls(int(match[1]), int(match[2]), match[3] == "y") if match else None

    @classmethod
    def of(cls, respondent: RespondentRow, erase: bool) -> Self:
        """The button asking ``respondent``."""
        moment = respondent.consent_at
        if moment is None:
            return cls(respondent.id, 0, erase)
        # SQLite gives back the UTC time it stored without its zone.
        since = moment.replace(tzinfo=moment.tzinfo or UTC) - EPOCH
        return cls(respondent.id, since // timedelta(microseconds=1), erase)

    def names(self, respondent: RespondentRow | None) -> bool:
        """Whether the press was asked of ``respondent``, as they are now."""
        return respondent is not None and self == self.of(respondent, self.erase)


class _Fixed(Press):
    """A press of one form only, ``DATA``."""

    DATA: ClassVar[str]

    def data(self) -> str:
        return self.DATA

    @classmethod
    def parse(cls, data: str) -> Self | None:
        return cls() if data == cls.DATA else None


@dataclass(frozen=True)
class RemindersOffPress(_Fixed):
    """``R:off``: a reminder's "no more reminders"."""

    DATA = "R:off"


@dataclass(frozen=True)
class NoticesOffPress(_Fixed):
    """``N:off``: a completion notice's "stop these notices", for the coordinator pressing."""

    DATA = "N:off"


KINDS: tuple[type[Press], ...] = (
    StepPress,
    ReportPress,
    OpenPress,
    LanguagePress,
    ErasePress,
    RemindersOffPress,
    NoticesOffPress,
)
P = TypeVar("P", bound=Press)


def encode(press: Press) -> str:
    """The callback data of ``press``; ``ValueError`` if Telegram would refuse it."""
    return _checked(press.data())


def decode_as(kind: type[P], data: object) -> P | None:
    """The press of ``kind`` that ``data`` stands for, or ``None``."""
    if not isinstance(data, str) or len(data.encode()) > MAX_BYTES:
        return None
    return kind.parse(data)


def decode(data: object) -> Press | None:
    """The press ``data`` stands for, or ``None`` when it is not one SI Check sent."""
    return next(filter(None, (decode_as(kind, data) for kind in KINDS)), None)


def asks_for_a_report(data: object) -> bool:
    """Whether unreadable ``data`` still has the shape of a report or ``/history`` button."""
    return isinstance(data, str) and (
        data.startswith(OpenPress.TAG) or data.endswith(f":{REPORT_TOKEN}")
    )
