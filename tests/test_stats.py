"""Aggregate figures for coordinators, from assessments made through real dialogue steps."""

from __future__ import annotations

import statistics
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from html import escape

import pytest
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from matplotlib.text import Text
from sqlalchemy import update
from sqlalchemy.engine import Connection

from bot.catalogs import html_problems
from bot.documents.stats_chart import distribution_chart, distribution_figure
from bot.stats_text import duration_text, more_line, stats_plain, suppressed_line
from bot.telegram.stats_text import TEXT_LIMIT
from bot.telegram.stats_text import stats_html as stats_text
from dialogs import events
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, ngettext, use_language
from dialogs.report import country_name, percent_text
from dialogs.views import plain
from locales import catalog_path
from storage.coordination import new_cohort
from storage.dialogue import Outcome, Who, apply, open_dialogue
from storage.models import Assessment
from storage.stats import (
    OTHER_COUNTRY,
    SUPPRESS_BELOW,
    CriterionStats,
    GroupStats,
    hidden_groups,
    stats,
)
from storage.store import Database

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COHORT_NAME = "Rīga & <pilot>"
EPOCH = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
Values = tuple[int | None, ...]


@dataclass(frozen=True)
class Person:
    """A respondent of the test data and everything they do."""

    name: str
    country: str
    in_cohort: bool
    values: Values
    """Answers in criterion order; all ten complete the assessment, fewer leave it open."""
    minutes: int = 0
    """How long the completed assessment took."""

    @property
    def completed(self) -> bool:
        return len(self.values) == 10


PEOPLE = (
    Person("p1", "LV", True, (3, 2, 2, 1, 0, 3, None, 2, 1, 3), minutes=10),
    Person("p2", "LV", True, (2, 2, 1, None, 0, 3, 1, 2, 2, 3), minutes=25),
    Person("p3", "LV", True, (3, 3, 3, 3, 3, 3, 3, 3, 3, 3), minutes=40),
    Person("p4", "LV", True, (0, 1, None, None, 1, 2, 2, 1, 0, None), minutes=90),
    Person("p5", "LV", True, (1, 2)),
    Person("p6", "ES", False, (1, 1, 1, 1, 1, 1, 1, 1, 1, None), minutes=180),
    Person("p7", "ES", False, (0,)),
)
DECLINED = Who("telegram", "p8", "en")
"""Someone who refused consent: nothing of theirs may be counted."""


async def step(
    database: Database, content: Content, who: Who, event: events.Event, after: Outcome
) -> Outcome:
    """Apply ``event`` to the view ``after`` showed, as a press or message would."""
    expected = after.expected
    return await database.store.run(
        partial(apply, content=content, who=who, event=event, source="test", expected=expected)
    )


async def run_dialogue(
    database: Database, content: Content, person: Person, cohort: str | None
) -> None:
    who = Who("telegram", person.name, "en")
    outcome: Outcome = await database.store.run(
        lambda connection: open_dialogue(
            connection, content, who, start_payload=cohort if person.in_cohort else None
        )
    )
    steps: list[events.Event] = [
        events.Consent(True),
        events.Text(f"Practice of {person.name}"),
        events.ChooseCountry(person.country),
        events.Skip(),
        events.Confirm(),
        events.Confirm(),
    ]
    codes = [criterion.code for criterion in content.latest.criteria]
    steps += [
        events.Answer(code, value) for code, value in zip(codes, person.values, strict=False)
    ]
    if person.completed:
        steps.append(events.Confirm())
    for event in steps:
        outcome = await step(database, content, who, event, outcome)
        assert outcome.accepted, outcome.view.text
    assert (outcome.state == "summary") == person.completed
    if person.completed:
        # The dialogue took milliseconds: give it the duration the data says it took.
        started = EPOCH + timedelta(days=PEOPLE.index(person) if person in PEOPLE else 0)
        finished = started + timedelta(minutes=person.minutes)

        def timed(connection: Connection) -> None:
            connection.execute(
                update(Assessment)
                .where(Assessment.id == outcome.assessment_id)
                .values(started_at=started, completed_at=finished)
            )

        await database.store.run(timed)


@pytest.fixture
async def cohort(database: Database, content: Content) -> str:
    """The test data in ``database``; returns the cohort's invitation code."""
    code = await database.store.run(lambda connection: new_cohort(connection, COHORT_NAME))
    for person in PEOPLE:
        await run_dialogue(database, content, person, code)
    refused = await database.store.run(
        lambda connection: open_dialogue(connection, content, DECLINED)
    )
    declined = await database.store.run(
        partial(
            apply,
            content=content,
            who=DECLINED,
            event=events.Consent(False),
            source="test",
            expected=refused.expected,
        )
    )
    assert declined.state == "declined"
    return code


def finishers(people: Sequence[Person]) -> int:
    """How many of ``people`` completed: the number the threshold is compared with."""
    return sum(person.completed for person in people)


async def figures(
    database: Database,
    content: Content,
    *,
    cohort: str | None = None,
    country: str | None = None,
    threshold: int = SUPPRESS_BELOW,
) -> list[GroupStats]:
    return await database.store.run(
        lambda connection: stats(
            connection, content, cohort=cohort, country=country, threshold=threshold
        )
    )


def expected_criteria(content: Content, people: Sequence[Person]) -> list[CriterionStats]:
    """What the completed assessments of ``people`` say about each criterion."""
    done = [person for person in people if person.completed]
    found = []
    for index, criterion in enumerate(content.latest.criteria):
        answers = [person.values[index] for person in done]
        tally = Counter(answers)
        scored = [value for value in answers if value is not None]
        found.append(
            CriterionStats(
                criterion.code,
                {value: tally[value] for value in (0, 1, 2, 3, None)},
                statistics.mean(scored) if scored else None,
            )
        )
    return found


def check_group(group: GroupStats, content: Content, people: Sequence[Person]) -> None:
    done = [person for person in people if person.completed]
    assert not group.suppressed
    assert group.respondents == len(people)
    assert group.started == len(people)
    assert group.completed == len(done)
    assert group.completion_rate == pytest.approx(len(done) / len(people))
    assert group.median_duration_seconds == pytest.approx(
        statistics.median(person.minutes * 60 for person in done)
    )
    assert len(group.criteria) == len(content.latest.criteria)
    for got, wanted in zip(group.criteria, expected_criteria(content, people), strict=True):
        assert got.code == wanted.code
        assert got.counts == wanted.counts
        assert got.mean == pytest.approx(wanted.mean)


def in_cohort(people: Sequence[Person]) -> list[Person]:
    return [person for person in people if person.in_cohort]


def in_country(people: Sequence[Person], country: str) -> list[Person]:
    return [person for person in people if person.country == country]


def test_the_data_has_partial_answers_and_not_applicable_ones() -> None:
    """The expectations below would prove little without these."""
    assert any(None in person.values for person in PEOPLE if person.completed)
    assert any(not person.completed and person.values for person in PEOPLE)
    assert len(in_country(PEOPLE, "ES")) < SUPPRESS_BELOW <= len(in_cohort(PEOPLE))


async def test_figures_are_what_the_answers_imply(
    database: Database, content: Content, cohort: str
) -> None:
    spanish = in_country(PEOPLE, "ES")
    overall, riga, spain = await figures(database, content, threshold=finishers(spanish))
    assert overall.overall
    assert (overall.cohort, overall.country) == (None, None)
    check_group(overall, content, PEOPLE)
    assert (riga.cohort, riga.cohort_name, riga.country, riga.overall) == (
        cohort,
        COHORT_NAME,
        "LV",
        False,
    )
    check_group(riga, content, in_cohort(PEOPLE))
    assert (spain.cohort, spain.cohort_name, spain.country) == (None, None, "ES")
    check_group(spain, content, spanish)


async def test_a_group_below_the_threshold_shows_no_figures(
    database: Database, content: Content, cohort: str
) -> None:
    _overall, riga, spain = await figures(database, content)
    assert spain.country == "ES"
    assert spain.suppressed
    # Everyone less the Rīga group would be the Spanish group: Rīga is hidden with it.
    assert riga.suppressed
    assert spain.threshold == SUPPRESS_BELOW
    assert (spain.respondents, spain.started, spain.completed) == (0, 0, 0)
    assert (spain.completion_rate, spain.median_duration_seconds, spain.criteria) == (
        None,
        None,
        (),
    )
    spanish = in_country(PEOPLE, "ES")
    shown = (await figures(database, content, threshold=finishers(spanish)))[-1]
    check_group(shown, content, spanish)


async def test_the_overall_group_is_suppressed_by_the_same_rule(
    database: Database, content: Content, cohort: str
) -> None:
    groups = await figures(database, content, threshold=len(PEOPLE) + 1)
    assert all(group.suppressed for group in groups)
    assert [group.overall for group in groups] == [True, False, False]
    assert distribution_chart(groups, content, "en") is None


async def test_filters_narrow_every_group(
    database: Database, content: Content, cohort: str
) -> None:
    spanish = in_country(PEOPLE, "ES")
    overall, riga = await figures(database, content, cohort=cohort, threshold=finishers(spanish))
    assert (overall.overall, overall.cohort, overall.cohort_name) == (True, cohort, COHORT_NAME)
    check_group(overall, content, in_cohort(PEOPLE))
    check_group(riga, content, in_cohort(PEOPLE))
    only_spain = await figures(database, content, country="ES", threshold=finishers(spanish))
    assert [(group.overall, group.country) for group in only_spain] == [
        (True, "ES"),
        (False, "ES"),
    ]
    for group in only_spain:
        check_group(group, content, spanish)
    assert await figures(database, content, cohort="no-such-code") == [
        GroupStats(
            "no-such-code", None, None, 0, 0, 0, None, None, (), suppressed=True, overall=True
        )
    ]


async def test_the_text_is_translated_and_escaped(
    database: Database, content: Content, cohort: str
) -> None:
    groups = await figures(database, content, threshold=finishers(in_country(PEOPLE, "ES")))
    text = stats_text(groups, content, "lv")
    assert html_problems(text) == []
    assert "Rīga &amp; &lt;pilot&gt;" in text
    riga = groups[1]
    assert riga.completion_rate is not None
    assert riga.criteria[0].mean is not None
    with use_language("lv"):
        latvia = country_name("LV")
        expected = [
            _("All cohorts"),
            _("All countries"),
            latvia,
            percent_text(riga.completion_rate * 100),
            duration_text(riga.median_duration_seconds),
            format_decimal(riga.criteria[0].mean, format="0.0", locale="lv"),
        ]
    assert latvia != "Latvia"
    for wanted in expected:
        assert wanted in plain(text)
    with use_language("en"):
        assert latvia not in stats_text(groups, content, "en")
    hiding = stats_text(await figures(database, content), content, "lv")
    with use_language("lv"):
        fewer = ngettext(
            "Fewer than %(count)s respondent finished here, or showing this group would give a "
            "smaller one away: not shown.",
            "Fewer than %(count)s respondents finished here, or showing this group would give a "
            "smaller one away: not shown.",
            SUPPRESS_BELOW,
        )
    assert fewer in plain(hiding)


def many_groups(content: Content, count: int) -> list[GroupStats]:
    criteria = tuple(
        CriterionStats(criterion.code, {0: 1000, 1: 2000, 2: 3000, 3: 4000, None: 5000}, 2.34)
        for criterion in content.latest.criteria
    )
    shown = GroupStats(
        cohort="c",
        cohort_name="A cohort with a long & winding <name> " * 5,
        country="LV",
        respondents=123456,
        started=234567,
        completed=123456,
        completion_rate=0.52631,
        median_duration_seconds=12345.0,
        criteria=criteria,
        suppressed=False,
    )
    hidden = replace(shown, suppressed=True, criteria=())
    return [
        replace(shown if index % 3 else hidden, cohort=f"c{index}", overall=index == 0)
        for index in range(count)
    ]


@pytest.mark.parametrize("language", ["en", "lv"])
def test_a_long_text_stops_within_a_telegram_message(content: Content, language: str) -> None:
    groups = many_groups(content, 30)
    text = stats_text(groups, content, language)
    assert len(text.encode("utf-16-le")) // 2 <= TEXT_LIMIT
    assert html_problems(text) == []
    shown = text.count("<b>")
    assert 0 < shown < len(groups)
    with use_language(language):
        closing = ngettext(
            "Group not shown here: %(count)s. The export lists them all.",
            "Groups not shown here: %(count)s. The export lists them all.",
            len(groups) - shown,
        )
    assert text.endswith(f"<i>{closing}</i>")


def test_a_short_text_has_every_group(content: Content) -> None:
    groups = many_groups(content, 3)
    text = stats_text(groups, content, "en")
    assert text.count("<b>") == 3
    assert "Groups not shown here" not in text
    title = content.latest.criteria[9].title
    assert f"C10 {escape(title)}: mean 2.3 · 0:1000 1:2000 2:3000 3:4000 N/A:5000" in text


def glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def texts_of(figure_texts: Sequence[Text]) -> list[str]:
    return [text.get_text() for text in figure_texts]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_the_chart_is_a_png_with_every_glyph(
    database: Database, content: Content, cohort: str, language: str
) -> None:
    groups = await figures(database, content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = distribution_chart(groups, content, language)
    assert glyph_warnings(caught) == []
    assert png is not None
    assert png.startswith(PNG_MAGIC)


async def test_the_chart_has_the_latvian_labels(
    database: Database, content: Content, cohort: str
) -> None:
    groups = await figures(database, content)
    figure = distribution_figure(groups[0], content, "lv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.canvas.draw()
    assert glyph_warnings(caught) == []
    (axes, *_rest) = figure.axes
    labels = texts_of(axes.get_yticklabels())
    checklist = content.latest
    with use_language("lv"):
        titles = [_(criterion.title) for criterion in checklist.criteria]
        legend = [_(level.label) for level in checklist.scale]
        legend.append(_(checklist.not_applicable.label))
    assert len(labels) == len(titles)
    for number, (label, title) in enumerate(zip(labels, titles, strict=True), start=1):
        flat = " ".join(label.split())
        assert flat.startswith(f"{number}.")
        # Long titles are shortened with an ellipsis: compare what the label keeps.
        kept = flat.removeprefix(f"{number}.").strip().removesuffix("…").strip()
        assert " ".join(title.split()).startswith(kept)
    assert titles[0] != content.latest.criteria[0].title
    (shown_legend,) = figure.legends
    legend_texts = texts_of(shown_legend.get_texts())
    assert len(legend_texts) == len(legend)
    for shown, wanted in zip(legend_texts, legend, strict=True):
        assert shown.endswith(wanted)


def test_no_total_gives_away_a_hidden_group() -> None:
    riga_lv, none_es = (1, "LV"), (None, "ES")
    # Everyone less the Rīga group would be the two Spanish respondents: Rīga is hidden too.
    assert hidden_groups({riga_lv: 5, none_es: 2}, 5) == {riga_lv, none_es}
    # Two small groups hidden together are no smaller than the threshold: the rest is shown.
    big, small_a, small_b = (1, "LV"), (2, "ES"), (3, "FR")
    assert hidden_groups({big: 10, small_a: 3, small_b: 3}, 5) == {small_a, small_b}
    # Within one cohort, its total less its Latvian group would be its Spanish group.
    within = hidden_groups({(1, "LV"): 10, (1, "ES"): 3, (2, "ES"): 3}, 5)
    assert within == {(1, "LV"), (1, "ES"), (2, "ES")}
    assert hidden_groups({big: 10, (2, "LV"): 7}, 5) == set()


async def test_a_group_is_judged_by_those_who_finished(
    database: Database, content: Content, cohort: str
) -> None:
    riga = in_cohort(PEOPLE)
    assert finishers(riga) < len(riga), "the data needs someone in Rīga who did not finish"
    # As many started as the threshold asks, but fewer finished: their answers stay hidden.
    groups = await figures(database, content, threshold=finishers(riga) + 1)
    assert groups[1].cohort == cohort
    assert groups[1].suppressed


async def test_one_cohort_in_one_country_is_hidden_when_its_group_is(
    database: Database, content: Content, cohort: str
) -> None:
    spanish = in_country(PEOPLE, "ES")
    threshold = finishers(spanish) + 1
    [overall, *_rest] = await figures(database, content, country="ES", threshold=threshold)
    assert overall.suppressed
    riga = await figures(database, content, cohort=cohort, country="LV", threshold=threshold)
    hidden_riga = (await figures(database, content, threshold=threshold))[1].suppressed
    assert riga[0].suppressed == hidden_riga


async def test_no_selection_total_gives_a_hidden_group_away(
    database: Database, content: Content, cohort: str
) -> None:
    riga = in_cohort(PEOPLE)
    threshold = finishers(riga)
    everything, riga_group, spain = await figures(database, content, threshold=threshold)
    assert spain.suppressed
    assert riga_group.suppressed
    assert not everything.suppressed
    # Rīga's total or Latvia's, taken from the total of everything, would be Spain's group.
    for selection in ({"cohort": cohort}, {"country": "LV"}, {"cohort": cohort, "country": "LV"}):
        total = (await figures(database, content, threshold=threshold, **selection))[0]
        assert total.suppressed, selection
        assert (total.completed, total.criteria) == (0, ())


async def test_unknown_country_is_kept_apart_from_another_country(
    database: Database, content: Content
) -> None:
    for name in ("o1", "o2"):
        await run_dialogue(
            database, content, Person(name, "LV", False, (2,) * 10, minutes=5), None
        )

    def elsewhere(connection: Connection) -> None:
        # The two chose "another country": no code is stored for it.
        connection.execute(update(Assessment).values(country=None))

    await database.store.run(elsewhere)
    for name in ("u1", "u2", "u3"):
        who = Who("telegram", name, "en")
        opened = await database.store.run(partial(open_dialogue, content=content, who=who))
        for event in (events.Consent(True), events.Text(f"Practice of {name}")):
            opened = await step(database, content, who, event, opened)
    groups = await figures(database, content, threshold=1)
    by_country = {group.country: group for group in groups if not group.overall}
    assert set(by_country) == {OTHER_COUNTRY, None}
    assert (by_country[OTHER_COUNTRY].started, by_country[OTHER_COUNTRY].completed) == (2, 2)
    assert by_country[None].suppressed  # nobody there finished
    plain_text = stats_plain(groups, content, "en")
    assert "No cohort · Another country" in plain_text
    assert "No cohort · Unknown country" in plain_text
    html = stats_text(groups, content, "lv")
    with use_language("lv"):
        assert _("Unknown country") in html
        assert country_name(None) in html
    overall, *rest = await figures(database, content, country=OTHER_COUNTRY, threshold=1)
    assert (overall.started, [group.country for group in rest]) == (2, [OTHER_COUNTRY])


async def test_stats_name_each_criterion_by_code_and_title(
    database: Database, content: Content, cohort: str
) -> None:
    groups = await figures(database, content, threshold=1)
    for language in ("en", "lv"):
        text = stats_plain(groups, content, language)
        with use_language(language):
            for criterion in content.latest.criteria:
                assert f"{criterion.code} {_(criterion.title)}: " in text


COUNTS = (0, 1, 2, 5, 11, 21)
FORM = {
    # The plural form each count takes, by each language's own rule (CLDR).
    "en": {0: 1, 1: 0, 2: 1, 5: 1, 11: 1, 21: 1},
    "es": {0: 1, 1: 0, 2: 1, 5: 1, 11: 1, 21: 1},
    "sv": {0: 1, 1: 0, 2: 1, 5: 1, 11: 1, 21: 1},
    "fr": {0: 0, 1: 0, 2: 1, 5: 1, 11: 1, 21: 1},
    "lv": {0: 2, 1: 0, 2: 1, 5: 1, 11: 1, 21: 0},
}
COORDINATOR_PLURALS = (
    (
        "Fewer than %(count)s respondent finished here, or showing this group would give a "
        "smaller one away: not shown.",
        "Fewer than %(count)s respondents finished here, or showing this group would give a "
        "smaller one away: not shown.",
    ),
    (
        "Group not shown here: %(count)s. The export lists them all.",
        "Groups not shown here: %(count)s. The export lists them all.",
    ),
    ("Export ready: %(count)s row.", "Export ready: %(count)s rows."),
    (
        "The file is larger than Telegram allows, so it comes zipped in %(count)s part: 7-Zip "
        "opens it as one archive.",
        "The file is larger than Telegram allows, so it comes zipped in %(count)s parts: 7-Zip "
        "opens them as one archive.",
    ),
    (
        "An assessment in the cohort %(name)s was completed. Completed so far: %(count)s "
        "assessment.",
        "An assessment in the cohort %(name)s was completed. Completed so far: %(count)s "
        "assessments.",
    ),
)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_count_in_the_coordinators_texts_takes_its_plural_form(language: str) -> None:
    catalog = read_po(catalog_path(language).open("rb"), locale=language)
    for singular, plural in COORDINATOR_PLURALS:
        forms = catalog[singular].string if language != "en" else (singular, plural)
        assert isinstance(forms, tuple)
        for count in COUNTS:
            with use_language(language):
                text = ngettext(singular, plural, count, name="Rīga")
            assert text == forms[FORM[language][count]] % {"count": count, "name": "Rīga"}
            assert str(count) in text
            if language != "en":
                assert text not in (singular % {"count": count, "name": "Rīga"},)
    groups = [
        GroupStats(None, None, "LV", 0, 0, 0, None, None, (), suppressed=True, threshold=count)
        for count in COUNTS
    ]
    with use_language(language):
        lines = [suppressed_line(group) for group in groups]
        closing = [more_line(count) for count in COUNTS]
    assert len(set(lines)) == len(COUNTS)
    assert all(str(count) in line for count, line in zip(COUNTS, closing, strict=True))


async def test_a_group_hidden_for_another_does_not_claim_to_be_small(
    database: Database, content: Content, cohort: str
) -> None:
    threshold = finishers(in_cohort(PEOPLE))
    _everything, riga, _spain = await figures(database, content, threshold=threshold)
    assert riga.suppressed  # though as many finished in it as the threshold asks
    for language in SUPPORTED_LANGUAGES:
        with use_language(language):
            small = ngettext(
                "Fewer than %(count)s respondent: not shown.",
                "Fewer than %(count)s respondents: not shown.",
                threshold,
            )
        text = stats_plain([riga], content, language)
        assert small not in text, language
    with use_language("en"):
        assert suppressed_line(riga) == (
            f"Fewer than {threshold} respondents finished here, or showing this group would "
            "give a smaller one away: not shown."
        )
