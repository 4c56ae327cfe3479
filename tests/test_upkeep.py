"""The bot's lifecycle: scheduled reminders and purging as jobs, follow-ups awaited on stop."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from bot.telegram.application import build_application
from bot.telegram.privacy import PURGE_EVERY, SCHEDULE_EVERY, schedule_upkeep
from storage.store import Database
from tests.fake_bot_api import FakeBotAPI, FakeRequest, buttons, callback_update
from tests.telegram_harness import Harness, offline_settings, running_bot
from tests.test_privacy import LONG_AGO, _age, finish, ids_of

ANA = 801
BEN = 802


async def test_the_upkeep_jobs_remind_and_purge(database: Database, database_url: str) -> None:
    async with running_bot(database_url) as bot:
        await finish(bot, ANA, complete=False)
        await finish(bot, BEN, complete=False)
        await _age(database, ANA, timedelta(hours=25))
        await _age(database, BEN, LONG_AGO)
        jobs = bot.application.job_queue
        assert jobs is not None
        schedule_upkeep(jobs)
        scheduled = {job.name: job for job in jobs.jobs()}
        assert set(scheduled) == {"purge", "reminders", "feedback notices"}
        assert scheduled["feedback notices"].trigger.interval == SCHEDULE_EVERY  # type: ignore[attr-defined]
        assert scheduled["purge"].trigger.interval == PURGE_EVERY  # type: ignore[attr-defined]
        assert scheduled["reminders"].trigger.interval == SCHEDULE_EVERY  # type: ignore[attr-defined]
        await scheduled["purge"].run(bot.application)
        assert await ids_of(database, BEN) == (set(), set())
        await scheduled["reminders"].run(bot.application)
        await scheduled["reminders"].run(bot.application)  # due once, sent once
        reminders = [m for m in bot.api.chat(ANA) if "waiting where you left it" in m["text"]]
        assert len(reminders) == 1
        assert not [m for m in bot.api.chat(BEN) if "waiting where you left it" in m["text"]]
        assert bot.errors == []


async def test_stopping_waits_for_the_chart_of_a_summary(
    database: Database, database_url: str
) -> None:
    api = FakeBotAPI()
    application = build_application(
        offline_settings(database_url), request=FakeRequest(api), updates_request=FakeRequest(api)
    )
    harness = Harness(application, api)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    await application.start()
    try:
        await finish(harness, ANA, complete=False)
        for number in range(3, 11):
            await harness.tap(ANA, f"a:C{number:02d}:2")
        review = harness.last(ANA)
        confirm = next(data for _label, data in buttons(review) if data.endswith(":ok"))
        # The summary's handler returns before its chart is drawn and sent.
        update = Update.de_json(callback_update(ANA, confirm, review), application.bot)
        await application.process_update(update)
        assert "Summary: Soup kitchen" in harness.text(ANA)
    finally:
        await application.stop()
        await application.shutdown()
        assert application.post_shutdown is not None
        await application.post_shutdown(application)
    [chart] = api.files_in(ANA)
    assert chart.method == "sendPhoto"
