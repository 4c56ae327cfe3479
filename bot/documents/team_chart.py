"""The team chart: per criterion the finished members' median, with their spread as a band.

Drawn with matplotlib's object API on the Agg canvas, fonts passed per text, never pyplot or
rcParams, so charts can be drawn in worker threads side by side. A criterion flagged as one to
discuss first (answers two levels or more apart) is drawn in the warning colour.
"""

from __future__ import annotations

import io

from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from bot.documents.chart import CURRENT_COLOUR, NOT_SCORED_COLOUR, fit_width, font, numbered
from dialogs.i18n import _, use_language
from dialogs.team import TeamSummary, finished_text

DPI = 120
LEFT, RIGHT = 0.36, 0.96
BAND_COLOUR = "#a9cce3"


def team_figure(summary: TeamSummary) -> Figure:
    """The chart of ``summary`` in its language, as a matplotlib figure not yet drawn."""
    criteria = summary.criteria
    with use_language(summary.language):
        labels = [numbered(at, line.title, 36, 2) for at, line in enumerate(criteria, start=1)]
        title = _("Team summary: %(practice)s", practice=summary.practice)
        subtitle = finished_text(summary.finished, summary.members)
        legend = (_("Median"), _("From the lowest to the highest answer"), _("To discuss first"))
    height = 1.9 + 0.45 * max(len(criteria), 1)
    figure = Figure(figsize=(9.0, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for position, line in enumerate(criteria):
        if line.low is None or line.high is None or line.median is None:
            continue
        colour = NOT_SCORED_COLOUR if line.flagged else CURRENT_COLOUR
        # A band at least a little wide, so that agreement still shows as a mark.
        axes.barh(
            position,
            max(line.high - line.low, 0.08),
            left=line.low - (0.04 if line.high == line.low else 0),
            height=0.5,
            color=BAND_COLOUR,
        )
        axes.plot([line.median], [position], "o", color=colour, markersize=8, zorder=3)
    axes.set_yticks(range(len(criteria)), labels, fontproperties=font(8), parse_math=False)
    axes.invert_yaxis()  # criterion 1 on top, as in the checklist
    axes.set_xlim(-0.2, summary.max_value + 0.2)
    axes.set_xticks(range(summary.max_value + 1))
    for tick in axes.get_xticklabels():
        tick.set_fontproperties(font(8))
    axes.grid(axis="x", color="#dddddd")
    axes.set_axisbelow(True)
    axes.spines[["top", "right"]].set_visible(False)
    shown_title = figure.suptitle(
        title, y=1 - 0.2 / height, fontproperties=font(12, bold=True), parse_math=False
    )
    fit_width(shown_title, figure.bbox.width * 0.96)
    axes.set_title(subtitle, fontproperties=font(9), color="#555555", parse_math=False)
    # Handles of their own: the chart's artists may be missing (no score) or drawn otherwise.
    handles: dict[str, Artist] = {
        legend[0]: Line2D([], [], linestyle="none", marker="o", color=CURRENT_COLOUR)
    }
    if summary.flagged:
        handles[legend[2]] = Line2D([], [], linestyle="none", marker="o", color=NOT_SCORED_COLOUR)
    handles[legend[1]] = Patch(color=BAND_COLOUR)
    shown = figure.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        ncols=len(handles),
        frameon=False,
        prop=font(8),
    )
    for text in shown.get_texts():
        text.set_parse_math(False)
    figure.subplots_adjust(left=LEFT, right=RIGHT, top=1 - 0.9 / height, bottom=0.75 / height)
    return figure


def team_chart(summary: TeamSummary) -> bytes:
    """The team chart of ``summary`` as a PNG."""
    buffer = io.BytesIO()
    team_figure(summary).savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
