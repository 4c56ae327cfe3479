"""The team summary's figures, as each language writes them."""

from __future__ import annotations

import pytest

from dialogs.content import Content
from dialogs.i18n import _, use_language
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
