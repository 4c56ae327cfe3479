"""The team summary's figures, as each language writes them."""

from __future__ import annotations

import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from bot.documents.team_chart import team_figure
from dialogs.content import Content
from dialogs.i18n import _, use_language
from dialogs.snapshot import NAME_MAX
from dialogs.team import summary_view, team_summary


@pytest.mark.parametrize(("language", "median"), [("en", "1.5"), ("lv", "1,5"), ("fr", "1,5")])
def test_a_median_between_two_levels_is_written_with_the_language_s_decimal_mark(
    content: Content, language: str, median: str
) -> None:
    answers = [{"C01": 1}, {"C01": 2}]
    summary = team_summary(content.latest, "Zupas virtuve", answers, language=language, members=2)
    text = summary_view(summary).text
    with use_language(language):
        expected = _("median %(median)s, from %(low)s to %(high)s", median=median, low=1, high=2)
    assert expected in text


LONG_NAME = (
    "Zupas virtuve un sociālās palīdzības punkts Ķekavas novada ģimenēm ar bērniem, senioriem "
    "un cilvēkiem bez pastāvīgas dzīvesvietas, sadarbībā ar Rīgas domes labklājības "
    "departamentu un Sarkano Krustu"
)


def _team_figure(content: Content, practice: str = "Zupas virtuve") -> Figure:
    answers = [{"C01": 1, "C02": 3}, {"C01": 2, "C02": 0}]
    summary = team_summary(content.latest, practice, answers, language="lv", members=3)
    return team_figure(summary)


def test_the_team_chart_s_legend_shows_the_band_in_the_band_s_colour(content: Content) -> None:
    figure = _team_figure(content)
    axes = figure.axes[0]
    bands = [patch for patch in axes.patches if isinstance(patch, Rectangle)]
    assert bands
    legend = figure.legends[0]
    with use_language("lv"):
        label = _("From the lowest to the highest answer")
    texts = [text.get_text() for text in legend.get_texts()]
    handles = dict(zip(texts, legend.legend_handles, strict=True))
    band = handles[label]
    assert isinstance(band, Patch)
    assert to_hex(band.get_facecolor()) == to_hex(bands[0].get_facecolor())


def test_a_long_practice_name_keeps_the_team_chart_s_title_within_the_figure(
    content: Content,
) -> None:
    assert len(LONG_NAME) <= NAME_MAX
    figure = _team_figure(content, LONG_NAME)
    with use_language("lv"):
        start = _("Team summary: %(practice)s", practice="Zupas virtuve")
    assert figure.get_suptitle().startswith(start)
    box = figure.texts[0].get_window_extent()
    assert box.x0 >= 0
    assert box.x1 <= figure.bbox.width
