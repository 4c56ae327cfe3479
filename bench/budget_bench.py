"""Benchmark at Telegram's limits: ``sicheck run`` against the loopback Bot API keeping them.

The double (``tests.fake_bot_api``) allows message calls at 30/s per bot and 1/s per chat
after a burst of 5 (429 with ``retry_after`` beyond), lets a callback query be answered once
within 10 s of its delivery, and in the ``faults`` scenario fails 3% of the message calls and
callback answers with each fault kind (429, 500, 502 nginx page, dropped before and dropped
after the call was applied). Practitioners start together and each answers about every
``--think`` seconds (uniformly 0.5x to 1.5x), sending /resume when nothing came for a while.

``--time-scale k`` runs Telegram's clock k times faster: the double's limits, the bot's
``TELEGRAM_RATE_LIMIT``/``TELEGRAM_CHAT_RATE_LIMIT`` and the pauses are all scaled, and times
are reported in Telegram's seconds (measured times multiplied by k). Prints one JSON object.

    uv run python -m bench.budget_bench workshop
    uv run python -m bench.budget_bench rush
    uv run python -m bench.budget_bench faults
    uv run python -m bench.budget_bench workshop --bot-root /tmp/base  # another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.loopback import (
    ASSESSMENT,
    ROOT,
    TOKEN,
    BotProcess,
    Delivery,
    Practitioner,
    ReplyWatch,
    percentile,
    ready,
    records,
    start_bot,
)
from bot.runtime import open_database
from tests.fake_bot_api import FakeBotAPI, Faults, Limits, LoopbackTelegram

FIRST_USER = 4_000_000
SCENARIOS: dict[str, dict[str, float]] = {
    "workshop": {"users": 300, "think": 10.0, "faults": 0.0},
    "rush": {"users": 300, "think": 3.0, "faults": 0.0},
    "faults": {"users": 100, "think": 3.0, "faults": 0.03},
}


def uniform_think(mean: float, rng: random.Random) -> Callable[[], float]:
    """Pauses between a reply and the next tap: 0.5 to 1.5 times ``mean``."""
    return lambda: rng.uniform(0.5 * mean, 1.5 * mean)


async def start_scaled_bot(
    api_url: str, database_url: str, log_dir: Path, scale: float, bot_root: Path, webhook: bool
) -> BotProcess:
    """One ``sicheck run`` whose budget runs on the scaled clock."""
    scaled = {
        "TELEGRAM_RATE_LIMIT": str(30 * scale),
        "TELEGRAM_CHAT_RATE_LIMIT": str(1 * scale),
        "TELEGRAM_RETRY_BACKOFF": str(0.5 / scale),
    }
    return await start_bot(
        api_url, database_url, log_dir, webhook=webhook, settings=scaled, root=bot_root
    )


def busy_rate(times: list[float], scale: float) -> float | None:
    """Message calls per Telegram second between the 10th and the 90th percentile call."""
    if len(times) < 20:
        return None
    ordered = sorted(times)
    first, last = len(ordered) // 10, len(ordered) * 9 // 10
    seconds = (ordered[last] - ordered[first]) * scale
    return round((last - first) / seconds, 1) if seconds else None


async def migrate_with(root: Path, database_url: str) -> None:
    """Bring the database to the schema of the checkout at ``root``, with its own migrations."""
    command = (sys.executable, "-m", "bot.cli", "db", "upgrade", "--database-url", database_url)
    migration = await asyncio.create_subprocess_exec(
        *command,
        cwd=root,
        env=os.environ | {"PYTHONPATH": str(root)},
        stdout=asyncio.subprocess.DEVNULL,
    )
    if await migration.wait():
        raise SystemExit(f"the database could not be migrated by {root}")


async def run(args: argparse.Namespace, database_url: str, log_dir: Path) -> dict[str, Any]:
    """One scenario; the figures as a dict."""
    scenario = SCENARIOS[args.scenario]
    users = int(args.users or scenario["users"])
    scale = args.time_scale
    await migrate_with(args.bot_root, database_url)
    api = FakeBotAPI(token=TOKEN, keep_calls=False, limits=Limits().scaled(scale))
    telegram = LoopbackTelegram(api)
    await telegram.start()
    watch = ReplyWatch(api)
    bot = await start_scaled_bot(
        telegram.url, database_url, log_dir, scale, args.bot_root, args.webhook
    )
    faults = Faults(scenario["faults"], seed=args.seed) if scenario["faults"] else None
    try:
        await ready(api, bot)
        rng = random.Random(args.seed)  # noqa: S311 - pauses, not secrets
        latencies: list[float] = []
        # One delivery for all: Telegram opens at most 40 webhook connections per bot.
        delivery = Delivery(api, webhooks=[bot.webhook] if bot.webhook else ())
        practitioners = [
            Practitioner(
                FIRST_USER + n,
                delivery=delivery,
                watch=watch,
                latencies=latencies,
                think=uniform_think(scenario["think"] / scale, rng),
                patience=600 / scale,
                silence=args.silence / scale,
            )
            for n in range(users)
        ]
        telegram.fault = faults
        cpu_before = bot.cpu_seconds()
        loop_before = bot.cpu_seconds(main_thread=True)
        kernel_before = bot.cpu_seconds(kernel_only=True)
        polls_before = api.polls
        started = time.perf_counter()
        await asyncio.gather(*(p.complete() for p in practitioners))
        elapsed = time.perf_counter() - started
        cpu = bot.cpu_seconds() - cpu_before
        loop_cpu = bot.cpu_seconds(main_thread=True) - loop_before
        kernel_cpu = bot.cpu_seconds(kernel_only=True) - kernel_before
        polls = api.polls - polls_before
        telegram.fault = None
        # Answers still on their way may land; then whatever is unanswered stays so.
        await asyncio.sleep(1)
    finally:
        bot.kill()
        await telegram.stop()
    # Read back with this checkout's schema, once the bot that may be another's has stopped.
    await (await open_database(database_url, migrate=True)).close()
    found = await records(database_url, range(FIRST_USER, FIRST_USER + users))
    steps = len(latencies)
    updates = steps + sum(p.resumes for p in practitioners)
    return {
        "scenario": args.scenario,
        "bot": "this checkout" if args.bot_root == ROOT else str(args.bot_root),
        "users": users,
        "think_seconds": scenario["think"],
        "fault_rate_per_kind": scenario["faults"] or None,
        "time_scale": scale,
        "completed": found.completed,
        "answers_lost": users * 10 - found.answers,
        "wrong_answers": found.wrong_answers,
        "seconds": round(elapsed * scale, 1),
        "steps": steps,
        "step_p50_ms": round(percentile(latencies, 0.50) * scale),
        "step_p95_ms": round(percentile(latencies, 0.95) * scale),
        "step_p99_ms": round(percentile(latencies, 0.99) * scale),
        "budget_forced_wait_s": round(users / 30, 1),
        "callback_answer_p99_ms": (
            round(percentile(api.answer_latencies, 0.99) * scale) if api.answer_latencies else None
        ),
        "callbacks_expired_or_unanswered": api.unanswered(),
        "late_or_repeated_answers": api.expired_answers,
        "flood_429s": api.refused,
        "message_calls": api.message_calls,
        "429s_per_1000_message_calls": round(1000 * api.refused / max(1, api.message_calls), 2),
        "message_calls_per_second": round(api.message_calls / (elapsed * scale), 1),
        "message_calls_per_second_busy": busy_rate(watch.message_times, scale),
        "duplicate_messages": api.duplicates,
        "calls_repeated_after_applied": api.repeated_after_applied,
        "faults": faults.counts if faults else None,
        "resumes_sent": sum(p.resumes for p in practitioners),
        "steps_done_again": sum(p.retries for p in practitioners),
        "apologies": watch.failures,
        "bot_cpu_seconds": round(cpu, 2),
        "cpu_ms_per_update": round(1000 * cpu / updates, 2) if updates else None,
        "event_loop_cpu_ms_per_update": round(1000 * loop_cpu / max(1, updates), 2),
        "kernel_cpu_ms_per_update": round(1000 * kernel_cpu / max(1, updates), 2),
        "get_updates_calls": polls,
        "steps_per_assessment": len(ASSESSMENT),
        "error_log_lines": len(bot.errors()),
        "database": database_url.split(":", 1)[0],
        "updates_by": "webhook" if args.webhook else "polling",
        "cores": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--users", type=int, default=0, help="default: the scenario's")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument(
        "--silence", type=float, default=30.0, help="Telegram seconds before /resume"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--bot-root", type=lambda text: Path(text).resolve(), default=ROOT, help="source tree"
    )
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp dir")
    parser.add_argument("--webhook", action="store_true", help="updates by webhook, not polling")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        print(json.dumps(asyncio.run(run(args, url, Path(directory)))))


if __name__ == "__main__":
    main()
