"""The callback data of every inline button SI Check sends, as typed presses.

A view's buttons name the view they were shown on, so a press on an older message never
changes an answer. ``encode`` refuses data over Telegram's 64 bytes; decoding gives ``None``
for data garbled, over-long, of an unknown kind or of an older form.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Self, TypeVar, get_type_hints

from dialogs import events
from dialogs.i18n import SUPPORTED_LANGUAGES
from storage.dialogue import Expected, RespondentRow

MAX_BYTES = 64
LARGEST = Expected(checklist_version=9999, assessment_id=2**63 - 1, version=2**31 - 1)
"""The largest ids a button can carry: the view's fields as the database can hold them."""
REPORT_TOKEN = events.encode(events.Report())
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_VIEW = r"v(\d{1,4}:\d{1,19}:\d{1,10}):"
"""A view's ids, as ``pack`` writes them, as one group."""
_READ: dict[object, Callable[[str], object]] = {
    # An id past what the database holds is no id it gave (and SQLite cannot even compare it).
    int: lambda text: value if (value := int(text)) <= LARGEST.assessment_id else None,
    str: str,
    bool: "y".__eq__,
    Expected: lambda ids: Expected(*map(int, ids.split(":"))),
    events.Event: events.decode,
}


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def pack(expected: Expected, action: str) -> str:
    """Callback data for a view's button sending ``action`` (an event token) from ``expected``."""
    return _checked(
        f"v{expected.checklist_version}:{expected.assessment_id}:{expected.version}:{action}"
    )


@dataclass(frozen=True)
class Press:
    """One kind of button. Unless a kind says otherwise, its data is ``TAG`` then its fields,
    ``:``-separated (a bool as ``y`` or ``n``). It is read back through ``FORM``, whose groups
    are the fields in order, each read by its type (``None`` if one is not of it)."""

    TAG: ClassVar[str]
    FORM: ClassVar[re.Pattern[str]]

    def data(self) -> str:
        """The callback data standing for this press, unchecked."""
        texts = [("y" if v else "n") if isinstance(v, bool) else str(v) for v in astuple(self)]
        return ":".join([self.TAG, *texts])

    @classmethod
    def parse(cls, data: str) -> Self | None:
        """The press of this kind ``data`` stands for, or ``None``."""
        match = cls.FORM.fullmatch(data)
        if match is None:
            return None
        texts = zip(_READERS[cls], match.groups(), strict=True)
        values = [read(text) for read, text in texts]
        return None if None in values else cls(*values)


@dataclass(frozen=True)
class StepPress(Press):
    """``v<checklist>:<assessment>:<version>:<token>``: a dialogue event (``a:C03:2``, from
    ``dialogs.events.encode``) sent from the view ``expected`` names."""

    expected: Expected
    event: events.Event
    FORM = re.compile(f"{_VIEW}(.+)", re.ASCII)

    def data(self) -> str:
        return pack(self.expected, events.encode(self.event))

    @classmethod
    def parse(cls, data: str) -> Self | None:
        press = super().parse(data)
        # A report or history token is a kind of its own, not a step.
        if press is None or isinstance(press.event, events.Report | events.Open):
            return None
        return press


@dataclass(frozen=True)
class ReportPress(Press):
    """``v<checklist>:<assessment>:<version>:pdf``: the PDF report of the finished assessment
    ``expected`` names, sent only to the respondent who owns it."""

    expected: Expected
    FORM = re.compile(_VIEW + re.escape(REPORT_TOKEN), re.ASCII)

    def data(self) -> str:
        return pack(self.expected, REPORT_TOKEN)


@dataclass(frozen=True)
class OpenPress(Press):
    """``o:<checklist>:<assessment>``: a ``/history`` button opening a finished assessment's
    summary (the bare ``o:<assessment>`` of older lists is none)."""

    checklist_version: int
    assessment_id: int
    TAG = "o"
    FORM = re.compile(r"o:(\d{1,4}):(\d{1,19})", re.ASCII)


@dataclass(frozen=True)
class LanguagePress(Press):
    """``L:<language>``: speak ``language`` (one SI Check speaks) from now on."""

    language: str
    TAG = "L"
    FORM = re.compile(f"L:({'|'.join(SUPPORTED_LANGUAGES)})")


@dataclass(frozen=True)
class ErasePress(Press):
    """``D:<respondent>:<consented>:y`` (or ``…:n``): erase everything about the respondent
    ``/delete`` asked, or keep it. ``consented`` is their consent's time in microseconds since
    the epoch (0 if none): a respondent made anew after an erasure differs in it."""

    respondent_id: int
    consented: int
    erase: bool
    TAG = "D"
    FORM = re.compile(r"D:(\d{1,19}):(\d{1,17}):([yn])", re.ASCII)

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


@dataclass(frozen=True)
class RemindersOffPress(Press):
    """``R:off``: a reminder's "no more reminders"."""

    TAG = "R:off"
    FORM = re.compile("R:off")


@dataclass(frozen=True)
class NoticesOffPress(Press):
    """``N:off``: a completion notice's "stop these notices", for the coordinator pressing."""

    TAG = "N:off"
    FORM = re.compile("N:off")


@dataclass(frozen=True)
class SharePress(Press):
    """``ms:<assessment>:y`` (or ``…:n``): share a finished assessment with one's cohort's
    coordinator, or stop sharing it; only its owner can."""

    assessment_id: int
    share: bool
    TAG = "ms"
    FORM = re.compile(r"ms:(\d{1,19}):([yn])", re.ASCII)


@dataclass(frozen=True)
class MenteePress(Press):
    """``mo:<assessment>``: a mentor opens the summary of an assessment shared with them."""

    assessment_id: int
    TAG = "mo"
    FORM = re.compile(r"mo:(\d{1,19})", re.ASCII)


@dataclass(frozen=True)
class FeedbackPress(Press):
    """``mf:<assessment>:<criterion>``: a mentor asks to leave feedback on one criterion."""

    assessment_id: int
    criterion: str
    TAG = "mf"
    FORM = re.compile(r"mf:(\d{1,19}):(C\d\d)", re.ASCII)


@dataclass(frozen=True)
class TeamPress(Press):
    """``T:<team>:<action>``: a team view's button (``dialogs.team``: summary, leave, leave-yes,
    close), acting only on a team the presser's own assessment is in."""

    team_id: int
    action: str
    TAG = "T"
    FORM = re.compile(r"T:(\d{1,19}):(summary|leave|leave-yes|close)", re.ASCII)


@dataclass(frozen=True)
class TeamJoinPress(Press):
    """``J:<code>:y:<assessment>`` (or ``…:n:…``): join the team of that invitation code,
    setting aside the unfinished assessment the question named, or keep it. The code, not the
    team's id: ids are guessable. An older ``J:<code>:y`` names no assessment (0), so it only
    asks again."""

    code: str
    join: bool
    assessment_id: int = 0
    TAG = "J"
    FORM = re.compile(r"J:([A-Za-z0-9_-]{8,32}):([yn]):(\d{1,19})", re.ASCII)
    OLDER: ClassVar[re.Pattern[str]] = re.compile(r"J:[A-Za-z0-9_-]{8,32}:[yn]", re.ASCII)

    @classmethod
    def parse(cls, data: str) -> Self | None:
        return super().parse(data + ":0" if cls.OLDER.fullmatch(data) else data)


@dataclass(frozen=True)
class TeamInvitePress(Press):
    """``ti:<assessment>``: "Invite my team" after finishing: the team of the presser's own
    assessment, made on first asking; anyone else's assessment is not found."""

    assessment_id: int
    TAG = "ti"
    FORM = re.compile(r"ti:(\d{1,19})", re.ASCII)


KINDS: tuple[type[Press], ...] = tuple(Press.__subclasses__())
_READERS = {kind: [_READ[get_type_hints(kind)[f.name]] for f in fields(kind)] for kind in KINDS}
"""How each kind's fields are read, in order: the types resolved once, not at every press."""
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
        data.startswith(f"{OpenPress.TAG}:") or data.endswith(f":{REPORT_TOKEN}")
    )
