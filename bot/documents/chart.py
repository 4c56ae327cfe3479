"""The radar chart of a report: one spoke per criterion, on matplotlib's polar axes.

Drawn with matplotlib's object API on the Agg canvas, fonts passed per text, never pyplot or
rcParams, so charts can be drawn in worker threads side by side. A criterion answered "not
applicable" or not answered has no vertex: the line has a gap there and a cross off the scale
marks it, as the legend says.

The circle, its labels and the legend are the same for every chart of one language and
legend: they are drawn once and kept (matplotlib's blitting, ``copy_from_bbox`` and
``restore_region``), and each chart draws only its lines on a copy of them.
"""

from __future__ import annotations

import io
import math
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.projections.polar import PolarAxes
from matplotlib.text import Text
from PIL import Image

from bot.documents.fonts import FONT_BOLD, FONT_REGULAR
from dialogs.i18n import N_, _, use_language
from dialogs.peers import LEGEND as PEERS_LEGEND
from dialogs.report import CriterionLine, Report

DPI = 120
SIZE_INCHES = 8.0
"""960 pixels a side: wide enough for ten wrapped labels around the circle on a phone screen."""
LABEL_WIDTH = 20
"""Characters per label line: ten labels share the circle, so they must stay narrow."""
LABEL_LINES = 3
LABEL_SIZE = 9.5
TICK_SIZE = 8.5
LEGEND_SIZE = 10
CURRENT_COLOUR = "#1f6f8b"
EARLIER_COLOUR = "#8a8a8a"
NOT_SCORED_COLOUR = "#c0392b"
PEERS_COLOUR = "#d68910"
FILL_OPACITY = 0.25
OFF_SCALE = 1.06
"""Where a criterion without a score is marked, as a multiple of the top of the scale."""
JPEG_QUALITY = 90
UNSCORED = N_("Not applicable or not answered: left out of the score")
AXES_BOX = (0.24, 0.22, 0.52, 0.52)
"""The circle's box in figure fractions: room around it for the labels, below for the legend."""
LABEL_PAD = 14
BACKGROUNDS_KEPT = 8
"""Backgrounds drawn and kept (7 MB each): a language's four legends, two languages at once."""
LEGENDS = {
    "current": N_("This assessment"),
    "earlier": N_("Earlier assessment"),
    "peers": PEERS_LEGEND,
    "unscored": UNSCORED,
}
"""Each line's legend by its id, in the legend's order."""
SERIES: dict[str, dict[str, Any]] = {
    "current": dict(color=CURRENT_COLOUR, linewidth=2, marker="o", markersize=6, zorder=3),
    "earlier": dict(color=EARLIER_COLOUR, linestyle="--", linewidth=1.8, marker="s", markersize=5),
    "peers": dict(color=PEERS_COLOUR, linestyle=(0, (2, 2)), linewidth=1.8),
    "unscored": dict(
        color=NOT_SCORED_COLOUR,
        linestyle="none",
        marker="x",
        markersize=7,
        markeredgewidth=2,
        clip_on=False,
    ),
}


def font(size: float, *, bold: bool = False) -> FontProperties:
    """The charts' font at ``size`` points, given to each text (never through rcParams)."""
    return FontProperties(fname=FONT_BOLD if bold else FONT_REGULAR, size=size)


def numbered(number: int, title: str, width: int, lines: int) -> str:
    """``title`` after its ``number``, wrapped at ``width`` characters, in at most ``lines``."""
    # The no-break space keeps the number on the line of the title's first word.
    return "\n".join(
        textwrap.wrap(
            f"{number}.\N{NO-BREAK SPACE}{title}",
            width=width,
            max_lines=lines,
            placeholder=" …",
            break_long_words=False,
        )
    )


def fit_width(text: Text, width: float) -> None:
    """Shorten ``text``, a figure's, by words, ending it with "…", until it is at most
    ``width`` pixels wide (a long practice or cohort name would run off the figure)."""
    words = text.get_text().split()
    while len(words) > 1 and text.get_window_extent().width > width:
        words.pop()
        text.set_text(" ".join(words) + " …")


def criterion_label(line: CriterionLine) -> str:
    """The spoke label of ``line``: its number and its title, shortened and wrapped."""
    return numbered(line.number, line.title, LABEL_WIDTH, LABEL_LINES)


def spoke_angle(index: int, count: int) -> float:
    """The angle of spoke ``index`` of ``count``, in radians clockwise from the top."""
    return 2 * math.pi * index / count


def _closed(values: list[float]) -> list[float]:
    """``values`` with the first repeated at the end, so the line closes on criterion 1."""
    return [*values, values[0]]


def _radii(values: Sequence[float | None]) -> list[float]:
    """Scores as a closed line's radii; no score is NaN, a gap in the line."""
    return _closed([math.nan if value is None else float(value) for value in values])


@dataclass
class _Chart:
    """A figure with its circle, labels and legend, and the artists of its scores."""

    figure: Figure
    axes: PolarAxes
    series: dict[str, Line2D]
    fill: Polygon
    background: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _look(report: Report) -> tuple[tuple[str, ...], int, bool, bool, bool]:
    """What a chart's look depends on beyond its scores: labels, scale, which series."""
    unscored = any(line.value is None for line in report.criteria)
    labels = tuple(criterion_label(line) for line in report.criteria)
    peers = report.peers is not None and any(m is not None for m in report.peers.medians)
    return labels, report.max_value, report.has_earlier, unscored, peers


def radar_figure(report: Report) -> Figure:
    """The radar chart of ``report`` as a matplotlib figure in the report's language."""
    with use_language(report.language):
        chart = _chart(*_look(report))
    _show(chart, report)
    return chart.figure


def _chart(
    labels: tuple[str, ...], top: int, earlier: bool, unscored: bool, peers: bool = False
) -> _Chart:
    """A figure with its score artists empty, in the current language."""
    figure = Figure(figsize=(SIZE_INCHES, SIZE_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes(AXES_BOX, projection="polar")
    assert isinstance(axes, PolarAxes)
    _grid(axes, labels, top)
    fill = axes.fill([], [], color=CURRENT_COLOUR, alpha=FILL_OPACITY, linewidth=0)[0]
    shown = {"current": True, "earlier": earlier, "peers": peers, "unscored": unscored}
    series = {
        gid: axes.plot([], [], label=_(LEGENDS[gid]), gid=gid, **style)[0]
        for gid, style in SERIES.items()
        if shown[gid]
    }
    legend = figure.legend(
        loc="lower center",
        # The explanation of the marks is long: it gets a line of its own.
        ncols=1 if unscored else 2,
        frameon=False,
        prop=font(LEGEND_SIZE),
        bbox_to_anchor=(0.5, 0.01),
    )
    for text in legend.get_texts():
        text.set_parse_math(False)
    return _Chart(figure, axes, series, fill)


def _grid(axes: PolarAxes, labels: tuple[str, ...], top: int) -> None:
    """The circle, its rings with the scale, and a label at each spoke."""
    # Criterion 1 sits at the top and the others follow clockwise, as a reader expects.
    axes.set_theta_zero_location("N")
    axes.set_theta_direction(-1)
    axes.set_ylim(0, top)
    axes.set_yticks(range(1, top + 1), [str(value) for value in range(1, top + 1)])
    angles = [spoke_angle(index, len(labels)) for index in range(len(labels))]
    # The scale runs along the middle of the first sector, clear of every spoke.
    axes.set_rlabel_position(180 / len(angles))
    for tick in axes.get_yticklabels():
        tick.set_fontproperties(font(TICK_SIZE))
        tick.set_color("#555555")
    axes.set_xticks(angles, labels)
    for angle, tick in zip(angles, axes.get_xticklabels(), strict=True):
        tick.set_fontproperties(font(LABEL_SIZE))
        tick.set_parse_math(False)
        across = math.sin(angle)
        # Labels on the sides lean away from the circle instead of across it.
        tick.set_horizontalalignment(
            "left" if across > 0.1 else "right" if across < -0.1 else "center"
        )
    axes.tick_params(axis="x", pad=LABEL_PAD)
    axes.grid(color="#cccccc", linewidth=0.8)
    axes.spines["polar"].set_color("#000000")


def _show(chart: _Chart, report: Report) -> None:
    """Give the score artists of ``chart`` the scores of ``report``."""
    angles = [spoke_angle(index, len(report.criteria)) for index in range(len(report.criteria))]
    current = [line.value for line in report.criteria]
    chart.series["current"].set_data(_closed(angles), _radii(current))
    if "earlier" in chart.series:
        earlier = [line.earlier_value for line in report.criteria]
        chart.series["earlier"].set_data(_closed(angles), _radii(earlier))
    if "peers" in chart.series and report.peers is not None:
        chart.series["peers"].set_data(_closed(angles), _radii(report.peers.medians))
    if "unscored" in chart.series:
        unscored = [a for a, value in zip(angles, current, strict=True) if value is None]
        chart.series["unscored"].set_data(unscored, [report.max_value * OFF_SCALE] * len(unscored))
    scored = [(a, value) for a, value in zip(angles, current, strict=True) if value is not None]
    chart.fill.set_xy(scored or [(0.0, 0.0)])
    chart.fill.set_visible(len(scored) > 2)


@lru_cache(maxsize=BACKGROUNDS_KEPT)
def _background(language: str, look: tuple[tuple[str, ...], int, bool, bool, bool]) -> _Chart:
    """The chart of ``look`` drawn once without scores, kept to draw scores over."""
    with use_language(language):
        chart = _chart(*look)
    chart.figure.canvas.draw()
    chart.background = chart.figure.canvas.copy_from_bbox(chart.figure.bbox)  # type: ignore[attr-defined]
    return chart


def _image(report: Report) -> Image.Image:
    """The radar chart of ``report`` as an RGB image."""
    chart = _background(report.language, _look(report))
    canvas = chart.figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    with chart.lock:
        canvas.restore_region(chart.background)  # type: ignore[no-untyped-call]
        _show(chart, report)
        for artist in (chart.fill, *chart.series.values()):
            chart.axes.draw_artist(artist)
        pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
        return Image.frombuffer("RGBA", canvas.get_width_height(), pixels).convert("RGB")


def radar_chart(report: Report) -> bytes:
    """The radar chart of ``report`` as a PNG, its labels in the report's language."""
    buffer = io.BytesIO()
    _image(report).save(buffer, format="png")
    return buffer.getvalue()


def radar_photo(report: Report) -> bytes:
    """The radar chart of ``report`` as a JPEG, for a Telegram photo (Telegram re-encodes
    every photo as a JPEG, so a PNG would buy no sharpness)."""
    buffer = io.BytesIO()
    _image(report).save(buffer, format="jpeg", quality=JPEG_QUALITY)
    return buffer.getvalue()
