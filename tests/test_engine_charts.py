"""The coordinators' charts keep their headings within the figure, whatever the names."""

from __future__ import annotations

from bot.documents.ecosystem_map import map_figure
from bot.documents.stats_chart import distribution_figure
from bot.ecosystem import MapData, MapRow
from bot.telegram.coordinators import NAME_MAX
from dialogs.content import Content
from storage.stats import CriterionStats, GroupStats

LONG_COHORT = (
    "BuiCaSuS sociālās inovācijas kompetenču centra pilotprogramma Latvijas, Spānijas, "
    "Francijas un Zviedrijas sociālo pakalpojumu sniedzējiem, pašvaldībām un nevalstiskajām "
    "organizācijām, 2025.–2026. gads"
)
"""A cohort's name as long as a coordinator may give it."""


def test_a_long_cohort_name_keeps_the_chart_s_heading_within_the_figure(
    content: Content,
) -> None:
    assert len(LONG_COHORT) <= NAME_MAX
    criteria = tuple(
        CriterionStats(criterion.code, {2: 3, 3: 2}, 2.4) for criterion in content.latest.criteria
    )
    group = GroupStats("bcs-2025", LONG_COHORT, "LV", 5, 5, 5, 1.0, 600.0, criteria, False)
    figure = distribution_figure(group, content, "lv")
    heading = figure.get_suptitle()
    assert heading.startswith("BuiCaSuS sociālās inovācijas")
    box = figure.texts[0].get_window_extent()
    assert box.x0 >= 0
    assert box.x1 <= figure.bbox.width


def test_a_long_cohort_name_keeps_the_ecosystem_map_s_texts_within_the_figure() -> None:
    subtitle = LONG_COHORT + " · Visas valstis"
    rows = (MapRow(LONG_COHORT[:30], 5, (2.4,) * 10),)
    columns = tuple(f"{number}. Kritērijs" for number in range(1, 11))
    scale = ("Nemaz", "Daļēji", "Lielākoties", "Pilnībā")
    data = MapData("lv", "Ekosistēmas karte", subtitle, columns, scale, rows, ())
    figure = map_figure(data)
    shown = [text for text in figure.texts if text.get_text().startswith("BuiCaSuS")]
    assert len(shown) == 1
    box = shown[0].get_window_extent()
    assert box.x0 >= 0
    assert box.x1 <= figure.bbox.width
