"""Benchmark end to end: ``sicheck run`` processes against a loopback Bot API server.

Simulated practitioners complete whole assessments (21 updates each, as in
``bench.loopback.ASSESSMENT``) at once; in polling mode the bot fetches their updates with
``getUpdates``, in webhook mode they are posted to the replicas (at most 40 requests at a time,
Telegram's default), spread over the replicas like a load balancer would. Latency runs from
handing an update over to the moment the chat shows its result. Without ``--rate`` every
practitioner taps as soon as the reply is there (the most the bot can take); with ``--rate``
they pause between taps so that, together, they send about that many updates per second.
Prints one JSON object. Not a test: run it by hand and compare before and after a change.

    uv run python -m bench.loopback_bench --users 1000
    uv run python -m bench.loopback_bench --users 1000 --mode webhook --replicas 2 \\
        --database-url postgresql+asyncpg://127.0.0.1/scratch
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.loopback import (
    ANSWERS,
    Delivery,
    Practitioner,
    ReplyWatch,
    everyone_completes,
    exponential_think,
    percentile,
    ready,
    records,
    start_bot,
    until,
)
from bot.runtime import open_database
from storage.models import Answer, Assessment, Respondent
from tests.fake_bot_api import FakeBotAPI, LoopbackTelegram

FIRST_USER = 2_000_000
SEEDED_ID = 50_000_000
"""Seeded respondents and assessments get ids from here, clear of the bot's own."""


async def seed_respondents(database_url: str, count: int) -> None:
    """Add ``count`` respondents who each finished one assessment long ago."""
    database = await open_database(database_url, migrate=True)
    now = datetime.now(UTC)
    try:
        with database.engine.begin() as connection:
            for start in range(0, count, 5_000):
                ids = range(SEEDED_ID + start, SEEDED_ID + min(count, start + 5_000))
                connection.execute(
                    insert(Respondent),
                    [
                        {"id": n, "platform": "telegram", "external_id": f"seed-{n}",
                         "language": "lv", "consent_at": now, "created_at": now,
                         "reminders": False}
                        for n in ids
                    ],
                )  # fmt: skip
                connection.execute(
                    insert(Assessment),
                    [
                        {"id": n, "respondent_id": n, "checklist_version": 1,
                         "state": "summary", "status": "completed", "practice_name": "Seeded",
                         "country": "LV", "target_groups": [], "themes": [], "context": {},
                         "started_at": now, "updated_at": now, "completed_at": now,
                         "version": 1}
                        for n in ids
                    ],
                )  # fmt: skip
                connection.execute(
                    insert(Answer),
                    [
                        {"assessment_id": n, "criterion": criterion, "value": value,
                         "aspects": [], "revision": 1, "answered_at": now}
                        for n in ids
                        for criterion, value in ANSWERS.items()
                    ],
                )  # fmt: skip
    finally:
        await database.close()


def middle_rate(sent_at: list[float]) -> float | None:
    """Updates/s sent between the first and the last tenth of the run, past ramp and tail."""
    if len(sent_at) < 10:
        return None
    ordered = sorted(sent_at)
    first, last = len(ordered) // 10, len(ordered) * 9 // 10
    seconds = ordered[last] - ordered[first]
    return round((last - first) / seconds, 1) if seconds else None


async def run(
    *,
    users: int,
    mode: str,
    replicas: int,
    database_url: str,
    rate: float,
    seeded: int,
    log_dir: Path,
    wait_for_charts: bool,
) -> dict[str, Any]:
    if mode == "polling" and replicas != 1:
        raise SystemExit("polling has one consumer of getUpdates: use --mode webhook")
    database = await open_database(database_url, migrate=True)
    await database.close()
    if seeded:
        await seed_respondents(database_url, seeded)
    api = FakeBotAPI(keep_calls=False)
    telegram = LoopbackTelegram(api)
    await telegram.start()
    watch = ReplyWatch(api)
    bots = [
        await start_bot(telegram.url, database_url, log_dir, webhook=mode == "webhook")
        for _ in range(replicas)
    ]
    try:
        for bot in bots:
            await ready(api, bot)
        delivery = Delivery(api, [bot.webhook for bot in bots if bot.webhook])
        rng = random.Random(8)  # noqa: S311 - pauses, not secrets
        # Each practitioner sends an update about every users/rate seconds.
        think = users / rate if rate else 0.0
        latencies: list[float] = []
        sent_at: list[float] = []
        practitioners = [
            Practitioner(
                FIRST_USER + n,
                delivery,
                watch,
                latencies,
                exponential_think(think, rng),
                sent_at=sent_at,
            )
            for n in range(users)
        ]
        cpu_before = [bot.cpu_seconds() for bot in bots]
        loop_before = [bot.cpu_seconds(main_thread=True) for bot in bots]
        kernel_before = [bot.cpu_seconds(kernel_only=True) for bot in bots]
        driver_before = time.process_time()
        started = time.perf_counter()
        await everyone_completes(practitioners, ramp_seconds=think)
        elapsed = time.perf_counter() - started
        cpu = sum(bot.cpu_seconds() - before for bot, before in zip(bots, cpu_before, strict=True))
        loop_cpu = sum(
            bot.cpu_seconds(main_thread=True) - before
            for bot, before in zip(bots, loop_before, strict=True)
        )
        kernel_cpu = sum(
            bot.cpu_seconds(kernel_only=True) - before
            for bot, before in zip(bots, kernel_before, strict=True)
        )
        driver_cpu = time.process_time() - driver_before
        charts_by_then = watch.charts
        with_charts = cpu_with_charts = None
        if wait_for_charts:
            # Each finished assessment's radar chart is drawn after its summary went out.
            await until(lambda: watch.charts >= users, 900, "every chart")
            with_charts = round(time.perf_counter() - started, 2)
            cpu_with_charts = round(
                sum(
                    bot.cpu_seconds() - before
                    for bot, before in zip(bots, cpu_before, strict=True)
                ),
                2,
            )
        rss = [bot.peak_rss_mb() for bot in bots]
    finally:
        if wait_for_charts:
            codes: list[int | str] = [await bot.stop() for bot in bots]
        else:
            # Charts still queued would hold up a graceful stop; everything else is committed.
            for bot in bots:
                bot.kill()
            codes = ["killed" for _ in bots]
        await telegram.stop()
    errors = [line for bot in bots for line in bot.errors()]
    found = await records(database_url, range(FIRST_USER, FIRST_USER + users))
    return {
        "mode": mode,
        "replicas": replicas,
        "database": database_url.split(":", 1)[0],
        "respondents_before": seeded,
        "users": users,
        "updates": len(latencies),
        "seconds": round(elapsed, 2),
        "updates_per_second": round(len(latencies) / elapsed, 1),
        "target_rate": rate or None,
        "middle_updates_per_second": middle_rate(sent_at),
        "bot_cpu_seconds": round(cpu, 2),
        "updates_per_cpu_second": round(len(latencies) / cpu, 1) if cpu else None,
        "event_loop_cpu_seconds": round(loop_cpu, 2),
        "kernel_cpu_seconds": round(kernel_cpu, 2),
        "charts_sent_by_then": charts_by_then,
        "seconds_until_every_chart_sent": with_charts,
        "bot_cpu_seconds_with_charts": cpu_with_charts,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "peak_rss_mb_per_replica": rss,
        "driver_cpu_seconds": round(driver_cpu, 2),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "completed": found.completed,
        "answers_recorded": found.answers,
        "answers_expected": users * len(ANSWERS),
        "failure_replies": watch.failures,
        "bot_violations": len(api.violations),
        "error_log_lines": len(errors),
        "exit_codes": codes,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--mode", choices=("polling", "webhook"), default="polling")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0, help="updates/s to aim at; 0: flat out")
    parser.add_argument("--seed-respondents", type=int, default=0, metavar="N")
    parser.add_argument(
        "--no-chart-wait",
        action="store_true",
        help="stop the bot once every summary is shown, without waiting for the charts",
    )
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        result = asyncio.run(
            run(
                users=args.users,
                mode=args.mode,
                replicas=args.replicas,
                database_url=url,
                rate=args.rate,
                seeded=args.seed_respondents,
                log_dir=Path(directory),
                wait_for_charts=not args.no_chart_wait,
            )
        )
        print(json.dumps(result))


if __name__ == "__main__":
    main()
