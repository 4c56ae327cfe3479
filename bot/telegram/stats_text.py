"""Aggregate figures as one Telegram message: ``<b>``/``<i>`` HTML within Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.stats_text import GROUP_SEPARATOR, group_lines, more_line
from bot.telegram.replies import telegram_length
from dialogs.content import Content
from dialogs.i18n import use_language
from storage.stats import GroupStats

TEXT_LIMIT = 4096
"""Telegram's longest message, counted in UTF-16 code units like Telegram counts it."""


def _more(count: int) -> str:
    return f"{GROUP_SEPARATOR}<i>{escape(more_line(count))}</i>" if count else ""


def stats_html(
    groups: Sequence[GroupStats], content: Content, language: str, *, limit: int = TEXT_LIMIT
) -> str:
    """The groups' figures as one message in ``language``, in ``<b>``/``<i>``, within ``limit``."""
    with use_language(language):
        text = ""
        for index, group in enumerate(groups):
            heading, *rest = group_lines(group, content.latest)
            style = "<i>{}</i>" if group.suppressed else "{}"
            lines = [f"<b>{escape(heading)}</b>", *(style.format(escape(line)) for line in rest)]
            longer = GROUP_SEPARATOR.join(filter(None, [text, "\n".join(lines)]))
            # Room is kept for the closing line, so stopping later never overruns the limit.
            if telegram_length(longer) + telegram_length(_more(len(groups) - index - 1)) > limit:
                return (text + _more(len(groups) - index)).lstrip()
            text = longer
        return text
