"""How a group answered each criterion: one horizontal bar per criterion, stacked by answer.

Drawn with matplotlib's object API on the Agg canvas, fonts passed per text, never pyplot or
rcParams, so charts can be drawn in worker threads side by side.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.documents.chart import fit_width, font, numbered
from bot.stats_text import criterion_title, group_heading, summary_line
from dialogs.content import Content
from dialogs.i18n import _, use_language
from storage.stats import NOT_APPLICABLE, GroupStats

DPI = 120
LEFT, RIGHT = 0.33, 0.97
"""The bars' share of the width: the labels take the rest."""
COLOURS: dict[int | None, str] = {
    # From red to the report's blue, with grey for "not applicable": readable without colour
    # vision too, as the legend and the counts inside the bars say the same.
    0: "#c0392b",
    1: "#f0a35e",
    2: "#7fb3d5",
    3: "#1f6f8b",
    NOT_APPLICABLE: "#bdbdbd",
}


def distribution_figure(group: GroupStats, content: Content, language: str) -> Figure:
    """The stacked bars of ``group`` as a matplotlib figure in ``language``, not yet drawn."""
    checklist, criteria = content.latest, group.criteria
    with use_language(language):
        segments: list[tuple[int | None, str]] = [
            (level.value, f"{level.value}: {_(level.label)}") for level in checklist.scale
        ]
        segments.append((NOT_APPLICABLE, _(checklist.not_applicable.label)))
        # 34 characters a line, as the labels share the width with the bars.
        labels = [
            numbered(criterion.number, criterion_title(checklist, criterion.code), 34, 2)
            for criterion in criteria
        ]
        heading, summary = group_heading(group), summary_line(group)
    # Inches: half of one per bar, and 1.8 for the titles above the bars and the legend below.
    height = 1.8 + 0.5 * max(len(criteria), 1)
    figure = Figure(figsize=(9.0, height), dpi=DPI)
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
            fontproperties=font(8),
            color="white" if value in (0, 3) else "#222222",  # on the darkest segments
        )
        left = [start + count for start, count in zip(left, counts, strict=True)]
    axes.set_yticks(positions, labels, fontproperties=font(8), parse_math=False)
    # Criterion 1 on top, as in the checklist.
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for tick in axes.get_xticklabels():
        tick.set_fontproperties(font(8))
    axes.set_xlim(0, max([*left, 1]))
    axes.spines[["top", "right"]].set_visible(False)
    middle = (LEFT + RIGHT) / 2  # over the bars, like the line below it
    shown_heading = figure.suptitle(
        heading, x=middle, y=1 - 0.2 / height, fontproperties=font(12, bold=True), parse_math=False
    )
    # Centred there, the heading has twice the room to the nearer edge.
    fit_width(shown_heading, figure.bbox.width * 2 * min(middle, 1 - middle) * 0.96)
    axes.set_title(summary, fontproperties=font(9), color="#555555", parse_math=False)
    legend = figure.legend(
        loc="lower center", ncols=len(segments), frameon=False, prop=font(8), handlelength=1.2
    )
    for text in legend.get_texts():
        text.set_parse_math(False)
    # Margins in inches, so a chart of few or many criteria keeps the same room for the texts.
    figure.subplots_adjust(left=LEFT, right=RIGHT, top=1 - 0.85 / height, bottom=0.75 / height)
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
