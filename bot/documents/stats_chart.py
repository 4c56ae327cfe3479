"""How a group answered each criterion: one horizontal bar per criterion, stacked by answer.

Drawn with matplotlib's object API on the Agg canvas, fonts passed per text, never pyplot or
rcParams, so charts can be drawn in worker threads side by side.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from bot.documents import numbered_label
from bot.documents.fonts import FONT_BOLD, FONT_REGULAR
from bot.stats_text import criterion_title, group_heading, summary_line
from dialogs.content import Content
from dialogs.i18n import _, use_language
from storage.stats import NOT_APPLICABLE, GroupStats

DPI = 120
WIDTH_INCHES = 9.0
HEIGHT_PER_CRITERION = 0.5
HEIGHT_EXTRA = 1.8
"""Inches for the titles above the bars and the legend below them."""
LEFT = 0.33
RIGHT = 0.97
TOP_INCHES = 0.85
BOTTOM_INCHES = 0.75
TITLE_FROM_TOP = 0.2
LABEL_WIDTH = 34
"""Characters per label line: the labels share the width with the bars."""
COLOURS: dict[int | None, str] = {
    # From red to the report's blue, with grey for "not applicable": readable without colour
    # vision too, as the legend and the counts inside the bars say the same.
    0: "#c0392b",
    1: "#f0a35e",
    2: "#7fb3d5",
    3: "#1f6f8b",
    NOT_APPLICABLE: "#bdbdbd",
}
DARK_SEGMENTS = frozenset({0, 3})
"""Segments dark enough for a white count."""


def _font(size: float, *, bold: bool = False) -> FontProperties:
    return FontProperties(fname=FONT_BOLD if bold else FONT_REGULAR, size=size)


def distribution_figure(group: GroupStats, content: Content, language: str) -> Figure:
    """The stacked bars of ``group`` as a matplotlib figure in ``language``, not yet drawn."""
    checklist, criteria = content.latest, group.criteria
    with use_language(language):
        segments: list[tuple[int | None, str]] = [
            (level.value, f"{level.value}: {_(level.label)}") for level in checklist.scale
        ]
        segments.append((NOT_APPLICABLE, _(checklist.not_applicable.label)))
        titles = [criterion_title(checklist, criterion.code) for criterion in criteria]
        heading, summary = group_heading(group), summary_line(group)
    height = HEIGHT_EXTRA + HEIGHT_PER_CRITERION * max(len(criteria), 1)
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(criteria)))
    left = [0] * len(criteria)
    for value, label in segments:
        counts = [criterion.counts.get(value, 0) for criterion in criteria]
        bars = axes.barh(
            positions, counts, left=left, color=COLOURS[value], label=label, height=0.7
        )
        axes.bar_label(
            bars,
            labels=[str(count) if count else "" for count in counts],
            label_type="center",
            fontproperties=_font(8),
            color="white" if value in DARK_SEGMENTS else "#222222",
        )
        left = [start + count for start, count in zip(left, counts, strict=True)]
    labels = [
        numbered_label(criterion.number, title, LABEL_WIDTH)
        for criterion, title in zip(criteria, titles, strict=True)
    ]
    axes.set_yticks(positions, labels, fontproperties=_font(8), parse_math=False)
    # Criterion 1 on top, as in the checklist.
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for tick in axes.get_xticklabels():
        tick.set_fontproperties(_font(8))
    axes.set_xlim(0, max([*left, 1]))
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.suptitle(
        heading,
        x=(LEFT + RIGHT) / 2,  # over the bars, like the line below it
        y=1 - TITLE_FROM_TOP / height,
        fontproperties=_font(12, bold=True),
        parse_math=False,
    )
    axes.set_title(summary, fontproperties=_font(9), color="#555555", parse_math=False)
    legend = figure.legend(
        loc="lower center", ncols=len(segments), frameon=False, prop=_font(8), handlelength=1.2
    )
    for text in legend.get_texts():
        text.set_parse_math(False)
    # Margins in inches, so a chart of few or many criteria keeps the same room for the texts.
    figure.subplots_adjust(
        left=LEFT, right=RIGHT, top=1 - TOP_INCHES / height, bottom=BOTTOM_INCHES / height
    )
    return figure


def distribution_chart(
    groups: Sequence[GroupStats], content: Content, language: str
) -> bytes | None:
    """The answers of the overall (or first shown) group as a PNG; ``None`` if all are hidden."""
    group = next((group for group in groups if not group.suppressed), None)
    if group is None:
        return None
    figure = distribution_figure(group, content, language)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
