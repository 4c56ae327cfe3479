"""The ecosystem map: what it shows of the figures, what it hides, and how it is delivered."""

from __future__ import annotations

import re
import statistics
import warnings
import zlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
from matplotlib.text import Text

from bot import cli
from bot.documents import stats_map
from bot.documents.ecosystem_map import map_figure
from bot.ecosystem import MapData, map_data
from bot.stats_text import no_map_line
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from storage.coordination import new_cohort
from storage.stats import GroupKey, hidden_groups
from storage.store import Database
from tests.telegram_harness import Harness, running_bot
from tests.test_coordinators import COORDINATOR, PRACTITIONER, REFUSAL, finish
from tests.test_stats import PNG_MAGIC, Person, figures, glyph_warnings, run_dialogue

PDF_MAGIC = b"%PDF-"
PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
PDF_TEXT = re.compile(rb"\bBT\b(.*?)\bET\b", re.DOTALL)
PDF_PIECE = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.DOTALL)
THRESHOLD = 2
HIDDEN_NAME = "Rīga pilot"
SHOWN_NAME = "Valmiera"
HIDDEN_TEXTS = (HIDDEN_NAME, "Spain")
# Rīga in Spain has one finisher, below the threshold. Hiding it alone would let everyone
# less the groups shown give it away, and so would Rīga's total less Rīga in Latvia: Valmiera
# in Spain and Rīga in Latvia (three finishers, above the threshold) are hidden with it.
GROUPS = {
    (HIDDEN_NAME, "LV"): (
        (3, 3, 2, 2, 1, 1, 0, 0, 3, 3),
        (2, 3, 2, 1, 1, 0, 0, None, 3, 2),
        (3, 2, 2, 2, 1, 1, 1, 0, 3, 3),
    ),
    (HIDDEN_NAME, "ES"): ((0, 0, 0, 0, 0, 0, 0, 0, 0, 0),),
    (SHOWN_NAME, "LV"): ((1, 2, 3, 0, 2, 2, None, 1, 2, 3), (2, 2, 3, 1, 3, 2, None, 1, 0, 3)),
    (SHOWN_NAME, "ES"): ((1, 1, 1, 1, 1, 1, 1, 1, 1, 1), (2, 2, 2, 2, 2, 2, 2, 2, 2, 2)),
}
FINISHERS = sum(len(answers) for answers in GROUPS.values())


@pytest.fixture
async def ecosystem(database: Database, content: Content) -> dict[str, str]:
    """Eight practices in two cohorts and two countries; returns the cohorts' codes by name."""
    codes: dict[str, str] = {}
    for name in (HIDDEN_NAME, SHOWN_NAME):
        codes[name] = await database.store.run(partial(new_cohort, name=name))
    number = 0
    for (name, country), answers in GROUPS.items():
        for values in answers:
            number += 1
            person = Person(f"m{number}", country, True, values, minutes=number)
            await run_dialogue(database, content, person, codes[name])
    return codes


def texts(data: MapData) -> list[str]:
    """Every text the drawn map holds."""
    figure = map_figure(data)
    figure.canvas.draw()
    return [artist.get_text() for artist in figure.findobj(Text)]


def test_the_data_needs_secondary_suppression() -> None:
    """The expectations below would prove little unless a large group is hidden for another."""
    number = {HIDDEN_NAME: 1, SHOWN_NAME: 2}
    sizes: dict[GroupKey, int] = {
        (number[name], country): len(answers) for (name, country), answers in GROUPS.items()
    }
    hidden = hidden_groups(sizes, THRESHOLD)
    assert sizes[(1, "LV")] >= THRESHOLD
    assert hidden == {(1, "LV"), (1, "ES"), (2, "ES")}


async def test_the_map_shows_only_the_groups_the_figures_show(
    database: Database, content: Content, ecosystem: dict[str, str]
) -> None:
    groups = await figures(database, content, threshold=THRESHOLD)
    data = map_data(groups, content, "en")
    assert data is not None
    shown = [group for group in groups if not group.suppressed]
    assert [row.practices for row in data.rows] == [group.completed for group in shown]
    assert [row.label for row in data.rows] == [
        f"All cohorts · All countries\n{FINISHERS} practices",
        f"{SHOWN_NAME} · Latvia\n2 practices",
    ]
    wanted = [
        statistics.mean(value for value in column if value is not None)
        if any(value is not None for value in column)
        else None
        for column in zip(*GROUPS[(SHOWN_NAME, "LV")], strict=True)
    ]
    assert data.rows[1].means == pytest.approx(wanted)
    assert data.rows[1].means[6] is None
    assert len(data.columns) == len(content.latest.criteria)
    drawn = texts(data)
    for hidden in HIDDEN_TEXTS:
        assert not any(hidden in text for text in drawn)
    # No count of a hidden group, nor of what Rīga's hidden groups add up to.
    hidden_counts = {"1 practice", "3 practices", "4 practices"}
    assert not any(count in text for text in drawn for count in hidden_counts)


async def test_no_map_is_drawn_when_every_group_is_hidden(
    database: Database, content: Content, ecosystem: dict[str, str]
) -> None:
    groups = await figures(database, content, threshold=FINISHERS + 1)
    assert all(group.suppressed for group in groups)
    assert map_data(groups, content, "en") is None
    assert stats_map(groups, content, "en", "png") is None


async def test_a_filter_narrows_the_map(
    database: Database, content: Content, ecosystem: dict[str, str]
) -> None:
    groups = await figures(database, content, cohort=ecosystem[SHOWN_NAME], threshold=THRESHOLD)
    data = map_data(groups, content, "fr")
    assert data is not None
    assert data.subtitle.startswith(SHOWN_NAME)
    # Valmiera's total holds its hidden Spanish group, so it is hidden as well: less Valmiera in
    # Latvia it would be Valmiera in Spain, and Spain's total less that would be Rīga in Spain.
    assert [row.practices for row in data.rows] == [2]


async def test_rows_beyond_the_limit_are_counted_in_a_note(
    database: Database, content: Content, ecosystem: dict[str, str]
) -> None:
    groups = await figures(database, content, threshold=1)
    data = map_data(groups, content, "en", limit=2)
    assert data is not None
    assert len(data.rows) == 2
    assert "Groups left out for room: 3." in data.notes[-1]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_the_map_is_drawn_in_every_language_with_every_glyph(
    database: Database, content: Content, ecosystem: dict[str, str], language: str
) -> None:
    groups = await figures(database, content, threshold=1)
    data = map_data(groups, content, language)
    assert data is not None
    with use_language(language):
        titles = [_(criterion.title) for criterion in content.latest.criteria]
        assert data.title == _("Ecosystem map: the mean answer to each criterion")
    for number, (column, title) in enumerate(zip(data.columns, titles, strict=True), start=1):
        kept = " ".join(column.split()).removeprefix(f"{number}.").strip().removesuffix("…")
        assert " ".join(title.split()).startswith(kept.strip())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = stats_map(groups, content, language, "png")
    assert glyph_warnings(caught) == []
    assert png is not None
    assert png.startswith(PNG_MAGIC)


def pdf_texts(pdf: bytes) -> list[str]:
    """The texts of a PDF drawn by matplotlib, one per text drawn, in Latin-1 letters only."""
    found = []
    for stream in PDF_STREAM.findall(pdf):
        try:
            content = zlib.decompress(stream)
        except zlib.error:  # an image or a font, not a page
            continue
        for block in PDF_TEXT.findall(content):
            pieces = [re.sub(rb"\\(.)", rb"\1", piece) for piece in PDF_PIECE.findall(block)]
            found.append(b"".join(pieces).decode("latin-1"))
    return found


def test_the_cli_writes_the_map_as_png_and_as_pdf(
    ecosystem: dict[str, str],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STATS_MIN_GROUP", str(THRESHOLD))
    url = ["--database-url", database_url]
    drawn = {}
    for name, magic, language in (("map.png", PNG_MAGIC, "lv"), ("map.PDF", PDF_MAGIC, "en")):
        path = tmp_path / name
        assert cli.main(["stats", "--lang", language, "--map", str(path), *url]) == 0
        drawn[name] = path.read_bytes()
        assert drawn[name].startswith(magic)
        # Far more than an empty page of the same size would take.
        assert len(drawn[name]) > 20_000
    assert SHOWN_NAME in capsys.readouterr().out
    texts = pdf_texts(drawn["map.PDF"])
    assert f"{SHOWN_NAME} · Latvia" in texts
    assert "2 practices" in texts
    assert not any("pilot" in text or "Spain" in text for text in texts)
    assert not {"1 practice", "3 practices", "4 practices"} & set(texts)


def test_the_cli_refuses_a_map_of_another_kind(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.svg"
    assert cli.main(["stats", "--map", str(path), "--database-url", database_url]) == 2
    assert "must end in .png or .pdf" in capsys.readouterr().err
    assert not path.exists()


def test_the_cli_says_why_there_is_no_map(
    database: Database, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "map.png"
    assert (
        cli.main(["stats", "--lang", "en", "--map", str(path), "--database-url", database_url])
        == 1
    )
    assert "there is no map to draw" in capsys.readouterr().err
    assert not path.exists()


@pytest.fixture
async def lenient(database: Database, database_url: str) -> AsyncIterator[Harness]:
    """The bot with one coordinator, showing groups of any size."""
    async with running_bot(
        database_url, sicheck_coordinators=str(COORDINATOR), stats_min_group=1
    ) as harness:
        yield harness
        assert harness.errors == []
        assert harness.api.violations == []


async def test_a_coordinator_gets_the_map_as_a_photo(lenient: Harness) -> None:
    await finish(lenient, PRACTITIONER)
    sent = len(lenient.api.chat(COORDINATOR))
    await lenient.say(COORDINATOR, "/stats MAP country=Latvija")
    [photo] = lenient.api.files_in(COORDINATOR)
    assert photo.method == "sendPhoto"
    assert photo.content.startswith(PNG_MAGIC)
    # The map comes instead of the figures' text, not with it.
    assert len(lenient.api.chat(COORDINATOR)) == sent + 1


async def test_the_map_is_refused_to_a_practitioner(lenient: Harness) -> None:
    await finish(lenient, PRACTITIONER)
    files = len(lenient.api.files_in(PRACTITIONER))
    await lenient.say(PRACTITIONER, "/stats map")
    assert lenient.text(PRACTITIONER) == REFUSAL
    assert len(lenient.api.files_in(PRACTITIONER)) == files


async def test_without_a_large_enough_group_the_map_is_explained(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(COORDINATOR)) as bot:
        await finish(bot, PRACTITIONER)
        await bot.say(COORDINATOR, "/stats map", language="lv")
        assert bot.api.files_in(COORDINATOR) == []
        with use_language("lv"):
            assert bot.text(COORDINATOR) == no_map_line(5)
        assert bot.errors == []
        assert bot.api.violations == []
