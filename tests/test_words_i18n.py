"""The catalogs read as one native voice: one form of address, one word per term."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import cast

import pytest
from babel.messages.pofile import read_po

from dialogs.i18n import use_language
from dialogs.report import Report, overall_text
from dialogs.team import finished_text
from locales import catalog_path


def _messages(language: str) -> list[tuple[str, str]]:
    """``(English, translation)`` of every message, each plural form a translation."""
    with catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    pairs = []
    for message in catalog:
        if not message.id:
            continue
        english = message.id if isinstance(message.id, str) else message.id[-1]
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(english, str(form)) for form in forms]
    return pairs


# The informal "tú" and its possessives; the Spanish catalog says "usted" to everyone.
TUTEO = re.compile(r"\b(tú|tu|tus|te|ti|contigo|tuyo|tuya|tuyos|tuyas)\b", re.IGNORECASE)


def test_spanish_says_usted_throughout() -> None:
    informal = [(en[:50], es) for en, es in _messages("es") if TUTEO.search(es)]
    assert informal == []


# "jūs" is written lower-case, as everywhere else in the catalog, except where it begins a
# sentence.
CAPITALISED_YOU = re.compile(r"\b(Jūs|Jūsu|Jums|Jūsos)\b")


def test_latvian_writes_you_in_lower_case_inside_a_sentence() -> None:
    capitalised = []
    for english, latvian in _messages("lv"):
        for found in CAPITALISED_YOU.finditer(latvian):
            before = re.sub(r"<[^>]+>", "", latvian[: found.start()]).rstrip(" ")
            if before and not before.endswith((".", "!", "?", ":", "\n")):
                capitalised.append((english[:50], latvian))
    assert capitalised == []


# A cohort and a report are named with one word in each language.
TERMS = {
    "lv": {"cohort": "kohort", "report": "pārskat"},
    "es": {"cohort": "cohorte", "report": "informe"},
    "fr": {"cohort": "cohorte", "report": "rapport"},
    "sv": {"cohort": "kohort", "report": "rapport"},
}


@pytest.mark.parametrize("language", sorted(TERMS))
def test_cohort_and_report_are_one_word_each(language: str) -> None:
    astray = []
    for english, translated in _messages(language):
        for term, word in TERMS[language].items():
            # "cohort=" is an option of /export, typed as it is.
            named = re.search(rf"\b{term}s?\b(?!=)", english, re.IGNORECASE)
            if named and word not in translated.lower():
                astray.append((term, translated))
    assert astray == []


def test_french_shares_with_someone() -> None:
    # "partager quelque chose avec quelqu'un", never "partager à quelqu'un".
    wrong = re.compile(r"vous a partagé|ne vous partage|partagez-lui")
    assert [fr for _, fr in _messages("fr") if wrong.search(fr)] == []


@pytest.mark.parametrize(("language", "wrong"), [("fr", "1 critères"), ("lv", "novērtēti 1 ")])
def test_one_criterion_scored_of_ten_reads_right(language: str, wrong: str) -> None:
    report = cast(Report, SimpleNamespace(total=10, scored=1))
    with use_language(language):
        text = overall_text(report, "10%")
    assert "1" in text
    assert wrong not in text


# Who finished in a team of one (its owner, just after inviting) and in a team of three.
MEMBERS_WRONG = {"lv": "no 1 dalībniekiem", "es": "de 1 miembros", "sv": "av 1 medlemmar"}


@pytest.mark.parametrize("language", sorted(MEMBERS_WRONG))
def test_members_finished_agrees_with_a_team_of_one(language: str) -> None:
    with use_language(language):
        alone, of_three = finished_text(1, 1), finished_text(1, 3)
    assert MEMBERS_WRONG[language] not in alone
    assert "1" in alone
    assert "3" in of_three
