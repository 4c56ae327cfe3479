"""Callback data of inline buttons: ``v<checklist>:<assessment>:<version>:<token>``.

It names the checklist version, the assessment and the assessment's version when the button
was shown, so a press on an older message, from another assessment or checklist, or a forged
one is recognised and never changes an answer. Telegram allows at most 64 bytes.
"""

from __future__ import annotations

import re

from dialogs import events
from storage.dialogue import Expected

MAX_BYTES = 64
_PATTERN = re.compile(r"v(\d{1,4}):(\d{1,19}):(\d{1,9}):(.{1,40})", re.ASCII)
LANGUAGE_PREFIX = "L:"
"""``/language`` buttons change the respondent's language whatever the step."""


def pack(expected: Expected, action: str) -> str:
    """Callback data for a button sending ``action`` from the view ``expected`` describes."""
    data = f"v{expected.checklist_version}:{expected.assessment_id}:{expected.version}:{action}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def unpack(data: str | None) -> tuple[Expected, events.Event] | None:
    """The view and event a press stands for, or ``None`` when the data is not ours."""
    if not data:
        return None
    match = _PATTERN.fullmatch(data)
    if match is None:
        return None
    event = events.decode(match[4])
    if event is None:
        return None
    return Expected(int(match[1]), int(match[2]), int(match[3])), event
