"""The PDF report of an assessment: every text of the Report, the radar chart and the advice.

Built in memory, one ``FPDF`` per call, so reports can be made in worker threads side by side.
Letters the font cannot draw (an emoji in a name) are left out with one log line, never a
warning from fpdf2.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from collections.abc import Sequence

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, WrapMode, XPos, YPos

from bot.documents.fonts import FONT_BOLD, FONT_REGULAR
from dialogs.i18n import _, use_language
from dialogs.report import CriterionLine, Report, overall_text, typeset

log = logging.getLogger(__name__)

FAMILY = "DejaVu"
BODY_SIZE = 10
LINE_HEIGHT = 5.2
BULLET_WIDTH = 5
TEXT_COLOUR = (33, 33, 33)
MUTED_COLOUR = (95, 95, 95)
ACCENT = (31, 111, 139)
_SPACES = re.compile(r"[ \t]{2,}")


@functools.cache
def drawable() -> frozenset[int]:
    """The code points both the regular and the bold font have a glyph for."""
    regular, bold = (set(TTFont(path).getBestCmap()) for path in (FONT_REGULAR, FONT_BOLD))
    return frozenset(regular & bold)


class _Document(FPDF):
    def __init__(self, language: str) -> None:
        super().__init__(format="A4")
        self.language = language
        self.left_out: set[str] = set()

    def fit(self, text: str) -> str:
        """``text`` set for the report's language, without letters the font cannot draw."""
        glyphs = drawable()
        missing = {letter for letter in text if ord(letter) not in glyphs and letter != "\n"}
        if missing:
            self.left_out |= missing
            text = "".join(letter for letter in text if letter not in missing)
            # "🍲 Soup" must not become " Soup", nor "a 🍲 b" "a  b".
            text = "\n".join(_SPACES.sub(" ", part).lstrip() for part in text.split("\n"))
        return typeset(text, self.language)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED_COLOUR)
        self.cell(0, 6, f"SI Check · {self.page_no()}/{{nb}}", align=Align.C)


def pdf_report(report: Report, chart_png: bytes | None) -> bytes:
    """The PDF of ``report`` in its language, with ``chart_png`` under the overall score."""
    with use_language(report.language):
        document = _Document(report.language)
        document.add_font(FAMILY, "", FONT_REGULAR)
        document.add_font(FAMILY, "B", FONT_BOLD)
        document.set_title(_("Summary: %(practice)s", practice=report.practice))
        document.set_lang(report.language)
        document.set_creator("SI Check")
        document.set_auto_page_break(auto=True, margin=18)
        document.set_margins(18, 16, 18)
        document.add_page()
        _write_report(document, report, chart_png)
        data = bytes(document.output())
    if document.left_out:
        log.info(
            "PDF report: %d character(s) outside its fonts left out: %s",
            len(document.left_out),
            " ".join(f"U+{ord(letter):04X}" for letter in sorted(document.left_out)),
        )
    return data


def _write_report(pdf: _Document, report: Report, chart_png: bytes | None) -> None:
    _paragraph(pdf, _("Summary: %(practice)s", practice=report.practice), "B", 17, ACCENT, 8)
    details = [part for part in (report.organisation, report.country, report.date) if part]
    if details:
        _paragraph(pdf, " · ".join(details), colour=MUTED_COLOUR)
    pdf.ln(2)
    if report.percent_text is None or report.band is None:
        _paragraph(pdf, _("No criterion was scored, so there is no overall score."))
    else:
        _paragraph(pdf, overall_text(report, report.percent_text), "B", 12)
        _lead(pdf, report.band, report.band_meaning or "")
    if report.has_earlier:
        earlier = _(
            "Earlier assessment of this practice (%(date)s): %(percent)s",
            date=report.earlier_date or "–",
            percent=report.earlier_percent_text or "–",
        )
        _paragraph(pdf, earlier, colour=MUTED_COLOUR)
    if report.peers is not None and report.peers.text:
        _paragraph(pdf, report.peers.text, colour=MUTED_COLOUR)
    if chart_png is not None:
        pdf.ln(2)
        # 145 mm: wide enough to read the spoke labels, small enough to share the first page.
        pdf.image(io.BytesIO(chart_png), x=Align.C, w=145)
    _heading(pdf, _("Criteria and answers"))
    _criteria(pdf, report)
    # Weaknesses' advice follows in full under the recommendations, so titles suffice there.
    for heading, advices, full in (
        (_("Strongest criteria"), report.strengths, True),
        (_("Criteria to work on"), report.weaknesses, False),
        (_("Next steps"), report.next_steps, True),
        (_("Recommendations"), report.recommendations, True),
    ):
        if advices:
            _heading(pdf, heading)
        for advice in advices:
            _item(pdf, advice.title, advice.text if full else "")
    if report.risks:
        _heading(pdf, _("Risks to watch"))
    for flag in report.risks:
        _item(pdf, flag.title, notes=(flag.why, flag.text))
    _heading(pdf, _("Similar good practices"))
    for found in report.practices:
        name = f"{found.name} ({found.country})"
        _item(pdf, name, found.title, notes=(found.reason,), links=found.links)
    if not report.practices:
        _paragraph(pdf, report.no_practices)
    if report.help:
        _heading(pdf, _("Where to get help"))
    for centre in report.help:
        _item(pdf, centre.name, centre.summary, links=() if centre.url is None else (centre.url,))


def _criteria(pdf: _Document, report: Report) -> None:
    pdf.set_font(FAMILY, "", BODY_SIZE - 0.5)
    pdf.set_text_color(*TEXT_COLOUR)
    with pdf.table(
        col_widths=(14, 100, 60),
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        text_align=(Align.L, Align.L, Align.L),
        v_align="TOP",
        line_height=LINE_HEIGHT,
        padding=1.2,
    ) as table:
        for index, line in enumerate(report.criteria):
            bar, described, answer = _row(line, report.max_value)
            mark = None if report.peers is None else report.peers.marks[index]
            answer += f"\n{mark}" if mark else ""
            table.row([pdf.fit(text) for text in (bar, described, answer)])
    pdf.ln(1)
    # A table row cannot break across pages, and a comment and feedback together may run
    # longer than one: they follow the table, where paragraphs break anywhere.
    noted = [line for line in report.criteria if line.comment or line.feedback]
    if noted:
        _heading(pdf, _("Comments and feedback"))
    for line in noted:
        notes = []
        if line.comment:
            notes.append(_("Your comment: %(comment)s", comment=line.comment))
        if line.feedback:
            notes.append(_("Your mentor's feedback: %(feedback)s", feedback=line.feedback))
        _item(pdf, f"{line.number}. {line.title}", notes=notes)


def _row(line: CriterionLine, max_value: int) -> tuple[str, str, str]:
    """A criterion's row: its score as a bar, its title and novelty, its answer (and earlier
    one)."""
    bar = "·" * max_value
    if line.value is not None:
        bar = "■" * line.value + "□" * (max_value - line.value)
    described = [f"{line.number}. {line.title}"]
    if line.aspects:
        described.append(_("Novelty: %(kinds)s", kinds=", ".join(line.aspects)))
    answer = line.answer
    if line.changed and line.earlier_answer is not None:
        answer += " " + _("(was %(answer)s)", answer=line.earlier_answer)
    return bar, "\n".join(described), answer


def _heading(pdf: _Document, text: str) -> None:
    pdf.ln(3)
    _paragraph(pdf, text, "B", 13, ACCENT, 7)
    pdf.ln(1)


def _paragraph(
    pdf: _Document,
    text: str,
    style: str = "",
    size: float = BODY_SIZE,
    colour: tuple[int, int, int] = TEXT_COLOUR,
    height: float = LINE_HEIGHT,
) -> None:
    pdf.set_font(FAMILY, style, size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, height, pdf.fit(text), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _lead(pdf: _Document, title: str, text: str) -> None:
    """Write ``title`` in bold and ``text`` after it, flowing over lines from the left margin."""
    pdf.set_text_color(*TEXT_COLOUR)
    pdf.set_font(FAMILY, "B", BODY_SIZE)
    pdf.write(LINE_HEIGHT, pdf.fit(f"{title}: " if text else title))
    pdf.set_font(FAMILY, "", BODY_SIZE)
    if text:
        pdf.write(LINE_HEIGHT, pdf.fit(text))
    pdf.ln(LINE_HEIGHT)


def _item(
    pdf: _Document,
    title: str,
    text: str = "",
    *,
    notes: Sequence[str] = (),
    links: Sequence[str] = (),
) -> None:
    pdf.set_font(FAMILY, "", BODY_SIZE)
    pdf.set_text_color(*ACCENT)
    pdf.cell(BULLET_WIDTH, LINE_HEIGHT, "•")
    # The text hangs indented after the bullet, over every line of the item.
    left = pdf.l_margin
    pdf.set_left_margin(left + BULLET_WIDTH)
    _lead(pdf, title, text)
    for note in notes:
        _paragraph(pdf, note, colour=MUTED_COLOUR)
    pdf.set_font(FAMILY, "", BODY_SIZE - 1)
    pdf.set_text_color(20, 80, 160)
    for link in links:
        # An address has no spaces to break at.
        pdf.multi_cell(0, LINE_HEIGHT, link, align=Align.L, link=link, wrapmode=WrapMode.CHAR)
        pdf.set_x(pdf.l_margin)
    pdf.set_left_margin(left)
    pdf.set_x(left)
    pdf.ln(1.5)
