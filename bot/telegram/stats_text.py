"""Aggregate figures as one Telegram message: ``<b>``/``<i>`` HTML within Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.stats_text import (
    GROUP_SEPARATOR,
    criterion_line,
    group_heading,
    more_line,
    summary_line,
    suppressed_line,
)
from dialogs.content import Checklist, Content
from dialogs.i18n import use_language
from storage.stats import GroupStats

TEXT_LIMIT = 4096
"""Telegram's longest message, counted in UTF-16 code units like Telegram counts it."""


def _block(group: GroupStats, checklist: Checklist) -> str:
    lines = [f"<b>{escape(group_heading(group))}</b>"]
    if group.suppressed:
        lines.append(f"<i>{escape(suppressed_line(group))}</i>")
        return "\n".join(lines)
    lines.append(escape(summary_line(group)))
    lines.extend(escape(criterion_line(criterion, checklist)) for criterion in group.criteria)
    return "\n".join(lines)


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _more(count: int) -> str:
    return f"{GROUP_SEPARATOR}<i>{escape(more_line(count))}</i>"


def stats_html(
    groups: Sequence[GroupStats], content: Content, language: str, *, limit: int = TEXT_LIMIT
) -> str:
    """The groups' figures as one message in ``language``, in ``<b>``/``<i>``, within ``limit``."""
    with use_language(language):
        blocks = [_block(group, content.latest) for group in groups]
        text = ""
        for index, block in enumerate(blocks):
            longer = f"{text}{GROUP_SEPARATOR}{block}" if text else block
            rest = len(blocks) - index - 1
            # Room is kept for the closing line, so stopping later never overruns the limit.
            if _length(longer) + (_length(_more(rest)) if rest else 0) > limit:
                return (text + _more(len(blocks) - index)).lstrip()
            text = longer
        return text
