"""The scored summary: matching good practices, recommendations, risks, help, comparison."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from html import escape
from types import MappingProxyType

import pytest

from bot.catalogs import render_problems
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, ngettext, use_language
from dialogs.matching import similar_practices
from dialogs.report import NOTHING_TO_MATCH, Report, build_report, typeset
from dialogs.scoring import score
from dialogs.snapshot import Earlier, Profile, RecordedAnswer, Snapshot
from dialogs.views import MESSAGE_MAX, plain, render, summary_view

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
    text = summary_view(build_report(content.latest, snapshot)).text
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


def test_a_french_summary_fits_telegram_with_its_typography(content: Content) -> None:
    report = _report_in(content, "fr")
    first = replace(report.practices[0], reason="")
    room = MESSAGE_MAX - len(plain(summary_view(replace(report, practices=(first,))).text))
    # Written as many write it, "Oui!" takes a narrow no-break space before its "!" in French:
    # the text as sent is longer than the one written.
    reason = ("Oui! " * MESSAGE_MAX)[:room].rstrip()
    view = summary_view(replace(report, practices=(replace(first, reason=reason),)))
    assert len(plain(view.text)) <= MESSAGE_MAX


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_at_zero_percent_the_summary_names_the_criteria_to_start_with(
    content: Content, language: str
) -> None:
    checklist = content.latest
    report = build_report(
        checklist, finished(content, dict.fromkeys(ALL_LARGELY, 0), language=language)
    )
    assert report.percent == 0
    assert report.weaknesses == ()
    with use_language(language):
        expected = [_(checklist.criterion(code).title) for code in ("C01", "C02", "C03")]
        advice = [_(checklist.criterion(code).recommendation) for code in ("C01", "C02", "C03")]
        heading = _("Next steps")
    assert [step.title for step in report.next_steps] == expected
    assert [step.text for step in report.next_steps] == advice
    text = plain(summary_view(report).text)
    assert heading in text
    for title in expected:
        assert title in text


def test_with_every_criterion_largely_the_next_step_is_each_recommendation(
    content: Content,
) -> None:
    report = build_report(content.latest, finished(content))
    assert report.weaknesses == ()
    assert report.next_steps
    assert [step.text for step in report.next_steps] == [
        content.latest.criterion(code).recommendation for code in ("C01", "C02", "C03")
    ]
    assert "Next steps" in plain(summary_view(report).text)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_practice_at_the_top_everywhere_is_told_to_pass_it_on(
    content: Content, language: str
) -> None:
    report = build_report(
        content.latest, finished(content, dict.fromkeys(ALL_LARGELY, 3), language=language)
    )
    step = content.latest.next_step
    assert step.seed.startswith("000:")
    with use_language(language):
        assert [(a.title, a.text) for a in report.next_steps] == [(_(step.title), _(step.text))]
    assert report.next_steps[0].title in plain(summary_view(report).text)


def test_weak_criteria_leave_the_next_steps_to_the_weaknesses(content: Content) -> None:
    report = build_report(content.latest, finished(content, ALL_LARGELY | {"C04": 0}))
    assert [advice.title for advice in report.weaknesses] == ["Empowering communities"]
    assert report.next_steps == ()


def test_comments_and_novelty_kinds_are_in_the_report_and_the_summary(content: Content) -> None:
    long_comment = "We cook every day with volunteers from the neighbourhood. " * 6
    answers = {code: RecordedAnswer(2) for code in ALL_LARGELY}
    answers["C02"] = RecordedAnswer(3, ("needs", "methods"), "New for our town.")
    answers["C05"] = RecordedAnswer(1, (), long_comment)
    snapshot = replace(finished(content), answers=MappingProxyType(answers))
    report = build_report(content.latest, snapshot)
    lines = {line.code: line for line in report.criteria}
    assert lines["C02"].aspects == ("New needs", "New methods")
    assert lines["C02"].comment == "New for our town."
    assert lines["C05"].comment == long_comment
    text = plain(summary_view(report).text)
    assert "Novelty: New needs, New methods" in text
    assert "New for our town." in text
    # Shortened in the chat, under its own criterion.
    shown = [row for row in text.splitlines() if "We cook every day" in row]
    assert len(shown) == 1
    assert shown[0].endswith("…")
    assert len(shown[0]) < len(long_comment)
    rows = text.splitlines()
    assert rows.index(shown[0]) == next(i for i, row in enumerate(rows) if " 5. " in row) + 1


def test_help_comes_after_the_good_practices_one_bullet_per_organisation(
    content: Content,
) -> None:
    snapshot = replace(finished(content, {"C01": 3}), profile=Profile("Alone", "ES"))
    report = build_report(content.latest, snapshot)
    assert report.practices == ()
    rows = plain(summary_view(report).text).splitlines()
    practices = rows.index("Similar good practices")
    # Nothing to match on: it names no target group or theme.
    assert rows[practices + 1] == NOTHING_TO_MATCH
    help_at = rows.index("Where to get help")
    assert help_at > practices
    assert rows[help_at + 1 :] == [f"• {centre.name}" for centre in report.help]
    assert len(report.help) == 2


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_competence_centres_are_named_in_each_language(content: Content, language: str) -> None:
    snapshot = finished(content, language=language)
    with use_language(language):
        expected = [_(centre.title) for centre in content.centres if centre.country == "LV"]
    report = build_report(content.latest, snapshot)
    assert [centre.name for centre in report.help] == expected
    if language == "lv":
        # The seed's own name (003:63), not the English one.
        assert expected == ["Sabiedrības integrācijas fonds (SIF)"]
    elif language != "en":
        assert expected != ["Society Integration Foundation (SIF)"]


COUNTS = (0, 1, 2, 5, 11, 21)
UNANSWERED = (
    "<i>%(count)s criterion has no answer; it is left out of the score.</i>",
    "<i>%(count)s criteria have no answer; they are left out of the score.</i>",
)
SCORED = (
    "Overall score: %(percent)s (%(scored)s of %(count)s criterion scored)",
    "Overall score: %(percent)s (%(scored)s of %(count)s criteria scored)",
)
COMPLEMENTS = (
    "strong where yours is weak: %(count)s criterion (%(numbers)s)",
    "strong where yours is weak: %(count)s criteria (%(numbers)s)",
)
# The word each count takes, per language: Latvian's singular also serves 21 (and 31, ...).
PLURAL_WORDS: dict[str, dict[int, tuple[str, str, str]]] = {
    "en": {
        1: ("criterion has", "criterion scored", "1 criterion ("),
        **dict.fromkeys((0, 2, 5, 11, 21), ("criteria have", "criteria scored", "criteria (")),
    },
    "lv": {
        **dict.fromkeys((1, 21), ("kritērijam nav", "kritērija)", "kritērijā (")),
        **dict.fromkeys((0, 2, 5, 11), ("kritērijiem nav", "kritērijiem)", "kritērijos (")),
    },
    "es": {
        1: ("criterio no tiene", "criterio puntuado", "criterio ("),
        **dict.fromkeys((0, 2, 5, 11, 21), ("criterios no tienen", "puntuados", "criterios (")),
    },
    "fr": {
        **dict.fromkeys((0, 1), ("critère n'a", "critère noté", "critère (")),
        **dict.fromkeys((2, 5, 11, 21), ("critères n'ont", "critères notés", "critères (")),
    },
    "sv": {
        1: ("kriterium saknar", "kriterium bedömt", "kriterium ("),
        **dict.fromkeys(
            (0, 2, 5, 11, 21), ("kriterier saknar", "kriterier bedömda", "kriterier (")
        ),
    },
}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_count_in_the_summary_takes_its_plural_form(language: str) -> None:
    for count in COUNTS:
        with use_language(language):
            unanswered = ngettext(*UNANSWERED, count)
            scored = ngettext(*SCORED, count, percent="50%", scored=1)
            complements = ngettext(*COMPLEMENTS, count, numbers="3, 4")
        words = PLURAL_WORDS[language][count]
        assert f"{count} " in unanswered
        assert words[0] in unanswered, (count, unanswered)
        assert words[1] in scored, (count, scored)
        assert words[2] in complements, (count, complements)
        assert f"{count} " in complements


def test_one_criterion_without_an_answer_does_not_read_as_criterion_one(
    content: Content,
) -> None:
    values = {code: 2 for code in ALL_LARGELY if code != "C07"}
    snapshot = replace(finished(content, values), state="review")
    text = plain(render(content.latest, snapshot).text)
    assert "1 criterion has no answer; it is left out of the score." in text


def test_french_typography_leaves_escaped_characters_whole() -> None:
    text = typeset(escape('R&D <b> "x": a & b ; oui'), "fr")
    space = "\N{NARROW NO-BREAK SPACE}"
    assert text == f"R&amp;D &lt;b&gt; &quot;x&quot;{space}: a &amp; b{space}; oui"
