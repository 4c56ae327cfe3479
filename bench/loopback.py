"""Real ``sicheck run`` processes driven over loopback HTTP, for the load and fault scripts.

The Bot API is the double of ``tests.fake_bot_api`` served by its ``LoopbackTelegram``.
``Practitioner`` walks one simulated user through a whole assessment, in polling mode by
queueing updates for ``getUpdates`` and in webhook mode by posting them to a replica, and
takes each step as done only when the chat shows what that step should lead to, so a
redelivered update or a retried request cannot make it lose its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.runtime import open_database
from storage.models import Answer, AnswerLog, Assessment, Respondent
from tests.fake_bot_api import (
    FakeBotAPI,
    buttons,
    callback_update,
    message_update,
)

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123:abc"  # noqa: S105 - the loopback server's own
SECRET = "loopback-webhook-secret"  # noqa: S105
FAILED_TEXT = "Something went wrong"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ATTEMPTS = 20
RETRY_PAUSE = 0.3


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ReplyWatch:
    """Wakes a practitioner when their chat shows what they wait for."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.waiting: dict[int, tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = {}
        self.failures = 0
        self.charts = 0
        self.latest: dict[int, dict[str, Any]] = {}
        """Each chat's message sent or edited last: what its person looks at."""
        self.message_times: list[float] = []
        """When each message call was applied (``perf_counter``)."""
        api.observer = self._seen

    def _seen(self, method: str, params: dict[str, Any], result: Any) -> None:
        if method == "sendPhoto":
            self.charts += 1
        if method in ("sendMessage", "editMessageText", "sendPhoto", "sendDocument"):
            self.message_times.append(time.perf_counter())
        if method not in ("sendMessage", "editMessageText") or not isinstance(result, dict):
            return
        failed = FAILED_TEXT in result.get("text", "")
        self.failures += failed
        chat_id = result["chat"]["id"]
        self.latest[chat_id] = result
        waiting = self.waiting.get(chat_id)
        if waiting is not None and (failed or waiting[0](result)) and not waiting[1].done():
            waiting[1].set_result(result)

    def expect(self, chat_id: int, shows: Callable[[dict[str, Any]], bool]) -> asyncio.Future[Any]:
        """A future done at the first message or edit in ``chat_id`` that ``shows`` accepts,
        or that says the action failed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting[chat_id] = (shows, future)
        return future


def _shows(marker: str) -> Callable[[dict[str, Any]], bool]:
    def shows(message: dict[str, Any]) -> bool:
        return marker in message.get("text", "") or any(
            marker in label for label, _ in buttons(message)
        )

    return shows


# One whole assessment: what the practitioner does, and what the chat must show after it.
# A tick shows the ticked box; each answer shows the next question.
ASSESSMENT: tuple[tuple[str, str, str], ...] = (
    ("say", "/start", "I agree"),
    ("press", "✅", "name of the practice"),
    ("say", "Soup kitchen", "In which country"),
    ("press", "Latvia", "Which organisation"),
    ("press", "Skip", "Whom does the practice work with"),
    ("press", "⬜", "☑️"),
    ("press", "✅", "What does the practice work on"),
    ("press", "✅", "Criterion 1/10"),
    ("press", "1 ·", "Criterion 2/10"),
    ("press", "⬜", "☑️"),
    *(("press", f"{number % 4} ·", f"Criterion {number + 1}/10") for number in range(2, 10)),
    ("press", "2 ·", "Review your answers"),
    ("press", "✅", "Summary: Soup kitchen"),
)
ANSWERS = {f"C{number:02d}": number % 4 for number in range(1, 10)} | {"C10": 2}


@dataclass
class Delivery:
    """How updates reach the bot: ``getUpdates`` (polling) or POSTs to the replicas."""

    api: FakeBotAPI
    webhooks: Sequence[str] = ()
    connections: int = 40
    """Telegram opens at most this many webhook connections at once (its default)."""
    _posting: asyncio.Semaphore | None = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand ``update`` to the bot as Telegram would, retrying a failed webhook POST."""
        if not self.webhooks:
            self.api.queue(update)
            return
        self.api.delivered(update)  # the callback query's clock runs from here
        if self._posting is None:
            self._posting = asyncio.Semaphore(self.connections)
        body = json.dumps(update).encode()
        while True:
            # A stateless load balancer: any replica may get any update of any chat.
            url = self.webhooks[next(self._turn) % len(self.webhooks)]
            async with self._posting:
                status, answer = await post(url, body, {"X-Telegram-Bot-Api-Secret-Token": SECRET})
            if status == 200:
                await self.api.webhook_answered(answer)
                return
            await asyncio.sleep(0.05)  # Telegram retries a failed webhook call later


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` as JSON on a connection of a small keep-alive pool: the status and the
    body of the answer; status 0 if it failed."""
    host, _, rest = url.removeprefix("http://").partition("/")
    pool = _POOLS.setdefault(host, [])
    connection = pool.pop() if pool else None
    try:
        if connection is None:
            address, _, port = host.partition(":")
            connection = await asyncio.open_connection(address, int(port))
        reader, writer = connection
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        writer.write(
            f"POST /{rest} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        if connection is not None:
            connection[1].close()
        return 0, b""
    pool.append(connection)
    return status, answer


_POOLS: dict[str, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}


class NoButtonError(RuntimeError):
    """No message of the chat offers the button a practitioner means to press."""


@dataclass
class Practitioner:
    """One simulated user completing an assessment, step by step."""

    user_id: int
    delivery: Delivery
    watch: ReplyWatch
    latencies: list[float]
    think: Callable[[], float] = lambda: 0.0
    patience: float = 120.0
    """Seconds a step may take before the run is declared stuck."""
    silence: float = 10.0
    """Seconds without the step's result after which the practitioner sends /resume, as a
    person does when a reply never came (the bot does not resend what may have arrived)."""
    retries: int = 0
    """Steps tried again after the bot apologised for a failure."""
    resumes: int = 0
    """Times the practitioner sent /resume because nothing came."""
    sent_at: list[float] | None = None
    """When each answered update was sent (``perf_counter``), shared by all practitioners."""

    async def complete(self) -> None:
        """Go through the whole assessment; raise if a step never shows its result."""
        for kind, what, marker in ASSESSMENT:
            if pause := self.think():
                await asyncio.sleep(pause)
            await self.step(kind, what, marker)

    async def step(self, kind: str, what: str, marker: str) -> None:
        """Send one update and wait for the chat to show ``marker``; after an apology, again."""
        for _attempt in range(ATTEMPTS):
            update = await self._pressable(kind, what)
            shown = self.watch.expect(self.user_id, _shows(marker))
            started = time.perf_counter()
            await self.delivery.deliver(update)
            result = await self._wait(shown, started)
            if result is None:
                self.retries += 1  # nothing came, not even after /resume: the step again
                continue
            if FAILED_TEXT not in result.get("text", ""):
                self.latencies.append(time.perf_counter() - started)
                if self.sent_at is not None:
                    self.sent_at.append(started)
                return
            self.retries += 1
            await asyncio.sleep(RETRY_PAUSE)
        raise RuntimeError(f"user {self.user_id} gave up on {what!r} after {ATTEMPTS} tries")

    async def _wait(self, shown: asyncio.Future[Any], started: float) -> Any:
        """The step's result; after ``silence`` without it, /resume; ``None`` if that shows the
        step was not applied either (the person then does it again)."""
        for resumed in (False, True):
            try:
                return await asyncio.wait_for(asyncio.shield(shown), self.silence)
            except TimeoutError:
                if time.perf_counter() - started > self.patience:
                    shown.cancel()
                    raise
                if resumed:
                    break
                self.resumes += 1
                await self.delivery.deliver(message_update(self.user_id, "/resume"))
        return None

    async def _pressable(self, kind: str, what: str) -> dict[str, Any]:
        """The update for the next action; if its button is on none of the chat's messages,
        /resume first, as a person does when the chat shows an older step."""
        try:
            return self._update(kind, what)
        except NoButtonError:
            # Two replicas given one update each reply to it: the later one's edit can put
            # back the view before a step the other has shown already.
            self.resumes += 1
            shown = self.watch.expect(self.user_id, _shows(what))
            await self.delivery.deliver(message_update(self.user_id, "/resume"))
            await asyncio.wait_for(shown, self.patience)
            return self._update(kind, what)

    def _update(self, kind: str, what: str) -> dict[str, Any]:
        if kind == "say":
            return message_update(self.user_id, what)
        # The message shown or edited last, else the newest with that button.
        latest = self.watch.latest.get(self.user_id)
        for label, data in buttons(latest or {}):
            if what in label:
                assert latest is not None
                return callback_update(self.user_id, data, latest)
        for message in reversed(self.delivery.api.chat(self.user_id)):
            for label, data in buttons(message):
                if what in label:
                    return callback_update(self.user_id, data, message)
        raise NoButtonError(f"user {self.user_id} sees no button {what!r}")


async def everyone_completes(
    practitioners: Sequence[Practitioner], ramp_seconds: float = 0.0
) -> None:
    """Run every practitioner, starting them spread over ``ramp_seconds``."""

    async def one(index: int, practitioner: Practitioner) -> None:
        if ramp_seconds:
            await asyncio.sleep(ramp_seconds * index / len(practitioners))
        await practitioner.complete()

    await asyncio.gather(*(one(index, p) for index, p in enumerate(practitioners)))


def exponential_think(mean: float, rng: random.Random) -> Callable[[], float]:
    """Pauses between a reply and the next tap, ``mean`` seconds on average."""
    return (lambda: rng.expovariate(1 / mean)) if mean > 0 else (lambda: 0.0)


# Bot processes


@dataclass
class BotProcess:
    """One ``sicheck run`` replica."""

    process: asyncio.subprocess.Process
    port: int
    webhook: str | None
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self, *, main_thread: bool = False, kernel_only: bool = False) -> float:
        """User plus system CPU time so far, of every thread or of the event loop's only;
        with ``kernel_only``, the system time alone."""
        path = (
            f"/proc/{self.pid}/task/{self.pid}/stat" if main_thread else f"/proc/{self.pid}/stat"
        )
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        user, system = int(fields[11]), int(fields[12])
        return (system if kernel_only else user + system) / CLOCK_TICKS

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    async def stop(self) -> int:
        """SIGTERM, then wait for a graceful exit (charts still queued go out first)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 300)
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process.returncode is None:
            self.process.kill()

    def errors(self) -> list[str]:
        """The log lines at ERROR or above."""
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if '"ERROR"' in line]


def bot_environment(
    api_url: str, database_url: str, port: int, webhook: str | None
) -> dict[str, str]:
    """The environment of one replica talking to the loopback Bot API."""
    environment = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": database_url,
        "SICHECK_PSEUDONYM_KEY": "loopback benchmark pseudonym key",
        # The loopback server imposes no limit; Telegram's own is about 30 messages/s.
        "TELEGRAM_RATE_LIMIT": "0",
        "TELEGRAM_RETRY_BACKOFF": "0.05",
        "POLLING_TIMEOUT": "10",
        "LISTEN_PORT": str(port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
    }
    if webhook:
        environment |= {"WEBHOOK_URL": webhook, "WEBHOOK_SECRET_TOKEN": SECRET}
    return environment


async def start_bot(
    api_url: str,
    database_url: str,
    log_dir: Path,
    *,
    webhook: bool,
    name: str = "bot",
    settings: dict[str, str] | None = None,
    root: Path = ROOT,
) -> BotProcess:
    """Start one ``sicheck run`` replica of the checkout at ``root``, its log in ``log_dir``."""
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram" if webhook else None
    environment = bot_environment(api_url, database_url, port, hook) | (settings or {})
    if root != ROOT:
        environment["PYTHONPATH"] = str(root)
    log = log_dir / f"{name}-{port}.log"
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=output,
            env=environment,
        )
    return BotProcess(process, port, hook, log)


async def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until ``condition()`` holds, checking every 20 ms; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


async def ready(api: FakeBotAPI, bot: BotProcess, seconds: float = 60) -> None:
    """Wait until ``bot`` serves: polling, or answering on its webhook port."""
    if bot.webhook is None:
        await until(lambda: api.polls > 0 or bot.process.returncode is not None, seconds, "poll")
    else:

        async def listening() -> bool:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", bot.port)
                writer.close()
                return True
            return False

        deadline = time.monotonic() + seconds
        while not await listening():
            if bot.process.returncode is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    if bot.process.returncode is not None:
        tail = bot.log.read_text()[-2000:] if bot.log.exists() else ""
        raise RuntimeError(f"sicheck run exited with {bot.process.returncode}:\n{tail}")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie, in milliseconds."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return round(ordered[index] * 1000, 2)


@dataclass(frozen=True)
class Records:
    """What the database holds for a set of simulated practitioners."""

    completed: int
    """Practitioners with a completed assessment."""
    answers: int
    wrong_answers: int
    """Answers whose value is not the one the practitioner tapped."""
    log_rows: dict[int, int]
    """How many assessments have so many rows in the answer log."""


async def records(database_url: str, user_ids: Iterable[int]) -> Records:
    """Read back what was recorded for ``user_ids``."""
    database = await open_database(database_url)
    chosen = [str(user_id) for user_id in user_ids]
    mine = (
        select(Assessment.id)
        .join(Respondent)
        .where(Respondent.external_id.in_(chosen), Assessment.status == "completed")
    )
    try:
        with database.sessions() as session:
            completed = session.scalar(
                select(func.count(func.distinct(Assessment.respondent_id))).where(
                    Assessment.id.in_(mine)
                )
            )
            answers = (
                session.execute(
                    select(Answer.criterion, Answer.value).where(Answer.assessment_id.in_(mine))
                )
            ).all()
            per_assessment = (
                session.execute(
                    select(func.count())
                    .select_from(AnswerLog)
                    .where(AnswerLog.assessment_id.in_(mine))
                    .group_by(AnswerLog.assessment_id)
                )
            ).scalars()
            log_rows = Counter(per_assessment)
    finally:
        await database.close()
    return Records(
        completed=completed or 0,
        answers=len(answers),
        wrong_answers=sum(1 for criterion, value in answers if ANSWERS[criterion] != value),
        log_rows=dict(log_rows),
    )
