"""Coordinator exports against a real database: filters, pseudonyms, formats and one snapshot."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils.escape import unescape
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Connection, Engine

from dialogs import events
from dialogs.content import Content
from dialogs.i18n import _, use_language
from dialogs.report import answer_label, country_name
from storage import exports
from storage.coordination import PSEUDONYM_KEY, new_cohort, pseudonym, pseudonym_key
from storage.dialogue import Outcome, Who, apply, open_dialogue
from storage.exports import (
    ANSWER_COLUMNS,
    ExportFilter,
    Row,
    Table,
    export,
    export_engine,
    export_xlsx,
    write_csv,
    write_xlsx,
)
from storage.models import AnswerLog, Assessment, InstanceSecret
from storage.store import Database

ANA = Who("console", "ana", "en")
BEN = Who("console", "ben", "en")
EVA = Who("telegram", "4242", "lv")
ZOE = Who("console", "zoe", "en")
STARTS = {
    "ana": datetime(2024, 1, 10, 9, 0, tzinfo=UTC),
    "ben": datetime(2024, 2, 10, 9, 0, tzinfo=UTC),
    "eva": datetime(2024, 3, 10, 9, 0, tzinfo=UTC),
}
LATVIAN = "Ļoti labi: ēdināšana un sabiedrība, čaklie brīvprātīgie"
# The classic formula payloads (OWASP), each as the comment of one of Ana's answers.
PAYLOADS = {
    "C02": '=HYPERLINK("http://x")',
    "C03": "+1",
    "C04": "-2+3",
    "C05": "@SUM(A1)",
    "C06": "\tTab",
    "C07": "\rCR",
    "C08": LATVIAN,
}
ANA_VALUES: dict[str, int | None] = {
    "C01": 3,
    "C02": 2,
    "C03": 0,
    "C04": 3,
    "C05": 1,
    "C06": 2,
    "C07": None,
    "C08": 3,
    "C09": 2,
    "C10": 1,
}
ANA_CELLS = {code: "n/a" if value is None else value for code, value in ANA_VALUES.items()}
"""Ana's answers as an export shows them: "not applicable" is ``n/a``, apart from no answer."""
LOG_ROWS = {"ana": 12, "ben": 2, "eva": 1}
"""Ana changed C01 twice: ten answers, two changes."""


@dataclass(frozen=True)
class Seeded:
    cohort: str
    assessments: dict[str, int]
    """Each respondent's assessment id."""


async def step(database: Database, content: Content, who: Who, *sequence: events.Event) -> None:
    for event in sequence:
        outcome: Outcome = await database.store.run(
            partial(apply, content=content, who=who, event=event, source="test")
        )
        assert outcome.accepted, outcome.view.text


def profile(country: str) -> tuple[events.Event, ...]:
    return (
        events.Consent(True),
        events.Text("Community kitchen"),
        events.ChooseCountry(country),
        events.Text("Red Cross"),
        events.ToggleTag("homeless"),
        events.Confirm(),
        events.ToggleTag("housing"),
        events.Confirm(),
    )


def with_version_2(content: Content) -> Content:
    """The shipped content plus a checklist version 2, as after a checklist revision."""
    second = content.latest.model_copy(update={"version": 2})
    return content.model_copy(update={"checklists": {**content.checklists, 2: second}})


async def seed(database: Database, content: Content) -> Seeded:
    """Ana (LV, in a cohort, completed, C01 changed twice, formula comments), Ben (FR,
    active), Eva (Telegram, LV, active, checklist version 2); each on a day of their own."""
    code = await database.store.run(lambda connection: new_cohort(connection, "Riga pilot"))
    opened: dict[str, int] = {}
    for name, who in (("ana", ANA), ("ben", BEN), ("eva", EVA)):
        outcome = await database.store.run(
            partial(
                open_dialogue,
                content=content,
                who=who,
                start_payload=code if name == "ana" else None,
            )
        )
        opened[name] = outcome.assessment_id
    await step(database, content, ANA, *profile("LV"), events.Answer("C01", 1))
    for changed in (2, 3):  # back to C01 and change it: revisions 2 and 3
        await step(database, content, ANA, events.Back(), events.Answer("C01", changed))
    for criterion, value in list(ANA_VALUES.items())[1:]:
        if criterion in PAYLOADS:
            await step(database, content, ANA, events.Text(PAYLOADS[criterion]))
        await step(database, content, ANA, events.Answer(criterion, value))
    await step(database, content, ANA, events.Confirm())
    await step(
        database,
        content,
        BEN,
        *profile("FR"),
        events.Answer("C01", 2),
        events.Answer("C02", None),
    )
    await step(database, content, EVA, *profile("LV"), events.Answer("C01", 3))
    await database.store.run(partial(_fix_times_and_versions, assessments=opened))
    return Seeded(code, opened)


def _fix_times_and_versions(connection: Connection, assessments: dict[str, int]) -> None:
    """Put each assessment on its own day, its answers a minute apart, so filters on time
    select known rows; move Eva's to checklist version 2."""
    for name, assessment_id in assessments.items():
        start = STARTS[name]
        connection.execute(
            update(Assessment)
            .where(Assessment.id == assessment_id)
            .values(
                started_at=start,
                completed_at=start + timedelta(hours=1) if name == "ana" else None,
                checklist_version=2 if name == "eva" else 1,
            )
        )
        ids = connection.execute(
            select(AnswerLog.id)
            .where(AnswerLog.assessment_id == assessment_id)
            .order_by(AnswerLog.id)
        ).scalars()
        for minute, log_id in enumerate(list(ids), start=1):
            connection.execute(
                update(AnswerLog)
                .where(AnswerLog.id == log_id)
                .values(at=start + timedelta(minutes=minute))
            )


@pytest.fixture
def content2(content: Content) -> Content:
    return with_version_2(content)


@pytest.fixture
async def engine(database: Database, database_url: str) -> AsyncIterator[Engine]:
    """The export's own synchronous engine on the test database."""
    made = export_engine(database_url)
    yield made
    await asyncio.to_thread(made.dispose)


def _in_thread(engine: Engine, work: Callable[[Connection], Any]) -> Any:
    with engine.connect() as connection:
        return work(connection)


async def exported(
    engine: Engine, content: Content, shape: exports.Shape = "answers", **options: Any
) -> str:
    """The export as text, made on its own connection in a worker thread like the bot does."""
    fmt = options.pop("fmt", "jsonl")
    options.setdefault("names", "codes")

    def work(connection: Connection) -> str:
        out = io.BytesIO()
        written = export(connection, content, shape=shape, fmt=fmt, out=out, **options)
        text = out.getvalue().decode("utf-8")
        lines = text.splitlines() if fmt == "jsonl" else list(csv.reader(io.StringIO(text)))
        assert written == len(lines) - (0 if fmt == "jsonl" else 1)
        return text

    result: str = await asyncio.to_thread(_in_thread, engine, work)
    return result


async def records(
    engine: Engine, content: Content, shape: exports.Shape = "answers", **options: Any
) -> list[dict[str, Any]]:
    text = await exported(engine, content, shape, fmt="jsonl", **options)
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


async def test_the_answer_log_holds_every_answer_and_change_in_order(
    database: Database, content2: Content, engine: Engine
) -> None:
    seeded = await seed(database, content2)
    rows = await records(engine, content2)
    assert len(rows) == sum(LOG_ROWS.values())
    assert tuple(rows[0]) == ANSWER_COLUMNS
    ana = [row for row in rows if row["assessment_id"] == seeded.assessments["ana"]]
    assert [(r["value"], r["revision"]) for r in ana if r["criterion"] == "C01"] == [
        (1, 1),
        (2, 2),
        (3, 3),
    ]
    assert {r["criterion"]: r["value"] for r in ana} == ANA_CELLS
    assert {r["criterion"]: r["comment"] for r in ana if r["comment"]} == PAYLOADS
    assert {(r["cohort"], r["country"], r["checklist_version"]) for r in ana} == {
        (seeded.cohort, "LV", 1)
    }
    assert ana[0]["answered_at"] == "2024-01-10T09:01:00Z"
    assert [r["answered_at"] for r in rows] == sorted(r["answered_at"] for r in rows)
    ben = [row for row in rows if row["assessment_id"] == seeded.assessments["ben"]]
    assert [(r["criterion"], r["value"], r["cohort"]) for r in ben] == [
        ("C01", 2, None),
        ("C02", "n/a", None),
    ]
    with use_language("en"):
        not_applicable = answer_label(content2.latest, None)
    assert ben[1]["value_label"] == not_applicable
    assert not any(column in rows[0] for column in exports.IDENTITY_COLUMNS)


async def test_assessments_are_one_row_each_with_current_answers_score_and_timing(
    database: Database, content2: Content, engine: Engine
) -> None:
    seeded = await seed(database, content2)
    rows = await records(engine, content2, "assessments")
    assert [row["assessment_id"] for row in rows] == sorted(seeded.assessments.values())
    ana, ben, eva = rows
    assert {code: ana[code] for code in ANA_VALUES} == ANA_CELLS
    scored = [value for value in ANA_VALUES.values() if value is not None]
    assert ana["overall_percent"] == round(100 * sum(scored) / (3 * len(scored)), 1)
    assert isinstance(ana["overall_percent"], float)
    assert ana["band"] in {band.code for band in content2.latest.bands}
    assert (ana["status"], ana["cohort"], ana["country"]) == ("completed", seeded.cohort, "LV")
    assert (ana["started_at"], ana["completed_at"], ana["duration_seconds"]) == (
        "2024-01-10T09:00:00Z",
        "2024-01-10T10:00:00Z",
        3600,
    )
    # Not applicable (C02) and not answered (C03) are told apart.
    assert (ben["C01"], ben["C02"], ben["C03"], ben["overall_percent"]) == (2, "n/a", None, 66.7)
    assert (ben["status"], ben["completed_at"], ben["duration_seconds"]) == ("active", None, None)
    assert (eva["checklist_version"], eva["C01"], eva["overall_percent"]) == (2, 3, 100.0)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"ana", "ben", "eva"}),
        ({"since": datetime(2024, 2, 1, tzinfo=UTC), "until": datetime(2024, 3, 1)}, {"ben"}),
        ({"since": datetime(2024, 2, 10, 9, 0)}, {"ben", "eva"}),
        ({"until": datetime(2024, 2, 10, 9, 0, tzinfo=UTC)}, {"ana"}),
        ({"country": "LV"}, {"ana", "eva"}),
        ({"country": "fr"}, {"ben"}),
        ({"country": "SE"}, set()),
        ({"checklist_version": 1}, {"ana", "ben"}),
        ({"checklist_version": 2}, {"eva"}),
        ({"completed_only": True}, {"ana"}),
        ({"country": "LV", "checklist_version": 1}, {"ana"}),
        ({"cohort": "no-such-cohort"}, set()),
    ],
)
async def test_each_filter_selects_exactly_its_rows(
    database: Database,
    content2: Content,
    engine: Engine,
    options: dict[str, Any],
    expected: set[str],
) -> None:
    seeded = await seed(database, content2)
    chosen = ExportFilter(**options)
    names = {assessment_id: name for name, assessment_id in seeded.assessments.items()}
    answers = await records(engine, content2, filter=chosen)
    assert sorted(names[row["assessment_id"]] for row in answers) == sorted(
        name for name in expected for _ in range(LOG_ROWS[name])
    )
    assessments = await records(engine, content2, "assessments", filter=chosen)
    assert sorted(names[row["assessment_id"]] for row in assessments) == sorted(expected)


async def test_the_cohort_filter_selects_its_members_only(
    database: Database, content2: Content, engine: Engine
) -> None:
    seeded = await seed(database, content2)
    chosen = ExportFilter(cohort=seeded.cohort)
    answers = await records(engine, content2, filter=chosen)
    assert {row["assessment_id"] for row in answers} == {seeded.assessments["ana"]}
    assert len(answers) == LOG_ROWS["ana"]
    assessments = await records(engine, content2, "assessments", filter=chosen)
    assert [row["assessment_id"] for row in assessments] == [seeded.assessments["ana"]]


async def test_answers_within_a_time_range_come_from_the_answer_time(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    start = STARTS["ana"]
    chosen = ExportFilter(since=start + timedelta(minutes=2), until=start + timedelta(minutes=4))
    rows = await records(engine, content2, filter=chosen)
    assert [(row["criterion"], row["revision"]) for row in rows] == [("C01", 2), ("C01", 3)]


async def test_pseudonyms_are_stable_hide_the_id_and_change_with_the_key(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    first = await records(engine, content2, "assessments")
    again = await records(engine, content2, "assessments")
    names = [row["respondent"] for row in first]
    assert names == [row["respondent"] for row in again]
    assert len(set(names)) == 3
    key = await database.store.run(pseudonym_key)
    assert names == [pseudonym(key, who.platform, who.external_id) for who in (ANA, BEN, EVA)]
    assert all(name.startswith("r-") and len(name) == 18 for name in names)
    answers = await records(engine, content2)
    by_assessment = {row["assessment_id"]: row["respondent"] for row in first}
    assert all(row["respondent"] == by_assessment[row["assessment_id"]] for row in answers)
    await database.store.run(
        lambda connection: connection.execute(
            update(InstanceSecret)
            .where(InstanceSecret.name == PSEUDONYM_KEY)
            .values(value="ab" * 32)
        )
    )
    rekeyed = [row["respondent"] for row in await records(engine, content2, "assessments")]
    assert len(set(rekeyed)) == 3
    assert not set(rekeyed) & set(names)


async def test_identities_appear_only_when_asked_for(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    for shape in ("answers", "assessments"):
        plain = csv_rows(await exported(engine, content2, shape, fmt="csv"))
        assert not set(exports.IDENTITY_COLUMNS) & set(plain[0])
        assert not {"ana", "ben", "4242", "console", "telegram"} & {
            cell for row in plain for cell in row
        }
        full = await records(engine, content2, shape, include_identities=True)
        assert {(row["platform"], row["platform_user_id"]) for row in full} == {
            ("console", "ana"),
            ("console", "ben"),
            ("telegram", "4242"),
        }
        assert list(full[0])[-2:] == list(exports.IDENTITY_COLUMNS)


async def test_formula_payloads_are_neutralised_in_csv_and_other_text_is_kept(
    database: Database, content2: Content, engine: Engine
) -> None:
    seeded = await seed(database, content2)
    rows = csv_rows(await exported(engine, content2, fmt="csv"))
    header, body = rows[0], rows[1:]
    column = {name: index for index, name in enumerate(header)}
    ana = [r for r in body if r[column["assessment_id"]] == str(seeded.assessments["ana"])]
    comments = {r[column["criterion"]]: r[column["comment"]] for r in ana if r[column["comment"]]}
    assert comments == {
        "C02": '\'=HYPERLINK("http://x")',
        "C03": "'+1",
        "C04": "'-2+3",
        "C05": "'@SUM(A1)",
        "C06": "'\tTab",
        "C07": "'\rCR",
        "C08": LATVIAN,
    }
    assert [r[column["value"]] for r in ana][:3] == ["1", "2", "3"]
    cohort = ana[0][column["cohort"]]
    assert cohort == exports.neutralise(seeded.cohort)


def test_the_csv_writer_quotes_formula_text_only_and_leaves_numbers_alone() -> None:
    header = ("n", "x", "text")
    rows: list[Row] = [
        (-2, -1.5, "-2+3"),
        (3, 0.25, "plain = text"),
        (None, None, ""),
        (1, 2.0, "@cmd"),
        (0, -0.0, "\n=1+1"),
    ]
    out = io.StringIO(newline="")
    assert write_csv(Table(header, iter(rows)), out) == len(rows)
    assert csv_rows(out.getvalue()) == [
        ["n", "x", "text"],
        ["-2", "-1.5", "'-2+3"],
        ["3", "0.25", "plain = text"],
        ["", "", ""],
        ["1", "2.0", "'@cmd"],
        ["0", "-0.0", "'\n=1+1"],
    ]


async def test_excel_csv_has_a_bom_semicolons_and_decimal_commas(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)

    def work(connection: Connection) -> bytes:
        out = io.BytesIO()
        export(
            connection,
            content2,
            shape="assessments",
            fmt="csv",
            out=out,
            excel=True,
            names="codes",
        )
        return out.getvalue()

    data: bytes = await asyncio.to_thread(_in_thread, engine, work)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert text.splitlines()[0].startswith("respondent;assessment_id;cohort;country;")
    rows = csv_rows(text, delimiter=";")
    percent = rows[0].index("overall_percent")
    assert [row[percent] for row in rows[1:]][1:] == ["66,7", "100,0"]
    plain = await exported(engine, content2, "assessments", fmt="csv")
    assert not plain.startswith("\ufeff")
    assert plain.splitlines()[0].startswith("respondent,assessment_id,")


async def test_json_lines_carry_the_same_values_as_the_rows(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    for shape in ("answers", "assessments"):

        def direct(connection: Connection, shape: exports.Shape = shape) -> list[list[Any]]:
            with exports.snapshot(connection) as key:
                made = exports.table(
                    connection, content2, shape, exports.Options(key, names="codes")
                )
                return [list(row) for row in made.rows]

        expected = await asyncio.to_thread(_in_thread, engine, direct)
        parsed = await records(engine, content2, shape)
        assert [list(row.values()) for row in parsed] == expected
    answers = await records(engine, content2)
    assert {row["comment"] for row in answers} >= set(PAYLOADS.values())


def read_workbook(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's rows, as Excel shows them."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {
            sheet.title: [tuple(map(shown, row)) for row in sheet.iter_rows(values_only=True)]
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def shown(value: Any) -> Any:
    # A control character such as CR is stored as "_x000D_", which Excel decodes on reading
    # and openpyxl leaves as it is.
    return unescape(value) if isinstance(value, str) else value


def as_sheet(record: dict[str, Any]) -> tuple[Any, ...]:
    """A JSON Lines record as the XLSX row shows it: text made inert, times as date cells."""
    return tuple(
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        if key.endswith("_at") and value
        else exports.neutralise(value)
        if isinstance(value, str) and value
        else None
        if value == ""
        else value
        for key, value in record.items()
    )


async def test_an_xlsx_holds_both_shapes_under_frozen_headers(
    database: Database, content2: Content, engine: Engine, tmp_path: Path
) -> None:
    seeded = await seed(database, content2)
    path = tmp_path / "export.xlsx"
    written = await asyncio.to_thread(
        _in_thread,
        engine,
        lambda connection: export_xlsx(
            connection, content2, path, include_identities=True, names="codes"
        ),
    )
    assert written == {"answers": sum(LOG_ROWS.values()), "assessments": 3}
    sheets = read_workbook(path)
    assert list(sheets) == ["answers", "assessments"]
    answers = await records(engine, content2, include_identities=True)
    assessments = await records(engine, content2, "assessments", include_identities=True)
    assert sheets["answers"] == [tuple(answers[0]), *map(as_sheet, answers)]
    assert sheets["assessments"] == [tuple(assessments[0]), *map(as_sheet, assessments)]
    ana = [row for row in sheets["answers"] if row[1] == seeded.assessments["ana"]]
    comment = ANSWER_COLUMNS.index("comment")
    assert {row[comment] for row in ana if row[comment]} == {
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tTab",
        "'\rCR",
        LATVIAN,
    }
    value, criterion = ANSWER_COLUMNS.index("value"), ANSWER_COLUMNS.index("criterion")
    assert all(isinstance(row[value], int) for row in ana if row[criterion] != "C07")
    full = openpyxl.load_workbook(path)
    assert [sheet.freeze_panes for sheet in full.worksheets] == ["A2", "A2"]
    assert all(cell.font.bold for cell in full["answers"][1])
    full.close()


async def test_an_xlsx_goes_on_to_further_sheets_at_the_row_limit(
    database: Database, content2: Content, engine: Engine, tmp_path: Path
) -> None:
    await seed(database, content2)
    path = tmp_path / "split.xlsx"
    written = await asyncio.to_thread(
        _in_thread,
        engine,
        lambda connection: export_xlsx(connection, content2, path, sheet_rows=3, names="codes"),
    )
    total = sum(LOG_ROWS.values())
    assert written == {"answers": total, "assessments": 3}
    sheets = read_workbook(path)
    answer_sheets = ["answers"] + [f"answers ({n})" for n in range(2, (total + 1) // 2 + 1)]
    assert list(sheets) == [*answer_sheets, "assessments", "assessments (2)"]
    assert all(len(sheets[name]) == 3 for name in answer_sheets[:-1])
    assert len({sheets[name][0] for name in sheets if name.startswith("answers")}) == 1
    rows = [row for name in answer_sheets for row in sheets[name][1:]]
    expected = await records(engine, content2)
    assert rows == list(map(as_sheet, expected))
    assert [len(sheets[name]) for name in ("assessments", "assessments (2)")] == [3, 2]


def test_the_xlsx_writer_keeps_numbers_numbers_and_quotes_formula_text(tmp_path: Path) -> None:
    path = tmp_path / "cells.xlsx"
    header = ("n", "x", "text", "-header")
    rows: list[Row] = [(-2, -1.5, "-2+3", None), (7, 0.5, "=1+1", "plain"), (None, 2.0, "", "@")]
    written = write_xlsx(path, [("cells", Table(header, iter(rows)))])
    assert written == {"cells": 3}
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["cells"]
    assert [cell.value for cell in sheet[1]] == ["n", "x", "text", "'-header"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        [-2, -1.5, "'-2+3", None],
        [7, 0.5, "'=1+1", "plain"],
        [None, 2, None, "'@"],
    ]
    assert [sheet.cell(2, n).data_type for n in (1, 2, 3)] == ["n", "n", "s"]
    assert sheet.cell(3, 3).data_type == "s"  # text, never a formula
    workbook.close()


async def test_value_labels_follow_the_export_language(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    english = await records(engine, content2)
    latvian = await records(engine, content2, language="lv")
    with use_language("lv"):
        expected: dict[int | str | None, str] = {
            value: answer_label(content2.latest, value) for value in (None, 0, 1, 2, 3)
        }
    expected["n/a"] = expected[None]
    assert [row["value_label"] for row in latvian] == [expected[row["value"]] for row in latvian]
    assert [row["value_label"] for row in latvian] != [row["value_label"] for row in english]
    assert [row["value"] for row in latvian] == [row["value"] for row in english]


async def test_a_filter_matching_nothing_writes_the_header_only(
    database: Database, content2: Content, engine: Engine, tmp_path: Path
) -> None:
    await seed(database, content2)
    nothing = ExportFilter(country="SE")
    text = await exported(engine, content2, fmt="csv", filter=nothing)
    assert csv_rows(text) == [list(ANSWER_COLUMNS)]
    path = tmp_path / "empty.xlsx"
    written = await asyncio.to_thread(
        _in_thread, engine, lambda c: export_xlsx(c, content2, path, filter=nothing)
    )
    assert written == {"answers": 0, "assessments": 0}
    assert [len(rows) for rows in read_workbook(path).values()] == [1, 1]


@pytest.mark.parametrize("own_engine", [True, False], ids=["export_engine", "plain_engine"])
async def test_an_export_reads_one_snapshot_while_answers_are_written(
    database: Database,
    database_url: str,
    content2: Content,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    own_engine: bool,
) -> None:
    """Also on a plain synchronous engine: the export itself makes its snapshot."""
    engine = export_engine(database_url)
    if not own_engine:
        await asyncio.to_thread(engine.dispose)
        engine = create_engine(engine.url)
    try:
        await _one_snapshot(database, content2, engine, tmp_path, monkeypatch)
    finally:
        await asyncio.to_thread(engine.dispose)


async def _one_snapshot(
    database: Database,
    content2: Content,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = await seed(database, content2)
    before_answers = await records(engine, content2)
    before_assessments = await records(engine, content2, "assessments")
    loop = asyncio.get_running_loop()

    def write_meanwhile(*units: Callable[[Connection], Any]) -> None:
        """Commit units through the store from the export's thread, and wait for them."""

        async def send() -> None:
            for unit in units:
                await database.store.run(unit)

        asyncio.run_coroutine_threadsafe(send(), loop).result()

    def answer(who: Who, event: events.Event) -> Callable[[Connection], Any]:
        return partial(apply, content=content2, who=who, event=event, source="test")

    answers_table, assessments_table = exports.answers_table, exports.assessments_table

    def answers_then_write(*args: Any, **kwargs: Any) -> Table:
        made = answers_table(*args, **kwargs)

        def rows() -> Iterator[Row]:
            yield next(made.rows)
            write_meanwhile(answer(BEN, events.Answer("C03", 1)))  # in the middle of the log
            yield from made.rows

        return replace(made, rows=rows())

    def write_then_assessments(*args: Any, **kwargs: Any) -> Table:
        made = assessments_table(*args, **kwargs)

        def rows() -> Iterator[Row]:
            # Between the two sheets: a changed answer, a new answer, a new assessment.
            write_meanwhile(
                answer(BEN, events.Back()),
                answer(BEN, events.Answer("C03", 3)),
                answer(BEN, events.Answer("C04", 2)),
                partial(open_dialogue, content=content2, who=ZOE),
            )
            yield from made.rows

        return replace(made, rows=rows())

    monkeypatch.setattr(exports, "answers_table", answers_then_write)
    monkeypatch.setattr(exports, "assessments_table", write_then_assessments)
    path = tmp_path / "snapshot.xlsx"
    written = await asyncio.to_thread(
        _in_thread,
        engine,
        lambda connection: export_xlsx(connection, content2, path, names="codes"),
    )
    monkeypatch.undo()

    assert written == {"answers": len(before_answers), "assessments": 3}
    sheets = read_workbook(path)
    assert sheets["answers"][1:] == list(map(as_sheet, before_answers))
    assert sheets["assessments"][1:] == list(map(as_sheet, before_assessments))
    # The writes did commit: the next export has them.
    after = await records(engine, content2)
    assert len(after) == len(before_answers) + 3
    latest = await records(engine, content2, "assessments")
    ben = next(row for row in latest if row["assessment_id"] == seeded.assessments["ben"])
    assert (ben["C03"], ben["C04"]) == (3, 2)
    assert len(latest) == 4


async def test_an_export_can_run_inside_a_unit_of_the_store(
    database: Database, content2: Content
) -> None:
    await seed(database, content2)

    def work(connection: Connection) -> tuple[int, str]:
        out = io.StringIO(newline="")
        written = export(connection, content2, shape="assessments", fmt="csv", out=out)
        return written, out.getvalue()

    written, text = await database.store.run(work)
    assert written == 3
    assert len(csv_rows(text)) == 4


def test_the_export_engine_is_synchronous_on_the_same_database(tmp_path: Path) -> None:
    sqlite = export_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert (sqlite.url.drivername, sqlite.url.database) == ("sqlite", str(tmp_path / "x.db"))
    with sqlite.connect() as connection, connection.begin():
        assert connection.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    sqlite.dispose()
    server = export_engine("postgresql+asyncpg://si:secret@db:5432/sicheck?ssl=require")
    assert server.url.drivername == "postgresql+psycopg"
    assert (server.url.host, server.url.database, server.url.password) == (
        "db",
        "sicheck",
        "secret",
    )
    assert server.url.query["sslmode"] == "require"
    server.dispose()


def test_a_failed_xlsx_leaves_no_file_and_no_temporary_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def failing() -> Iterator[Row]:
        yield (1, "one")
        yield (2, "two")
        raise RuntimeError("the database went away")

    path = tmp_path / "failed.xlsx"
    with pytest.raises(RuntimeError, match="went away"):
        write_xlsx(path, [("rows", Table(("n", "text"), failing()))])
    assert not path.exists()
    assert list(scratch.iterdir()) == []


async def test_times_are_utc_whatever_the_session_time_zone(
    database: Database, content2: Content, engine: Engine
) -> None:
    seeded = await seed(database, content2)

    def work(connection: Connection) -> tuple[str, str]:
        if connection.dialect.name == "postgresql":
            # PostgreSQL hands timestamps back in the session's zone.
            connection.exec_driver_sql("SET TIME ZONE 'Pacific/Auckland'")
            connection.commit()
        answers, assessments = io.StringIO(newline=""), io.StringIO(newline="")
        export(connection, content2, shape="answers", fmt="jsonl", out=answers)
        export(connection, content2, shape="assessments", fmt="jsonl", out=assessments)
        return answers.getvalue(), assessments.getvalue()

    answers, assessments = await asyncio.to_thread(_in_thread, engine, work)
    first = json.loads(answers.splitlines()[0])
    assert first["answered_at"] == "2024-01-10T09:01:00Z"
    ana = next(
        json.loads(line)
        for line in assessments.splitlines()
        if json.loads(line)["assessment_id"] == seeded.assessments["ana"]
    )
    assert (ana["started_at"], ana["completed_at"]) == (
        "2024-01-10T09:00:00Z",
        "2024-01-10T10:00:00Z",
    )


async def test_a_workbook_has_date_cells_translated_headers_titles_profile_and_comments(
    database: Database, content2: Content, engine: Engine, tmp_path: Path
) -> None:
    seeded = await seed(database, content2)
    path = tmp_path / "latvian.xlsx"
    await asyncio.to_thread(
        _in_thread,
        engine,
        lambda connection: export_xlsx(connection, content2, path, language="lv"),
    )
    workbook = openpyxl.load_workbook(path)
    answers, assessments = workbook["answers"], workbook["assessments"]
    with use_language("lv"):
        header = [_(exports.COLUMN_LABELS[column]) for column in ANSWER_COLUMNS]
        title = _(content2.latest.criterion("C01").title)
        band_labels = {_(band.label) for band in content2.latest.bands}
        completed = _(exports.STATUS_LABELS["completed"])
        homeless = _(content2.latest.knowledge.taxonomy.target_groups[1].label)
        latvia = country_name("LV")
    assert [cell.value for cell in answers[1]] == header
    assert header != list(ANSWER_COLUMNS)
    first = [cell for cell in answers[2]]
    column = {name: index for index, name in enumerate(ANSWER_COLUMNS)}
    at = first[column["answered_at"]]
    assert at.is_date
    assert at.value == datetime(2024, 1, 10, 9, 1)
    assert at.number_format == exports.DATE_FORMAT
    assert first[column["practice_name"]].value == "Community kitchen"
    assert first[column["organisation"]].value == "Red Cross"
    assert first[column["country"]].value == latvia
    assert (first[column["criterion"]].value, first[column["criterion_title"]].value) == (
        "C01",
        title,
    )
    wide_header = [cell.value for cell in assessments[1]]
    assert f"C01 {title}" in wide_header
    ana = {
        name: cell
        for name, cell in zip(wide_header, assessments[2], strict=True)
        if name is not None
    }
    with use_language("lv"):
        practice, groups = _(exports.COLUMN_LABELS["practice_name"]), _("Target groups")
        comment = _("%(code)s comment", code="C08")
    assert ana[practice].value == "Community kitchen"
    assert homeless in ana[groups].value
    assert ana[comment].value == LATVIAN
    assert ana[f"C07 {_title(content2, 'C07', 'lv')}"].value == "n/a"
    with use_language("lv"):
        started = ana[_(exports.COLUMN_LABELS["started_at"])]
        assessment = ana[_(exports.COLUMN_LABELS["assessment_id"])]
    assert started.is_date
    assert started.value == STARTS["ana"].replace(tzinfo=None)
    with use_language("lv"):
        assert ana[_(exports.COLUMN_LABELS["band"])].value in band_labels
        assert ana[_(exports.COLUMN_LABELS["status"])].value == completed
    workbook.close()
    assert assessment.value == seeded.assessments["ana"]


async def test_coded_names_are_stable_whatever_the_language(
    database: Database, content2: Content, engine: Engine, tmp_path: Path
) -> None:
    await seed(database, content2)
    headers = []
    for language in ("en", "lv", "fr"):
        text = await exported(
            engine, content2, "assessments", fmt="csv", language=language, names="codes"
        )
        headers.append(csv_rows(text)[0])
        rows = csv_rows(text)
        record = dict(zip(rows[0], rows[1], strict=True))
        assert (record["country"], record["status"], record["target_groups"]) == (
            "LV",
            "completed",
            "homeless",
        )
        assert record["band"] in {band.code for band in content2.latest.bands}
        assert (record["C07"], record["C02_comment"]) == (
            "n/a",
            exports.neutralise(PAYLOADS["C02"]),
        )
    assert headers[0] == headers[1] == headers[2]
    assert headers[0][:9] == list(exports.PROFILE_COLUMNS)
    assert headers[0][9:12] == ["C01", "C01_comment", "C02"]
    assert "C02_aspects" in headers[0]
    path = tmp_path / "codes.xlsx"
    await asyncio.to_thread(
        _in_thread,
        engine,
        lambda connection: export_xlsx(connection, content2, path, language="sv", names="codes"),
    )
    sheets = read_workbook(path)
    assert list(sheets["answers"][0]) == list(ANSWER_COLUMNS)
    assert list(sheets["assessments"][0]) == headers[0]


async def test_a_csv_in_labels_has_titles_beside_codes_and_translated_words(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    text = await exported(
        engine, content2, "assessments", fmt="csv", language="fr", names="labels"
    )
    rows = csv_rows(text)
    with use_language("fr"):
        title = _(content2.latest.criterion("C03").title)
        expected = _(exports.COLUMN_LABELS["practice_name"])
        statuses = {_(label) for label in exports.STATUS_LABELS.values()}
    assert f"C03 {title}" in rows[0]
    assert expected in rows[0]
    assert expected != "Practice"
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record[expected] == "Community kitchen"
    assert {dict(zip(rows[0], row, strict=True))[rows[0][-4]] for row in rows[1:]} <= statuses
    log = csv_rows(await exported(engine, content2, fmt="csv", language="fr", names="labels"))
    assert log[1][ANSWER_COLUMNS.index("criterion_title")] == _title(content2, "C01", "fr")


def _title(content: Content, code: str, language: str) -> str:
    with use_language(language):
        return _(content.latest.criterion(code).title)


async def test_novelty_kinds_are_exported_with_their_criterion(
    database: Database, content2: Content, engine: Engine
) -> None:
    await seed(database, content2)
    who = Who("console", "nia", "en")
    await database.store.run(partial(open_dialogue, content=content2, who=who))
    aspects = [aspect.code for aspect in content2.latest.criterion("C02").aspects][:2]
    await step(
        database,
        content2,
        who,
        *profile("SE"),
        events.Answer("C01", 1),
        *(events.ToggleAspect("C02", code) for code in aspects),
        events.Answer("C02", 2),
    )
    log = await records(engine, content2, filter=ExportFilter(country="SE"))
    assert log[1]["aspects"] == "; ".join(aspects)
    wide = await records(engine, content2, "assessments", filter=ExportFilter(country="SE"))
    assert wide[0]["C02_aspects"] == "; ".join(aspects)
    labelled = await exported(
        engine,
        content2,
        "assessments",
        fmt="csv",
        names="labels",
        filter=ExportFilter(country="SE"),
    )
    rows = csv_rows(labelled)
    kinds = dict(zip(rows[0], rows[1], strict=True))[_("%(code)s kinds of novelty", code="C02")]
    labels = {aspect.code: aspect.label for aspect in content2.latest.criterion("C02").aspects}
    assert kinds == "; ".join(labels[code] for code in aspects)
