"""The radar chart of a report: one spoke per criterion, drawn with matplotlib's Agg backend.

Only the object API is used (a fresh ``Figure`` and canvas per call, fonts passed per text),
never pyplot or rcParams, so charts can be drawn in worker threads side by side.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.projections.polar import PolarAxes

from dialogs.i18n import _, use_language
from dialogs.report import CriterionLine, Report

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
"""DejaVu ships with matplotlib and covers every letter of the supported languages."""
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

SIZE_INCHES = 7.0
DPI = 120
LABEL_WIDTH = 20
"""Characters per label line: ten labels share the circle, so they must stay narrow."""
LABEL_LINES = 3
NOT_SCORED_MARK = " (–)"
CURRENT_COLOUR = "#1f6f8b"
EARLIER_COLOUR = "#8a8a8a"


def _font(size: float, *, bold: bool = False) -> FontProperties:
    return FontProperties(fname=FONT_BOLD if bold else FONT_REGULAR, size=size)


def criterion_label(line: CriterionLine) -> str:
    """The spoke label of ``line``: its number and its title, shortened and wrapped."""
    # The no-break space keeps the number on the line of the title's first word.
    lines = textwrap.wrap(
        f"{line.number}.\N{NO-BREAK SPACE}{line.title}",
        width=LABEL_WIDTH,
        max_lines=LABEL_LINES,
        placeholder=" …",
        break_long_words=False,
    )
    if line.value is None:
        # Appended after shortening, so a long title can never cut the mark off.
        lines[-1] += NOT_SCORED_MARK
    return "\n".join(lines)


def earlier_values(report: Report) -> list[int | None]:
    """The earlier assessment's value of every criterion, ``None`` where it had none."""
    return [line.earlier_value for line in report.criteria]


def radar_figure(report: Report) -> Figure:
    """The radar chart of ``report`` as a matplotlib figure, not yet drawn."""
    with use_language(report.language):
        return _figure(report)


def _figure(report: Report) -> Figure:
    count = len(report.criteria)
    # Criterion 1 sits at the top and the others follow clockwise, as a reader expects.
    angles = [2 * math.pi * index / count for index in range(count)]
    figure = Figure(figsize=(SIZE_INCHES, SIZE_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(projection="polar")
    assert isinstance(axes, PolarAxes)
    axes.set_theta_offset(math.pi / 2)
    axes.set_theta_direction(-1)
    axes.set_ylim(0, report.max_value)
    axes.set_yticks(
        range(report.max_value + 1),
        [str(value) for value in range(report.max_value + 1)],
        fontproperties=_font(7),
        color="#555555",
    )
    axes.set_rlabel_position(180 / count)
    axes.set_xticks(
        angles,
        [criterion_label(line) for line in report.criteria],
        fontproperties=_font(8),
        parse_math=False,
    )
    axes.tick_params(axis="x", pad=14)
    for angle, label in zip(angles, axes.get_xticklabels(), strict=True):
        # Labels on the sides lean away from the circle instead of across it.
        side = math.sin(angle)
        label.set_horizontalalignment(
            "left" if side > 0.1 else "right" if side < -0.1 else "center"
        )
    axes.grid(color="#cccccc", linewidth=0.8)
    closed = [*angles, angles[0]]
    current = [float(line.value or 0) for line in report.criteria]
    axes.plot(
        closed,
        [*current, current[0]],
        color=CURRENT_COLOUR,
        linewidth=2,
        marker="o",
        markersize=4,
        label=_("This assessment"),
    )
    axes.fill(closed, [*current, current[0]], color=CURRENT_COLOUR, alpha=0.25)
    if report.has_earlier:
        earlier = [float(value or 0) for value in earlier_values(report)]
        axes.plot(
            closed,
            [*earlier, earlier[0]],
            color=EARLIER_COLOUR,
            linewidth=1.6,
            linestyle="--",
            label=_("Earlier assessment"),
        )
        legend = figure.legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 0.06),
            ncols=2,
            frameon=False,
            prop=_font(9),
        )
        for text in legend.get_texts():
            text.set_parse_math(False)
    figure.subplots_adjust(left=0.2, right=0.8, top=0.82, bottom=0.18)
    return figure


def radar_chart(report: Report) -> bytes:
    """The radar chart of ``report`` as a PNG, its labels in the report's language."""
    figure = radar_figure(report)
    buffer = io.BytesIO()
    # No tight bounding box: the margins are fixed in the figure, and a tight box would draw
    # the whole chart twice.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
