"""The ecosystem map drawn: criteria as columns, groups as rows, each cell coloured by its mean.

Drawn with matplotlib's object API, fonts passed per text, never pyplot or rcParams, so maps
can be drawn in worker threads side by side. It draws ``bot.ecosystem.MapData`` and nothing
else: what to leave out was decided there.
"""

from __future__ import annotations

import io
import math

from babel.numbers import format_decimal
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from bot.documents.chart import fit_width, font
from bot.documents.stats_chart import COLOURS
from bot.ecosystem import MapData, MapFormat
from bot.stats_text import MISSING

DPI = 120
TOP = 3
"""The top of the checklist's scale, the colour bar's end."""
# Inches: the room of each part, so that a map of few or many groups keeps its proportions.
LABELS_WIDTH = 3.2
CELL_WIDTH = 1.0
CELL_HEIGHT = 0.42
BAR_WIDTH = 1.9
TITLES_HEIGHT = 1.0
COLUMNS_HEIGHT = 0.7
NOTES_HEIGHT = 0.35
NO_MEAN = "#eeeeee"
"""A cell whose answers were all "not applicable"."""
DARK_BELOW, DARK_ABOVE = 0.8, 2.3
"""Means whose cells are dark enough to need white figures."""
COLOURMAP = LinearSegmentedColormap.from_list(
    # The distribution chart's colours from 0 to 3, so both figures read alike.
    "sicheck",
    [COLOURS[value] for value in range(TOP + 1)],
).with_extremes(bad=NO_MEAN)


def map_figure(data: MapData) -> Figure:
    """The heat map of ``data`` as a matplotlib figure, not yet drawn."""
    columns, rows = len(data.columns), len(data.rows)
    notes = NOTES_HEIGHT * len(data.notes)
    width = LABELS_WIDTH + CELL_WIDTH * columns + BAR_WIDTH
    height = TITLES_HEIGHT + COLUMNS_HEIGHT + CELL_HEIGHT * rows + notes + 0.2
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_axes(
        (
            LABELS_WIDTH / width,
            (notes + 0.2) / height,
            CELL_WIDTH * columns / width,
            CELL_HEIGHT * rows / height,
        )
    )
    means = [[math.nan if mean is None else mean for mean in row.means] for row in data.rows]
    image = axes.imshow(
        means, cmap=COLOURMAP, vmin=0, vmax=TOP, aspect="auto", interpolation="nearest"
    )
    for y, row in enumerate(data.rows):
        for x, mean in enumerate(row.means):
            text = MISSING if mean is None else format_decimal(mean, "0.0", locale=data.language)
            dark = mean is not None and not DARK_BELOW <= mean <= DARK_ABOVE
            axes.text(
                x,
                y,
                text,
                ha="center",
                va="center",
                color="white" if dark else "#222222",
                fontproperties=font(9, bold=True),
                parse_math=False,
            )
    # The criteria along the top, as the checklist lists them; the groups down the side.
    axes.xaxis.tick_top()
    axes.set_xticks(range(columns), data.columns, fontproperties=font(7.5), parse_math=False)
    axes.set_yticks(
        range(rows), [row.label for row in data.rows], fontproperties=font(8), parse_math=False
    )
    axes.tick_params(length=0)
    # White lines between the cells keep neighbours of one colour apart.
    axes.set_xticks([x - 0.5 for x in range(1, columns)], minor=True)
    axes.set_yticks([y - 0.5 for y in range(1, rows)], minor=True)
    axes.grid(which="minor", color="white", linewidth=2)
    axes.tick_params(which="minor", length=0)
    for spine in axes.spines.values():
        spine.set_visible(False)
    bar_axes = figure.add_axes(
        (
            (LABELS_WIDTH + CELL_WIDTH * columns + 0.25) / width,
            (notes + 0.2) / height,
            0.22 / width,
            max(CELL_HEIGHT * rows, 1.6) / height,
        )
    )
    bar = figure.colorbar(image, cax=bar_axes)
    bar.set_ticks(range(TOP + 1), labels=list(data.scale[: TOP + 1]))
    for tick in bar_axes.get_yticklabels():
        tick.set_fontproperties(font(7.5))
        tick.set_parse_math(False)
    bar.outline.set_visible(False)
    # Inches from the top: the title, then the selection in grey.
    for top, text, title in ((0.3, data.title, True), (0.65, data.subtitle, False)):
        shown = figure.text(
            0.5,
            1 - top / height,
            text,
            ha="center",
            va="center",
            color="black" if title else "#555555",
            fontproperties=font(13, bold=True) if title else font(10),
            parse_math=False,
        )
        fit_width(shown, figure.bbox.width * 0.96)
    for index, note in enumerate(data.notes):
        figure.text(
            0.02,
            (notes - NOTES_HEIGHT * (index + 0.5)) / height,
            note,
            va="center",
            color="#555555",
            fontproperties=font(8),
            parse_math=False,
        )
    return figure


def map_file(data: MapData, fmt: MapFormat) -> bytes:
    """The heat map of ``data`` as a PNG or a PDF."""
    figure = map_figure(data)
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Creator": None}
    figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    return buffer.getvalue()
