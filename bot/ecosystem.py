"""The ecosystem map's contents: the mean answer to each criterion per group, in words.

Built from the figures ``storage.stats`` returns to ``sicheck stats`` and ``/stats``, and from
nothing else, so the map and the figures cannot disagree: a group they leave out (too few
finishers, or hidden so that no total gives one away) is left out here too, name and all.
``bot.documents.ecosystem_map`` draws what this module says, without reading anything.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.documents.chart import numbered
from bot.stats_text import criterion_title, group_heading
from dialogs.content import Content
from dialogs.i18n import _, ngettext, use_language
from storage.stats import GroupStats

MapFormat = Literal["png", "pdf"]
FORMATS: dict[str, MapFormat] = {".png": "png", ".pdf": "pdf"}
"""A map file's format by the suffix of its name."""
COLUMN_WIDTH = 13
"""Characters per line of a criterion's label: ten columns share the width."""
COLUMN_LINES = 3
ROW_WIDTH = 38
ROW_LINES = 2
SCALE_WIDTH = 18


@dataclass(frozen=True)
class MapRow:
    """One group of the map: its label with its number of practices, and its means."""

    label: str
    practices: int
    """Completed assessments: the practices the means are of."""
    means: tuple[float | None, ...]
    """Per column, on the 0..3 scale; ``None`` where every answer was "not applicable"."""


@dataclass(frozen=True)
class MapData:
    """Everything the map shows, in the coordinator's language."""

    language: str
    title: str
    subtitle: str
    columns: tuple[str, ...]
    """Each criterion's number and short title."""
    scale: tuple[str, ...]
    """The colour bar's labels, one per level of the scale from 0."""
    rows: tuple[MapRow, ...]
    notes: tuple[str, ...]


def map_format(name: str) -> MapFormat | None:
    """The format of a map file called ``name``, by its suffix; ``None`` if neither."""
    for suffix, found in FORMATS.items():
        if name.lower().endswith(suffix):
            return found
    return None


def _row_label(group: GroupStats) -> str:
    heading = "\n".join(
        textwrap.wrap(group_heading(group), ROW_WIDTH, max_lines=ROW_LINES, placeholder=" …")
    )
    return ngettext(
        "%(group)s\n%(count)s practice",
        "%(group)s\n%(count)s practices",
        group.completed,
        group=heading,
    )


def map_data(
    groups: Sequence[GroupStats], content: Content, language: str, limit: int | None = None
) -> MapData | None:
    """The map of ``groups`` in ``language``, at most ``limit`` rows; ``None`` if all are hidden.

    Only groups whose figures are shown become rows: a hidden group gives neither its name nor
    its count, as ``sicheck stats`` gives neither its count nor its means.
    """
    shown = [group for group in groups if not group.suppressed]
    if not shown:
        return None
    kept = shown if limit is None else shown[:limit]
    checklist = content.latest
    with use_language(language):
        codes = [criterion.code for criterion in shown[0].criteria]
        numbers = [criterion.number for criterion in shown[0].criteria]
        columns = tuple(
            numbered(number, criterion_title(checklist, code), COLUMN_WIDTH, COLUMN_LINES)
            for number, code in zip(numbers, codes, strict=True)
        )
        scale = tuple(
            "\n".join(textwrap.wrap(f"{level.value}: {_(level.label)}", SCALE_WIDTH))
            for level in checklist.scale
        )
        rows = tuple(
            MapRow(
                _row_label(group),
                group.completed,
                tuple(criterion.mean for criterion in group.criteria),
            )
            for group in kept
        )
        threshold = groups[0].threshold
        notes = [
            ngettext(
                "Each cell is the mean answer of the group's completed assessments, from 0 to "
                "%(top)s. Groups with fewer than %(count)s respondent who finished are left out.",
                "Each cell is the mean answer of the group's completed assessments, from 0 to "
                "%(top)s. Groups with fewer than %(count)s respondents who finished are left out.",
                threshold,
                top=checklist.max_value,
            )
        ]
        if len(kept) < len(shown):
            notes.append(
                ngettext(
                    "Group left out for room: %(count)s. Choose a cohort or a country to see it.",
                    "Groups left out for room: %(count)s. Choose a cohort or a country to see "
                    "them.",
                    len(shown) - len(kept),
                )
            )
        return MapData(
            language=language,
            title=_("Ecosystem map: the mean answer to each criterion"),
            subtitle=group_heading(groups[0]),
            columns=columns,
            scale=scale,
            rows=rows,
            notes=tuple(notes),
        )
