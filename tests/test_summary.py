"""The scored summary: matching good practices, recommendations, risks, help, comparison."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from bot.catalogs import render_problems
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.matching import similar_practices
from dialogs.report import Report, build_report
from dialogs.scoring import score
from dialogs.snapshot import Earlier, Profile, RecordedAnswer, Snapshot
from dialogs.views import MESSAGE_MAX, plain, summary, summary_view

ALL_LARGELY: dict[str, int | None] = {f"C{n:02d}": 2 for n in range(1, 11)}


def finished(
    content: Content,
    values: Mapping[str, int | None] = MappingProxyType(ALL_LARGELY),
    *,
    groups: tuple[str, ...] = (),
    themes: tuple[str, ...] = (),
    country: str | None = "LV",
    language: str = "en",
    earlier: Earlier | None = None,
) -> Snapshot:
    answers = MappingProxyType({code: RecordedAnswer(value) for code, value in values.items()})
    profile = Profile("Soup kitchen", country, None, groups, themes)
    return Snapshot(
        content.latest.version, "summary", language, True, profile, answers, earlier=earlier
    )


def suggested(content: Content, snapshot: Snapshot) -> list[str]:
    return [practice.name for practice in build_report(content.latest, snapshot).practices]


@pytest.mark.parametrize(
    ("groups", "themes", "country", "expected"),
    [
        (("homeless",), ("housing",), "LV", "NPISA Porto"),
        (("undocumented_migrants",), ("health",), "FR", "CASO"),
        (("long_term_unemployed",), ("employment", "social_economy"), "ES", "VerkkoNikkarit OSK"),
        (("people_in_poverty",), ("participation",), "SE", "Poor for the Poor"),
    ],
)
def test_each_good_practice_is_offered_to_a_practice_like_it(
    content: Content, groups: tuple[str, ...], themes: tuple[str, ...], country: str, expected: str
) -> None:
    snapshot = finished(content, groups=groups, themes=themes, country=country)
    names = suggested(content, snapshot)
    assert names[0] == expected
    assert len(names) <= 3


def test_a_practice_that_shares_nothing_is_told_so_instead_of_offered_noise(
    content: Content,
) -> None:
    weak_everywhere = dict.fromkeys(ALL_LARGELY, 0)
    snapshot = finished(content, weak_everywhere, groups=("older_people",), country="HU")
    assert suggested(content, snapshot) == []
    text = summary(content.latest, snapshot).text
    assert "None of the good practices SI Check knows is close to this one yet." in text


def test_matching_scores_explain_themselves(content: Content) -> None:
    matches = similar_practices(
        content.practices,
        target_groups={"homeless"},
        themes={"housing"},
        country="PT",
        weak_criteria={"C06"},
    )
    porto = matches[0]
    assert porto.practice.code == "pt_npisa_porto"
    assert (porto.groups, porto.themes, porto.same_country, porto.complements) == (
        ("homeless",),
        ("housing",),
        True,
        ("C06",),
    )
    assert porto.points == 3 + 2 + 1 + 1
    assert [match.points for match in matches] == sorted(
        (match.points for match in matches), reverse=True
    )


def test_weak_answers_point_to_the_seeds_risks_with_why(content: Content) -> None:
    values = ALL_LARGELY | {"C06": 0, "C10": 1}
    report = build_report(content.latest, finished(content, values))
    titles = [flag.title for flag in report.risks]
    assert 0 < len(titles) <= 3
    # Every flag is one of the seed notes tied to a weak criterion, and says which answer.
    notes = {note.title: note for note in (*content.risks.risks, *content.risks.threats)}
    for flag in report.risks:
        assert set(notes[flag.title].criteria) & {"C06", "C10"}
        assert "Not at all" in flag.why or "Partly" in flag.why
    strong = build_report(content.latest, finished(content, dict.fromkeys(ALL_LARGELY, 3)))
    assert strong.risks == ()


def test_the_weakest_criteria_come_with_the_seeds_recommendation(content: Content) -> None:
    values = ALL_LARGELY | {"C03": 0, "C06": 1, "C08": None}
    report = build_report(content.latest, finished(content, values))
    criteria = content.latest
    assert [advice.title for advice in report.weaknesses] == [
        criteria.criterion("C03").title,
        criteria.criterion("C06").title,
    ]
    assert report.weaknesses[0].text == criteria.criterion("C03").recommendation
    # Not applicable is left out of the score and gets no recommendation.
    assert report.scored == 9
    assert criteria.criterion("C08").title not in [a.title for a in report.recommendations]


def test_help_comes_from_the_national_centre_else_eapn(content: Content) -> None:
    spain = build_report(content.latest, finished(content, country="ES"))
    assert [centre.name for centre in spain.help] == [
        centre.title for centre in content.centres if centre.country == "ES"
    ]
    elsewhere = build_report(content.latest, finished(content, country="BE"))
    assert [centre.name for centre in elsewhere.help] == ["European Anti-Poverty Network (EAPN)"]


def test_an_earlier_assessment_of_the_same_practice_is_compared(content: Content) -> None:
    moment = datetime(2026, 3, 5, tzinfo=UTC)
    earlier = Earlier({"C01": 1, "C06": 2}, moment)
    snapshot = finished(content, ALL_LARGELY | {"C06": 0}, earlier=earlier)
    report = build_report(content.latest, snapshot)
    changed = {line.code: line.earlier_answer for line in report.criteria if line.changed}
    # What the earlier assessment left unanswered reads as such, with the same arrow.
    unanswered = {code: "not answered" for code in ALL_LARGELY if code not in earlier.answers}
    assert changed == {"C01": "Partly", "C06": "Largely"} | unanswered
    assert report.has_earlier
    text = plain(summary_view(report).text)
    assert "Partly → Largely" in text
    assert "Largely → Not at all" in text
    assert "not answered → Largely" in text
    assert "March 5, 2026" in text


def _report_in(content: Content, language: str) -> Report:
    values = ALL_LARGELY | {"C03": 0, "C06": 1, "C10": 1}
    return build_report(
        content.latest,
        finished(content, values, groups=("homeless",), themes=("housing",), language=language),
    )


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_summary_speaks_the_practitioners_language(content: Content, language: str) -> None:
    report = _report_in(content, language)
    expected = score(content.latest, ALL_LARGELY | {"C03": 0, "C06": 1, "C10": 1}).band
    assert expected is not None
    with use_language(language):
        assert report.band == _(expected.label)
        assert report.weaknesses[0].text == _(content.latest.criterion("C03").recommendation)
        text = summary_view(report).text
    assert report.percent_text is not None
    assert report.percent_text in text


def test_every_summary_fits_telegram_in_every_language(content: Content) -> None:
    assert [problem for problem in render_problems(content) if "summary" in problem] == []


def test_a_summary_too_long_for_one_message_leaves_the_details_to_the_pdf(
    content: Content,
) -> None:
    report = _report_in(content, "en")
    long_reasons = tuple(replace(found, reason="W" * 1500) for found in report.practices)
    view = summary_view(replace(report, practices=long_reasons))
    assert len(plain(view.text)) <= MESSAGE_MAX
    assert "W" * 1500 not in view.text
    assert all(found.name in view.text for found in report.practices)
    assert report.weaknesses[0].text not in view.text
