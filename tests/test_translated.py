"""Every screen, the summary and the PDF in each language, with no English left over.

Each text is rendered in English and in the other language from the same data; no phrase of
the English rendering (two words or more between punctuation) may appear in the other one,
except names and codes that every language writes alike.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from pypdf import PdfReader

from bot.documents.chart import radar_chart
from bot.documents.pdf import pdf_report
from dialogs import events, machine
from dialogs.content import Checklist, Content
from dialogs.engine import step
from dialogs.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, use_language
from dialogs.report import History, PastAssessment, build_report
from dialogs.snapshot import Draft, Earlier, Profile, RecordedAnswer, Snapshot
from dialogs.views import View, history_view, language_name, plain, render

OTHERS = tuple(language for language in SUPPORTED_LANGUAGES if language != SOURCE_LANGUAGE)
PRACTICE = "Zupas virtuve Ķekavā"
ORGANISATION = "Sarkanais Krusts"
COMMENT = "Darbojas kopš 2019. gada ar brīvprātīgajiem."
_BREAKS = re.compile(r"[.,:;!?()\[\]•·…\"“”«»/\n|–—=]+|\s-\s")
_WORD = re.compile(r"[A-Za-z]{3,}")


def phrases(text: str) -> set[str]:
    """The phrases of ``text`` between punctuation that hold two words of letters or more."""
    found = set()
    for part in _BREAKS.split(text):
        phrase = " ".join(part.split())
        if len(_WORD.findall(phrase)) >= 2:
            found.add(phrase)
    return found


_ADDRESS = re.compile(r"https?://\S+")


def shared_names(content: Content) -> list[str]:
    """Texts every language writes alike: the practitioner's, the good practices' names and
    the languages' own names; longest first, as they are cut out of a text in that order."""
    names = {PRACTICE, ORGANISATION, COMMENT, "SI Check"}
    names |= {practice.name for practice in content.practices}
    names |= {language_name(language) for language in SUPPORTED_LANGUAGES}
    return sorted(names, key=len, reverse=True)


def scrub(text: str, names: list[str]) -> str:
    """``text`` without addresses and ``names``, each cut out as a break between phrases."""
    text = _ADDRESS.sub("\n", " ".join(text.split()))
    for name in names:
        text = text.replace(name, "\n")
    return text


def snapshots(checklist: Checklist, language: str) -> Iterator[tuple[Snapshot, bool]]:
    """Every state of the dialogue, with and without answers, guidance shown and not."""
    answers = MappingProxyType(
        {
            criterion.code: RecordedAnswer(
                (3, 0, 1, 2)[index % 4],
                tuple(aspect.code for aspect in criterion.aspects),
                COMMENT,
            )
            for index, criterion in enumerate(checklist.criteria)
            if index != 7  # one unanswered
        }
    )
    profile = Profile(PRACTICE, "ES", ORGANISATION, ("homeless",), ("housing",))
    earlier = Earlier({"C01": 1, "C02": None}, datetime(2025, 1, 2, tzinfo=UTC))
    full = Snapshot(checklist.version, "", language, True, profile, answers, earlier=earlier)
    for state in machine.states(checklist):
        for info in (False, True):
            yield replace(full, state=state), info
            yield replace(full, state=state, answers=MappingProxyType({})), info
        yield (
            replace(full, state=state, answers=MappingProxyType({}), draft=Draft((), COMMENT)),
            False,
        )


def refusals(checklist: Checklist, language: str) -> Iterator[View]:
    """Views that explain a refused input."""
    base = Snapshot(checklist.version, machine.PROFILE_NAME, language, True)
    yield step(checklist, base, events.Text("")).view
    yield step(checklist, base, events.Text("W" * 300)).view
    yield step(checklist, base, events.Answer("C01", 2)).view
    question = replace(base, state="C01", draft=Draft((), COMMENT))
    yield step(checklist, question, events.Skip()).view
    yield step(checklist, replace(question, draft=Draft()), events.Text("W" * 2000)).view
    yield step(checklist, question, events.Answer("C03", 1)).view
    yield step(checklist, replace(base, state=machine.LANGUAGE), events.ChooseLanguage("de")).view
    yield step(checklist, replace(base, state="C01"), events.Answer("C01", 9)).view


def texts(content: Content, language: str) -> list[str]:
    """Every screen of the dialogue in ``language``, as the practitioner reads it."""
    checklist = content.latest
    views = []
    with use_language(language):
        for snapshot, info in snapshots(checklist, language):
            views.append(render(checklist, snapshot, info=info and bool(snapshot.answers)))
        views += list(refusals(checklist, language))
        past = PastAssessment(7, 1, PRACTICE, datetime(2025, 3, 4, tzinfo=UTC), 55.0)
        views += [history_view(History((past,), language)), history_view(History((), language))]
    return [
        plain(view.text) + "\n" + "\n".join(button.label for row in view.buttons for button in row)
        for view in views
    ]


def pdf_words(content: Content, language: str) -> str:
    """The PDF report's text (with its chart) in ``language``."""
    snapshot = next(
        snapshot
        for snapshot, _info in snapshots(content.latest, language)
        if snapshot.state == machine.SUMMARY and snapshot.answers
    )
    report = build_report(content.latest, snapshot, datetime(2025, 3, 14, tzinfo=UTC))
    data = pdf_report(report, radar_chart(report))
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def left_over(english: list[str], other: list[str], names: list[str]) -> set[str]:
    """English phrases of each text found in the same text in another language."""
    found = set()
    for source, translated in zip(english, other, strict=True):
        flat = " ".join(scrub(translated, names).split())
        found |= {phrase for phrase in phrases(scrub(source, names)) if phrase in flat}
    return found


@pytest.mark.parametrize("language", OTHERS)
def test_every_screen_is_translated(content: Content, language: str) -> None:
    english = texts(content, SOURCE_LANGUAGE)
    other = texts(content, language)
    assert len(english) == len(other)
    # The check finds something: English phrases are there to be found.
    assert len(set().union(*(phrases(text) for text in english))) > 100
    assert left_over(english, other, shared_names(content)) == set()


@pytest.mark.parametrize("language", OTHERS)
def test_the_pdf_report_is_translated(content: Content, language: str) -> None:
    english = pdf_words(content, SOURCE_LANGUAGE)
    assert len(phrases(english)) > 50
    found = left_over([english], [pdf_words(content, language)], shared_names(content))
    assert found == set()


def test_the_check_finds_english_left_over(content: Content) -> None:
    english = texts(content, SOURCE_LANGUAGE)
    # A Latvian rendering that kept one English sentence is caught.
    spoiled = [*texts(content, "lv")]
    spoiled[3] += "\nThe weakest criteria below are the place to start."
    tampered = [*english]
    tampered[3] += "\nThe weakest criteria below are the place to start."
    assert left_over(tampered, spoiled, shared_names(content)) == {
        "The weakest criteria below are the place to start"
    }
