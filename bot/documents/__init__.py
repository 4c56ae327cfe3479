"""Documents made from a report: the radar chart (PNG, or JPEG as a photo) and the PDF report.

The drawing libraries (matplotlib, fpdf2) are imported on first use, so starting the bot or the
console does not load them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, use_language
from dialogs.machine import SUMMARY
from dialogs.report import Report, build_report
from dialogs.snapshot import Profile, RecordedAnswer, Snapshot
from dialogs.views import summary_view
from storage.stats import GroupStats

if TYPE_CHECKING:
    from bot.ecosystem import MapFormat

FALLBACK_FILENAME = "sicheck-report.pdf"
SLUG_MAX = 60
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "đ": "d", "ł": "l"}
)


def report_filename(report: Report) -> str:
    """A safe ASCII file name for the PDF of ``report``, such as ``sicheck-zupas-virtuve.pdf``."""
    # NFKD splits "ķ" into "k" and a combining cedilla, which the ASCII encoding then drops;
    # ligatures such as "œ" have no decomposition and are spelt out first.
    folded = unicodedata.normalize("NFKD", report.practice.translate(_LIGATURES))
    ascii_name = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_SLUG.sub("-", ascii_name).strip("-")[:SLUG_MAX].rstrip("-")
    return f"sicheck-{slug}.pdf" if slug else FALLBACK_FILENAME


def chart_photo(report: Report) -> bytes:
    """The radar chart of ``report`` as a JPEG, for a Telegram photo."""
    from bot.documents.chart import radar_photo

    return radar_photo(report)


def warm_up(content: Content) -> None:
    """Make a summary in every language and one chart, so that no chat waits for the first
    import of matplotlib, its fonts and Babel's data of each language."""
    checklist = content.latest
    answers = MappingProxyType(
        {criterion.code: RecordedAnswer(checklist.max_value) for criterion in checklist.criteria}
    )
    groups = tuple(item.code for item in content.taxonomy.target_groups[:1])
    themes = tuple(item.code for item in content.taxonomy.themes[:1])
    profile = Profile("SI Check", "LV", None, groups, themes)
    for language in SUPPORTED_LANGUAGES:
        snapshot = Snapshot(checklist.version, SUMMARY, language, True, profile, answers)
        report = build_report(checklist, snapshot, datetime.now(UTC))
        with use_language(language):
            summary_view(report)
    # One chart loads matplotlib and its fonts; the languages draw alike after it.
    chart_photo(report)


def report_pdf(report: Report) -> bytes:
    """The full PDF report of ``report``, its radar chart included."""
    from bot.documents.chart import radar_chart
    from bot.documents.pdf import pdf_report

    return pdf_report(report, radar_chart(report))


def stats_png(groups: Sequence[GroupStats], content: Content, language: str) -> bytes | None:
    """The distribution chart of aggregate figures, ``None`` when every group is hidden."""
    from bot.documents.stats_chart import distribution_chart

    return distribution_chart(groups, content, language)


def stats_map(
    groups: Sequence[GroupStats],
    content: Content,
    language: str,
    fmt: MapFormat,
    limit: int | None = None,
) -> bytes | None:
    """The ecosystem map of aggregate figures as a PNG or a PDF, ``None`` when all are hidden."""
    from bot.documents.ecosystem_map import map_file
    from bot.ecosystem import map_data

    data = map_data(groups, content, language, limit)
    return None if data is None else map_file(data, fmt)
