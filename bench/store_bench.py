"""Benchmark: the store alone, the CPU a dialogue step costs the process without Telegram.

Simulated practitioners complete whole assessments, the finishing step included, through
``Store.run`` exactly as the handlers apply them (the update claimed, the respondent locked,
then the event), each one step after another, all at once; the figure is the process's CPU
time per step, so the database server's own work is not in it. Prints one JSON object. Not a
test: run it by hand and compare before and after a change.

    uv run python -m bench.store_bench --users 50
    uv run python -m bench.store_bench --users 50 \\
        --database-url postgresql://postgres@127.0.0.1:5432/scratch
"""

from __future__ import annotations

import asyncio
import platform
import time
from collections.abc import Callable
from itertools import count
from typing import Any

from sqlalchemy.engine import Connection

from bench import run_by_hand
from bot.runtime import open_database
from dialogs import events
from dialogs.content import Content, default_content
from storage.dialogue import Claim, Expected, Loaded, Outcome, Who, apply, load, open_dialogue
from storage.store import Database
from tests.test_storage import PROFILE

ANSWERS: tuple[events.Event, ...] = tuple(events.Answer(f"C{n:02d}", n % 4) for n in range(1, 11))
update_ids = count(1)
BOT_ID = time.time_ns()
"""A bot id of this run's own, so a run on a database used before claims new updates."""


async def _step(
    database: Database, who: Who, work: Callable[[Connection, Loaded], Outcome]
) -> Outcome:
    update_id = next(update_ids)
    return await database.store.run(
        lambda connection: work(
            connection, load(connection, who, claiming=Claim(BOT_ID, update_id))
        )
    )


def _applying(
    content: Content, event: events.Event, expected: Expected
) -> Callable[[Connection, Loaded], Outcome]:
    return lambda connection, loaded: apply(
        connection, content, loaded, event, source="bench", expected=expected
    )


async def _practitioner(database: Database, content: Content, name: str) -> int:
    """One whole assessment; how many events it applied."""
    who = Who("bench", name, "en")
    outcome = await _step(database, who, lambda c, loaded: open_dialogue(c, content, loaded))
    # The last step finishes the assessment: its summary reads the earlier one and the peers'.
    steps = (*PROFILE, *ANSWERS, events.Confirm())
    for event in steps:
        outcome = await _step(database, who, _applying(content, event, outcome.expected))
        if not outcome.accepted:
            raise RuntimeError(f"{event} was refused: {outcome.problem}")
    if outcome.finished is None:
        raise RuntimeError("the assessment was not finished")
    return 1 + len(steps)


async def run(users: int, database_url: str) -> dict[str, Any]:
    database = await open_database(database_url, migrate=True)
    content = default_content()
    try:
        await _practitioner(database, content, "warm-up")  # statements compiled, pool open
        cpu, started = time.process_time(), time.perf_counter()
        steps = sum(
            await asyncio.gather(
                *(_practitioner(database, content, f"user-{n}") for n in range(users))
            )
        )
        cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
    finally:
        await database.close()
    return {
        "users": users,
        "steps": steps,
        "cpu_ms_per_step": round(cpu / steps * 1000, 3),
        "steps_per_second": round(steps / elapsed, 1),
        "database": database_url.split(":", 1)[0],
        "python": platform.python_version(),
    }


def main() -> None:
    run_by_hand(__doc__, run, users=50)


if __name__ == "__main__":
    main()
