"""Adversarial use of the Telegram adapter: what a practitioner on a phone may do."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.telegram.application import COMMANDS
from bot.telegram.context import FAILED
from bot.telegram.handlers import PRIVATE_ONLY, SUMMARY_MOVED_ON
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.views import NOTHING
from storage.models import Assessment, MentorFeedback, Respondent
from storage.store import Database, connect
from tests.fake_bot_api import BotAPIError, message_update
from tests.telegram_harness import Harness, running_bot
from tests.test_mentoring import ANA as MENTEE
from tests.test_mentoring import (
    MENTOR,
    as_delivered,
    ask,
    cohort,
    finish,
    reply,
    share_with_mentor,
)
from tests.test_telegram import ANA, answer_all, log_rows, through_profile


async def test_a_message_edited_into_a_command_runs_no_command(
    bot: Harness, database: Database
) -> None:
    await through_profile(bot)
    await bot.press(ANA, "1 ·")
    await bot.feed(message_update(ANA, "/cancel", kind="edited_message"))
    assert "Edited messages are not applied" in bot.text(ANA)
    assert "Criterion 2/10" in bot.text(ANA)
    with database.sessions() as session:
        assert session.scalar(select(Assessment.status)) == "active"
    assert await log_rows(database) == [("C01", 1, 1)]


SERVICE_MESSAGES = {
    "write_access_allowed": {"from_request": True},
    "chat_background_set": {"type": {"type": "chat_theme", "theme_name": "🏠"}},
}


@pytest.mark.parametrize("kind", ["pinned_message", *SERVICE_MESSAGES])
async def test_a_service_message_in_the_chat_gets_no_reply(bot: Harness, kind: str) -> None:
    await through_profile(bot)
    sent = len(bot.api.chat(ANA))
    # Pinning the question, or changing the chat's background, is nothing the user said.
    service = {kind: bot.last(ANA) if kind == "pinned_message" else SERVICE_MESSAGES[kind]}
    await bot.feed(message_update(ANA, None, extra=service))
    assert len(bot.api.chat(ANA)) == sent
    assert "Criterion 1/10" in bot.text(ANA)


async def test_a_new_assessment_leaves_the_summary_in_the_chat(bot: Harness) -> None:
    await through_profile(bot)
    await answer_all(bot)
    await bot.press(ANA, "✅")
    summary = bot.summary(ANA)
    await bot.press(ANA, "New assessment", message=summary)
    assert "What is the name of the practice" in bot.text(ANA)
    # The summary is what a practitioner scrolls back to; the next assessment goes below it.
    assert bot.api.messages[(ANA, summary["message_id"])]["text"] == summary["text"]
    sent = len(bot.api.chat(ANA))
    await bot.press(ANA, "New assessment", message=summary)  # a double tap
    await bot.say(ANA, "Night shelter")
    await bot.press(ANA, "New assessment", message=summary)  # later, from the old summary
    # Neither tap repeats the step the chat ends with, nor touches the summary.
    assert len(bot.api.chat(ANA)) == sent + 1
    assert "In which country" in bot.text(ANA)
    assert bot.api.messages[(ANA, summary["message_id"])]["text"] == summary["text"]
    toasts = [call.params.get("text") for call in bot.api.calls_to("answerCallbackQuery")]
    assert toasts[-2:] == [SUMMARY_MOVED_ON, SUMMARY_MOVED_ON]


async def test_a_tap_on_a_summary_after_erasure_begins_anew_below_it(bot: Harness) -> None:
    await through_profile(bot)
    await answer_all(bot)
    await bot.press(ANA, "✅")
    summary = bot.summary(ANA)
    await bot.say(ANA, "/delete")
    await bot.press(ANA, "🗑")
    await bot.press(ANA, "New assessment", message=summary)
    assert "Do you agree that your answers are recorded?" in bot.text(ANA)
    assert bot.api.messages[(ANA, summary["message_id"])]["text"] == summary["text"]


async def test_a_failure_is_told_in_the_language_the_bot_speaks_to_that_user(
    database: Database, database_url: str
) -> None:
    # A Russian-speaking practitioner in Latvia: SI Check speaks the deployment's Latvian to
    # them, and so must its "not saved" message.
    async with running_bot(database_url, default_locale="lv") as bot:
        await bot.say(ANA, "/start", language="ru")
        assert "Vai jūs piekrītat" in bot.text(ANA)
        working = bot.services.database
        unreachable = connect("postgresql://nobody@127.0.0.1:9/none")
        bot.services.database = unreachable
        try:
            await bot.press(ANA, "✅", language="ru")
        finally:
            bot.services.database = working
            await unreachable.close()
        with use_language("lv"):
            assert bot.text(ANA) == _(FAILED)
        assert len(bot.errors) == 1


async def test_the_command_menu_of_other_languages_is_in_the_deployments_language(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, default_locale="lv") as bot:
        published = bot.api.calls_to("setMyCommands")
        default = next(call for call in published if call.params.get("language_code") is None)
        described = {
            command["command"]: command["description"] for command in default.params["commands"]
        }
        with use_language("lv"):
            assert described["start"] == _(COMMANDS[0][1])
        assert described["start"] != COMMANDS[0][1]


GROUP_ID = -1001234
GROUP = {"id": GROUP_ID, "type": "supergroup", "title": "Soup kitchen team"}


async def test_a_command_in_a_group_points_to_the_private_chat(
    bot: Harness, database: Database
) -> None:
    # Someone adds SI Check to their team's group and taps /start in its command menu.
    await bot.feed(message_update(ANA, "/start@sicheck_test_bot", extra={"chat": GROUP}))
    await bot.feed(message_update(ANA, "/team", extra={"chat": GROUP}, language="lv"))
    await bot.feed(message_update(ANA, "/help@other_bot", extra={"chat": GROUP}))
    await bot.feed(message_update(ANA, "hello everyone", extra={"chat": GROUP}))
    told = [message["text"] for message in bot.api.chat(GROUP_ID)]
    assert len(told) == 2
    assert all("https://t.me/sicheck_test_bot" in text for text in told)
    assert "private chat" in told[0]
    with use_language("lv"):
        assert told[1] == _(PRIVATE_ONLY, link="https://t.me/sicheck_test_bot")
    # Nothing is recorded about the group or its members.
    with database.sessions() as session:
        assert session.scalars(select(Respondent)).all() == []


async def test_a_double_tap_on_erase_does_not_say_nothing_was_erased(bot: Harness) -> None:
    await through_profile(bot)
    await bot.say(ANA, "/delete")
    question = bot.last(ANA)
    await bot.press(ANA, "🗑", message=question)
    assert "Erased: 1 assessment" in bot.text(ANA)
    await bot.press(ANA, "🗑", message=question)
    toast = bot.api.calls_to("answerCallbackQuery")[-1].params["text"]
    # Everything is gone: the second tap must not suggest the erasure failed.
    assert toast == NOTHING
    assert "Erased: 1 assessment" in bot.text(ANA)


async def test_a_mentor_who_edits_their_feedback_replaces_it(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(MENTOR)) as bot:
        code = await cohort(bot, MENTOR, "Riga")
        shared = await finish(bot, MENTEE, code)
        await share_with_mentor(bot, MENTEE, shared)
        prompt = await ask(bot, shared)
        await reply(bot, MENTOR, prompt, "Talk to the famlies first.")
        sent = bot.api.chat(MENTOR)[-1]
        assert "saved" in sent["text"]
        # The mentor fixes the typo by editing their reply, as a phone invites them to.
        edited = message_update(
            MENTOR,
            "Talk to the families first.",
            kind="edited_message",
            extra={"reply_to_message": as_delivered(prompt)},
        )
        await bot.feed(edited)
        with database.sessions() as session:
            kept = session.scalars(select(MentorFeedback.text)).all()
        assert kept == ["Talk to the families first."]
        assert "saved" in bot.text(MENTOR)
        assert "Talk to the families first." in bot.text(MENTEE)
        with database.sessions() as session:
            assert (
                session.scalar(select(Respondent).where(Respondent.external_id == str(MENTOR)))
                is None
            )
        assert bot.errors == []
        assert bot.api.violations == []


async def test_an_edited_practice_name_is_told_how_to_change_it(
    bot: Harness, database: Database
) -> None:
    await bot.say(ANA, "/start")
    await bot.press(ANA, "✅")
    await bot.say(ANA, "Soup kitchn")
    assert "In which country" in bot.text(ANA)
    await bot.feed(message_update(ANA, "Soup kitchen", kind="edited_message"))
    # Sending the name again where the country is asked would be refused: the way is /back.
    told = bot.text(ANA)
    assert "/back" in told
    await bot.say(ANA, "/back")
    await bot.say(ANA, "Soup kitchen")
    await bot.press(ANA, "Latvi")
    with database.sessions() as session:
        assert session.scalar(select(Assessment.practice_name)) == "Soup kitchen"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_help_names_every_command_of_the_menu(bot: Harness, language: str) -> None:
    await bot.say(ANA, "/help", language=language)
    shown = bot.text(ANA)
    for name, _description in COMMANDS:
        assert f"/{name}" in shown, (language, name)


async def test_a_report_that_cannot_be_sent_is_logged_without_the_practice_name(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await through_profile(bot)
    await answer_all(bot)
    await bot.press(ANA, "✅")
    blocked = BotAPIError(403, "Forbidden: bot was blocked by the user")
    bot.api.failure = lambda method: blocked if method == "sendDocument" else None
    with caplog.at_level(logging.INFO):
        await bot.press(ANA, "Report", message=bot.summary(ANA))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "report not sent" in logged
    assert "kitchen" not in logged.lower()
    bot.api.failure = None
