"""The radar chart and the PDF report: every language renders, and says what the Report says."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import MappingProxyType

import numpy as np
import pytest
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from pypdf import PdfReader

from bot.documents import report_filename
from bot.documents.chart import LABEL_LINES, NOT_SCORED_MARK, radar_chart, radar_figure
from bot.documents.pdf import pdf_report
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.report import Report, build_report
from dialogs.snapshot import Earlier, Profile, RecordedAnswer, Snapshot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 1_000_000
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


def series(line: Line2D) -> list[float]:
    """The values a closed radar line plots, without the point that closes it."""
    values: list[float] = np.asarray(line.get_ydata(), dtype=float).tolist()
    return values[:-1]


def glyph_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_chart_is_a_small_png_with_every_glyph(content: Content, language: str) -> None:
    report = make_report(content, language, earlier=EARLIER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = radar_chart(report)
    assert glyph_warnings(caught) == []
    assert png.startswith(PNG_MAGIC)
    assert len(png) < MAX_PNG_BYTES


def test_chart_labels_are_the_latvian_titles(content: Content) -> None:
    report = make_report(content, "lv")
    figure = radar_figure(report)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.canvas.draw()
    assert glyph_warnings(caught) == []
    (axes,) = figure.axes
    labels = [label.get_text() for label in axes.get_xticklabels()]
    assert len(labels) == len(report.criteria)
    assert any(letter in "".join(labels) for letter in "āčēģīķļņšūž")
    for label, line in zip(labels, report.criteria, strict=True):
        assert len(label.splitlines()) <= LABEL_LINES
        assert label.endswith(NOT_SCORED_MARK) == (line.value is None)
        shown = folded(label.replace("\N{NO-BREAK SPACE}", " ").removesuffix(NOT_SCORED_MARK))
        shortened = shown.endswith(" …")
        shown = shown.removesuffix(" …")
        full = f"{line.number}. {line.title}"
        assert full.startswith(shown)
        assert shortened == (shown != full)
    assert axes.get_ylim() == (0, report.max_value)


def test_chart_compares_the_earlier_assessment(content: Content) -> None:
    report = make_report(content, "lv", earlier=EARLIER)
    assert report.has_earlier
    figure = radar_figure(report)
    (axes,) = figure.axes
    current, before = axes.get_lines()
    assert before.get_linestyle() == "--"
    assert series(current) == [float(line.value or 0) for line in report.criteria]
    assert series(before) == [float(EARLIER.get(line.code) or 0) for line in report.criteria]
    (legend,) = figure.legends
    assert isinstance(legend, Legend)
    with use_language("lv"):
        expected = [_("This assessment"), _("Earlier assessment")]
    assert [text.get_text() for text in legend.get_texts()] == expected


def test_chart_without_earlier_has_one_series_and_no_legend(content: Content) -> None:
    figure = radar_figure(make_report(content, "lv"))
    (axes,) = figure.axes
    assert len(axes.get_lines()) == 1
    assert figure.legends == []
    assert axes.get_legend() is None


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
    report = make_report(content, "en", profile=Profile("Alone"), values={"C01": 3})
    assert report.practices == ()
    text = pdf_text(pdf_report(report, None))
    assert folded(_("None of the good practices SI Check knows is close to this one yet.")) in text


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
    [(PRACTICE, "zupas-virtuve-kekava"), ("Ģimeņu  atbalsts / Rīga!", "gimenu-atbalsts-riga")],
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
