"""The terminal console: piped assessments, keys, bad input, data rights, resuming after
kill -9, and every screen in every language."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import os
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import Executable, select
from sqlalchemy.exc import OperationalError

from bot import admin, cli, console_teams
from bot import console as console_module
from bot.console import REPORTS_DIR, UNREACHABLE, retention_text, run_console
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.views import erased_text, plain
from storage.models import Answer, AnswerLog, Assessment, Respondent
from storage.privacy import Erased
from storage.store import Database

ROOT = Path(__file__).resolve().parents[1]
# After the organisation: tick the second target group, "Done", then skip the themes.
PROFILE = ["1", "Community kitchen", "1", "Red Cross", "2", "ok", "/skip"]
# Criterion 1 "Fully" (3); criterion 2 ticks "New needs" (t1) then "Largely" (2); criteria
# 3-10 "Largely"; then confirm on the review.
ANSWERS = ["3", "t1", "2", *["2"] * 8]
CONFIRM = ["ok"]
PROCESS_TIMEOUT = 60


async def console(
    database: Database,
    content: Content,
    lines: list[str],
    *,
    language: str | None = "en",
    reports: Path | None = None,
    user: str = "tester",
    width: int | None = 80,
) -> str:
    """Run the console on ``lines``; reports go to ``reports`` (never into the checkout)."""
    stdout = io.StringIO()
    code = await run_console(
        content,
        database,
        user=user,
        language=language,
        stdin=io.StringIO("".join(f"{line}\n" for line in lines)),
        stdout=stdout,
        reports=reports or Path(tempfile.mkdtemp(prefix="sicheck-reports-")),
        width=width,
    )
    assert code == 0
    return stdout.getvalue()


def flat(output: str) -> str:
    """The output with its wrapping undone, to find a sentence in it."""
    return " ".join(output.split())


async def test_a_piped_assessment_ends_with_the_summary(
    database: Database, content: Content
) -> None:
    output = await console(database, content, PROFILE + ANSWERS + CONFIRM)
    assert "Summary: Community kitchen" in output
    # 3 + 2 * 9 points of 30
    assert "Overall score: 70%" in output
    assert "(10 of 10 criteria scored)" in output
    with database.sessions() as session:
        answer = session.scalar(select(Answer).where(Answer.criterion == "C02"))
        assert answer is not None
        assert (answer.value, answer.aspects) == (2, ["needs"])


async def test_latvian_shows_the_seed_wording(
    database: Database, content: Content, seed_text: str
) -> None:
    output = await console(database, content, [*PROFILE, "/info"], language="lv", width=400)
    assert "Kritērijs 1/10" in output
    assert "Efektīva nabadzības samazināšana un sociālās iekļaušanas uzlabošana" in output
    assert "Efektīva nabadzības samazināšana un sociālās iekļaušanas uzlabošana" in seed_text


async def test_a_language_is_asked_when_none_is_given(
    database: Database, content: Content
) -> None:
    output = await console(database, content, ["2", "1"], language=None)
    assert "Choose your language." in output
    assert "Latviešu" in output
    assert "Vai jūs piekrītat" in output


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("99", "There is no option with that number."),
        ("0", "There is no option with that number."),
        ("", "Please type the number of an option"),
        ("hello", "Please type one of the choices shown in square brackets."),
        ("x" * 10_000, "That line is too long."),
        ("\x00\x01\x02\ufffd\ufffd", "Please type one of the choices shown in square brackets."),
        ("²", "Please type the number with the digits 0 to 9."),
        ("①", "Please type the number with the digits 0 to 9."),
        ("١", "Please type the number with the digits 0 to 9."),
        ("² ³", "Please type the number with the digits 0 to 9."),
        ("1 2", "Please type one of the choices shown in square brackets."),
        ("/frobnicate", "Unknown command."),
    ],
)
async def test_bad_input_is_answered_and_the_same_question_asked_again(
    database: Database, content: Content, line: str, reply: str
) -> None:
    output = await console(database, content, [line, "1"])
    assert reply in output
    assert output.count("Do you agree that your answers are recorded?") == 2
    assert "What is the name of the practice" in output


async def test_end_of_input_mid_assessment_keeps_the_answers(
    database: Database, content: Content
) -> None:
    output = await console(database, content, PROFILE + ANSWERS[:3])
    assert "End of input. Your answers are saved" in output
    output = await console(database, content, [])
    assert output.startswith("Resuming your assessment of Community kitchen.")
    assert "Criterion 3/10" in output
    with database.sessions() as session:
        codes = (session.scalars(select(Answer.criterion))).all()
    assert sorted(codes) == ["C01", "C02"]


async def test_help_lists_the_commands(database: Database, content: Content) -> None:
    output = await console(database, content, ["/help"])
    assert "/back" in output
    assert "/new" in output


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    data = await asyncio.wait_for(stream.readuntil(marker.encode()), PROCESS_TIMEOUT)
    return data.decode()


async def _spawn(database_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "console",
        "--user",
        "killed",
        "--lang",
        "en",
        "--database-url",
        database_url,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
async def test_sigkill_after_question_four_resumes_at_question_five(
    database: Database, database_url: str, content: Content
) -> None:
    process = await _spawn(database_url)
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("".join(f"{line}\n" for line in [*PROFILE, "1", "0", "2", "3"]).encode())
    await process.stdin.drain()
    # The view of question 5 is printed only after answer 4 was committed.
    await _read_until(process.stdout, "── 5/10 ──")
    process.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(process.wait(), PROCESS_TIMEOUT) == -signal.SIGKILL

    restarted = await _spawn(database_url)
    output, errors = await asyncio.wait_for(
        restarted.communicate("".join(f"{line}\n" for line in ["1"]).encode()), PROCESS_TIMEOUT
    )
    text = output.decode()
    assert restarted.returncode == 0, errors.decode()
    assert text.startswith("Resuming your assessment of Community kitchen.")
    assert text.index("── 5/10 ──") < text.index("── 6/10 ──")
    assert "── 4/10 ──" not in text
    with database.sessions() as session:
        rows = (
            session.execute(select(AnswerLog.criterion, AnswerLog.value).order_by(AnswerLog.id))
        ).all()
    assert [tuple(row) for row in rows] == [
        ("C01", 1),
        ("C02", 0),
        ("C03", 2),
        ("C04", 3),
        ("C05", 1),
    ]


async def test_the_report_option_writes_the_pdf_report(
    database: Database, content: Content, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    # On the summary, r writes the report.
    lines = [*PROFILE, *ANSWERS, *CONFIRM, "r"]
    output = await console(database, content, lines, reports=reports)
    [written] = await asyncio.to_thread(lambda: list(reports.iterdir()))
    assert f"Report written to {written}" in flat(output)
    pages = (await asyncio.to_thread(PdfReader, written)).pages
    assert "Community kitchen" in "".join(page.extract_text() for page in pages)


async def _rows(database: Database, statement: Executable) -> list[Any]:
    """The rows of ``statement``, read through the store as the console's steps are."""
    return await database.store.run(lambda connection: list(connection.execute(statement)))


async def _assessment_count(database: Database) -> int:
    return len(await _rows(database, select(Assessment.id)))


async def test_every_criterion_takes_its_scale_value_as_the_key(
    database: Database, content: Content
) -> None:
    output = await console(database, content, [*PROFILE, "3", "/info", "t1", "0"])
    # The same keys on criteria 1 and 3, on criterion 2 (with its novelty ticks), after /info.
    assert output.count("[0] Not at all   [1] Partly") == 5
    assert output.count("[2] Largely   [3] Fully") == 5
    assert output.count("[n] Not applicable / don't know") == 5
    assert "[t1] ☑️ New needs" in output
    rows = await _rows(database, select(Answer.criterion, Answer.value))
    assert sorted(tuple(row) for row in rows) == [("C01", 3), ("C02", 0)]


async def test_an_error_replaces_the_one_before(database: Database, content: Content) -> None:
    output = await console(database, content, [*PROFILE[:5], "/info", "abc"])
    assert output.count("That is not possible at this step.") == 1
    last = output.split("\n! ")[-1]
    assert last.startswith("Please type one of the choices shown in square brackets.")
    assert "That is not possible" not in last
    assert "Whom does the practice work with?" in last


async def test_the_question_is_shown_again_after_help(
    database: Database, content: Content
) -> None:
    output = await console(database, content, [*PROFILE, "/help", "/privacy"])
    assert output.count("Criterion 1/10") == 3
    assert "90 days without activity" in flat(output)


async def test_a_name_of_digits_is_a_name(database: Database, content: Content) -> None:
    output = await console(database, content, ["1", "2030", "1", "Org", "ok", "ok", "9"])
    assert "There is no option with that number." in output  # 9 on criterion 1
    assert await _rows(database, select(Assessment.practice_name)) == [("2030",)]


async def test_text_is_wrapped_to_the_width_without_cutting_words(
    database: Database, content: Content
) -> None:
    output = await console(database, content, [*PROFILE, "/info"], width=40)
    words = set(" ".join(output.split()).split())
    for line in output.splitlines():
        if len(line) > 40:  # only a single word longer than the width may stick out
            assert " " not in line.strip() or line.startswith("[") or line.startswith("http")
    question = content.latest.criteria[0].question
    assert set(question.split()) <= words


async def test_declining_consent_does_not_say_answers_are_saved(
    database: Database, content: Content
) -> None:
    output = await console(database, content, ["2"])
    assert output.rstrip().endswith("End of input. Nothing was recorded.")
    assert "Your answers are saved" not in output


async def test_reopening_after_a_finished_assessment_creates_nothing(
    database: Database, content: Content, tmp_path: Path
) -> None:
    await console(database, content, PROFILE + ANSWERS + CONFIRM)
    assert await _assessment_count(database) == 1
    output = await console(database, content, [])
    output += await console(database, content, ["xyz"], reports=tmp_path)
    assert output.count("Welcome back. Your last assessment:") == 2
    assert "Overall score: 70%" in output
    assert "[r] 📄 Report" in output
    assert "[new] 🔄 New assessment" in output
    assert "[h] Your finished assessments" in output
    # A mistyped key on the summary shows the headline again, not the whole summary.
    assert output.count("Strongest criteria") == 0
    assert await _assessment_count(database) == 1
    output = await console(database, content, ["new"])
    assert "What is the name of the practice" in output
    assert await _assessment_count(database) == 2


async def test_history_opens_a_past_summary_and_writes_its_pdf(
    database: Database, content: Content, tmp_path: Path
) -> None:
    await console(database, content, PROFILE + ANSWERS + CONFIRM + ["new"])
    reports = tmp_path / "reports"
    output = await console(database, content, ["/history", "1", "r", "b", "b"], reports=reports)
    assert "Resuming your assessment." not in output  # a fresh one, nothing to resume
    assert "1. Community kitchen" in output
    assert "Strongest criteria" in output
    [written] = await asyncio.to_thread(lambda: list(reports.iterdir()))
    assert written.name.endswith("community-kitchen.pdf")
    assert f"Report written to {written}" in flat(output)
    assert output.rstrip().endswith("Your answers are saved: run sicheck console to continue.")


async def test_a_failed_read_after_the_final_answer_does_not_say_it_was_lost(
    database: Database, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*_args: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(console_teams, "what_next", locked)
    output = await console(database, content, PROFILE + ANSWERS + CONFIRM)
    assert "Strongest criteria" in output
    assert "could not be saved" not in output
    statuses = await _rows(database, select(Assessment.status))
    assert statuses == [("completed",)]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_a_database_that_fails_at_the_start_is_one_clear_line(
    database: Database, content: Content, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    def locked(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(console_module, "load", locked)
    stdout = io.StringIO()
    code = await run_console(
        content,
        database,
        user="tester",
        language=language,
        stdin=io.StringIO("1\n"),
        stdout=stdout,
        reports=Path(tempfile.mkdtemp(prefix="sicheck-reports-")),
    )
    assert code == 1
    with use_language(language):
        assert plain(_(UNREACHABLE)) in flat(stdout.getvalue())


async def test_new_over_an_unfinished_assessment_asks_first(
    database: Database, content: Content
) -> None:
    output = await console(database, content, [*PROFILE, "3", "/new", "2", "/new", "1"])
    assert output.count("Your assessment is not finished. Start a new one?") == 2
    assert output.count("Criterion 2/10") == 2  # shown again after "go on with this one"
    statuses = await _rows(database, select(Assessment.status).order_by(Assessment.id))
    assert statuses == [("cancelled",), ("active",)]


async def test_mydata_writes_the_json_and_says_where(
    database: Database, content: Content, tmp_path: Path
) -> None:
    output = await console(database, content, [*PROFILE, "2", "/mydata"], reports=tmp_path)
    path = tmp_path / "sicheck-my-data.json"
    assert f"Your data was written to {path}" in flat(output)
    data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    assert data["respondent"]["user_id"] == "tester"
    assert data["assessments"][0]["answers"][0]["value"] == 2
    assert output.count("Criterion 2/10") == 2


async def test_delete_asks_then_erases_everything(database: Database, content: Content) -> None:
    output = await console(database, content, [*PROFILE, "3", "/delete", "2"])
    assert "Nothing was erased." in output
    output = await console(database, content, ["/delete", "x", "1", "3"])
    assert "Erase everything?" in output
    assert "Erased: 1 assessment, 1 answer and 1 answer-log entry." in flat(output)
    assert "Your answers are saved" not in output
    assert await _rows(database, select(Respondent.id)) == []


async def test_delete_removes_the_files_written_for_the_user_only(
    database: Database, content: Content, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    await console(database, content, PROFILE + ANSWERS + CONFIRM, reports=reports)
    await console(database, content, ["/history", "1", "r", "b", "b"], reports=reports)
    await console(database, content, [*PROFILE, "/mydata"], reports=reports, user="ben")
    ben_copy = reports / "sicheck-my-data.json"
    [report] = reports.glob("*.pdf")
    await console(database, content, ["/delete", "1"], reports=reports)
    assert not report.exists()
    assert ben_copy.exists()  # another user's copy of their data stays
    await console(database, content, ["/delete", "1"], reports=reports, user="ben")
    assert list(reports.iterdir()) == []


async def test_the_console_user_is_erased_from_the_command_line(
    database: Database,
    database_url: str,
    content: Content,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # where the console writes by default, as the CLI erases
    await console(
        database, content, [*PROFILE, "3", "/mydata"], user="ana maria", reports=REPORTS_DIR
    )
    assert (REPORTS_DIR / "sicheck-my-data.json").exists()
    code = await asyncio.to_thread(
        cli.main, ["erase", "--console-user", "ana maria", "--database-url", database_url]
    )
    assert code == 0
    assert "erased 1 respondent, 1 assessment, 1 answer and 1 answer-log entry" in (
        capsys.readouterr().out
    )
    assert await _rows(database, select(Respondent.id)) == []
    assert list(REPORTS_DIR.iterdir()) == []


COUNTS = (0, 1, 2, 5, 11, 21)
ERASED_FORMS = {
    "en": ("assessments", "assessment", "assessments", "assessments", "assessments",
           "assessments"),
    "lv": ("novērtējumu", "novērtējums", "novērtējumi", "novērtējumi", "novērtējumi",
           "novērtējums"),
    "es": ("evaluaciones", "evaluación", "evaluaciones", "evaluaciones", "evaluaciones",
           "evaluaciones"),
    "fr": ("évaluation", "évaluation", "évaluations", "évaluations", "évaluations", "évaluations"),
    "sv": ("bedömningar", "bedömning", "bedömningar", "bedömningar", "bedömningar",
           "bedömningar"),
}  # fmt: skip
DAY_FORMS = {
    "en": ("days", "day", "days", "days", "days", "days"),
    "lv": ("dienām", "dienas", "dienām", "dienām", "dienām", "dienas"),
    "es": ("días", "día", "días", "días", "días", "días"),
    "fr": ("jour", "jour", "jours", "jours", "jours", "jours"),
    "sv": ("dagar", "dag", "dagar", "dagar", "dagar", "dagar"),
}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_counts_read_right_in_every_language(language: str) -> None:
    for count, assessment, day in zip(
        COUNTS, ERASED_FORMS[language], DAY_FORMS[language], strict=True
    ):
        with use_language(language):
            erased = erased_text(count, count, count)
            kept = retention_text(count)
        assert f"{count} {assessment}," in erased, erased
        assert f"{count} {day} " in kept, kept
        assert "%(" not in erased + kept


def _english_fragments(language: str) -> list[str]:
    """Phrases of English message ids that ``language`` translates differently."""
    from bot.runtime import catalog_texts

    fragments = []
    for english, translated in catalog_texts(language).items():
        if not translated:
            continue
        for fragment in re.split(r"%\([a-z_]+\)s|\n", plain(english)):
            fragment = fragment.strip()
            # Long enough to be wording, not a name or a number the languages share.
            if len(fragment) >= 16 and fragment not in plain(translated):
                fragments.append(fragment)
    return fragments


SCREENS_FIRST_RUN = [
    "/help", "1", "²", "", "x" * 5000, "/frobnicate", "/privacy", "Zupas virtuve", "/info",
    "1", "Sarkanais Krusts", "1", "ok", "1", "ok", "/info", "3", "t1", "/info", "a comment",
    "2", "/new", "2", *["2"] * 8, "ok", "xyz", "r", "h", "1", "r", "b", "b", "/mydata",
    "/delete", "2",
]  # fmt: skip
"""Every kind of screen: help, errors, each profile step, questions with guidance, the
review, the summary, the report, history, a past summary, the data copy and both questions."""


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED_LANGUAGES if lang != "en"])
async def test_every_screen_speaks_the_language(
    database: Database, content: Content, language: str, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    run = functools.partial(console, database, content, language=language, reports=reports)
    output = await run(SCREENS_FIRST_RUN)
    output += await run([])  # welcome back
    output += await run(["/new", "/history", "b", "/cancel", "/delete", "1"])
    output += await run(["2"], user="declines")
    output += await run(["1", "/skip"], user="unnamed")  # resuming an unnamed assessment
    output += await run([], user="unnamed")
    text = flat(output)
    left_over = [fragment for fragment in _english_fragments(language) if fragment in text]
    assert left_over == []
    # The screens above were all reached.
    for marker in ("[r]", "[h]", "[t1]", "[ok]", "[new]", "[2]"):
        assert marker in output
    assert text.count("! ") >= 5


async def test_the_console_says_type_not_send(database: Database, content: Content) -> None:
    lines = ["1", "", "Community kitchen", "1", "/info", "Red Cross", "ok", "ok", "7"]
    output = await console(database, content, [*lines, "/history", "b", "/privacy"])
    output += await console(database, content, ["1"], user="declines")
    assert "send" not in output.lower()
    assert "message" not in output.lower()
    assert "Type the name and press Enter." in output
    assert "You may add a comment: type it and press Enter." in output


RESPONDENT_FORMS = {
    "en": ("respondents", "respondent", "respondents", "respondents", "respondents",
           "respondents"),
    "lv": ("respondentu", "respondents", "respondenti", "respondenti", "respondenti",
           "respondents"),
    "es": ("participantes", "participante", "participantes", "participantes", "participantes",
           "participantes"),
    "fr": ("répondant", "répondant", "répondants", "répondants", "répondants", "répondants"),
    "sv": ("svarande",) * 6,
}  # fmt: skip
IDENTITY_FORMS = {
    "en": ("identities", "identity", "identities", "identities", "identities", "identities"),
    "lv": ("identitāšu", "identitāte", "identitātes", "identitātes", "identitātes", "identitāte"),
    "es": ("identidades", "identidad", "identidades", "identidades", "identidades",
           "identidades"),
    "fr": ("identité", "identité", "identités", "identités", "identités", "identités"),
    "sv": ("identiteter", "identitet", "identiteter", "identiteter", "identiteter",
           "identiteter"),
}  # fmt: skip


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_operators_counts_read_right_in_every_language(language: str) -> None:
    forms = zip(COUNTS, RESPONDENT_FORMS[language], IDENTITY_FORMS[language], strict=True)
    for count, respondent, identity in forms:
        with use_language(language):
            erased = admin.erased_line(Erased(count, count, count, count))
            purged = admin.purged_line(count, Erased(count, count, count, count))
        assert f"{count} {respondent}, " in erased, erased
        assert f"{count} {identity}" in purged, purged
