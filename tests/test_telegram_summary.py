"""The finished assessment on Telegram: chart, PDF report, /history, and who may see them."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy.exc import OperationalError

from bot.telegram import what_next
from dialogs.content import default_content
from dialogs.i18n import _, use_language
from storage.store import Database
from tests.fake_bot_api import AFTER, DROP, FakeBotAPI, buttons, callback_update
from tests.telegram_harness import Harness, running_bot
from tests.test_budget import request_of

ANA = 601
BEN = 602
JPEG = b"\xff\xd8\xff"


async def to_review(
    bot: Harness, user_id: int, name: str = "Soup kitchen", language: str = "en", value: int = 2
) -> None:
    """A homelessness practice up to the review, every criterion answered ``value``."""
    await bot.say(user_id, "/new", language=language)
    if any(data.endswith(":y") for _label, data in buttons(bot.last(user_id))):
        await bot.tap(user_id, "y", language=language)
    await bot.say(user_id, name, language=language)
    for action in ("c:LV", "s", "g:homeless", "ok", "g:housing", "ok"):
        await bot.tap(user_id, action, language=language)
    for number in range(1, 11):
        await bot.tap(user_id, f"a:C{number:02d}:{value}", language=language)


async def finish(
    bot: Harness, user_id: int, name: str = "Soup kitchen", language: str = "en", value: int = 2
) -> None:
    """One whole assessment of a homelessness practice, confirmed on the review."""
    await to_review(bot, user_id, name, language, value)
    await bot.tap(user_id, "ok", language=language)


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_finishing_sends_the_summary_then_the_chart(bot: Harness) -> None:
    await finish(bot, ANA)
    summary = bot.summary(ANA)["text"]
    assert "Summary: Soup kitchen" in summary
    assert "NPISA Porto" in summary
    assert "Society Integration Foundation (SIF)" in summary
    [chart] = bot.api.files_in(ANA)
    assert chart.method == "sendPhoto"
    assert chart.content.startswith(JPEG)
    assert chart.caption is not None
    assert "Soup kitchen" in chart.caption
    assert "67%" in chart.caption


async def test_the_chart_goes_out_when_what_follows_cannot_be_read(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*_args: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(what_next, "what_next", locked)
    await finish(bot, ANA)
    [chart] = bot.api.files_in(ANA)
    assert chart.caption is not None
    assert "Soup kitchen" in chart.caption
    assert "What next?" not in chart.caption


async def test_a_chart_whose_outcome_is_unknown_takes_what_next_with_it(
    database: Database, database_url: str
) -> None:
    for fate, arrived in ((DROP, 0), (AFTER, 1)):
        api = FakeBotAPI()
        async with running_bot(database_url, api) as bot:
            user = ANA + arrived
            await to_review(bot, user)
            fates = iter([fate])
            request_of(bot).fault = lambda method, fates=fates: (
                next(fates, None) if method == "sendPhoto" else None
            )
            sent = len(api.calls_to("sendMessage"))
            await bot.tap(user, "ok")
            assert len(api.calls_to("sendPhoto")) == 1  # reached Telegram once, not again
            # "What next?" went with the chart, whatever became of it: never a second copy.
            assert "What next?" in api.calls_to("sendPhoto")[0].params["caption"]
            assert len(api.calls_to("sendMessage")) == sent
            assert len(api.files_in(user)) == arrived
            assert bot.errors == []
            assert api.duplicates == 0
            assert api.repeated_after_applied == {}


async def test_the_report_button_sends_a_pdf_with_the_scores_and_practices(
    bot: Harness,
) -> None:
    await finish(bot, ANA, name="Zupas virtuve Ķekavā", language="lv")
    summary = bot.summary(ANA)
    [data] = [data for _label, data in buttons(summary) if data.endswith(":pdf")]
    await bot.feed(callback_update(ANA, data, summary, language="lv"))
    report = bot.api.files_in(ANA)[-1]
    assert report.method == "sendDocument"
    assert report.filename.endswith(".pdf")
    text = pdf_text(report.content)
    assert "Zupas virtuve Ķekavā" in text
    assert "67" in text
    assert "NPISA Porto" in text
    with use_language("lv"):
        assert _(default_content().latest.bands[2].label) in text


async def test_another_users_report_button_reveals_nothing(bot: Harness) -> None:
    await finish(bot, ANA)
    anas_summary = bot.summary(ANA)
    [report_data] = [data for label, data in buttons(anas_summary) if data.endswith(":pdf")]
    sent_before = len(bot.api.uploads)
    await bot.feed(callback_update(BEN, report_data, anas_summary))
    assert len(bot.api.uploads) == sent_before
    answer = bot.api.calls_to("answerCallbackQuery")[-1]
    assert answer.params.get("text") == "That report is not available."


async def test_a_forged_report_id_reveals_nothing(bot: Harness) -> None:
    await finish(bot, ANA)
    summary = bot.last(ANA)
    sent_before = len(bot.api.uploads)
    await bot.feed(callback_update(ANA, "v1:999999:0:pdf", summary))
    await bot.feed(callback_update(ANA, "o:999999", summary))
    assert len(bot.api.uploads) == sent_before
    answers = bot.api.calls_to("answerCallbackQuery")[-2:]
    assert [call.params.get("text") for call in answers] == ["That report is not available."] * 2


async def test_a_redelivered_finishing_press_sends_one_chart(bot: Harness) -> None:
    await to_review(bot, ANA)
    confirm = bot.last(ANA)
    [data] = [data for _label, data in buttons(confirm) if data.endswith(":ok")]
    update = callback_update(ANA, data, confirm)
    await bot.feed(update)
    await bot.feed(update)
    assert "Summary: Soup kitchen" in bot.summary(ANA)["text"]
    assert [upload.method for upload in bot.api.files_in(ANA)] == ["sendPhoto"]


async def test_history_lists_finished_assessments_and_opens_their_summary(bot: Harness) -> None:
    await bot.say(ANA, "/history")
    assert "no finished assessments" in bot.text(ANA)
    await finish(bot, ANA, name="Soup kitchen", value=1)
    await finish(bot, ANA, name="soup kitchen ", value=3)
    # The second assessment of the same practice is compared with the first.
    assert "Partly → Fully" in bot.summary(ANA)["text"]
    assert [upload.method for upload in bot.api.files_in(ANA)] == ["sendPhoto"] * 2
    await bot.say(ANA, "/history")
    listing = bot.last(ANA)
    assert "Your finished assessments" in listing["text"]
    assert "100%" in listing["text"]
    assert "33%" in listing["text"]
    opened = [data for label, data in buttons(listing)]
    assert len(opened) == 2
    await bot.feed(callback_update(ANA, opened[1], listing))
    first = bot.last(ANA)
    assert "Summary: Soup kitchen" in first["text"]
    assert "33%" in first["text"]
    assert [data.rsplit(":", 1)[-1] for _label, data in buttons(first)] == ["pdf"]
    await bot.press(ANA, "📄", message=first)
    assert bot.api.files_in(ANA)[-1].method == "sendDocument"
    assert "33" in pdf_text(bot.api.files_in(ANA)[-1].content)
