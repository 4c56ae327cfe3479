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
from functools import cache, lru_cache, partial
from operator import itemgetter
from os import PathLike
from typing import IO, Any, Literal, TextIO, cast

from sqlalchemy import ColumnElement, Text, create_engine, event, func, select, type_coerce
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import InstrumentedAttribute

from dialogs.content import Checklist, Content
from dialogs.i18n import N_, _, use_language
from dialogs.report import answer_label, country_name
from dialogs.scoring import score
from storage.coordination import pseudonym, pseudonym_key
from storage.database import psycopg_url, tune_sqlite
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
"""Assessments whose pseudonym, labels and safe text are remembered during an answer-log
export, so most rows skip the HMAC and the checks."""
PSEUDONYM_CACHE = 65_536
"""Respondents whose pseudonym is remembered during an assessments export."""
FORMULA_START = frozenset("=+-@\t\r\n")
"""First characters that make a spreadsheet read a text cell as a formula (OWASP)."""
NOT_APPLICABLE_CELL = "n/a"
"""An answer of "not applicable"; a criterion not answered is an empty cell."""
LIST_SEPARATOR = "; "
"""Between the target groups, themes or kinds of novelty of one cell."""
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
"""How a workbook shows its date cells (UTC)."""
IDENTITY_COLUMNS = ("platform", "platform_user_id")
ASSESSMENT_KEY_COLUMNS = (
    "respondent",
    "assessment_id",
    "cohort",
    "country",
    "checklist_version",
    "practice_name",
    "organisation",
)
"""The columns that say whose assessment of which practice a row belongs to."""
ANSWER_COLUMNS = (
    *ASSESSMENT_KEY_COLUMNS,
    "criterion",
    "criterion_title",
    "value",
    "value_label",
    "aspects",
    "comment",
    "answered_at",
    "revision",
)
"""The answer log's columns in ``codes`` naming."""
PROFILE_COLUMNS = (
    *ASSESSMENT_KEY_COLUMNS,
    "target_groups",
    "themes",
)
RESULT_COLUMNS = (
    "overall_percent",
    "band",
    "status",
    "started_at",
    "completed_at",
    "duration_seconds",
)
COLUMN_LABELS = {
    "respondent": N_("Respondent"),
    "assessment_id": N_("Assessment"),
    "cohort": N_("Cohort"),
    "country": N_("Country"),
    "checklist_version": N_("Checklist version"),
    "practice_name": N_("Practice"),
    "organisation": N_("Organisation"),
    "target_groups": N_("Target groups"),
    "themes": N_("Themes"),
    "criterion": N_("Criterion"),
    "criterion_title": N_("Criterion title"),
    "value": N_("Answer"),
    "value_label": N_("Answer in words"),
    "aspects": N_("Kinds of novelty"),
    "comment": N_("Comment"),
    "answered_at": N_("Answered (UTC)"),
    "revision": N_("Revision"),
    "overall_percent": N_("Overall %"),
    "band": N_("Stage"),
    "status": N_("Status"),
    "started_at": N_("Started (UTC)"),
    "completed_at": N_("Completed (UTC)"),
    "duration_seconds": N_("Duration (seconds)"),
    "platform": N_("Platform"),
    "platform_user_id": N_("Platform user id"),
}
"""Each column's name in ``labels`` naming, translated into the export's language."""
STATUS_LABELS = {
    "active": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
    "declined": N_("Declined"),
}
_COLUMN_WIDTHS = {
    "respondent": 19,
    "practice_name": 30,
    "organisation": 24,
    "target_groups": 30,
    "themes": 30,
    "criterion_title": 36,
    "comment": 60,
    "value_label": 24,
    "aspects": 30,
    "answered_at": 20,
    "started_at": 20,
    "completed_at": 20,
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
    columns: tuple[str, ...] = ()
    """The columns' codes (as in ``codes`` naming), whatever the header says."""


@dataclass(frozen=True)
class Wording:
    """How one export names its columns and coded values, in one language."""

    language: str = "en"
    names: Names = "labels"

    def header(self, columns: Sequence[str], content: Content) -> tuple[str, ...]:
        """The header of ``columns``: their codes, or their translated names."""
        if self.names == "codes":
            return tuple(columns)
        with use_language(self.language):
            return tuple(self._label(column, content.latest) for column in columns)

    def _label(self, column: str, checklist: Checklist) -> str:
        code, _sep, part = column.partition("_")
        if code in {criterion.code for criterion in checklist.criteria} or (
            len(code) == 3 and code[0] == "C" and code[1:].isdigit()
        ):
            title = _criterion_title(checklist, code)
            if part == "comment":
                return _("%(code)s comment", code=code)
            if part == "aspects":
                return _("%(code)s kinds of novelty", code=code)
            return f"{code} {title}"
        return _(COLUMN_LABELS[column])


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


def _criterion_title(checklist: Checklist, code: str) -> str:
    try:
        return _(checklist.criterion(code).title)
    except KeyError:  # a criterion only an older checklist version had
        return code


def _words(checklist: Checklist, wording: Wording, neutralised: bool) -> _Words:
    codes = wording.names == "codes"
    text = neutralise if neutralised else _same_text
    with use_language(wording.language):
        taxonomy = checklist.knowledge.taxonomy
        return _Words(
            titles={c.code: text(_(c.title)) for c in checklist.criteria},
            values={
                None: text(answer_label(checklist, None)),
                **{
                    level.value: text(answer_label(checklist, level.value))
                    for level in checklist.scale
                },
            },
            aspects={
                aspect.code: aspect.code if codes else text(_(aspect.label))
                for criterion in checklist.criteria
                for aspect in criterion.aspects
            },
            groups={g.code: g.code if codes else text(_(g.label)) for g in taxonomy.target_groups},
            themes={t.code: t.code if codes else text(_(t.label)) for t in taxonomy.themes},
            bands={b.code: b.code if codes else text(_(b.label)) for b in checklist.bands},
            statuses={
                code: code if codes else text(_(label)) for code, label in STATUS_LABELS.items()
            },
        )


def _same_text(text: str) -> str:
    return text


def _joined(codes: Sequence[str] | None, names: dict[str, str]) -> str | None:
    if not codes:
        return None
    return LIST_SEPARATOR.join(names.get(code, code) for code in codes)


def _listed(stored: str | list[str]) -> list[str]:
    """A JSON list as the database handed it: as text, or already decoded."""
    if isinstance(stored, str):
        return cast(list[str], json.loads(stored))
    return stored


def _country(country: str | None, wording: Wording) -> str | None:
    """An assessment's country cell: its code or name, "other", or empty if none recorded."""
    if country is None or wording.names == "codes":
        return country
    with use_language(wording.language):
        return country_name(None if country == OTHER_COUNTRY else country)


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


def _naive(moment: datetime | None) -> datetime | None:
    """Naive UTC to the second, as a workbook's date cell takes it."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


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


def answers_table(
    connection: Connection,
    content: Content,
    *,
    key: bytes,
    export_filter: ExportFilter = ExportFilter(),
    language: str = "en",
    names: Names = "labels",
    dates: Dates = "text",
    include_identities: bool = False,
    neutralised: bool = False,
) -> Table:
    """The answer log in long form: one row per answer given or changed, oldest first."""
    # ``neutralised`` makes the rows spreadsheet-safe as they are made, which spares the CSV
    # writer a second pass over every row.
    wording = Wording(language, names)
    columns = ANSWER_COLUMNS + (IDENTITY_COLUMNS if include_identities else ())
    statement = (
        select(
            Respondent.platform,
            Respondent.external_id,
            AnswerLog.assessment_id,
            Cohort.code,
            country_key(),
            Assessment.checklist_version,
            Assessment.practice_name,
            Assessment.organisation,
            AnswerLog.criterion,
            AnswerLog.value,
            # As stored: most rows have none, and decoding "[]" a million times costs more
            # than the rest of the row (a driver that decodes JSON itself hands a list).
            type_coerce(AnswerLog.aspects, Text),
            AnswerLog.comment,
            _iso_text(connection, AnswerLog.at) if dates == "text" else AnswerLog.at,
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
    versions: dict[int, _Words] = {}
    countries: dict[str | None, str | None] = {}
    text = _safe if neutralised else _same

    def assessment(first: Sequence[Any]) -> tuple[Any, ...]:
        platform, external_id, _id, cohort, country, version, practice, organisation = first[:8]
        words = versions.get(version)
        if words is None:
            words = versions[version] = _words(content.checklist(version), wording, neutralised)
        identity = (text(platform), text(external_id)) if include_identities else ()
        if country not in countries:
            countries[country] = text(_country(country, wording))
        return (
            pseudonym(key, platform, external_id),
            text(cohort),
            countries[country],
            version,
            text(practice),
            text(organisation),
            words,
            identity,
        )

    def rows() -> Iterator[Row]:
        known: dict[int, tuple[Any, ...]] = {}
        formula = FORMULA_START
        as_text = dates == "text"
        with connection.execute(statement) as result:
            # The hot loop of a million-row export: a batch at a time, what belongs to the
            # assessment worked out once per assessment, and no function call per cell.
            for batch in result.partitions():
                for found_row in batch:
                    (
                        assessment_id,
                        criterion,
                        value,
                        aspects,
                        comment,
                        at,
                        revision,
                    ) = found_row[2], *found_row[8:]
                    found = known.get(assessment_id)
                    if found is None:
                        if len(known) >= ASSESSMENT_CACHE:  # bounded: constant memory
                            known.clear()
                        found = known[assessment_id] = assessment(found_row)
                    name, cohort, country, version, practice, organisation, words, identity = found
                    if as_text:
                        if at.__class__ is not str:
                            at = _iso(at)
                    else:
                        at = _naive(at)
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
                        practice,
                        organisation,
                        criterion,
                        words.titles.get(criterion, criterion),
                        NOT_APPLICABLE_CELL if value is None else value,
                        words.values.get(value),
                        _joined(_listed(aspects), words.aspects)
                        if aspects and aspects != "[]"
                        else None,
                        comment,
                        at,
                        revision,
                    )
                    yield (*row, *identity) if identity else row

    header = wording.header(columns, content)
    return Table(header, rows(), () if neutralised else None, (), columns)


def criterion_codes(content: Content) -> tuple[str, ...]:
    """The criterion columns of the wide form: the latest checklist's, then older ones'."""
    codes = [criterion.code for criterion in content.latest.criteria]
    older = {
        criterion.code
        for checklist in content.checklists.values()
        for criterion in checklist.criteria
    }
    return (*codes, *sorted(older - set(codes)))


def criterion_columns(content: Content) -> tuple[str, ...]:
    """Each criterion's columns in the wide form: its answer, kinds of novelty, comment."""
    with_aspects = {
        criterion.code
        for checklist in content.checklists.values()
        for criterion in checklist.criteria
        if criterion.aspects
    }
    columns: list[str] = []
    for code in criterion_codes(content):
        columns.append(code)
        if code in with_aspects:
            columns.append(f"{code}_aspects")
        columns.append(f"{code}_comment")
    return tuple(columns)


def assessments_table(
    connection: Connection,
    content: Content,
    *,
    key: bytes,
    export_filter: ExportFilter = ExportFilter(),
    language: str = "en",
    names: Names = "labels",
    dates: Dates = "text",
    include_identities: bool = False,
    neutralised: bool = False,
) -> Table:
    """The assessments in wide form: one row each, with profile, answers, score and timing."""
    wording = Wording(language, names)
    codes = criterion_codes(content)
    per_criterion = criterion_columns(content)
    with_aspects = {column[:-8] for column in per_criterion if column.endswith("_aspects")}
    columns = (
        *PROFILE_COLUMNS,
        *per_criterion,
        *RESULT_COLUMNS,
        *(IDENTITY_COLUMNS if include_identities else ()),
    )
    percent_column = len(PROFILE_COLUMNS) + len(per_criterion)
    # Assessments joined to their answers, each assessment's rows together: grouped as they
    # stream, so no assessment's answers are ever looked up one by one.
    statement = (
        select(
            Assessment.id,
            Respondent.platform,
            Respondent.external_id,
            Cohort.code,
            country_key().label("country"),
            Assessment.checklist_version,
            Assessment.practice_name,
            Assessment.organisation,
            Assessment.target_groups,
            Assessment.themes,
            Assessment.status,
            Assessment.started_at,
            Assessment.completed_at,
            Answer.criterion,
            Answer.value,
            Answer.aspects,
            Answer.comment,
        )
        .select_from(Assessment)
        .join(Respondent, Respondent.id == Assessment.respondent_id)
        .outerjoin(Cohort, Cohort.id == Assessment.cohort_id)
        .outerjoin(Answer, Answer.assessment_id == Assessment.id)
        .where(*_conditions(export_filter, Assessment.started_at))
        .order_by(Assessment.id, Answer.criterion)
        .execution_options(stream_results=True, yield_per=STREAM_BATCH)
    )
    versions: dict[int, _Words] = {}
    text = _safe if neutralised else _same
    moment = _iso if dates == "text" else _naive

    @cache  # a handful of countries
    def country(code: str | None) -> str | None:
        return text(_country(code, wording))

    def wide(first: Any, answers: list[Any], name: Callable[[str, str], str]) -> Row:
        version = first.checklist_version
        words = versions.get(version)
        if words is None:
            words = versions[version] = _words(content.checklist(version), wording, neutralised)
        by_code = {answer.criterion: answer for answer in answers}
        result = score(content.checklist(version), {a.criterion: a.value for a in answers})
        percent = result.percent
        started, completed = first.started_at, first.completed_at
        duration = (
            None
            if started is None or completed is None
            else round((completed - started).total_seconds())
        )
        cells: list[Cell] = []
        for code in codes:
            answer = by_code.get(code)
            if answer is None:
                cells.append(None)
                if code in with_aspects:
                    cells.append(None)
                cells.append(None)
                continue
            cells.append(NOT_APPLICABLE_CELL if answer.value is None else answer.value)
            if code in with_aspects:
                cells.append(_joined(answer.aspects, words.aspects))
            cells.append(text(answer.comment))
        row: Row = (
            name(first.platform, first.external_id),
            first.id,
            text(first.code),
            country(first.country),
            version,
            text(first.practice_name),
            text(first.organisation),
            _joined(first.target_groups, words.groups),
            _joined(first.themes, words.themes),
            *cells,
            None if percent is None else round(percent, 1),
            None if result.band is None else words.bands.get(result.band.code),
            words.statuses.get(first.status, text(first.status)),
            moment(started),
            moment(completed),
            duration,
        )
        if include_identities:
            return (*row, text(first.platform), text(first.external_id))
        return row

    def rows() -> Iterator[Row]:
        name = _pseudonyms(key)
        first: Any = None
        answers: list[Any] = []
        with connection.execute(statement) as result:
            for row in result:
                if first is None or row.id != first.id:
                    if first is not None:
                        yield wide(first, answers, name)
                    first, answers = row, []
                if row.criterion is not None:
                    answers.append(row)
        if first is not None:
            yield wide(first, answers, name)

    header = wording.header(columns, content)
    return Table(header, rows(), () if neutralised else None, (percent_column,), columns)


def table(
    connection: Connection,
    content: Content,
    shape: Shape,
    *,
    key: bytes,
    export_filter: ExportFilter = ExportFilter(),
    language: str = "en",
    names: Names = "labels",
    dates: Dates = "text",
    include_identities: bool = False,
    neutralised: bool = False,
) -> Table:
    """The table of one shape: ``answers`` (the log) or ``assessments``."""
    if shape not in ("answers", "assessments"):
        raise ValueError(f"unknown export shape {shape!r}")
    make = answers_table if shape == "answers" else assessments_table
    return make(
        connection,
        content,
        key=key,
        export_filter=export_filter,
        language=language,
        names=names,
        dates=dates,
        include_identities=include_identities,
        neutralised=neutralised,
    )


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
        width = _COLUMN_WIDTHS.get(code)
        if width is None and code[:1] == "C" and code[1:3].isdigit() and code != code[:3]:
            width = 30  # a criterion's kinds of novelty or comment
        if width is not None:
            sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)
    return sheet


def _inert(row: Row) -> Row:
    """``row`` with a quote before text a spreadsheet would run as a formula."""
    formula = FORMULA_START
    for cell in row:
        if isinstance(cell, str) and cell[:1] in formula:
            return tuple(neutralise(c) if isinstance(c, str) else c for c in row)
    return row


def _write_sheets(workbook: Any, name: str, each: Table, bold: Any, sheet_rows: int) -> int:
    sheet = _new_sheet(workbook, name, each, bold)
    sheets = 1
    line = 0
    number = 0
    checked = each.text_columns != ()
    for row in each.rows:
        line += 1
        if line == sheet_rows:
            sheets += 1
            sheet = _new_sheet(workbook, f"{name} ({sheets})", each, bold)
            line = 1
        number += 1
        if checked:
            row = _inert(row)
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
            names=names or ("codes" if fmt == "jsonl" else "labels"),
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
    names: Names = "labels",
    include_identities: bool = False,
    sheet_rows: int = EXCEL_MAX_ROWS,
    key: bytes | None = None,
) -> dict[str, int]:
    """Write both shapes to one workbook at ``path`` from one snapshot; rows per shape.

    Times are date cells (UTC); the rows are made spreadsheet-safe as they are read.
    """
    with snapshot(connection, key) as key:
        sheets = {
            shape: table(
                connection,
                content,
                shape,
                key=key,
                export_filter=filter,
                language=language,
                names=names,
                dates="datetime",
                include_identities=include_identities,
                neutralised=True,
            )
            for shape in ("answers", "assessments")
        }
        return write_xlsx(path, sheets.items(), sheet_rows=sheet_rows)


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
