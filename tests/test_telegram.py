"""The Telegram adapter end to end: real Application, real Update JSON, offline Bot API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from telegram.error import NetworkError

from bot.telegram import callback_data as codec
from bot.telegram.callback_data import (
    LARGEST,
    MAX_BYTES,
    ErasePress,
    LanguagePress,
    NoticesOffPress,
    OpenPress,
    RemindersOffPress,
    ReportPress,
    StepPress,
)
from dialogs import events
from dialogs.content import Content, default_content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.report import country_name
from storage.models import (
    Answer,
    AnswerLog,
    Assessment,
    Coordinator,
    ProcessedUpdate,
    Respondent,
)
from storage.store import Database, connect
from tests.fake_bot_api import BotAPIError, FakeBotAPI, buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot

ANA = 501
BEN = 502


async def log_rows(database: Database) -> list[tuple[str, int | None, int]]:
    with database.sessions() as session:
        rows = session.execute(
            select(AnswerLog.criterion, AnswerLog.value, AnswerLog.revision).order_by(AnswerLog.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def through_profile(bot: Harness, user_id: int = ANA, language: str = "en") -> None:
    await bot.say(user_id, "/start", language=language)
    await bot.press(user_id, "✅", language=language)
    await bot.say(user_id, "Soup kitchen", language=language)
    await bot.press(user_id, "Latvi", language=language)
    await bot.press(user_id, "Skip" if language == "en" else "Izlaist", language=language)
    for _tags in ("target groups", "themes"):
        await bot.press(user_id, "✅", language=language)


async def answer_all(bot: Harness, user_id: int = ANA, language: str = "en") -> None:
    for number in range(1, 11):
        if number == 2:
            await bot.press(user_id, "⬜", language=language)
        await bot.press(user_id, f"{number % 4} ·", language=language)


async def test_a_practitioner_completes_the_assessment_in_english(
    bot: Harness, database: Database
) -> None:
    await bot.say(ANA, "/start")
    assert "Do you agree" in bot.text(ANA)
    await through_profile(bot)
    question = bot.last(ANA)
    assert "Criterion 1/10" in question["text"]
    await answer_all(bot)
    assert "Review your answers" in bot.text(ANA)
    await bot.press(ANA, "✅")
    summary = bot.summary(ANA)["text"]
    assert "Summary: Soup kitchen" in summary
    assert "Overall score" in summary
    # Every question was shown by editing the one question message in place.
    assert bot.summary(ANA)["message_id"] == question["message_id"]
    rows = await log_rows(database)
    assert [row[0] for row in rows] == [f"C{n:02d}" for n in range(1, 11)]
    assert len(bot.api.calls_to("answerCallbackQuery")) == bot.presses == 17
    with database.sessions() as session:
        assessment = session.scalar(select(Assessment))
        assert assessment is not None
        assert assessment.status == "completed"


async def test_a_practitioner_completes_the_assessment_in_latvian(
    bot: Harness, database: Database
) -> None:
    await bot.say(ANA, "/start", language="lv")
    assert "Vai jūs piekrītat" in bot.text(ANA)
    await through_profile(bot, language="lv")
    assert "Kritērijs 1/10" in bot.text(ANA)
    assert "Efektīva nabadzības samazināšana" in bot.text(ANA)
    await answer_all(bot, language="lv")
    await bot.press(ANA, "✅", language="lv")
    assert "Kopsavilkums: Soup kitchen" in bot.summary(ANA)["text"]
    assert len(await log_rows(database)) == 10


async def test_commands_are_published_in_every_language(bot: Harness) -> None:
    published = bot.api.calls_to("setMyCommands")
    languages = {call.params.get("language_code") for call in published}
    assert languages == {None, *SUPPORTED_LANGUAGES}
    names = {command["command"] for command in published[0].params["commands"]}
    assert names == {
        *("start", "new", "resume", "back", "history", "language", "help", "cancel"),
        *("privacy", "mydata", "delete", "team"),
    }


async def test_back_and_edit_from_the_review(bot: Harness, database: Database) -> None:
    await through_profile(bot)
    await bot.press(ANA, "1 ·")
    await bot.press(ANA, "⬅️")
    assert "Criterion 1/10" in bot.text(ANA)
    await bot.press(ANA, "3 ·")
    await bot.say(ANA, "/back")
    assert "Criterion 1/10" in bot.text(ANA)
    assert "Your answer: <b>Fully</b>" in bot.text(ANA)
    await bot.press(ANA, "Skip")
    for _number in range(2, 11):
        await bot.press(ANA, "Skip")
    assert "Review your answers" in bot.text(ANA)
    await bot.press(ANA, "✏️ 5")
    assert "Criterion 5/10" in bot.text(ANA)
    await bot.press(ANA, "2 ·")
    assert "Review your answers" in bot.text(ANA)
    assert await log_rows(database) == [("C01", 1, 1), ("C01", 3, 2), ("C05", 2, 1)]


async def test_a_double_tap_records_one_answer(bot: Harness, database: Database) -> None:
    await through_profile(bot)
    question = bot.last(ANA)
    data = next(data for label, data in buttons(question) if label.startswith("2 ·"))
    await bot.feed(callback_update(ANA, data, question))
    await bot.feed(callback_update(ANA, data, question))
    assert await log_rows(database) == [("C01", 2, 1)]
    assert "Criterion 2/10" in bot.text(ANA)
    answers = bot.api.calls_to("answerCallbackQuery")
    assert "moved on" in answers[-1].params.get("text", "")


async def test_a_redelivered_update_is_applied_once(bot: Harness, database: Database) -> None:
    await through_profile(bot)
    question = bot.last(ANA)
    data = next(data for label, data in buttons(question) if label.startswith("3 ·"))
    update = callback_update(ANA, data, question, update_id=777_001)
    await bot.feed(update)
    sent = len(bot.api.calls_to("sendMessage"))
    await bot.feed(update)
    assert await log_rows(database) == [("C01", 3, 1)]
    # The repeat re-shows the same view: an edit Telegram refuses as "not modified",
    # which is no error and sends nothing new.
    assert len(bot.api.calls_to("sendMessage")) == sent
    assert len(bot.api.calls_to("answerCallbackQuery")) == bot.presses
    with database.sessions() as session:
        claimed = session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == 777_001)
        )
    assert claimed == 1


async def test_a_press_on_an_earlier_question_changes_nothing(
    bot: Harness, database: Database
) -> None:
    await through_profile(bot)
    first = dict(bot.last(ANA))
    await bot.press(ANA, "1 ·")
    await bot.press(ANA, "3 ·", message=first)
    assert "This question has moved on" in bot.text(ANA)
    assert "Criterion 2/10" in bot.text(ANA)
    assert await log_rows(database) == [("C01", 1, 1)]


@pytest.mark.parametrize(
    "data",
    ["v1:999999:1:a:C01:3", "garbage", "v1:1:1:a:C99:3", "v9:1:1:ok", "x" * MAX_BYTES],
)
async def test_forged_callback_data_changes_nothing(
    bot: Harness, database: Database, data: str
) -> None:
    await through_profile(bot)
    await bot.feed(callback_update(ANA, data, bot.last(ANA)))
    assert "This question has moved on" in bot.text(ANA)
    assert "Criterion 1/10" in bot.text(ANA)
    assert await log_rows(database) == []


async def test_a_press_on_another_users_message_changes_nothing(
    bot: Harness, database: Database
) -> None:
    await through_profile(bot, ANA)
    await through_profile(bot, BEN)
    anas_question = bot.last(ANA)
    data = next(data for label, data in buttons(anas_question) if label.startswith("3 ·"))
    await bot.feed(callback_update(BEN, data, anas_question))
    assert await log_rows(database) == []


async def test_free_text_where_a_button_is_expected(bot: Harness, database: Database) -> None:
    await bot.say(ANA, "/start")
    await bot.say(ANA, "yes please")
    assert "Please choose one of the options" in bot.text(ANA)
    assert "Do you agree" in bot.text(ANA)


@pytest.mark.parametrize(
    "extra",
    [
        {"sticker": {"file_id": "s1", "file_unique_id": "u1", "type": "regular",
                     "width": 512, "height": 512, "is_animated": False, "is_video": False}},
        {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
        {"document": {"file_id": "d1", "file_unique_id": "u3", "file_name": "a.exe"}},
        {"location": {"latitude": 56.95, "longitude": 24.1}},
    ],
)  # fmt: skip
async def test_media_get_a_clear_answer_and_the_question_again(
    bot: Harness, database: Database, extra: dict[str, Any]
) -> None:
    await through_profile(bot)
    await bot.feed(message_update(ANA, None, extra=extra))
    assert "reads text messages and button presses only" in bot.text(ANA)
    assert "Criterion 1/10" in bot.text(ANA)
    assert await log_rows(database) == []


async def test_an_edited_message_is_not_applied(bot: Harness, database: Database) -> None:
    await through_profile(bot)
    await bot.say(ANA, "First comment")
    await bot.feed(message_update(ANA, "Changed comment", kind="edited_message"))
    assert "Edited messages are not applied" in bot.text(ANA)
    assert "First comment" in bot.text(ANA)


async def test_an_unknown_command_is_explained(bot: Harness) -> None:
    await bot.say(ANA, "/start")
    await bot.say(ANA, "/frobnicate")
    assert "Unknown command" in bot.text(ANA)


async def test_help_and_language(bot: Harness) -> None:
    await bot.say(ANA, "/start")
    await bot.say(ANA, "/help")
    assert "/new" in bot.text(ANA)
    await bot.say(ANA, "/language")
    await bot.press(ANA, "Latviešu")
    assert "Vai jūs piekrītat" in bot.text(ANA)
    await bot.say(ANA, "/help")
    assert "Atbildiet uz katru jautājumu ar pogām" in bot.text(ANA)
    await bot.say(ANA, "/language")
    assert bot.text(ANA) == "Izvēlieties valodu."


async def test_a_comment_is_stored_with_its_answer(bot: Harness, database: Database) -> None:
    await through_profile(bot)
    await bot.say(ANA, "Volunteers <3 & staff")
    assert "Volunteers &lt;3 &amp; staff" in bot.text(ANA)
    await bot.press(ANA, "2 ·")
    with database.sessions() as session:
        comment = session.scalar(select(Answer.comment))
    assert comment == "Volunteers <3 & staff"


async def test_a_deep_link_payload_is_stored(bot: Harness, database: Database) -> None:
    await bot.say(ANA, "/start cohort-riga-2026")
    with database.sessions() as session:
        respondent = session.scalar(select(Respondent))
    assert respondent is not None
    assert respondent.start_payload == "cohort-riga-2026"


async def test_an_uneditable_message_is_replaced_by_a_new_one(bot: Harness) -> None:
    await through_profile(bot)
    question = bot.last(ANA)
    del bot.api.messages[(ANA, question["message_id"])]
    data = next(data for label, data in buttons(question) if label.startswith("1 ·"))
    await bot.feed(callback_update(ANA, data, question))
    assert "Criterion 2/10" in bot.text(ANA)
    assert bot.last(ANA)["message_id"] != question["message_id"]


async def test_a_new_application_on_the_same_database_resumes(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url) as first:
        await through_profile(first)
        await first.press(ANA, "2 ·")
        await first.press(ANA, "3 ·")
        assert first.errors == []
    async with running_bot(database_url) as second:
        await second.say(ANA, "/resume")
        assert "Criterion 3/10" in second.text(ANA)
        await second.press(ANA, "1 ·")
        assert "Criterion 4/10" in second.text(ANA)
        assert second.errors == []
    assert [row[:2] for row in await log_rows(database)] == [
        ("C01", 2),
        ("C02", 3),
        ("C03", 1),
    ]


async def test_a_database_failure_is_reported_to_the_user(
    database: Database, database_url: str, content: Content
) -> None:
    async with running_bot(database_url) as bot:
        await through_profile(bot)
        working = bot.services.database
        unreachable = connect("postgresql://nobody@127.0.0.1:9/none")
        bot.services.database = unreachable
        try:
            await bot.press(ANA, "2 ·")
        finally:
            bot.services.database = working
            await unreachable.close()
        assert "Something went wrong" in bot.text(ANA)
        assert len(bot.errors) == 1
        bot.errors.clear()
        await bot.say(ANA, "/resume")
        assert "Criterion 1/10" in bot.text(ANA)
        assert bot.errors == []
    assert await log_rows(database) == []


@pytest.mark.parametrize(
    "failure",
    [
        BotAPIError(429, "Too Many Requests: retry after 1", retry_after=1),
        BotAPIError(502, "Bad Gateway"),
        NetworkError("connection reset by peer"),
    ],
    ids=["429", "5xx", "dropped"],
)
async def test_a_flaky_bot_api_loses_no_answer(
    database: Database, database_url: str, failure: Exception
) -> None:
    api = FakeBotAPI()
    calls = 0

    def every_third_reply_fails(method: str) -> Exception | None:
        nonlocal calls
        if method not in ("sendMessage", "editMessageText", "answerCallbackQuery"):
            return None
        calls += 1
        return failure if calls % 3 == 0 else None

    async with running_bot(database_url, api) as bot:
        await through_profile(bot)
        api.failure = every_third_reply_fails
        await answer_all(bot)
        await bot.press(ANA, "✅")
        assert "Summary: Soup kitchen" in bot.summary(ANA)["text"]
        assert bot.errors == []
    assert len(await log_rows(database)) == 10


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_a_whole_assessment_in_each_language(
    bot: Harness, database: Database, language: str
) -> None:
    await bot.say(ANA, "/start", language=language)
    with use_language(language):
        assert _("Do you agree that your answers are recorded?") in bot.text(ANA)
    await bot.tap(ANA, "y", language=language)
    await bot.say(ANA, "Soup kitchen", language=language)
    with use_language(language):
        assert country_name("LV") in [label for label, _data in buttons(bot.last(ANA))]
    profile = ("c:LV", "s", "g:homeless", "ok", "g:housing", "ok")
    for action in (*profile, "a:C01:3", "t:C02:needs", "t:C02:actors", "a:C02:2"):
        await bot.tap(ANA, action, language=language)
    for number in range(3, 11):
        await bot.tap(ANA, f"a:C{number:02d}:{number % 4}", language=language)
    await bot.tap(ANA, "ok", language=language)
    with use_language(language):
        summary = bot.summary(ANA)["text"]
        assert _("Summary: %(practice)s", practice="Soup kitchen") in summary
        assert _(default_content().latest.criterion("C06").title) in summary
    assert len(await log_rows(database)) == 10


async def test_a_huge_message_is_refused_politely(bot: Harness, database: Database) -> None:
    await through_profile(bot)
    await bot.say(ANA, "x" * 4096)
    assert "That comment is too long" in bot.text(ANA)
    assert "Criterion 1/10" in bot.text(ANA)
    assert await log_rows(database) == []


async def test_a_press_on_a_message_too_old_to_read_gets_a_new_message(
    bot: Harness, database: Database
) -> None:
    await through_profile(bot)
    question = bot.last(ANA)
    data = next(data for label, data in buttons(question) if label.startswith("2 ·"))
    # Telegram sends such messages with date 0: the bot may no longer read or edit them.
    inaccessible = {"message_id": question["message_id"], "chat": question["chat"], "date": 0}
    await bot.feed(callback_update(ANA, data, inaccessible))
    assert "Criterion 2/10" in bot.text(ANA)
    assert bot.last(ANA)["message_id"] != question["message_id"]
    assert await log_rows(database) == [("C01", 2, 1)]


def every_step_event(content: Content) -> list[events.Event]:
    """One event of every kind a dialogue button sends, with the longest codes of the content."""
    checklist = content.latest
    taxonomy = checklist.knowledge.taxonomy
    simple = (events.Consent(True), events.Consent(False), events.Back(), events.Skip())
    more = (events.Info(), events.Confirm(), events.Cancel(), events.Restart())
    found: list[events.Event] = [
        *simple,
        *more,
        *(events.ChooseLanguage(code) for code in SUPPORTED_LANGUAGES),
        events.ChooseCountry("LV"),
        events.ChooseCountry(None),
        *(events.ToggleTag(tag.code) for tag in (*taxonomy.target_groups, *taxonomy.themes)),
    ]
    for criterion in checklist.criteria:
        found.append(events.Edit(criterion.code))
        found.append(events.Answer(criterion.code, None))
        found.extend(events.Answer(criterion.code, value) for value in range(4))
        found.extend(events.ToggleAspect(criterion.code, a.code) for a in criterion.aspects)
    return found


TEAM_ACTIONS = ("summary", "leave", "leave-yes", "close")


def every_press(content: Content) -> list[codec.Press]:
    """A press of every kind, with the largest ids a button can carry."""
    return [
        *(StepPress(LARGEST, event) for event in every_step_event(content)),
        ReportPress(LARGEST),
        OpenPress(LARGEST.checklist_version, LARGEST.assessment_id),
        *(LanguagePress(code) for code in SUPPORTED_LANGUAGES),
        ErasePress(LARGEST.assessment_id, 10**17 - 1, True),
        ErasePress(LARGEST.assessment_id, 10**17 - 1, False),
        RemindersOffPress(),
        NoticesOffPress(),
        codec.SharePress(LARGEST.assessment_id, True),
        codec.SharePress(LARGEST.assessment_id, False),
        codec.MenteePress(LARGEST.assessment_id),
        codec.FeedbackPress(LARGEST.assessment_id, "C99"),
        *(codec.TeamPress(LARGEST.assessment_id, action) for action in TEAM_ACTIONS),
        codec.TeamJoinPress("A" * 32, True),
        codec.TeamJoinPress("-" * 8, False),
        codec.TeamInvitePress(LARGEST.assessment_id),
    ]


def test_every_kind_of_press_round_trips_within_64_bytes(content: Content) -> None:
    presses = every_press(content)
    assert {type(press) for press in presses} == set(codec.KINDS)
    for press in presses:
        data = codec.encode(press)
        assert len(data.encode()) <= MAX_BYTES, data
        assert codec.decode(data) == press
        assert codec.decode_as(type(press), data) == press
        # Exactly one kind reads it, so exactly one handler's pattern lets it through.
        assert [kind for kind in codec.KINDS if codec.decode_as(kind, data)] == [type(press)]


def test_data_over_64_bytes_is_refused_when_encoded() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        codec.encode(StepPress(LARGEST, events.ChooseLanguage("x" * 30)))
    with pytest.raises(ValueError, match="64 bytes"):
        codec.pack(LARGEST, "x" * 30)


OLD_OR_GARBLED = [
    "",
    "garbage",
    "x" * (MAX_BYTES + 1),
    "v1:1:1:a:C01:3" + " " * MAX_BYTES,
    "v1:1:1:a:C01:9x",
    "v1:1:1:o:5",
    "v1:-1:1:ok",
    "v12345:1:1:ok",
    "v1:1:12345678901:ok",
    "v1:1:1:pdf:",
    "v1:x:0:pdf",
    "o:999999",
    "o:1:",
    "o:1:" + "9" * 20,
    "L:zz",
    "L:",
    "L:lv:",
    "D:yes",
    "D:no",
    "D:1:yes",
    "R:on",
    "R:off:",
    "N:on",
    "N:1:off",
    "V1:1:1:ok",
    "v\u0661:1:1:ok",
]


@pytest.mark.parametrize("data", OLD_OR_GARBLED)
def test_garbled_over_long_and_old_forms_are_no_press(data: str) -> None:
    assert codec.decode(data) is None
    assert codec.decode(data.encode()) is None


async def recorded(database: Database) -> list[list[tuple[Any, ...]]]:
    """Everything a press could change, row by row."""
    queries = [
        select(Respondent.id, Respondent.language, Respondent.reminders, Respondent.consent_at),
        select(Assessment.id, Assessment.state, Assessment.status, Assessment.version),
        select(Answer.criterion, Answer.value, Answer.comment),
        select(AnswerLog.criterion, AnswerLog.value, AnswerLog.revision),
        select(Coordinator.id, Coordinator.notify_completed),
    ]
    with database.sessions() as session:
        return [[tuple(row) for row in session.execute(query)] for query in queries]


MOVED = "This question has moved on"
NOT_AVAILABLE = "That report is not available."


@pytest.mark.parametrize(
    ("data", "told"),
    [
        ("v1:999999:1:a:C01:3", MOVED),
        ("v9:{assessment}:{version}:a:C01:3", MOVED),
        ("v1:{assessment}:{old}:a:C01:3", MOVED),
        ("v1:{assessment}:{version}:a:C99:3", "belongs to another question"),
        ("v1:{assessment}:{version}:a:C01:3" + "9" * 50, MOVED),
        ("v1:{assessment}:{version}:pdf", NOT_AVAILABLE),
        ("v1:999999:0:pdf", NOT_AVAILABLE),
        ("v1:{assessment}:x:pdf", NOT_AVAILABLE),
        ("o:{assessment}", NOT_AVAILABLE),
        ("o:1:{assessment}", NOT_AVAILABLE),
        ("o:1:999999", NOT_AVAILABLE),
        ("o:1:" + "9" * 60, NOT_AVAILABLE),
        ("L:zz", MOVED),
        ("L:lv" + " " * 70, MOVED),
        ("D:yes", MOVED),
        ("D:1:y", MOVED),
        ("D:999999:0:y", "Nothing was erased."),
        ("D:{respondent}:0:y", "Nothing was erased."),
        ("D:{respondent}:0:y:" + "9" * 60, MOVED),
        ("R:on", MOVED),
        ("N:on", MOVED),
        ("N:off", "This command is for coordinators."),
        ("ti:999999", "That team is not available."),
        ("ti:x", MOVED),
        ("", MOVED),
        ("garbage", MOVED),
        ("x" * MAX_BYTES, MOVED),
    ],
)
async def test_a_forged_stale_or_foreign_press_of_every_kind_changes_nothing(
    bot: Harness, database: Database, data: str, told: str
) -> None:
    await through_profile(bot)
    await bot.press(ANA, "1 ·")
    question = bot.last(ANA)
    [step] = [data for label, data in buttons(question) if label.startswith("2 ·")]
    expected = codec.decode_as(StepPress, step)
    assert expected is not None
    before = await recorded(database)
    [[respondent, *_rest]] = before[0]
    forged = data.format(
        assessment=expected.expected.assessment_id,
        version=expected.expected.version,
        old=expected.expected.version - 1,
        respondent=respondent,
    )
    await bot.feed(callback_update(ANA, forged, question))
    answer = bot.api.calls_to("answerCallbackQuery")[-1]
    assert told in answer.params.get("text", "")
    assert await recorded(database) == before
    assert "Criterion 2/10" in bot.text(ANA)
    assert len(bot.api.calls_to("answerCallbackQuery")) == bot.presses
    assert bot.errors == []


async def test_a_history_button_of_another_users_assessment_finds_nothing(
    bot: Harness,
) -> None:
    await through_profile(bot, ANA)
    await answer_all(bot, ANA)
    await bot.press(ANA, "✅")
    await bot.say(ANA, "/history")
    [opening] = [data for _label, data in buttons(bot.last(ANA))]
    assert isinstance(codec.decode(opening), OpenPress)
    await bot.say(BEN, "/start")
    bens = dict(bot.last(BEN))
    sent = len(bot.api.calls_to("sendMessage"))
    await bot.feed(callback_update(BEN, opening, bens))
    assert bot.api.calls_to("answerCallbackQuery")[-1].params["text"] == NOT_AVAILABLE
    assert len(bot.api.calls_to("sendMessage")) == sent
    assert "Summary" not in bot.text(BEN)
    # Ana's own press opens it, but not under another checklist version.
    press = codec.decode_as(OpenPress, opening)
    assert press is not None
    uploads = len(bot.api.uploads)
    for forged in (f"o:9:{press.assessment_id}", f"v9:{press.assessment_id}:0:pdf"):
        await bot.feed(callback_update(ANA, forged, bot.last(ANA)))
        assert bot.api.calls_to("answerCallbackQuery")[-1].params["text"] == NOT_AVAILABLE
    assert len(bot.api.uploads) == uploads
    await bot.feed(callback_update(ANA, opening, bot.last(ANA)))
    assert "Summary: Soup kitchen" in bot.text(ANA)


async def test_an_erase_button_from_before_an_erasure_erases_nothing_new(
    bot: Harness, database: Database
) -> None:
    await bot.say(ANA, "/start")
    await bot.press(ANA, "✅")
    await bot.say(ANA, "/delete")
    question = dict(bot.last(ANA))
    await bot.press(ANA, "🗑")
    assert "Erased" in bot.text(ANA)
    await through_profile(bot)
    await bot.press(ANA, "2 ·")
    before = await recorded(database)
    [erase] = [data for label, data in buttons(question) if "🗑" in label]
    await bot.feed(callback_update(ANA, erase, question))
    assert bot.api.calls_to("answerCallbackQuery")[-1].params["text"] == "Nothing was erased."
    assert await recorded(database) == before


async def test_delete_without_data_asks_nothing(bot: Harness) -> None:
    await bot.say(ANA, "/delete")
    assert bot.text(ANA) == "SI Check has no data about you."
    assert buttons(bot.last(ANA)) == []


async def test_language_buttons_change_the_language_whatever_the_step(
    bot: Harness, database: Database
) -> None:
    await through_profile(bot)
    await bot.say(ANA, "/language")
    assert {codec.decode(data) for _label, data in buttons(bot.last(ANA))} == {
        LanguagePress(code) for code in SUPPORTED_LANGUAGES
    }
    await bot.press(ANA, "Latviešu")
    assert "Kritērijs 1/10" in bot.text(ANA)
    assert (await recorded(database))[0][0][1] == "lv"


async def test_a_press_is_answered_before_its_view_is_shown(bot: Harness) -> None:
    await through_profile(bot)
    await bot.press(ANA, "2 ·")
    methods = [call.method for call in bot.api.calls]
    last_answer = len(methods) - 1 - methods[::-1].index("answerCallbackQuery")
    assert methods[last_answer + 1 :] == ["editMessageText"]


async def test_a_coordinator_stops_completion_notices_with_their_button(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(BEN)) as bot:
        await bot.say(BEN, "/cohort new Riga")
        link = bot.text(BEN).rsplit("\n", 1)[-1]
        await bot.say(BEN, "/notify on")
        await bot.say(ANA, "/start " + link.rsplit("=", 1)[-1])
        await bot.press(ANA, "✅")
        await bot.say(ANA, "Soup kitchen")
        for action in ("c:LV", "s", "ok", "ok"):
            await bot.tap(ANA, action)
        for number in range(1, 11):
            await bot.tap(ANA, f"a:C{number:02d}:2")
        await bot.tap(ANA, "ok")
        notice = bot.last(BEN)
        assert "was completed" in notice["text"]
        [(_label, data)] = buttons(notice)
        assert codec.decode(data) == NoticesOffPress()
        await bot.feed(callback_update(ANA, data, notice))
        assert bot.api.calls_to("answerCallbackQuery")[-1].params["text"] == (
            "This command is for coordinators."
        )
        await bot.press(BEN, "🔕")
        assert bot.api.calls_to("answerCallbackQuery")[-1].params["text"] == (
            "You will no longer be told about completed assessments."
        )
        assert [row[1] for row in (await recorded(database))[4]] == [False]
        assert bot.errors == []
