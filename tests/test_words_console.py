"""The console's keys hold on every criterion, /help names every command, and Telegram's
/start and /resume are understood."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES
from storage.models import Answer, Assessment
from storage.store import Database
from tests.test_console import ANSWERS, CONFIRM, PROFILE, _rows, console, flat


async def test_s_skips_a_criterion_with_a_comment_waiting_and_keeps_no_text(
    database: Database, content: Content
) -> None:
    output = await console(database, content, [*PROFILE, "Too early to say", "s", "3"])
    assert "[s] Skip, without the comment ➡️" in output
    assert "Your comment: s" not in output
    # Criterion 1 skipped without its comment; "3" answered criterion 2.
    rows = await _rows(database, select(Answer.criterion, Answer.value, Answer.comment))
    assert [tuple(row) for row in rows] == [("C02", 3, None)]


async def test_start_and_resume_show_the_assessment_under_way(
    database: Database, content: Content
) -> None:
    output = await console(database, content, [*PROFILE, "3", "/start", "/history", "/resume"])
    assert "Unknown command" not in output
    assert output.count("Criterion 2/10") == 3
    assert len(await _rows(database, select(Assessment.id))) == 1


async def test_start_begins_a_new_assessment_after_a_finished_one(
    database: Database, content: Content
) -> None:
    await console(database, content, PROFILE + ANSWERS + CONFIRM)
    output = await console(database, content, ["/start"])
    assert "Unknown command" not in output
    assert "What is the name of the practice" in output
    statuses = await _rows(database, select(Assessment.status).order_by(Assessment.id))
    assert [status for (status,) in statuses] == ["completed", "active"]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_help_names_the_team_commands(
    database: Database, content: Content, language: str
) -> None:
    output = flat(await console(database, content, ["/help"], language=language))
    assert "/team (" in output
    assert "/join " in output


async def test_input_ending_before_consent_says_nothing_was_recorded(
    database: Database, content: Content
) -> None:
    for lines in ([], ["2", "/start"]):
        output = await console(database, content, lines, user=f"quiet{len(lines)}")
        assert output.rstrip().endswith("End of input. Nothing was recorded.")
        assert "Your answers are saved" not in output


async def test_resuming_names_the_practice_as_it_was_typed(
    database: Database, content: Content
) -> None:
    name = "Kitchen &amp; <b>Garden</b>"
    await console(database, content, ["1", name])
    output = await console(database, content, [])
    assert f"Resuming your assessment of {name}." in output


async def test_a_wrong_join_code_asks_for_a_new_invitation_not_a_link(
    database: Database, content: Content
) -> None:
    output = flat(await console(database, content, [*PROFILE, "/join nosuchcode"]))
    assert "Ask the team's owner for a new invitation." in output
    assert "link" not in output
    # The assessment under way is untouched.
    assert "Criterion 1/10" in output.rsplit("not valid", 1)[1]
