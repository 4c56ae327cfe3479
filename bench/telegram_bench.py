"""Benchmark: simulated practitioners through the Telegram adapter, offline, on a real DB.

Each user sends the 21 updates of a whole assessment (start, consent, a profile with one
target group, ten answers with one novelty tick, confirm, which also sends the radar chart),
one after another; users run concurrently. The Bot API is
the in-process double, so the figures are SI Check's own cost plus python-telegram-bot's.
Prints one JSON object. Not a test: run it by hand and compare before and after a change.

    uv run python -m bench.telegram_bench --users 200
"""

from __future__ import annotations

import asyncio
import platform
import resource
import statistics
import time
from typing import Any

from telegram import Update

from bench import run_by_hand
from bot.runtime import open_database
from tests.fake_bot_api import FakeBotAPI, buttons, callback_update, message_update
from tests.telegram_harness import running_bot

FIRST_USER = 1_000_000


async def _user(harness: Any, user_id: int, latencies: list[float]) -> None:
    api: FakeBotAPI = harness.api
    bot = harness.application.bot

    async def deliver(data: dict[str, Any]) -> None:
        started = time.perf_counter()
        await harness.application.process_update(Update.de_json(data, bot))
        latencies.append(time.perf_counter() - started)

    async def press(label: str) -> None:
        message = api.last(user_id)
        data = next(data for text, data in buttons(message) if label in text)
        await deliver(callback_update(user_id, data, message))

    await deliver(message_update(user_id, "/start"))
    await press("✅")
    await deliver(message_update(user_id, "Soup kitchen"))
    await press("Latvia")
    await press("Skip")
    await press("⬜")
    await press("✅")
    await press("✅")
    for number in range(1, 11):
        if number == 2:
            await press("⬜")
        await press(f"{number % 4} ·")
    await press("✅")
    assert "Summary" in api.last(user_id)["text"], api.last(user_id)["text"][:200]


async def run(users: int, database_url: str, first_user: int = FIRST_USER) -> dict[str, Any]:
    database = await open_database(database_url, migrate=True)
    await database.close()
    latencies: list[float] = []
    async with running_bot(database_url) as harness:
        started = time.perf_counter()
        await asyncio.gather(*(_user(harness, first_user + n, latencies) for n in range(users)))
        elapsed = time.perf_counter() - started
        # The charts that follow each finished assessment, drawn two at a time.
        await harness.services.settle()
        charts = len(harness.api.calls_to("sendPhoto"))
        with_charts = time.perf_counter() - started
        assert harness.errors == [], harness.errors[:3]
        assert harness.api.violations == [], harness.api.violations[:3]
    latencies.sort()
    return {
        "users": users,
        "updates": len(latencies),
        "seconds": round(elapsed, 3),
        "updates_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "charts": charts,
        "seconds_until_every_chart_sent": round(with_charts, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database": database_url.split(":", 1)[0],
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }


def main() -> None:
    run_by_hand(__doc__, run, users=200)


if __name__ == "__main__":
    main()
