"""Answer logs and assessments for coordinators: CSV, JSON Lines and XLSX, streamed.

Synchronous, on a ``Connection`` of its own (``export_engine``), so an export never holds up
the store's writer. Rows stream from a server-side cursor to the file, so memory stays flat,
and a whole export reads one snapshot. Respondents appear as keyed pseudonyms, their platform
ids only when asked for. Text a spreadsheet would run as a formula is neutralised in CSV and
XLSX (OWASP "CSV injection", CWE-1236); JSON Lines carries the data as it is.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from os import PathLike
from typing import IO, Any, Literal, TextIO, cast

from sqlalchemy import ColumnElement, Text, func, join, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import InstrumentedAttribute

from dialogs.content import Checklist, Content
from dialogs.i18n import N_, _, use_language
from dialogs.report import answer_label, country_name
from dialogs.scoring import score
from storage.coordination import pseudonym, pseudonym_key
from storage.database import create_engine
from storage.models import Answer, AnswerLog, Assessment, Cohort, Respondent
from storage.stats import OTHER_COUNTRY, country_key

Shape = Literal["answers", "assessments"]
Format = Literal["csv", "jsonl"]
Names = Literal["labels", "codes"]
"""Column names and coded values as words in the export's language, or as stable codes."""
Dates = Literal["text", "datetime"]
"""Times as ISO 8601 UTC text (CSV, JSON Lines), or as naive UTC datetimes (XLSX cells)."""
Cell = str | int | float | datetime | None
Row = tuple[Cell, ...]

EXCEL_MAX_ROWS = 1_048_576
"""Rows on one Excel sheet, the header included; longer tables go on to further sheets."""
STREAM_BATCH = 2_000
"""Rows fetched from the server-side cursor at a time."""
ASSESSMENT_CACHE = 65_536
"""Assessments whose cells are remembered during an answer-log export, so most rows skip the
pseudonym's HMAC and the labels."""
FORMULA_START = frozenset("=+-@\t\r\n")
"""First characters that make a spreadsheet read a text cell as a formula (OWASP)."""
NOT_APPLICABLE_CELL = "n/a"
"""An answer of "not applicable"; a criterion not answered is an empty cell."""
LIST_SEPARATOR = "; "
"""Between the target groups, themes or kinds of novelty of one cell."""
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""How a workbook shows its date cells (UTC)."""
_KEY_PART = {
    "respondent": (N_("Respondent"), 19),
    "assessment_id": (N_("Assessment"), None),
    "cohort": (N_("Cohort"), None),
    "country": (N_("Country"), None),
    "checklist_version": (N_("Checklist version"), None),
    "practice_name": (N_("Practice"), 30),
    "organisation": (N_("Organisation"), 24),
}
_PROFILE_PART = {"target_groups": (N_("Target groups"), 30), "themes": (N_("Themes"), 30)}
_ANSWER_PART = {
    "criterion": (N_("Criterion"), None),
    "criterion_title": (N_("Criterion title"), 36),
    "value": (N_("Answer"), None),
    "value_label": (N_("Answer in words"), 24),
    "aspects": (N_("Kinds of novelty"), 30),
    "comment": (N_("Comment"), 60),
    "answered_at": (N_("Answered (UTC)"), 20),
    "revision": (N_("Revision"), None),
}
_RESULT_PART = {
    "overall_percent": (N_("Overall %"), None),
    "band": (N_("Stage"), None),
    "status": (N_("Status"), None),
    "started_at": (N_("Started (UTC)"), 20),
    "completed_at": (N_("Completed (UTC)"), 20),
    "duration_seconds": (N_("Duration (seconds)"), None),
}
_IDENTITY_PART = {
    "platform": (N_("Platform"), None),
    "platform_user_id": (N_("Platform user id"), 16),
}
COLUMNS = {**_KEY_PART, **_PROFILE_PART, **_ANSWER_PART, **_RESULT_PART, **_IDENTITY_PART}
"""Each column's code (as in ``codes`` naming), its name in ``labels`` naming (translated into
the export's language) and its width on a sheet (``None``: the default)."""
ASSESSMENT_KEY_COLUMNS = tuple(_KEY_PART)
"""The columns that say whose assessment of which practice a row belongs to."""
ANSWER_COLUMNS = (*_KEY_PART, *_ANSWER_PART)
PROFILE_COLUMNS = (*_KEY_PART, *_PROFILE_PART)
RESULT_COLUMNS = tuple(_RESULT_PART)
IDENTITY_COLUMNS = tuple(_IDENTITY_PART)
COLUMN_LABELS = {column: label for column, (label, _width) in COLUMNS.items()}
STATUS_LABELS = {
    "active": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "declined": N_("Declined"),
}
_KEY = (
    Respondent.platform,
    Respondent.external_id,
    Assessment.id.label("assessment_id"),
    Cohort.code.label("cohort"),
    country_key().label("country"),
    Assessment.checklist_version,
    Assessment.practice_name,
    Assessment.organisation,
)
"""What every row reads of its assessment, first and in this order."""


@dataclass(frozen=True)
class ExportFilter:
    """Which rows an export holds; every condition given must hold."""

    since: datetime | None = None
    """Inclusive; on the answer's time in the answer log, on ``started_at`` for assessments.
    A naive datetime is taken as UTC."""
    until: datetime | None = None
    """Exclusive, like ``since``."""
    cohort: str | None = None
    """A cohort's invitation code."""
    country: str | None = None
    """ISO 3166 alpha-2."""
    checklist_version: int | None = None
    completed_only: bool = False


@dataclass(frozen=True)
class Options:
    """How one table is read and written."""

    key: bytes
    """The pseudonym key (see ``snapshot``)."""
    export_filter: ExportFilter = ExportFilter()
    language: str = "en"
    names: Names = "labels"
    dates: Dates = "text"
    include_identities: bool = False
    neutralised: bool = False
    """Whether text is made spreadsheet-safe as the rows are made (CSV, XLSX)."""


@dataclass(frozen=True)
class Table:
    """A header and the rows under it, read lazily: the query runs when ``rows`` is iterated."""

    header: tuple[str, ...]
    rows: Iterator[Row]
    columns: tuple[str, ...] = ()
    """The columns' codes (as in ``codes`` naming), whatever the header says."""
    neutralised: bool = False
    """Whether the rows' text is spreadsheet-safe already, so writers need not check it."""


@dataclass(frozen=True)
class _Words:
    """An export's coded values in its language, worked out once per checklist version."""

    titles: dict[str, str]
    values: dict[int | None, str]
    aspects: dict[str, str]
    groups: dict[str, str]
    themes: dict[str, str]
    bands: dict[str, str]
    statuses: dict[str, str]


def _same(text: Any) -> Any:
    return text


class _Cells:
    """What the rows of one table share, each worked out once: words and countries."""

    def __init__(self, content: Content, options: Options) -> None:
        self.content = content
        self.options = options
        self.text: Callable[[Any], Any] = _safe if options.neutralised else _same
        with use_language(options.language):
            self.words = {v: self._words(c) for v, c in content.checklists.items()}
        self.countries: dict[str | None, str | None] = {}

    def _words(self, checklist: Checklist) -> _Words:
        text, codes = self.text, self.options.names == "codes"

        def named(items: Iterable[Any]) -> dict[str, str]:
            return {item.code: item.code if codes else text(_(item.label)) for item in items}

        taxonomy = checklist.knowledge.taxonomy
        return _Words(
            titles={c.code: text(_(c.title)) for c in checklist.criteria},
            values={v: text(answer_label(checklist, v)) for v in (None, 0, 1, 2, 3)},
            aspects=named(aspect for c in checklist.criteria for aspect in c.aspects),
            groups=named(taxonomy.target_groups),
            themes=named(taxonomy.themes),
            bands=named(checklist.bands),
            statuses={
                code: code if codes else text(_(label)) for code, label in STATUS_LABELS.items()
            },
        )

    def assessment(self, row: Any) -> tuple[tuple[Cell, ...], _Words, tuple[Cell, ...]]:
        """Of a row read with ``_KEY``: its ``ASSESSMENT_KEY_COLUMNS``, its checklist's words
        and its ``IDENTITY_COLUMNS`` (if the export has them)."""
        text, country = self.text, row.country
        if country not in self.countries:
            shown = country
            if country is not None and self.options.names == "labels":
                with use_language(self.options.language):
                    shown = country_name(None if country == OTHER_COUNTRY else country)
            self.countries[country] = text(shown)
        key = (
            pseudonym(self.options.key, row.platform, row.external_id),
            row.assessment_id,
            text(row.cohort),
            self.countries[country],
            row.checklist_version,
            text(row.practice_name),
            text(row.organisation),
        )
        identity: tuple[Cell, ...] = ()
        if self.options.include_identities:
            identity = (text(row.platform), text(row.external_id))
        return key, self.words[row.checklist_version], identity

    def table(self, columns: Sequence[str], rows: Iterator[Row]) -> Table:
        """The table of ``rows`` under ``columns`` (and the identities, if asked for)."""
        columns = (*columns, *(IDENTITY_COLUMNS if self.options.include_identities else ()))
        header = columns
        if self.options.names == "labels":
            with use_language(self.options.language):
                header = tuple(_label(column, self.content.latest) for column in columns)
        return Table(header, rows, columns, self.options.neutralised)


def _label(column: str, checklist: Checklist) -> str:
    if column in COLUMN_LABELS:
        return _(COLUMN_LABELS[column])
    code, _sep, part = column.partition("_")
    if part == "comment":
        return _("%(code)s comment", code=code)
    if part == "aspects":
        return _("%(code)s kinds of novelty", code=code)
    try:
        return f"{code} {_(checklist.criterion(code).title)}"
    except KeyError:  # a criterion only an older checklist version had
        return f"{code} {code}"


def _joined(codes: Sequence[str] | None, names: dict[str, str]) -> str | None:
    if not codes:
        return None
    return LIST_SEPARATOR.join(names.get(code, code) for code in codes)


# Reading


def _utc(moment: datetime) -> datetime:
    # SQLite stores the UTC wall time without its offset, so a bound must be UTC too.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime | None) -> datetime | None:
    """Naive UTC to the second, as a workbook's date cell takes it (SQLite hands back naive
    UTC, PostgreSQL aware times)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second."""
    naive = _naive(moment)
    return None if naive is None else naive.isoformat() + "Z"


def _safe(text: str | None) -> str | None:
    return None if text is None else neutralise(text)


def _iso_text(connection: Connection, column: InstrumentedAttribute[datetime]) -> Any:
    """``column`` as the database writes it in ISO 8601 UTC, so rows skip the datetime."""
    if connection.dialect.name == "sqlite":
        # SQLAlchemy keeps UTC wall time as text; strftime reads it and drops the fraction.
        return func.strftime("%Y-%m-%dT%H:%M:%SZ", column)
    return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')


def _statement(
    source: Any, columns: Sequence[Any], moment: Any, export_filter: ExportFilter
) -> Any:
    """``_KEY`` and ``columns`` of the rows of ``source`` that ``export_filter`` chooses."""
    conditions: list[ColumnElement[bool]] = []
    if export_filter.since is not None:
        conditions.append(moment >= _utc(export_filter.since))
    if export_filter.until is not None:
        conditions.append(moment < _utc(export_filter.until))
    if export_filter.cohort is not None:
        conditions.append(Cohort.code == export_filter.cohort)
    if export_filter.country is not None:
        conditions.append(Assessment.country == export_filter.country.upper())
    if export_filter.checklist_version is not None:
        conditions.append(Assessment.checklist_version == export_filter.checklist_version)
    if export_filter.completed_only:
        conditions.append(Assessment.status == "completed")
    return (
        select(*_KEY, *columns)
        .select_from(source)
        .join(Respondent, Respondent.id == Assessment.respondent_id)
        .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
        .where(*conditions)
        .execution_options(stream_results=True, yield_per=STREAM_BATCH)
    )


def answers_table(connection: Connection, content: Content, options: Options) -> Table:
    """The answer log in long form: one row per answer given or changed, oldest first."""
    statement = _statement(
        join(AnswerLog, Assessment, Assessment.id == AnswerLog.assessment_id),
        (
            AnswerLog.criterion,
            AnswerLog.value,
            # As text: most rows have none, and decoding "[]" a million times costs more than
            # the rest of the row.
            AnswerLog.aspects.cast(Text),
            AnswerLog.comment,
            _iso_text(connection, AnswerLog.at) if options.dates == "text" else AnswerLog.at,
            AnswerLog.revision,
        ),
        AnswerLog.at,
        options.export_filter,
    ).order_by(AnswerLog.id)
    cells = _Cells(content, options)

    def rows() -> Iterator[Row]:
        known: dict[int, tuple[Any, ...]] = {}
        formula = FORMULA_START if options.neutralised else frozenset()
        as_text = options.dates == "text"
        with connection.execute(statement) as result:
            # The hot loop of a million-row export: what belongs to the assessment is worked
            # out once per assessment, and no function is called per cell.
            for batch in result.partitions():
                for found in batch:
                    criterion, value, aspects, comment, at, revision = found[8:]
                    cached = known.get(found[2])
                    if cached is None:
                        if len(known) >= ASSESSMENT_CACHE:  # bounded: constant memory
                            known.clear()
                        cached = known[found[2]] = cells.assessment(found)
                    key, words, identity = cached
                    if comment and comment[0] in formula:
                        comment = "'" + comment
                    if criterion[:1] in formula:
                        criterion = "'" + criterion
                    yield (
                        *key,
                        criterion,
                        words.titles.get(criterion, criterion),
                        NOT_APPLICABLE_CELL if value is None else value,
                        words.values.get(value),
                        _joined(json.loads(aspects), words.aspects)
                        if aspects and aspects != "[]"
                        else None,
                        comment,
                        at if as_text else _naive(at),
                        revision,
                        *identity,
                    )

    return cells.table(ANSWER_COLUMNS, rows())


def criterion_columns(content: Content) -> tuple[str, ...]:
    """Each criterion's columns in the wide form, the latest checklist's criteria first, then
    older ones': its answer, its kinds of novelty (if it has any), its comment."""
    every = [c for checklist in content.checklists.values() for c in checklist.criteria]
    latest = [criterion.code for criterion in content.latest.criteria]
    with_aspects = {criterion.code for criterion in every if criterion.aspects}
    columns: list[str] = []
    for code in (*latest, *sorted({c.code for c in every} - set(latest))):
        aspects = (f"{code}_aspects",) if code in with_aspects else ()
        columns += (code, *aspects, f"{code}_comment")
    return tuple(columns)


def assessments_table(connection: Connection, content: Content, options: Options) -> Table:
    """The assessments in wide form: one row each, with profile, answers, score and timing."""
    criteria = criterion_columns(content)
    per_criterion = [column.partition("_")[::2] for column in criteria]
    # Assessments joined to their answers, each assessment's rows together: grouped as they
    # stream, so no assessment's answers are ever looked up one by one.
    statement = (
        _statement(
            Assessment,
            (
                Assessment.target_groups,
                Assessment.themes,
                Assessment.status,
                Assessment.started_at,
                Assessment.completed_at,
                Answer.criterion,
                Answer.value,
                Answer.aspects,
                Answer.comment,
            ),
            Assessment.started_at,
            options.export_filter,
        )
        .outerjoin(Answer, Answer.assessment_id == Assessment.id)
        .order_by(Assessment.id, Answer.criterion)
    )
    cells = _Cells(content, options)
    text = cells.text
    moment = _iso if options.dates == "text" else _naive

    def wide(first: Any, answers: dict[str, Any]) -> Row:
        key, words, identity = cells.assessment(first)
        checklist = content.checklist(first.checklist_version)
        result = score(checklist, {code: answer.value for code, answer in answers.items()})
        started, completed = first.started_at, first.completed_at
        by_criterion: list[Cell] = []
        for code, part in per_criterion:
            answer = answers.get(code)
            if answer is None:
                by_criterion.append(None)
            elif not part:
                by_criterion.append(NOT_APPLICABLE_CELL if answer.value is None else answer.value)
            elif part == "aspects":
                by_criterion.append(_joined(answer.aspects, words.aspects))
            else:
                by_criterion.append(text(answer.comment))
        return (
            *key,
            _joined(first.target_groups, words.groups),
            _joined(first.themes, words.themes),
            *by_criterion,
            None if result.percent is None else round(result.percent, 1),
            None if result.band is None else words.bands.get(result.band.code),
            words.statuses.get(first.status, text(first.status)),
            moment(started),
            moment(completed),
            None if completed is None else round((completed - started).total_seconds()),
            *identity,
        )

    def rows() -> Iterator[Row]:
        with connection.execute(statement) as result:
            for _id, joined in itertools.groupby(result, key=itemgetter(2)):
                found = list(joined)
                answers = {row.criterion: row for row in found if row.criterion is not None}
                yield wide(found[0], answers)

    return cells.table((*PROFILE_COLUMNS, *criteria, *RESULT_COLUMNS), rows())


def table(connection: Connection, content: Content, shape: Shape, options: Options) -> Table:
    """The table of one shape: ``answers`` (the log) or ``assessments``."""
    if shape == "answers":
        return answers_table(connection, content, options)
    if shape == "assessments":
        return assessments_table(connection, content, options)
    raise ValueError(f"unknown export shape {shape!r}")


@contextmanager
def snapshot(connection: Connection, given: bytes | None = None) -> Iterator[bytes]:
    """Read one snapshot of the database in the block; yields the pseudonym key.

    ``given`` is the key from ``SICHECK_PSEUDONYM_KEY``; without it (tests, a console-only
    installation) the database's own key is used, made on first use.
    """
    if connection.in_transaction():
        # The caller's transaction is the snapshot (on PostgreSQL, begin it REPEATABLE READ).
        yield given or pseudonym_key(connection)
        return
    postgresql = connection.dialect.name == "postgresql"
    # The key may be made on first use: that write gets its own short transaction, so the
    # snapshot itself only reads (an SQLite reader that starts writing can fail to upgrade).
    with _transaction(connection):
        key = given or pseudonym_key(connection)
    if postgresql:
        # Read committed would let every statement (and so the two sheets) see a different
        # moment; repeatable read holds the first statement's snapshot to the end.
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    try:
        with _transaction(connection):
            yield key
    finally:
        if postgresql:
            connection.execution_options(
                isolation_level=connection.default_isolation_level, postgresql_readonly=False
            )


@contextmanager
def _transaction(connection: Connection) -> Iterator[None]:
    """A transaction open in SQLite too, not just in SQLAlchemy, so in WAL mode it reads one
    snapshot: Python's sqlite3 begins one only before a write (``export_engine``'s
    connections have begun already)."""
    with connection.begin():
        dbapi = connection.connection.dbapi_connection
        if connection.dialect.name == "sqlite" and not getattr(dbapi, "in_transaction", True):
            connection.exec_driver_sql("BEGIN")
        yield


# Writing


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: formula starts get a quote."""
    return "'" + text if text[:1] in FORMULA_START else text


def _inert(row: Row) -> Row:
    """``row`` with a quote before text a spreadsheet would run as a formula."""
    for cell in row:
        if isinstance(cell, str) and cell[:1] in FORMULA_START:
            return tuple(neutralise(c) if isinstance(c, str) else c for c in row)
    return row


def _decimal_commas(row: Row) -> Row:
    # Excel in a locale that separates with ";" reads "66.7" as a date or text.
    return tuple(repr(c).replace(".", ",") if isinstance(c, float) else c for c in row)


def _close(rows: Iterable[Row]) -> None:
    # A generator left half-read would keep its cursor open until garbage collection.
    close = getattr(rows, "close", None)
    if close is not None:
        close()


@contextmanager
def _text_stream(out: IO[bytes] | IO[str], rows: Iterable[Row]) -> Iterator[TextIO]:
    """``out`` as text; ``rows`` are closed after the block, however it ends."""
    wrapper = None
    try:
        if not isinstance(out, io.TextIOBase):
            wrapper = io.TextIOWrapper(cast(IO[bytes], out), encoding="utf-8", newline="")
        text = cast(TextIO, wrapper or out)
        yield text
        text.flush()
    finally:
        _close(rows)
        if wrapper is not None:
            # Detached, the wrapper leaves the caller's stream open when it is collected.
            wrapper.detach()


def write_csv(table: Table, out: IO[bytes] | IO[str], *, excel: bool = False) -> int:
    """Write a CSV file (UTF-8; for Excel: with a BOM, ``;`` and decimal commas); rows written.

    Formula text is quoted unless the rows were ``neutralised`` as they were made.
    """
    rows = table.rows
    cells = rows if table.neutralised else map(_inert, rows)
    with _text_stream(out, rows) as text:
        if excel:
            text.write("\ufeff")
            cells = map(_decimal_commas, cells)
        writer = csv.writer(text, delimiter=";" if excel else ",", lineterminator="\r\n")
        writer.writerow([neutralise(name) for name in table.header])
        # The rows go to the C writer as they come. zip() takes a row before a number, so the
        # counter stops at the number of rows written.
        count = itertools.count()
        writer.writerows(map(itemgetter(0), zip(cells, count, strict=False)))
        return next(count)


def write_jsonl(table: Table, out: IO[bytes] | IO[str]) -> int:
    """Write JSON Lines, one object per row keyed by the header; rows written."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    number = 0
    with _text_stream(out, table.rows) as text:
        for row in table.rows:
            text.write(encode(dict(zip(table.header, row, strict=True))) + "\n")
            number += 1
    return number


def write_xlsx(
    path: str | PathLike[str],
    tables: Iterable[tuple[str, Table]],
    *,
    sheet_rows: int = EXCEL_MAX_ROWS,
) -> dict[str, int]:
    """Write each table on its own sheets of one workbook; data rows written per table."""
    if sheet_rows < 2:  # a header and one row
        raise ValueError("a sheet must hold a header and at least one row")
    # Imported here: XlsxWriter holds 12 MB, which a bot that never exports should not carry.
    import xlsxwriter

    # Constant memory: each row goes to a temporary file as soon as the next one starts.
    # XlsxWriter removes those files only when the workbook is closed, so they go in a
    # directory of our own that goes away even when the export fails.
    with tempfile.TemporaryDirectory(
        prefix="sicheck-xlsx-", ignore_cleanup_errors=True
    ) as scratch:
        workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                # write() hands datetimes to write_datetime with this number format.
                "default_date_format": DATE_FORMAT,
            },
        )
        bold = workbook.add_format({"bold": True})
        written: dict[str, int] = {}
        for name, each in tables:
            try:
                written[name] = _write_sheets(workbook, name, each, bold, sheet_rows)
            finally:
                _close(each.rows)
        # Only closing writes the file: a failed export leaves no half-written workbook.
        workbook.close()
    return written


def _new_sheet(workbook: Any, name: str, each: Table, bold: Any) -> Any:
    sheet = workbook.add_worksheet(name)
    sheet.write_row(0, 0, [neutralise(title) for title in each.header], bold)
    for column, code in enumerate(each.columns or each.header):
        width = COLUMNS[code][1] if code in COLUMNS else None
        if code.endswith(("_aspects", "_comment")):  # a criterion's kinds of novelty or comment
            width = 30
        if width is not None:
            sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)
    return sheet


def _write_sheets(workbook: Any, name: str, each: Table, bold: Any, sheet_rows: int) -> int:
    sheet = _new_sheet(workbook, name, each, bold)
    sheets = 1
    line = number = 0
    rows = each.rows if each.neutralised else map(_inert, each.rows)
    for number, row in enumerate(rows, start=1):  # noqa: B007 (the count is returned)
        line += 1
        if line == sheet_rows:
            sheets += 1
            sheet = _new_sheet(workbook, f"{name} ({sheets})", each, bold)
            line = 1
        # write() (and so write_row) never parses a formula here (strings_to_formulas off);
        # the quote keeps formula text inert when the sheet is saved again as CSV.
        if sheet.write_row(line, 0, row):
            # write_row stops at a cell it could not write whole (text over Excel's 32,767
            # characters is cut): the rest of the row still goes in.
            for column, cell in enumerate(row):
                sheet.write(line, column, cell)
    return number


# Entry points


def export(
    connection: Connection,
    content: Content,
    *,
    shape: Shape,
    fmt: Format,
    out: IO[bytes] | IO[str],
    filter: ExportFilter = ExportFilter(),
    language: str = "en",
    names: Names | None = None,
    include_identities: bool = False,
    excel: bool = False,
    key: bytes | None = None,
) -> int:
    """Export one shape as CSV or JSON Lines to ``out`` from one snapshot; rows written.

    ``names`` defaults to ``labels`` for CSV and ``codes`` for JSON Lines, whose keys are data.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}")
    with snapshot(connection, key) as key:
        options = Options(
            key,
            filter,
            language,
            names or ("codes" if fmt == "jsonl" else "labels"),
            include_identities=include_identities,
            neutralised=fmt == "csv",  # JSON Lines is data: its text stays as it was given
        )
        made = table(connection, content, shape, options)
        if fmt == "jsonl":
            return write_jsonl(made, out)
        return write_csv(made, out, excel=excel)


def export_xlsx(
    connection: Connection,
    content: Content,
    path: str | PathLike[str],
    *,
    filter: ExportFilter = ExportFilter(),
    language: str = "en",
    names: Names = "labels",
    include_identities: bool = False,
    sheet_rows: int = EXCEL_MAX_ROWS,
    key: bytes | None = None,
) -> dict[str, int]:
    """Write both shapes to one workbook at ``path`` from one snapshot; rows per shape.

    Times are date cells (UTC); the rows are made spreadsheet-safe as they are read.
    """
    with snapshot(connection, key) as key:
        options = Options(key, filter, language, names, "datetime", include_identities, True)
        shapes: tuple[Shape, ...] = ("answers", "assessments")
        tables = [(shape, table(connection, content, shape, options)) for shape in shapes]
        return write_xlsx(path, tables, sheet_rows=sheet_rows)


def export_engine(database_url: str) -> Engine:
    """A synchronous engine of an export's own on the database of ``database_url``."""
    return create_engine(database_url)
