"""Coordinators on Telegram and on the CLI: roles, cohorts, invitations and notifications."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bot import cli
from bot.exporting import ExportRequestError, UnknownCountryError, parse_words
from bot.telegram import coordinators
from bot.telegram.application import COMMANDS
from bot.telegram.application import COORDINATOR_COMMANDS as PUBLISHED_FOR_COORDINATORS
from bot.telegram.context import FAILED
from dialogs.i18n import _, use_language
from storage.coordination import (
    CohortSummary,
    add_coordinator,
    cohort_id,
    derived_key,
    list_cohorts,
    new_cohort,
    pseudonym,
)
from storage.models import Assessment, Cohort, Coordinator, InstanceSecret, Respondent
from storage.store import Database
from tests.fake_bot_api import BotAPIError, FakeBotAPI, buttons
from tests.telegram_harness import Harness, running_bot

COORDINATOR = 700
PRACTITIONER = 701
REFUSAL = "This command is for coordinators."
COORDINATOR_COMMANDS = [
    "/cohort list",
    "/cohort new Secret cohort",
    "/notify on",
    "/stats",
    "/stats country=LV",
    "/export",
    "/export csv assessments",
]


@pytest.fixture
async def staffed(database: Database, database_url: str) -> AsyncIterator[Harness]:
    """The bot with one coordinator configured by ``SICHECK_COORDINATORS``."""
    async with running_bot(database_url, sicheck_coordinators=f" {COORDINATOR}, 9 ") as harness:
        yield harness
        assert harness.errors == []
        assert harness.api.violations == []


async def finish(bot: Harness, user_id: int, start: str = "/start") -> None:
    """A whole assessment, begun with ``start`` (which may carry an invitation code)."""
    await bot.say(user_id, start)
    await bot.tap(user_id, "y")
    await bot.say(user_id, "Soup kitchen")
    for action in ("c:LV", "s", "ok", "ok", *(f"a:C{n:02d}:2" for n in range(1, 11)), "ok"):
        await bot.tap(user_id, action)


async def test_coordinators_find_their_commands_in_their_own_chat(
    database: Database, database_url: str
) -> None:
    added, practitioner_also = 702, str(COORDINATOR)
    with database.sessions() as session, session.begin():
        session.add(Respondent(platform="telegram", external_id=str(added), language="lv"))
    await database.store.run(lambda c: add_coordinator(c, "telegram", str(added)))
    async with running_bot(database_url, sicheck_coordinators=practitioner_also) as bot:
        scoped = {
            call.params["scope"]["chat_id"]: call.params["commands"]
            for call in bot.api.calls_to("setMyCommands")
            if "scope" in call.params
        }
        assert bot.api.violations == []
    assert set(scoped) == {COORDINATOR, added}
    names = [name for name, _description in (*COMMANDS, *PUBLISHED_FOR_COORDINATORS)]
    for commands in scoped.values():
        assert [command["command"] for command in commands] == names
    assert scoped[added][0]["description"] != scoped[COORDINATOR][0]["description"]


async def test_a_coordinator_chat_telegram_refuses_does_not_stop_the_bot(
    database: Database, database_url: str
) -> None:
    published = 0

    def no_chat(method: str) -> BotAPIError | None:
        nonlocal published
        published += method == "setMyCommands"
        # The first six are the lists of every chat (one per language and the default).
        refused = method == "setMyCommands" and published > 6
        return BotAPIError(400, "Bad Request: chat not found") if refused else None

    api = FakeBotAPI(failure=no_chat)
    async with running_bot(database_url, api, sicheck_coordinators=str(COORDINATOR)) as bot:
        assert published == 7
        await bot.say(COORDINATOR, "/cohort list")
        assert bot.errors == []
        assert "cohort" in bot.text(COORDINATOR).lower()


@pytest.mark.parametrize("command", COORDINATOR_COMMANDS)
async def test_every_coordinator_command_is_refused_alike_to_a_practitioner(
    staffed: Harness, database: Database, command: str
) -> None:
    await staffed.say(PRACTITIONER, command)
    assert staffed.text(PRACTITIONER) == REFUSAL
    with database.sessions() as session:
        assert session.scalar(select(Cohort)) is None
        assert session.scalar(select(Coordinator)) is None


async def test_a_cohort_invitation_counts_its_members_and_notifies_its_coordinator(
    staffed: Harness, database: Database
) -> None:
    await staffed.say(COORDINATOR, "/cohort new Rīga 2026")
    created = staffed.text(COORDINATOR)
    link = re.search(r"https://t\.me/sicheck_test_bot\?start=([\w-]{16})", created)
    assert link is not None, created
    assert "Rīga 2026" in created
    await staffed.say(COORDINATOR, "/notify on")
    await finish(staffed, PRACTITIONER, f"/start {link[1]}")
    notice = staffed.text(COORDINATOR)
    assert "Rīga 2026" in notice
    assert "Completed so far: 1" in notice
    with database.sessions() as session:
        respondent = session.scalar(
            select(Respondent).where(Respondent.external_id == str(PRACTITIONER))
        )
        assessment = session.scalar(select(Assessment))
        assert respondent is not None
        assert assessment is not None
        assert respondent.cohort_id == assessment.cohort_id is not None
    await staffed.say(COORDINATOR, "/cohort list")
    listing = staffed.text(COORDINATOR)
    assert "joined: 1, started: 1, completed: 1" in listing


async def test_an_unknown_invitation_code_is_kept_but_joins_nothing(
    staffed: Harness, database: Database
) -> None:
    await staffed.say(PRACTITIONER, "/start guessed-code-1234")
    assert buttons(staffed.last(PRACTITIONER))
    with database.sessions() as session:
        respondent = session.scalar(select(Respondent))
        assert respondent is not None
        assert respondent.start_payload == "guessed-code-1234"
        assert respondent.cohort_id is None


async def test_without_notifications_a_coordinator_hears_nothing(staffed: Harness) -> None:
    await staffed.say(COORDINATOR, "/cohort new Quiet")
    link = re.search(r"start=([\w-]{16})", staffed.text(COORDINATOR))
    assert link is not None
    sent_before = len(staffed.api.chat(COORDINATOR))
    await finish(staffed, PRACTITIONER, f"/start {link[1]}")
    assert len(staffed.api.chat(COORDINATOR)) == sent_before


def test_the_cli_adds_lists_and_removes_coordinators_and_makes_cohorts(
    database: Database, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--database-url", database_url]
    assert cli.main(["coordinator", "add", "42", *url]) == 0
    assert cli.main(["coordinator", "list", *url]) == 0
    assert "telegram\t42" in capsys.readouterr().out
    assert cli.main(["coordinator", "remove", "42", *url]) == 0
    assert cli.main(["coordinator", "remove", "42", *url]) == 1
    assert cli.main(["coordinator", "add", "not-a-number", *url]) == 2
    assert cli.main(["cohort", "new", "Valmiera", *url]) == 0
    assert "?start=" in capsys.readouterr().out
    assert cli.main(["cohort", "list", *url]) == 0
    assert "Valmiera\t0\t0\t0" in capsys.readouterr().out


async def test_stats_show_the_figures_and_their_chart_to_a_coordinator(
    database: Database, database_url: str
) -> None:
    async with running_bot(
        database_url, sicheck_coordinators=str(COORDINATOR), stats_min_group=1
    ) as bot:
        await finish(bot, PRACTITIONER)
        await bot.say(COORDINATOR, "/stats")
        figures = bot.text(COORDINATOR)
        assert "All cohorts" in figures
        assert "completed: 1" in figures
        [chart] = bot.api.files_in(COORDINATOR)
        assert chart.method == "sendPhoto"
        assert chart.content.startswith(b"\x89PNG")
        assert bot.errors == []
        assert bot.api.violations == []


async def test_stats_of_too_few_respondents_show_no_figures(staffed: Harness) -> None:
    await finish(staffed, PRACTITIONER)
    await staffed.say(COORDINATOR, "/stats")
    assert "Fewer than 5 respondents" in staffed.text(COORDINATOR)
    assert "completed: 1" not in staffed.text(COORDINATOR)
    assert staffed.api.files_in(COORDINATOR) == []


def test_the_cli_prints_stats_and_writes_their_chart(
    database: Database, database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chart = tmp_path / "stats.png"
    url = ["--database-url", database_url]
    assert cli.main(["stats", "--lang", "lv", *url]) == 0
    assert "<b>" not in capsys.readouterr().out
    assert cli.main(["stats", "--chart", str(chart), *url]) == 1
    assert not chart.exists()


async def test_an_export_comes_as_a_document_with_pseudonyms(staffed: Harness) -> None:
    await finish(staffed, PRACTITIONER)
    await staffed.say(COORDINATOR, "/export csv assessments completed codes")
    assert "Export ready: 1 row." in staffed.text(COORDINATOR)
    [document] = staffed.api.files_in(COORDINATOR)
    assert document.method == "sendDocument"
    assert document.filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(document.content.decode("utf-8"))))
    assert rows[0][:2] == ["respondent", "assessment_id"]
    assert len(rows) == 2
    assert str(PRACTITIONER) not in {cell for row in rows for cell in row}  # as a cell of its own
    # Pseudonyms come from SICHECK_PSEUDONYM_KEY, which the database never holds.
    secret = staffed.services.pseudonym_secret
    assert rows[1][0] == pseudonym(derived_key(secret), "telegram", str(PRACTITIONER))
    with staffed.services.database.sessions() as session:
        kept = set(session.scalars(select(InstanceSecret.value)))
    assert derived_key(secret).hex() not in kept
    assert secret not in kept


async def test_a_workbook_export_holds_both_shapes(staffed: Harness) -> None:
    await finish(staffed, PRACTITIONER)
    await staffed.say(COORDINATOR, "/export")
    [document] = staffed.api.files_in(COORDINATOR)
    workbook = openpyxl.load_workbook(io.BytesIO(document.content), read_only=True)
    assert workbook.sheetnames == ["answers", "assessments"]
    assert workbook["answers"].max_row == 11


async def test_an_unknown_export_option_is_explained(staffed: Harness) -> None:
    await staffed.say(COORDINATOR, "/export pdf")
    assert "Unknown export option: pdf" in staffed.text(COORDINATOR)
    assert staffed.api.files_in(COORDINATOR) == []


async def test_an_export_over_telegrams_limit_comes_zipped_in_parts(
    staffed: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await finish(staffed, PRACTITIONER)
    monkeypatch.setattr(coordinators, "UPLOAD_MAX", 300)
    await staffed.say(COORDINATOR, "/export csv")
    parts = staffed.api.files_in(COORDINATOR)
    assert len(parts) > 1
    assert all(len(part.content) <= 300 for part in parts)
    assert [part.filename[-4:] for part in parts] == [
        f".{n:03d}" for n in range(1, len(parts) + 1)
    ]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(part.content for part in parts)))
    [member] = archive.namelist()
    assert member.endswith(".csv")
    assert archive.read(member).count(b"\n") == 11
    assert "7-Zip" in staffed.text(COORDINATOR)


def test_the_cli_exports_to_a_file(
    database: Database,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "log.jsonl"
    url = ["--database-url", database_url]
    monkeypatch.delenv("SICHECK_PSEUDONYM_KEY", raising=False)
    assert cli.main(["export", "--out", str(out), *url]) == 2
    assert "SICHECK_PSEUDONYM_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", "too short")
    assert cli.main(["export", "--out", str(out), *url]) == 2
    assert "SICHECK_PSEUDONYM_KEY must be at least 16 characters" in capsys.readouterr().err
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", "one key for good, long enough")
    assert cli.main(["export", "--format", "jsonl", "--out", str(out), *url]) == 0
    assert out.read_text() == ""
    assert "0 rows written" in capsys.readouterr().err
    assert cli.main(["export", "--since", "yesterday", *url]) == 2
    monkeypatch.setenv("SICHECK_PSEUDONYM_KEY", "another key, not the first one")
    assert cli.main(["export", "--out", str(out), *url]) == 2
    assert "not the key this database's pseudonyms were made with" in capsys.readouterr().err


def test_export_words_name_whole_days_and_refuse_what_they_do_not_know() -> None:
    request = parse_words(["csv", "since=2026-03-01", "until=2026-03-31", "country=lv"], "lv")
    assert request.filter.since == datetime(2026, 3, 1, tzinfo=UTC)
    assert request.filter.until == datetime(2026, 4, 1, tzinfo=UTC)
    assert (request.kind, request.filter.country, request.language) == ("csv", "LV", "lv")
    assert (request.names, parse_words(["codes"], "en").names) == (None, "codes")
    for words in (
        ["until=31.03.2026"],
        ["colour=red"],
        ["version=one"],
        ["version=²"],
        ["pdf"],
        ["names=xml"],
        ["country=Atlantis"],
    ):
        with pytest.raises(ExportRequestError):
            parse_words(words, "en")


async def test_a_coordinator_dropped_from_the_settings_loses_the_role(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(COORDINATOR)) as bot:
        await bot.say(COORDINATOR, "/cohort list")
        assert bot.text(COORDINATOR) != REFUSAL
    async with running_bot(database_url, sicheck_coordinators="") as bot:
        await bot.say(COORDINATOR, "/cohort list")
        assert bot.text(COORDINATOR) == REFUSAL
        await bot.say(PRACTITIONER, "/stats")
        assert bot.text(PRACTITIONER) == REFUSAL
        assert bot.errors == []


@pytest.mark.parametrize(
    ("given", "code"),
    [("LV", "LV"), ("lv", "LV"), ("Latvija", "LV"), ("Lettonie", "LV"), ("suède", "SE")],
)
def test_a_country_is_taken_by_code_or_by_name_in_any_language(given: str, code: str) -> None:
    assert parse_words([f"country={given}"], "en").filter.country == code


def test_an_unknown_country_is_refused_with_the_valid_ones(
    database: Database, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnknownCountryError) as refused:
        parse_words(["country=Latvia?"], "fr")
    assert "Latvia?" in str(refused.value)
    assert "LV (Lettonie)" in str(refused.value)
    url = ["--database-url", database_url]
    assert cli.main(["export", "--country", "Atlantis", *url]) == 2
    error = capsys.readouterr().err
    assert "Unknown country: Atlantis" in error
    assert all(code in error for code in ("LV", "ES", "FR", "SE", "BE", "FI", "HU", "PT"))
    assert cli.main(["stats", "--country", "Atlantis", *url]) == 2
    assert "Unknown country: Atlantis" in capsys.readouterr().err


async def test_an_unknown_country_is_explained_on_telegram(staffed: Harness) -> None:
    await staffed.say(COORDINATOR, "/export country=Atlantis")
    assert "Unknown country: Atlantis" in staffed.text(COORDINATOR)
    await staffed.say(COORDINATOR, "/stats country=Atlantis")
    assert "LV (Latvia)" in staffed.text(COORDINATOR)
    assert staffed.api.files_in(COORDINATOR) == []


async def test_a_spreadsheet_export_is_in_the_coordinators_words(staffed: Harness) -> None:
    await finish(staffed, PRACTITIONER)
    await staffed.say(COORDINATOR, "/export csv assessments country=Lettonie")
    [document] = staffed.api.files_in(COORDINATOR)
    rows = list(csv.reader(io.StringIO(document.content.decode("utf-8"))))
    assert rows[0][:3] == ["Respondent", "Assessment", "Cohort"]
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["Practice"], record["Country"], record["Status"]) == (
        "Soup kitchen",
        "Latvia",
        "Completed",
    )


async def test_a_cohorts_summary_counts_its_members_and_their_assessments(
    database: Database,
) -> None:
    def work(connection: Connection) -> list[CohortSummary]:
        empty, busy = new_cohort(connection, "Empty"), new_cohort(connection, "Busy")
        joined = cohort_id(connection, busy)
        for person, statuses in (("1", ("completed", "active")), ("2", ("completed",))):
            made = insert(Respondent).values(platform="telegram", external_id=person)
            respondent = connection.execute(
                made.values(cohort_id=joined).returning(Respondent.id)
            ).scalar_one()
            for status in statuses:
                connection.execute(
                    insert(Assessment).values(
                        respondent_id=respondent,
                        checklist_version=1,
                        state="q",
                        status=status,
                        cohort_id=joined,
                    )
                )
        assert [summary.code for summary in list_cohorts(connection)] == [empty, busy]
        return list_cohorts(connection)

    empty, busy = database.store.run_now(work)
    assert (empty.respondents, empty.started, empty.completed) == (0, 0, 0)
    assert (busy.name, busy.respondents, busy.started, busy.completed) == ("Busy", 2, 3, 2)


UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none"


def _lv(message: str) -> str:
    with use_language("lv"):
        return _(message)


async def test_an_export_the_database_fails_says_so_in_place_of_its_progress(
    staffed: Harness,
) -> None:
    await finish(staffed, PRACTITIONER)
    working = staffed.services.settings
    # The export reads on a connection of its own: here the database is gone by then.
    staffed.services.settings = working.model_copy(update={"database_url": UNREACHABLE})
    try:
        await staffed.say(COORDINATOR, "/export csv", language="lv")
    finally:
        staffed.services.settings = working
    assert staffed.text(COORDINATOR) == _lv(FAILED)
    assert staffed.api.files_in(COORDINATOR) == []
    assert len(staffed.errors) == 1
    staffed.errors.clear()
    await staffed.say(COORDINATOR, "/export csv")
    assert "Export ready: 10 rows." in staffed.text(COORDINATOR)


@contextmanager
def refusing_new_cohorts(database: Database) -> Iterator[None]:
    """The database refuses to add a cohort (as a full disk would), and nothing else."""
    sqlite = database.engine.dialect.name == "sqlite"
    with database.engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_cohort BEFORE INSERT ON cohort "
                "BEGIN SELECT RAISE(ABORT, 'no space left'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_cohort() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'no space left'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_cohort BEFORE INSERT ON cohort "
                "FOR EACH ROW EXECUTE FUNCTION refuse_cohort()"
            )
    try:
        yield
    finally:
        with database.engine.begin() as connection:
            if sqlite:
                connection.exec_driver_sql("DROP TRIGGER refuse_cohort")
            else:
                connection.exec_driver_sql("DROP TRIGGER refuse_cohort ON cohort")
                connection.exec_driver_sql("DROP FUNCTION refuse_cohort()")


async def test_a_command_the_database_fails_after_its_claim_asks_to_try_again(
    staffed: Harness, database: Database
) -> None:
    with refusing_new_cohorts(database):
        await staffed.say(COORDINATOR, "/cohort new Riga", language="lv")
    assert staffed.text(COORDINATOR) == _lv(FAILED)
    assert len(staffed.errors) == 1
    staffed.errors.clear()
    with database.sessions() as session:
        assert list(session.scalars(select(Cohort.name))) == []
    await staffed.say(COORDINATOR, "/cohort new Riga")
    assert "Cohort <b>Riga</b> created" in staffed.text(COORDINATOR)


async def test_a_coordinator_dropped_from_the_settings_gets_no_completion_notices(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(COORDINATOR)) as bot:
        await bot.say(COORDINATOR, "/cohort new Rīga 2026")
        link = re.search(r"\?start=([\w-]{16})", bot.text(COORDINATOR))
        assert link is not None
        await bot.say(COORDINATOR, "/notify on")
    async with running_bot(database_url, sicheck_coordinators="9") as bot:
        await finish(bot, PRACTITIONER, f"/start {link[1]}")
        assert "Summary" in bot.summary(PRACTITIONER)["text"]
        assert bot.api.chat(COORDINATOR) == []
        assert bot.errors == []


@pytest.mark.parametrize("command", ["/stats cohort=Riga", "/export csv cohort=Riga"])
async def test_a_cohort_code_that_names_no_cohort_is_refused_on_telegram(
    staffed: Harness, command: str
) -> None:
    await staffed.say(COORDINATOR, "/cohort new Riga")
    sent = len(staffed.api.chat(COORDINATOR))
    await staffed.say(COORDINATOR, command)
    told = [message["text"] for message in staffed.api.chat(COORDINATOR)[sent:]]
    assert told == ["No cohort has the code Riga: the list of cohorts shows the codes."]
    assert staffed.api.calls_to("sendDocument") == []
    assert staffed.api.calls_to("sendPhoto") == []


async def test_a_cohort_asked_for_again_by_its_maker_is_the_same_cohort(
    database: Database, database_url: str
) -> None:
    other = 9
    async with running_bot(database_url, sicheck_coordinators=f"{COORDINATOR},{other}") as bot:
        await bot.say(COORDINATOR, "/cohort new Rīga 2026")
        first = re.findall(r"\?start=([\w-]{16})", bot.text(COORDINATOR))
        # Sent again, say over a bad connection, or to find the link once more.
        await bot.say(COORDINATOR, "/cohort new rīga 2026")
        again = bot.text(COORDINATOR)
        assert "You made the cohort" in again
        assert re.findall(r"\?start=([\w-]{16})", again) == first
        # Another coordinator's cohort of the same name is their own.
        await bot.say(other, "/cohort new Rīga 2026")
        assert "created" in bot.text(other)
        assert re.findall(r"\?start=([\w-]{16})", bot.text(other)) != first
        assert bot.errors == []
    with database.sessions() as session:
        assert len(session.scalars(select(Cohort)).all()) == 2


def test_the_cli_gives_a_cohort_made_before_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--database-url", f"sqlite:///{tmp_path}/x.db"]
    assert cli.main(["cohort", "new", "Riga", *url]) == 0
    first = capsys.readouterr().out
    assert cli.main(["cohort", "new", " RIGA ", *url]) == 0
    again = capsys.readouterr().out
    assert "(made before)" in again
    assert again.rsplit(": ", 1)[1] == first.rsplit(": ", 1)[1]
