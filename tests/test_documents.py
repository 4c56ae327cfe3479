"""The radar chart and the PDF report: every language renders, and says what the Report says."""

from __future__ import annotations

import io
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import MappingProxyType

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageStat
from pypdf import PdfReader

from bot.documents import report_filename, warm_up
from bot.documents.chart import (
    CURRENT_COLOUR,
    EARLIER_COLOUR,
    FILL_OPACITY,
    LABEL_LINES,
    NOT_SCORED_MARK,
    RADIUS,
    SIZE,
    RadarLayout,
    _frame,
    position,
    radar_chart,
    radar_layout,
    radar_photo,
    spoke_angle,
)
from bot.documents.fonts import FONT_REGULAR
from bot.documents.pdf import pdf_report
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.report import Report, build_report
from dialogs.snapshot import Earlier, Profile, RecordedAnswer, Snapshot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
MAX_PNG_BYTES = 1_000_000
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


def colours_in(image: Image.Image) -> set[object]:
    return {colour for _count, colour in image.getcolors(image.width * image.height) or []}


def chart_texts(layout: RadarLayout) -> str:
    labels = [label.text for label in (*layout.spokes, *layout.ticks)]
    return "".join(labels + [series.name for series in layout.series])


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_chart_is_a_small_png_with_every_glyph(content: Content, language: str) -> None:
    report = make_report(content, language, earlier=EARLIER)
    assert glyphs_missing(chart_texts(radar_layout(report))) == set()
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


def test_the_photo_is_the_chart_as_a_jpeg(content: Content) -> None:
    report = make_report(content, "lv", earlier=EARLIER)
    photo = radar_photo(report)
    assert photo.startswith(JPEG_MAGIC)
    assert len(photo) < MAX_PNG_BYTES
    with Image.open(io.BytesIO(photo)) as jpeg, Image.open(io.BytesIO(radar_chart(report))) as png:
        assert jpeg.size == png.size
        difference = ImageChops.difference(jpeg.convert("RGB"), png.convert("RGB"))
        # A lossy copy of the same picture: on average within a few levels of each pixel.
        assert max(ImageStat.Stat(difference).mean) < 2


def test_chart_paints_each_series_where_its_values_are(content: Content) -> None:
    report = make_report(content, "lv", earlier=EARLIER)
    with Image.open(io.BytesIO(radar_chart(report))) as image:
        rgb = image.convert("RGB")
    count = len(report.criteria)
    for index, line in enumerate(report.criteria):
        if line.value:
            # The current series' marker sits on its value, whatever lies under it.
            x, y = position(spoke_angle(index, count), RADIUS * line.value / report.max_value)
            assert rgb.getpixel((round(x), round(y))) == CURRENT_COLOUR
    # C06 was 2 before and 0 now: only the earlier, dashed line passes its old value.
    index = [line.code for line in report.criteria].index("C06")
    x, y = position(spoke_angle(index, count), RADIUS * 2 / report.max_value)
    around = (round(x) - 4, round(y) - 4, round(x) + 5, round(y) + 5)
    assert EARLIER_COLOUR in colours_in(rgb.crop(around))
    with Image.open(io.BytesIO(radar_chart(make_report(content, "lv")))) as alone:
        assert EARLIER_COLOUR not in colours_in(alone.convert("RGB").crop(around))


@pytest.mark.parametrize(("value", "tinted"), [(3, True), (1, False)])
def test_chart_fills_inside_the_current_line_only(
    content: Content, value: int, tinted: bool
) -> None:
    report = make_report(content, "lv", values=dict.fromkeys(VALUES, value))
    with Image.open(io.BytesIO(radar_chart(report))) as image:
        rgb = image.convert("RGB")
    count = len(report.criteria)
    # Between the grid's first two rings, in the middle of a sector: no grid line or label.
    x, y = position(spoke_angle(5, 2 * count), RADIUS / 2)
    opacity = FILL_OPACITY if tinted else 0
    fill = tuple(round(opacity * part + (1 - opacity) * 255) for part in CURRENT_COLOUR)
    assert rgb.getpixel((round(x), round(y))) == fill


def test_chart_labels_are_the_latvian_titles(content: Content) -> None:
    report = make_report(content, "lv")
    layout = radar_layout(report)
    labels = [label.text for label in layout.spokes]
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
    assert layout.max_value == report.max_value
    assert [tick.text for tick in layout.ticks] == ["1", "2", "3"]


def test_chart_compares_the_earlier_assessment(content: Content) -> None:
    report = make_report(content, "lv", earlier=EARLIER)
    assert report.has_earlier
    layout = radar_layout(report)
    current, before = layout.series
    assert (current.dashed, before.dashed) == (False, True)
    assert list(current.values) == [float(line.value or 0) for line in report.criteria]
    assert list(before.values) == [float(EARLIER.get(line.code) or 0) for line in report.criteria]
    assert layout.legend
    with use_language("lv"):
        expected = [_("This assessment"), _("Earlier assessment")]
    assert [entry.name for entry in layout.series] == expected


def test_chart_without_earlier_has_one_series_and_no_legend(content: Content) -> None:
    layout = radar_layout(make_report(content, "lv"))
    assert len(layout.series) == 1
    assert not layout.legend


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


def test_the_warm_up_paints_every_language_s_frame(content: Content) -> None:
    _frame.cache_clear()
    warm_up(content)
    # One frame per language: the first practitioners to finish find them painted.
    assert _frame.cache_info().currsize == len(SUPPORTED_LANGUAGES)
    for language in SUPPORTED_LANGUAGES:
        report = make_report(content, language, values={code: 1 for code in VALUES})
        radar_photo(report)
    assert _frame.cache_info().misses == len(SUPPORTED_LANGUAGES)
