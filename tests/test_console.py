"""The terminal console: piped assessments, bad input, and resuming after kill -9."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.console import run_console
from dialogs.content import Content
from storage.models import Answer, AnswerLog
from storage.store import Database

ROOT = Path(__file__).resolve().parents[1]
# After the organisation: tick the second target group, "Done", then skip the themes.
PROFILE = ["1", "Community kitchen", "1", "Red Cross", "2", "13", "/skip"]
# Criterion 1 "Fully"; criterion 2 ticks "New needs" then "Largely" (its levels follow the
# four aspect toggles); criteria 3-10 "Largely"; then confirm on the review.
ANSWERS = ["4", "1", "7", *["3"] * 8]
CONFIRM = ["11"]
PROCESS_TIMEOUT = 60


async def console(
    database: Database,
    content: Content,
    lines: list[str],
    *,
    language: str | None = "en",
    reports: Path | None = None,
) -> str:
    """Run the console on ``lines``; reports go to ``reports`` (never into the checkout)."""
    stdout = io.StringIO()
    code = await run_console(
        content,
        database,
        user="tester",
        language=language,
        stdin=io.StringIO("".join(f"{line}\n" for line in lines)),
        stdout=stdout,
        reports=reports or Path(tempfile.mkdtemp(prefix="sicheck-reports-")),
    )
    assert code == 0
    return stdout.getvalue()


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
    output = await console(database, content, [*PROFILE, "/info"], language="lv")
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
        ("hello", "Please type the number of one of the options."),
        ("x" * 10_000, "That line is too long."),
        ("\x00\x01\x02\ufffd\ufffd", "Please type the number of one of the options."),
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
    process.stdin.write("".join(f"{line}\n" for line in [*PROFILE, "2", "5", "3", "4"]).encode())
    await process.stdin.drain()
    # The view of question 5 is printed only after answer 4 was committed.
    await _read_until(process.stdout, "── 5/10 ──")
    process.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(process.wait(), PROCESS_TIMEOUT) == -signal.SIGKILL

    restarted = await _spawn(database_url)
    output, errors = await asyncio.wait_for(
        restarted.communicate("".join(f"{line}\n" for line in ["2"]).encode()), PROCESS_TIMEOUT
    )
    text = output.decode()
    assert restarted.returncode == 0, errors.decode()
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
    # On the summary, option 1 is the report.
    lines = [*PROFILE, *ANSWERS, *CONFIRM, "1"]
    output = await console(database, content, lines, reports=reports)
    [written] = await asyncio.to_thread(lambda: list(reports.iterdir()))
    assert f"Report written to {written}" in output
    pages = (await asyncio.to_thread(PdfReader, written)).pages
    assert "Community kitchen" in "".join(page.extract_text() for page in pages)
