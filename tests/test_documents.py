"""The radar chart and the PDF report: every language renders, and says what the Report says."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image
from pypdf import PdfReader

from bot.documents import report_filename, warm_up
from bot.documents.chart import (
    CURRENT_COLOUR,
    EARLIER_COLOUR,
    LABEL_LINES,
    OFF_SCALE,
    UNSCORED,
    criterion_label,
    radar_chart,
    radar_figure,
    radar_photo,
    spoke_angle,
)
from bot.documents.fonts import FONT_REGULAR
from bot.documents.pdf import pdf_report
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.report import NO_CLOSE_PRACTICE, NOTHING_TO_MATCH, Report, build_report
from dialogs.snapshot import COMMENT_MAX, Earlier, Profile, RecordedAnswer, Snapshot
from storage.mentoring import FEEDBACK_MAX

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
MAX_PNG_BYTES = 1_000_000
SIZE = 960
FONT_LETTERS = frozenset(TTFont(FONT_REGULAR).getBestCmap())
PRACTICE = "Zupas virtuve Ķekavā"
VALUES: Mapping[str, int | None] = {
    "C01": 2,
    "C02": 3,
    "C03": 1,
    "C04": 0,
    "C05": 2,
    "C06": 0,
    "C07": 1,
    "C08": None,
    "C09": 3,
    "C10": 2,
}
EARLIER: Mapping[str, int | None] = {"C01": 1, "C06": 2, "C09": 3}


def make_report(
    content: Content,
    language: str,
    *,
    earlier: Mapping[str, int | None] | None = None,
    profile: Profile | None = None,
    values: Mapping[str, int | None] = VALUES,
) -> Report:
    profile = profile or Profile(PRACTICE, "LV", "Sarkanais Krusts", ("homeless",), ("housing",))
    snapshot = Snapshot(
        1,
        "summary",
        language,
        True,
        profile,
        MappingProxyType({code: RecordedAnswer(value) for code, value in values.items()}),
        earlier=None if earlier is None else Earlier(dict(earlier), datetime(2024, 11, 5)),
    )
    return build_report(content.latest, snapshot, datetime(2025, 3, 14))


def folded(text: str) -> str:
    """``text`` with every run of whitespace made one space, as wrapped lines compare."""
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return folded(" ".join(page.extract_text() for page in reader.pages))


def glyphs_missing(text: str) -> set[str]:
    """The letters of ``text`` that the chart's font cannot draw."""
    return {letter for letter in text if letter != "\n" and ord(letter) not in FONT_LETTERS}


def lines_by_id(figure: Figure) -> dict[str, Line2D]:
    """The chart's data lines by their id (current, earlier, unscored)."""
    return {str(line.get_gid()): line for line in figure.axes[0].get_lines() if line.get_gid()}


def radii(line: Line2D) -> list[float | None]:
    """The radii matplotlib was given, NaN (a gap) as ``None``."""
    return [None if math.isnan(value) else value for value in data(line.get_ydata())]


def data(array: object) -> list[float]:
    """A line's data array as floats."""
    return [float(value) for value in np.asarray(array, dtype=float)]


def chart_texts(figure: Figure) -> list[str]:
    axes = figure.axes[0]
    labels = [tick.get_text() for tick in (*axes.get_xticklabels(), *axes.get_yticklabels())]
    legend = figure.legends[0]
    return labels + [text.get_text() for text in legend.get_texts()]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_chart_is_drawn_in_every_language_with_every_glyph(
    content: Content, language: str
) -> None:
    report = make_report(content, language, earlier=EARLIER)
    figure = radar_figure(report)
    texts = chart_texts(figure)
    assert glyphs_missing("".join(texts)) == set()
    with use_language(language):
        legend = [_("This assessment"), _("Earlier assessment"), _(UNSCORED)]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == legend
    png = radar_chart(report)
    assert png.startswith(PNG_MAGIC)
    assert len(png) < MAX_PNG_BYTES
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (SIZE, SIZE)
        # Nothing reaches the edge: no label is cut off, in the language of the longest titles.
        rgb = image.convert("RGB")
        edges = [
            (0, 0, SIZE, 2),
            (0, SIZE - 2, SIZE, SIZE),
            (0, 0, 2, SIZE),
            (SIZE - 2, 0, SIZE, SIZE),
        ]
        for box in edges:
            assert rgb.crop(box).getextrema() == ((255, 255), (255, 255), (255, 255))


def test_the_photo_is_a_jpeg_within_telegram_s_limits(content: Content) -> None:
    photo = radar_photo(make_report(content, "lv", earlier=EARLIER))
    assert photo.startswith(JPEG_MAGIC)
    # Telegram takes photos up to 10 MB whose width and height add up to at most 10,000.
    assert len(photo) < MAX_PNG_BYTES
    with Image.open(io.BytesIO(photo)) as jpeg:
        assert jpeg.format == "JPEG"
        assert sum(jpeg.size) <= 10_000


def test_not_applicable_and_unanswered_have_no_vertex(content: Content) -> None:
    values = {**VALUES, "C03": None}
    del values["C05"]  # unanswered
    report = make_report(content, "lv", values=values, earlier=EARLIER)
    lines = lines_by_id(radar_figure(report))
    count = len(report.criteria)
    current = radii(lines["current"])
    # Closed on criterion 1: one radius per criterion, then the first again.
    assert current == [line.value for line in report.criteria] + [report.criteria[0].value]
    unscored = [i for i, line in enumerate(report.criteria) if line.value is None]
    assert [line.code for line in report.criteria if line.value is None] == ["C03", "C05", "C08"]
    for index in unscored:
        assert current[index] is None
    # Each is marked off the scale instead, on its own spoke.
    assert data(lines["unscored"].get_xdata()) == [spoke_angle(i, count) for i in unscored]
    assert set(data(lines["unscored"].get_ydata())) == {report.max_value * OFF_SCALE}
    assert lines["unscored"].get_linestyle() == "None"
    # "Not at all" stays a vertex at the centre.
    assert current[[line.code for line in report.criteria].index("C04")] == 0
    earlier = radii(lines["earlier"])
    assert earlier[:-1] == [EARLIER.get(line.code) for line in report.criteria]


def test_both_series_have_markers_and_their_own_look(content: Content) -> None:
    lines = lines_by_id(radar_figure(make_report(content, "en", earlier=EARLIER)))
    current, earlier = lines["current"], lines["earlier"]
    assert current.get_marker() not in {"None", "", None}
    assert earlier.get_marker() not in {"None", "", None}
    assert current.get_marker() != earlier.get_marker()
    assert (current.get_linestyle(), earlier.get_linestyle()) == ("-", "--")
    assert (current.get_color(), earlier.get_color()) == (CURRENT_COLOUR, EARLIER_COLOUR)


def test_chart_without_earlier_or_gaps_has_one_series(content: Content) -> None:
    figure = radar_figure(make_report(content, "lv", values=dict.fromkeys(VALUES, 2)))
    assert set(lines_by_id(figure)) == {"current"}
    with use_language("lv"):
        assert [text.get_text() for text in figure.legends[0].get_texts()] == [
            _("This assessment")
        ]


def test_chart_labels_are_the_latvian_titles(content: Content) -> None:
    report = make_report(content, "lv")
    axes = radar_figure(report).axes[0]
    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    assert labels == [criterion_label(line) for line in report.criteria]
    assert any(letter in "".join(labels) for letter in "āčēģīķļņšūž")
    for label, line in zip(labels, report.criteria, strict=True):
        assert len(label.splitlines()) <= LABEL_LINES
        shown = folded(label.replace("\N{NO-BREAK SPACE}", " "))
        shortened = shown.endswith(" …")
        shown = shown.removesuffix(" …")
        full = f"{line.number}. {line.title}"
        assert full.startswith(shown)
        assert shortened == (shown != full)
    assert [tick.get_text() for tick in axes.get_yticklabels()] == ["1", "2", "3"]


def test_charts_drawn_in_threads_match_those_drawn_alone(content: Content) -> None:
    reports = [make_report(content, language, earlier=EARLIER) for language in SUPPORTED_LANGUAGES]
    alone = [radar_chart(report) for report in reports]
    with ThreadPoolExecutor(max_workers=len(reports)) as pool:
        threaded = list(pool.map(radar_chart, reports))
    assert threaded == alone


def test_pdf_holds_the_report(content: Content) -> None:
    report = make_report(content, "lv", earlier=EARLIER)
    data = pdf_report(report, radar_chart(report))
    text = pdf_text(data)
    assert report.percent_text is not None
    assert report.band is not None
    assert folded(report.percent_text) in text
    assert PRACTICE in text
    assert report.band in text
    names = [found.name for found in report.practices]
    assert "NPISA Porto" in names
    for found in report.practices:
        assert found.name in text
        for link in found.links:
            assert link in text.replace(" ", "")
    for advice in report.recommendations:
        assert folded(advice.title) in text
    for flag in report.risks:
        assert folded(flag.title) in text
    for line in report.criteria:
        assert folded(line.answer) in text
    with use_language("lv"):
        title = _("Summary: %(practice)s", practice=PRACTICE)
        changed = [
            _("(was %(answer)s)", answer=line.earlier_answer)
            for line in report.criteria
            if line.changed and line.earlier_answer is not None
        ]
    assert changed
    for was in changed:
        assert folded(was) in text
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.title == title


def test_pdf_says_when_no_good_practice_is_close(content: Content) -> None:
    profile = Profile("Alone", "HU", None, ("older_people",))
    report = make_report(content, "en", profile=profile, values={"C01": 3})
    assert report.practices == ()
    text = pdf_text(pdf_report(report, None))
    assert folded(_(NO_CLOSE_PRACTICE)) in text


def test_pdf_says_why_a_practice_naming_no_group_or_theme_has_no_match(content: Content) -> None:
    report = make_report(content, "lv", profile=Profile("Alone"), values={"C01": 3})
    assert report.practices == ()
    with use_language("lv"):
        expected = _(NOTHING_TO_MATCH)
    assert folded(expected) in pdf_text(pdf_report(report, None))


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_pdf_builds_in_every_language(content: Content, language: str) -> None:
    report = make_report(content, language, earlier=EARLIER)
    data = pdf_report(report, radar_chart(report))
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert report.percent_text is not None
    assert folded(report.percent_text) in text
    assert PRACTICE in text
    with use_language(language):
        heading = _("Similar good practices")
    assert folded(heading) in text


def test_pdf_without_scores_or_chart(content: Content) -> None:
    report = make_report(content, "lv", values={})
    assert report.percent_text is None
    with use_language("lv"):
        expected = _("No criterion was scored, so there is no overall score.")
    assert folded(expected) in pdf_text(pdf_report(report, None))


@pytest.mark.parametrize(
    ("practice", "slug"),
    [
        (PRACTICE, "zupas-virtuve-kekava"),
        ("Ģimeņu  atbalsts / Rīga!", "gimenu-atbalsts-riga"),
        ("Cœur de quartier", "coeur-de-quartier"),
        ("Straße für Ørsted", "strasse-fur-orsted"),
    ],
)
def test_file_name_is_ascii(content: Content, practice: str, slug: str) -> None:
    report = make_report(content, "lv", profile=Profile(practice))
    name = report_filename(report)
    assert name.isascii()
    assert name == f"sicheck-{slug}.pdf"


@pytest.mark.parametrize("practice", ["", "🍲 ", "Ωμέγα"])
def test_file_name_falls_back_without_latin_letters(content: Content, practice: str) -> None:
    assert report_filename(make_report(content, "lv", profile=Profile(practice))) == (
        "sicheck-report.pdf"
    )


def test_the_warm_up_draws_a_summary_and_chart_in_every_language(content: Content) -> None:
    warm_up(content)


def test_glyphs_outside_the_fonts_are_left_out_with_one_log_line(
    content: Content, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    profile = Profile("Zupas 🍲 virtuve ✅", "LV", "Biedrība 🤝")
    report = make_report(content, "lv", profile=profile)
    with caplog.at_level(logging.DEBUG):
        data = pdf_report(report, None)
    text = pdf_text(data)
    with use_language("lv"):
        title = _("Summary: %(practice)s", practice="Zupas virtuve")
    assert title in text
    assert "  " not in text
    assert "🍲" not in text
    # One line from SI Check, nothing from fpdf2, no Python warning.
    ours = [record for record in caplog.records if record.name == "bot.documents.pdf"]
    assert len(ours) == 1
    assert "U+1F372" in ours[0].getMessage()
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert not [warning for warning in recwarn if "glyph" in str(warning.message).lower()]


def test_the_pdf_sets_french_typography_and_no_double_stops(content: Content) -> None:
    report = make_report(content, "fr", earlier=EARLIER)
    text = pdf_text(pdf_report(report, None))
    assert "Synthèse\N{NARROW NO-BREAK SPACE}:" in text or "Synthèse :" in text
    assert "…." not in text
    # No colon in the French text without its space.
    words = [word for word in text.split() if word.endswith(":") and len(word) > 1]
    assert not [word for word in words if not word.startswith("http")], words


def test_the_pdf_holds_comments_in_full_and_novelty_kinds(content: Content) -> None:
    comment = "Weekly meals with the neighbourhood's volunteers and social workers. " * 5
    values = {code: RecordedAnswer(value) for code, value in VALUES.items()}
    values["C02"] = RecordedAnswer(3, ("needs", "actors"), None)
    values["C05"] = RecordedAnswer(2, (), comment)
    snapshot = Snapshot(
        1, "summary", "en", True, Profile(PRACTICE), MappingProxyType(values), earlier=None
    )
    report = build_report(content.latest, snapshot, datetime(2025, 3, 14))
    text = pdf_text(pdf_report(report, None))
    assert folded(comment) in text
    assert "Novelty: New needs, New actors" in text
    # Under a heading of their own, after the table, as the criterion they are on says.
    heading = text.index("Comments and feedback")
    assert heading < text.index("5. ", heading) < text.index("Weekly meals")
    values["C05"] = RecordedAnswer(2)
    uncommented = replace(snapshot, answers=MappingProxyType(values))
    report = build_report(content.latest, uncommented, datetime(2025, 3, 14))
    assert "Comments and feedback" not in pdf_text(pdf_report(report, None))


def test_a_comment_of_many_lines_and_long_feedback_still_make_a_pdf(content: Content) -> None:
    # Within the limits a practitioner and a mentor may write, each criterion's texts run
    # longer than a page.
    steps = "\n".join(f"- {number}. solis" for number in range(1, 61))
    feedback = "Ļoti labi. " * 90
    assert len(steps) <= COMMENT_MAX
    assert len(feedback) <= FEEDBACK_MAX
    values = {code: RecordedAnswer(value, (), steps) for code, value in VALUES.items()}
    snapshot = Snapshot(
        1,
        "summary",
        "lv",
        True,
        Profile(PRACTICE),
        MappingProxyType(values),
        feedback=MappingProxyType(dict.fromkeys(VALUES, feedback.strip())),
    )
    report = build_report(content.latest, snapshot, datetime(2025, 3, 14))
    text = pdf_text(pdf_report(report, radar_chart(report)))
    # A page's footer may come between the lines of a text, so the lines are counted.
    for number in range(1, 61):
        assert text.count(f"- {number}. solis ") == len(VALUES)
    assert text.count("Ļoti") == text.count("labi.") == 90 * len(VALUES)
