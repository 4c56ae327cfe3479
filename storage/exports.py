"""Answer logs and assessments for coordinators: CSV, JSON Lines and XLSX, streamed.

Synchronous code over a ``Connection`` of its own (``export_engine``), so an export runs in a
worker thread (bot) or directly (CLI) and never holds up the SQLite writer thread. Rows are
read with a server-side cursor and written as they come, so memory stays flat however many
rows there are, and a whole export reads one snapshot of the database.

Respondents appear as keyed pseudonyms (``storage.coordination.pseudonym``); their platform ids
only when asked for. Text that a spreadsheet would run as a formula is neutralised in CSV and
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
from functools import lru_cache, partial
from operator import itemgetter
from os import PathLike
from typing import IO, Any, Literal, TextIO, cast

from sqlalchemy import ColumnElement, create_engine, event, func, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import InstrumentedAttribute

from dialogs.content import Checklist, Content
from dialogs.i18n import use_language
from dialogs.report import answer_label
from dialogs.scoring import score
from storage.coordination import pseudonym, pseudonym_key
from storage.database import psycopg_url, tune_sqlite
from storage.models import Answer, AnswerLog, Assessment, Cohort, Respondent

Shape = Literal["answers", "assessments"]
Format = Literal["csv", "jsonl"]
Cell = str | int | float | None
Row = tuple[Cell, ...]
_Known = tuple[str, str | None, str | None, int, dict[int | None, str], tuple[str | None, ...]]
"""What an answer-log row takes from its assessment: pseudonym, cohort, country, checklist
version, value labels and identity."""

EXCEL_MAX_ROWS = 1_048_576
"""Rows on one Excel sheet, the header included; longer tables go on to further sheets."""
STREAM_BATCH = 2_000
"""Rows fetched from the server-side cursor at a time."""
ASSESSMENT_CACHE = 65_536
"""Assessments whose pseudonym, labels and safe text are remembered during an answer-log
export, so most rows skip the HMAC and the checks."""
PSEUDONYM_CACHE = 65_536
"""Respondents whose pseudonym is remembered during an assessments export."""
FORMULA_START = frozenset("=+-@\t\r\n")
"""First characters that make a spreadsheet read a text cell as a formula (OWASP)."""
IDENTITY_COLUMNS = ("platform", "platform_user_id")
ANSWER_COLUMNS = (
    "respondent",
    "assessment_id",
    "cohort",
    "country",
    "checklist_version",
    "criterion",
    "value",
    "value_label",
    "comment",
    "answered_at",
    "revision",
)
# Columns that may hold text from outside SI Check's own making: only they need a look for
# formula characters (the pseudonym and the timestamps are SI Check's own).
_ANSWER_TEXT = (2, 3, 5, 7, 8, 11, 12)
_COLUMN_WIDTHS = {
    "respondent": 19,
    "comment": 60,
    "value_label": 24,
    "answered_at": 21,
    "started_at": 21,
    "completed_at": 21,
    "platform_user_id": 16,
}


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
class Table:
    """A header and the rows under it, read lazily: the query runs when ``rows`` is iterated."""

    header: tuple[str, ...]
    rows: Iterator[Row]
    text_columns: tuple[int, ...] | None = None
    """The columns whose text may start like a formula: ``None`` for any column, ``()`` for
    none (the text was neutralised as the rows were made)."""
    float_columns: tuple[int, ...] | None = None
    """The columns that may hold floats; ``None`` for any column."""


# Reading


def _utc(moment: datetime) -> datetime:
    # SQLite stores the UTC wall time without its offset, so a bound must be UTC too.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second; SQLite hands back naive UTC, PostgreSQL aware times."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def _safe(text: str | None) -> str | None:
    return None if text is None else neutralise(text)


def _same(text: str | None) -> str | None:
    return text


def _iso_text(connection: Connection, column: InstrumentedAttribute[datetime]) -> Any:
    """``column`` as the database writes it in ISO 8601 UTC, so rows skip the datetime."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # SQLAlchemy keeps UTC wall time as text; strftime reads it and drops the fraction.
        return func.strftime("%Y-%m-%dT%H:%M:%SZ", column)
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return column  # formatted row by row instead


def _conditions(
    export_filter: ExportFilter, moment: InstrumentedAttribute[datetime]
) -> list[ColumnElement[bool]]:
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
    return conditions


def _pseudonyms(key: bytes) -> Callable[[str, str], str]:
    # Bounded, so a huge export stays in constant memory while most rows skip the HMAC.
    return lru_cache(maxsize=PSEUDONYM_CACHE)(partial(pseudonym, key))


def _labels(checklist: Checklist, language: str, neutralised: bool) -> dict[int | None, str]:
    with use_language(language):
        labels: dict[int | None, str] = {None: answer_label(checklist, None)}
        for level in checklist.scale:
            labels[level.value] = answer_label(checklist, level.value)
    if neutralised:
        return {value: neutralise(label) for value, label in labels.items()}
    return labels


def answers_table(
    connection: Connection,
    content: Content,
    *,
    key: bytes,
    export_filter: ExportFilter = ExportFilter(),
    language: str = "en",
    include_identities: bool = False,
    neutralised: bool = False,
) -> Table:
    """The answer log in long form: one row per answer given or changed, oldest first."""
    # ``neutralised`` makes the rows spreadsheet-safe as they are made, which spares the CSV
    # writer a second pass over every row.
    header = ANSWER_COLUMNS + (IDENTITY_COLUMNS if include_identities else ())
    statement = (
        select(
            Respondent.platform,
            Respondent.external_id,
            AnswerLog.assessment_id,
            Cohort.code,
            Assessment.country,
            Assessment.checklist_version,
            AnswerLog.criterion,
            AnswerLog.value,
            AnswerLog.comment,
            _iso_text(connection, AnswerLog.at),
            AnswerLog.revision,
        )
        .select_from(AnswerLog)
        .join(Assessment, Assessment.id == AnswerLog.assessment_id)
        .join(Respondent, Respondent.id == Assessment.respondent_id)
        .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
        .where(*_conditions(export_filter, AnswerLog.at))
        .order_by(AnswerLog.id)
        .execution_options(stream_results=True, yield_per=STREAM_BATCH)
    )

    def assessment(
        platform: str, external_id: str, cohort: str | None, country: str | None, version: int
    ) -> _Known:
        labels = _labels(content.checklist(version), language, neutralised)
        text = _safe if neutralised else _same
        identity = (text(platform), text(external_id)) if include_identities else ()
        name = pseudonym(key, platform, external_id)
        return name, text(cohort), text(country), version, labels, identity

    def rows() -> Iterator[Row]:
        known: dict[int, _Known] = {}
        formula = FORMULA_START
        with connection.execute(statement) as result:
            # The hot loop of a million-row export: a batch at a time, what belongs to the
            # assessment worked out once per assessment, and no function call per cell.
            for batch in result.partitions():
                for (
                    platform,
                    external_id,
                    assessment_id,
                    cohort,
                    country,
                    version,
                    criterion,
                    value,
                    comment,
                    at,
                    revision,
                ) in batch:
                    found = known.get(assessment_id)
                    if found is None:
                        if len(known) >= ASSESSMENT_CACHE:  # bounded: constant memory
                            known.clear()
                        found = known[assessment_id] = assessment(
                            platform, external_id, cohort, country, version
                        )
                    name, cohort, country, version, labels, identity = found
                    if at.__class__ is not str:
                        at = _iso(at)
                    if neutralised:
                        if comment and comment[0] in formula:
                            comment = "'" + comment
                        if criterion[:1] in formula:
                            criterion = "'" + criterion
                    row: Row = (
                        name,
                        assessment_id,
                        cohort,
                        country,
                        version,
                        criterion,
                        value,
                        labels.get(value),
                        comment,
                        at,
                        revision,
                    )
                    yield (*row, *identity) if identity else row

    text = _ANSWER_TEXT if include_identities else _ANSWER_TEXT[:-2]
    return Table(header, rows(), () if neutralised else text, ())


def criterion_codes(content: Content) -> tuple[str, ...]:
    """The criterion columns of the wide form: the latest checklist's, then older ones'."""
    codes = [criterion.code for criterion in content.latest.criteria]
    older = {
        criterion.code
        for checklist in content.checklists.values()
        for criterion in checklist.criteria
    }
    return (*codes, *sorted(older - set(codes)))


def assessments_table(
    connection: Connection,
    content: Content,
    *,
    key: bytes,
    export_filter: ExportFilter = ExportFilter(),
    include_identities: bool = False,
    neutralised: bool = False,
) -> Table:
    """The assessments in wide form: one row each, with current answers, score and timing."""
    codes = criterion_codes(content)
    header = (
        "respondent",
        "assessment_id",
        "cohort",
        "country",
        "checklist_version",
        *codes,
        "overall_percent",
        "band",
        "status",
        "started_at",
        "completed_at",
        "duration_seconds",
        *(IDENTITY_COLUMNS if include_identities else ()),
    )
    after_codes = 5 + len(codes)
    text_columns: tuple[int, ...] = (2, 3, after_codes + 1, after_codes + 2)
    if include_identities:
        text_columns += (len(header) - 2, len(header) - 1)
    # Assessments joined to their answers, each assessment's rows together: grouped as they
    # stream, so no assessment's answers are ever looked up one by one.
    statement = (
        select(
            Assessment.id,
            Respondent.platform,
            Respondent.external_id,
            Cohort.code,
            Assessment.country,
            Assessment.checklist_version,
            Assessment.status,
            Assessment.started_at,
            Assessment.completed_at,
            Answer.criterion,
            Answer.value,
        )
        .select_from(Assessment)
        .join(Respondent, Respondent.id == Assessment.respondent_id)
        .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
        .outerjoin(Answer, Answer.assessment_id == Assessment.id)
        .where(*_conditions(export_filter, Assessment.started_at))
        .order_by(Assessment.id, Answer.criterion)
        .execution_options(stream_results=True, yield_per=STREAM_BATCH)
    )

    def wide(first: Any, answers: dict[str, int | None], name: Callable[[str, str], str]) -> Row:
        result = score(content.checklist(first.checklist_version), answers)
        percent = result.percent
        started, completed = first.started_at, first.completed_at
        duration = (
            None
            if started is None or completed is None
            else round((completed - started).total_seconds())
        )
        text = _safe if neutralised else _same
        row: Row = (
            name(first.platform, first.external_id),
            first.id,
            text(first.code),
            text(first.country),
            first.checklist_version,
            *(answers.get(code) for code in codes),
            None if percent is None else round(percent, 1),
            None if result.band is None else text(result.band.code),
            text(first.status),
            _iso(started),
            _iso(completed),
            duration,
        )
        if include_identities:
            return (*row, text(first.platform), text(first.external_id))
        return row

    def rows() -> Iterator[Row]:
        name = _pseudonyms(key)
        first: Any = None
        answers: dict[str, int | None] = {}
        with connection.execute(statement) as result:
            for row in result:
                if first is None or row.id != first.id:
                    if first is not None:
                        yield wide(first, answers, name)
                    first, answers = row, {}
                if row.criterion is not None:
                    answers[row.criterion] = row.value
        if first is not None:
            yield wide(first, answers, name)

    return Table(header, rows(), () if neutralised else text_columns, (after_codes,))


def table(
    connection: Connection,
    content: Content,
    shape: Shape,
    *,
    key: bytes,
    export_filter: ExportFilter = ExportFilter(),
    language: str = "en",
    include_identities: bool = False,
    neutralised: bool = False,
) -> Table:
    """The table of one shape: ``answers`` (the log) or ``assessments``."""
    if shape == "answers":
        return answers_table(
            connection,
            content,
            key=key,
            export_filter=export_filter,
            language=language,
            include_identities=include_identities,
            neutralised=neutralised,
        )
    if shape == "assessments":
        return assessments_table(
            connection,
            content,
            key=key,
            export_filter=export_filter,
            include_identities=include_identities,
            neutralised=neutralised,
        )
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
    sqlite = connection.dialect.name == "sqlite"
    # The key may be made on first use: that write gets its own short transaction, so the
    # snapshot itself only reads (an SQLite reader that starts writing can fail to upgrade).
    with connection.begin():
        if sqlite:
            _begin_sqlite(connection)
        key = given or pseudonym_key(connection)
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        # Read committed would let every statement (and so the two sheets) see a different
        # moment; repeatable read holds the first statement's snapshot to the end.
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    try:
        with connection.begin():
            if sqlite:
                # In WAL mode one read transaction is one snapshot, so the transaction must
                # really be open in SQLite, not just in SQLAlchemy.
                _begin_sqlite(connection)
            yield key
    finally:
        if postgresql:
            connection.execution_options(
                isolation_level=connection.default_isolation_level, postgresql_readonly=False
            )


def _begin_sqlite(connection: Connection) -> None:
    # Python's sqlite3 only begins transactions before writes, so plain SELECTs would each
    # read their own moment; ``export_engine`` connections have begun already.
    dbapi = connection.connection.dbapi_connection
    if dbapi is not None and not getattr(dbapi, "in_transaction", True):
        connection.exec_driver_sql("BEGIN")


# Writing


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: formula starts get a quote."""
    return "'" + text if text[:1] in FORMULA_START else text


def _close(rows: Iterable[Row]) -> None:
    # A generator left half-read would keep its cursor open until garbage collection.
    close = getattr(rows, "close", None)
    if close is not None:
        close()


@contextmanager
def _text_stream(out: IO[bytes] | IO[str]) -> Iterator[TextIO]:
    if isinstance(out, io.TextIOBase):
        yield cast(TextIO, out)
        out.flush()
        return
    wrapper = io.TextIOWrapper(cast(IO[bytes], out), encoding="utf-8", newline="")
    try:
        yield wrapper
        wrapper.flush()
    finally:
        # Detached, the wrapper leaves the caller's stream open when it is collected.
        wrapper.detach()


def _csv_rows(
    rows: Iterable[Row],
    text_columns: Sequence[int],
    float_columns: Sequence[int],
    counted: list[int],
) -> Iterator[Sequence[Cell]]:
    decimal_comma = bool(float_columns)
    number = 0
    try:
        for row in rows:
            number += 1
            for column in text_columns:
                cell = row[column]
                if isinstance(cell, str) and cell[:1] in FORMULA_START:
                    break
            else:
                for column in float_columns:
                    if isinstance(row[column], float):
                        break
                else:
                    yield row
                    continue
            yield [_csv_cell(cell, decimal_comma) for cell in row]
    finally:
        counted.append(number)


def _csv_cell(cell: Cell, decimal_comma: bool) -> Cell:
    if isinstance(cell, str):
        return neutralise(cell)
    if decimal_comma and isinstance(cell, float):
        # Excel in a locale that separates with ";" reads "66.7" as a date or text.
        return repr(cell).replace(".", ",")
    return cell


def write_csv(
    header: Sequence[str],
    rows: Iterable[Row],
    out: IO[bytes] | IO[str],
    *,
    excel: bool = False,
    text_columns: Sequence[int] | None = None,
    float_columns: Sequence[int] | None = None,
) -> int:
    """Write a CSV file (UTF-8; for Excel: with a BOM, ``;`` and decimal commas); rows written."""
    every = range(len(header))
    checked = every if text_columns is None else text_columns
    decimals = (every if float_columns is None else float_columns) if excel else ()
    try:
        with _text_stream(out) as text:
            if excel:
                text.write("\ufeff")
            writer = csv.writer(text, delimiter=";" if excel else ",", lineterminator="\r\n")
            writer.writerow([neutralise(name) for name in header])
            if checked or decimals:
                counted: list[int] = []
                writer.writerows(_csv_rows(rows, checked, decimals, counted))
                return counted[0]
            # Nothing to change: the rows go to the C writer as they are. zip() takes a row
            # before a number, so the counter stops at the number of rows written.
            count = itertools.count()
            writer.writerows(map(itemgetter(0), zip(rows, count, strict=False)))
            return next(count)
    finally:
        _close(rows)


def write_jsonl(header: Sequence[str], rows: Iterable[Row], out: IO[bytes] | IO[str]) -> int:
    """Write JSON Lines, one object per row keyed by the header; rows written."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    number = 0
    try:
        with _text_stream(out) as text:
            write = text.write
            for row in rows:
                write(encode(dict(zip(header, row, strict=True))))
                write("\n")
                number += 1
    finally:
        _close(rows)
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
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
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


def _new_sheet(workbook: Any, name: str, header: Sequence[str], bold: Any) -> Any:
    sheet = workbook.add_worksheet(name)
    for column, title in enumerate(header):
        sheet.write_string(0, column, neutralise(title), bold)
        width = _COLUMN_WIDTHS.get(title)
        if width is not None:
            sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)
    return sheet


def _write_sheets(workbook: Any, name: str, each: Table, bold: Any, sheet_rows: int) -> int:
    header = each.header
    sheet = _new_sheet(workbook, name, header, bold)
    sheets = 1
    line = 0
    number = 0
    formula = FORMULA_START
    # XlsxWriter's undecorated writers: the public ones first parse "A1" cell references,
    # a tenth of the time of a million-row sheet.
    write_string = getattr(sheet, "_write_string", sheet.write_string)
    write_number = getattr(sheet, "_write_number", sheet.write_number)
    for row in each.rows:
        line += 1
        if line == sheet_rows:
            sheets += 1
            sheet = _new_sheet(workbook, f"{name} ({sheets})", header, bold)
            write_string = getattr(sheet, "_write_string", sheet.write_string)
            write_number = getattr(sheet, "_write_number", sheet.write_number)
            line = 1
        number += 1
        for column, cell in enumerate(row):
            if cell is None:
                continue
            kind = cell.__class__
            if kind is str:
                text = cast(str, cell)
                # write_string never parses a formula; the quote keeps it inert when the
                # sheet is saved again as CSV.
                write_string(line, column, "'" + text if text[:1] in formula else text)
            elif kind is int or kind is float:
                write_number(line, column, cell)
            elif kind is bool:
                sheet.write_boolean(line, column, cell)
            else:
                write_string(line, column, neutralise(str(cell)))
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
    include_identities: bool = False,
    excel: bool = False,
    key: bytes | None = None,
) -> int:
    """Export one shape as CSV or JSON Lines to ``out`` from one snapshot; rows written."""
    if shape not in ("answers", "assessments"):
        raise ValueError(f"unknown export shape {shape!r}")
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}")
    with snapshot(connection, key) as key:
        chosen = table(
            connection,
            content,
            shape,
            key=key,
            export_filter=filter,
            language=language,
            include_identities=include_identities,
            neutralised=fmt == "csv",  # JSON Lines is data: its text stays as it was given
        )
        if fmt == "jsonl":
            return write_jsonl(chosen.header, chosen.rows, out)
        return write_csv(
            chosen.header,
            chosen.rows,
            out,
            excel=excel,
            text_columns=chosen.text_columns,
            float_columns=chosen.float_columns,
        )


def export_xlsx(
    connection: Connection,
    content: Content,
    path: str | PathLike[str],
    *,
    filter: ExportFilter = ExportFilter(),
    language: str = "en",
    include_identities: bool = False,
    sheet_rows: int = EXCEL_MAX_ROWS,
    key: bytes | None = None,
) -> dict[str, int]:
    """Write both shapes to one workbook at ``path`` from one snapshot; rows per shape."""
    with snapshot(connection, key) as key:
        return write_xlsx(
            path,
            (
                (
                    "answers",
                    answers_table(
                        connection,
                        content,
                        key=key,
                        export_filter=filter,
                        language=language,
                        include_identities=include_identities,
                    ),
                ),
                (
                    "assessments",
                    assessments_table(
                        connection,
                        content,
                        key=key,
                        export_filter=filter,
                        include_identities=include_identities,
                    ),
                ),
            ),
            sheet_rows=sheet_rows,
        )


def export_engine(database_url: str) -> Engine:
    """A synchronous engine for exports on the database of the app's (async) URL."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url.set(drivername="sqlite"), hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, record: Any) -> None:
            # SQLAlchemy then emits BEGIN itself (below), so reads run in a real transaction.
            dbapi_connection.isolation_level = None
            tune_sqlite(dbapi_connection, record)

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN")

        return engine
    if backend == "postgresql":
        url = psycopg_url(url)
        return create_engine(
            url, pool_pre_ping=True, pool_size=2, max_overflow=2, hide_parameters=True
        )
    return create_engine(url, hide_parameters=True)
