"""Fault drills: real ``sicheck run`` processes, a loopback Bot API, and things going wrong.

Each drill prints one JSON object and exits non-zero if what it checks does not hold. All of
them talk to loopback only, are bounded in count and time, and stop the processes they
started.

    uv run python -m bench.reliability kill --kills 200
    uv run python -m bench.reliability duplicates --users 50
    uv run python -m bench.reliability faults --users 100
    uv run python -m bench.reliability postgres-restart \\
        --database-url postgresql+asyncpg://127.0.0.1/scratch

kill
    Practitioners keep completing assessments in polling mode while the bot is killed with
    SIGKILL at a random moment of its work and started again, ``--kills`` times.
duplicates
    Two webhook replicas; every update is posted to both at once, as Telegram redelivering
    to another replica behind a load balancer would.
faults
    The Bot API answers 429 (retry after 1 s), 500 or 502, or drops the connection before or
    after applying the call, each call with probability ``--fault-rate``.
postgres-restart
    The bot reaches PostgreSQL through a loopback TCP proxy that, mid-load, cuts every
    connection and refuses new ones for a few seconds, as a restarting server does.

Every drill then checks the database: each practitioner has exactly one completed assessment
whose answers are the values they tapped, and the answer log has as many rows per assessment
as an undisturbed run writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.loopback import (
    Delivery,
    Practitioner,
    Records,
    ReplyWatch,
    ready,
    records,
    start_bot,
    until,
)
from bot.runtime import open_database
from storage.database import is_sqlite
from tests.fake_bot_api import AFTER, DROP, BotAPIError, FakeBotAPI, LoopbackTelegram

FIRST_USER = 3_000_000
UNDISTURBED_LOG_ROWS = {10: 1}
"""An assessment of ``bench.loopback.ASSESSMENT`` writes ten rows to the answer log."""


def _verdict(found: Records, users: int) -> dict[str, Any]:
    return {
        "users": users,
        "completed": found.completed,
        "answers": found.answers,
        "answers_lost": users * 10 - found.answers,
        "wrong_answers": found.wrong_answers,
        "answer_log_rows_per_assessment": {str(k): v for k, v in found.log_rows.items()},
        "ok": found.completed == users
        and found.answers == users * 10
        and found.wrong_answers == 0
        and set(found.log_rows) == set(UNDISTURBED_LOG_ROWS),
    }


async def _prepared(database_url: str) -> tuple[FakeBotAPI, LoopbackTelegram, ReplyWatch]:
    """Migrate the database; start the loopback Bot API and watch the chats."""
    database = await open_database(database_url, migrate=True)
    await database.close()
    api = FakeBotAPI(keep_calls=False)
    telegram = LoopbackTelegram(api)
    await telegram.start()
    return api, telegram, ReplyWatch(api)


def _more_polls(api: FakeBotAPI, count: int) -> Callable[[], bool]:
    target = api.polls + count
    return lambda: api.polls >= target


async def drill_kill(args: argparse.Namespace, url: str, logs: Path) -> dict[str, Any]:
    """SIGKILL the polling bot at random moments while practitioners keep working."""
    api, telegram, watch = await _prepared(url)
    delivery = Delivery(api)
    rng = random.Random(args.seed)  # noqa: S311 - moments, not secrets
    latencies: list[float] = []
    started_users: list[int] = []
    stop_starting = asyncio.Event()

    async def practitioner_stream(lane: int) -> None:
        # Each lane starts a new practitioner when its previous one finished.
        number = 0
        while not stop_starting.is_set():
            user_id = FIRST_USER + lane * 100_000 + number
            number += 1
            started_users.append(user_id)
            await Practitioner(user_id, delivery, watch, latencies, patience=120).complete()

    bot = await start_bot(telegram.url, url, logs, webhook=False, name="killed")
    lanes = [asyncio.ensure_future(practitioner_stream(lane)) for lane in range(args.users)]
    kills = 0
    began = time.perf_counter()
    try:
        for _ in range(args.kills):
            await ready(api, bot)
            # Kill while it works: after it fetched at least one batch, at a random moment.
            await until(_more_polls(api, 2), 60, "a batch")
            await asyncio.sleep(rng.uniform(0, args.max_delay))
            bot.kill()
            await bot.process.wait()
            kills += 1
            api.polls = 0
            bot = await start_bot(telegram.url, url, logs, webhook=False, name="killed")
        stop_starting.set()
        await ready(api, bot)
        await asyncio.wait_for(asyncio.gather(*lanes), 300)
        code = await bot.stop()
    finally:
        bot.kill()
        for lane in lanes:
            lane.cancel()
        await telegram.stop()
    found = await records(url, started_users)
    return {
        "drill": "kill",
        "kills": kills,
        "seconds": round(time.perf_counter() - began, 1),
        "updates": len(latencies),
        "last_exit_code": code,
        "apologies": watch.failures,
        **_verdict(found, len(started_users)),
    }


async def _run_users(
    api: FakeBotAPI, delivery: Delivery, watch: ReplyWatch, users: int, first: int
) -> tuple[list[Practitioner], float]:
    latencies: list[float] = []
    practitioners = [
        Practitioner(first + n, delivery, watch, latencies, patience=120) for n in range(users)
    ]
    began = time.perf_counter()
    await asyncio.gather(*(p.complete() for p in practitioners))
    return practitioners, time.perf_counter() - began


async def drill_duplicates(args: argparse.Namespace, url: str, logs: Path) -> dict[str, Any]:
    """Post every update to two webhook replicas at once."""
    api, telegram, watch = await _prepared(url)
    bots = [await start_bot(telegram.url, url, logs, webhook=True) for _ in range(2)]
    sent: list[int] = []

    class Twice(Delivery):
        async def deliver(self, update: dict[str, Any]) -> None:
            sent.append(update["update_id"])
            await asyncio.gather(
                *(Delivery(api, [hook]).deliver(update) for hook in self.webhooks)
            )

    try:
        for bot in bots:
            await ready(api, bot)
        delivery = Twice(api, [bot.webhook for bot in bots if bot.webhook])
        practitioners, seconds = await _run_users(api, delivery, watch, args.users, FIRST_USER)
        codes = [await bot.stop() for bot in bots]
    finally:
        for bot in bots:
            bot.kill()
        await telegram.stop()
    messages = sum(len(api.chat(p.user_id)) for p in practitioners)
    found = await records(url, [p.user_id for p in practitioners])
    return {
        "drill": "duplicates",
        "duplicated_updates": len(sent),
        "deliveries": len(sent) * 2,
        "seconds": round(seconds, 1),
        # An undisturbed assessment leaves three messages: the welcome (edited into the first
        # question), the question edited from the country on to the summary, and the chart.
        # A repeated text message or command shows where its sender is once more.
        "messages_in_chats": messages,
        "messages_undisturbed": args.users * 3,
        "apologies": watch.failures,
        "resumes_sent": sum(p.resumes for p in practitioners),
        "exit_codes": codes,
        **_verdict(found, args.users),
    }


def _faulty(rate: float, rng: random.Random) -> tuple[Callable[[str], Any], dict[str, int]]:
    """A ``fault`` for the loopback server failing ``rate`` of the calls, and its tally."""
    faults: dict[str, Any] = {
        "429": BotAPIError(429, "Too Many Requests: retry after 1", retry_after=1),
        "500": BotAPIError(500, "Internal Server Error"),
        "502": BotAPIError(502, "Bad Gateway"),
        "dropped_before": DROP,
        "dropped_after": AFTER,
    }
    counts = dict.fromkeys(faults, 0)

    def fault(method: str) -> Any:
        if method in ("getMe", "setMyCommands", "deleteWebhook") or rng.random() >= rate:
            return None
        kind = rng.choice(list(faults))
        counts[kind] += 1
        return faults[kind]

    return fault, counts


async def drill_faults(args: argparse.Namespace, url: str, logs: Path) -> dict[str, Any]:
    """A Bot API that fails ``--fault-rate`` of the calls."""
    api, telegram, watch = await _prepared(url)
    rng = random.Random(args.seed)  # noqa: S311 - faults, not secrets
    fault, counts = _faulty(args.fault_rate, rng)
    bot = await start_bot(telegram.url, url, logs, webhook=False)
    try:
        await ready(api, bot)
        telegram.fault = fault
        practitioners, seconds = await _run_users(
            api, Delivery(api), watch, args.users, FIRST_USER
        )
        telegram.fault = None
        code = await bot.stop()
    finally:
        bot.kill()
        await telegram.stop()
    found = await records(url, [p.user_id for p in practitioners])
    return {
        "drill": "faults",
        "fault_rate": args.fault_rate,
        "faults": counts,
        "seconds": round(seconds, 1),
        "apologies": watch.failures,
        "steps_retried_by_users": sum(p.retries for p in practitioners),
        "exit_code": code,
        **_verdict(found, args.users),
    }


class Proxy:
    """A loopback TCP proxy to PostgreSQL that can play a server restart."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (again) on the proxy's port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def restart(self, down_seconds: float) -> None:
        """Cut every connection, refuse new ones for ``down_seconds``, then accept again."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()
        await asyncio.sleep(down_seconds)
        await self.start()

    async def stop(self) -> None:
        """Stop listening and cut the connections."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with suppress(OSError, asyncio.IncompleteReadError):
                while chunk := await source.read(65536):
                    sink.write(chunk)
                    await sink.drain()
            sink.transport.abort()
            self._pipes.discard(sink)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def drill_postgres_restart(args: argparse.Namespace, url: str, logs: Path) -> dict[str, Any]:
    """PostgreSQL goes away mid-load and comes back; the bot must carry on by itself."""

    if is_sqlite(url):
        raise SystemExit("postgres-restart needs --database-url postgresql+asyncpg://...")
    real = make_url(url)
    proxy = Proxy((real.host or "127.0.0.1", real.port or 5432))
    await proxy.start()
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    api, telegram, watch = await _prepared(url)
    bot = await start_bot(telegram.url, proxied, logs, webhook=False)
    restarts = 0
    try:
        await ready(api, bot)
        running = asyncio.ensure_future(
            _run_users(api, Delivery(api), watch, args.users, FIRST_USER)
        )
        for _ in range(args.restarts):
            await asyncio.sleep(args.every)
            if running.done():
                break
            await proxy.restart(args.down)
            restarts += 1
        practitioners, seconds = await asyncio.wait_for(running, 600)
        alive = bot.process.returncode is None
        code = await bot.stop()
    finally:
        bot.kill()
        await telegram.stop()
        await proxy.stop()
    found = await records(url, [p.user_id for p in practitioners])
    return {
        "drill": "postgres-restart",
        "restarts": restarts,
        "seconds_down_each": args.down,
        "seconds": round(seconds, 1),
        "bot_kept_running": alive,
        "apologies": watch.failures,
        "steps_retried_by_users": sum(p.retries for p in practitioners),
        "exit_code": code,
        **_verdict(found, args.users),
    }


DRILLS: dict[str, Callable[[argparse.Namespace, str, Path], Any]] = {
    "kill": drill_kill,
    "duplicates": drill_duplicates,
    "faults": drill_faults,
    "postgres-restart": drill_postgres_restart,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drill", choices=sorted(DRILLS))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--max-delay", type=float, default=0.5, help="kill: seconds, at most")
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--every", type=float, default=4.0, help="seconds between restarts")
    parser.add_argument("--down", type=float, default=3.0, help="seconds PostgreSQL is away")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database-url", help="default: a new SQLite file in a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(directory) / 'drill.db'}"
        result = asyncio.run(DRILLS[args.drill](args, url, Path(directory)))
        print(json.dumps(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
