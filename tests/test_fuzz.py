"""Generated input of every kind: whatever arrives, no error, and nothing recorded is lost.

Hypothesis drives a few practitioners through the bot with whatever a chat can carry: texts
of any length and script, known and unknown commands with arguments, taps on the buttons
really shown, on earlier ones and on forged ones, media, edits, group messages and update
kinds SI Check does not handle. ``SICHECK_FUZZ_UPDATES`` sets how many updates a run feeds
(fewer by default to keep the suite quick; docs/performance.md gives a larger run).

The console gets the same treatment: arbitrary Unicode lines and control characters typed
on every one of its screens (``SICHECK_FUZZ_CONSOLE`` examples, 2,000 by default).
"""

from __future__ import annotations

import asyncio
import os
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.console import PLATFORM, Console
from bot.runtime import open_database
from dialogs.content import default_content
from storage.database import is_sqlite
from storage.dialogue import Who
from storage.models import Answer, AnswerLog
from storage.store import Database
from tests.conftest import SERVER_URL, _empty_tables
from tests.fake_bot_api import buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot

UPDATES = int(os.environ.get("SICHECK_FUZZ_UPDATES", "1500"))
STEPS = 40
USERS = (61, 62, 63)
COMMANDS = (
    "start", "new", "resume", "back", "cancel", "language", "help", "history", "privacy",
    "mydata", "delete", "cohort", "notify", "stats", "export", "mentees", "settings", "START",
    "x",
)  # fmt: skip
LANGUAGES = st.sampled_from([None, "en", "lv", "es-AR", "fr", "sv", "de", "zz-ZZ", ""])
MEDIA = (
    {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 9, "height": 9}]},
    {"sticker": {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 9,
                 "height": 9, "is_animated": False, "is_video": False}},
    {"document": {"file_id": "d", "file_unique_id": "d", "file_name": "answers.exe"}},
    {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}},
    {"location": {"latitude": 56.95, "longitude": 24.1}},
    {"contact": {"phone_number": "+371", "first_name": "Ana"}},
)  # fmt: skip
UNHANDLED_KINDS = (
    {"inline_query": {"id": "9", "from": {"id": 61, "is_bot": False, "first_name": "A"},
                      "query": "soup", "offset": ""}},
    {"channel_post": {"message_id": 5, "date": 0, "text": "/start",
                      "chat": {"id": -100, "type": "channel", "title": "C"}}},
    {"business_connection_new_kind": {"anything": True}},
)  # fmt: skip
texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="āčēģīķļņšūž ĀČ<>&\"'/\\", min_size=1, max_size=300),
    st.integers(4000, 5000).map(lambda size: "ļ" * size),
    st.sampled_from(["", " ", "\n", "<b>", "&amp;", "/", "@sicheck_test_bot", "\u200b"]),
)
commands = st.builds(
    lambda name, argument, mention: f"/{name}{mention}{argument}",
    st.sampled_from(COMMANDS),
    st.one_of(st.just(""), st.text(string.printable, max_size=80).map(lambda a: " " + a)),
    st.sampled_from(["", "@sicheck_test_bot", "@other_bot"]),
)
forged_data = st.one_of(
    st.text(max_size=64),
    st.builds(
        lambda version, assessment, view, action: f"v{version}:{assessment}:{view}:{action}",
        st.integers(-1, 3),
        st.integers(-5, 10**12),
        st.integers(-1, 10**6),
        st.sampled_from(["ok", "y", "n", "s", "a:C01:9", "a:C99:1", "g:xx", "o:", "pdf", "?"]),
    ),
)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[asyncio.Runner, Harness]]:
    """One bot for the whole module, on its own event loop, so examples run back to back."""
    directory = os.environ.get("TMPDIR", "/tmp")
    url = SERVER_URL or f"sqlite+aiosqlite:///{directory}/sicheck-fuzz-{os.getpid()}.db"
    with asyncio.Runner() as runner:
        database = runner.run(open_database(url, migrate=True))
        context = running_bot(url)
        harness = runner.run(context.__aenter__())
        try:
            yield runner, harness
        finally:
            runner.run(context.__aexit__(None, None, None))
            if not is_sqlite(url):
                runner.run(_empty_tables(database))
            runner.run(database.close())
    if not SERVER_URL:
        for suffix in ("", "-wal", "-shm"):
            path = f"{directory}/sicheck-fuzz-{os.getpid()}.db{suffix}"
            if os.path.exists(path):
                os.remove(path)


KINDS = ("tap", "tap", "tap", "tap", "text", "command", "old tap", "forged tap", "media",
         "edit", "group", "unhandled")  # fmt: skip
steps = st.fixed_dictionaries(
    {
        "user": st.sampled_from(USERS),
        "language": LANGUAGES,
        "kind": st.sampled_from(KINDS),
        "message": st.integers(0, 10**6),
        "button": st.integers(0, 10**6),
        "text": texts,
        "command": commands,
        "forged": forged_data,
        "media": st.sampled_from(MEDIA),
        "unhandled": st.sampled_from(UNHANDLED_KINDS),
    }
)
"""Everything one update may need, drawn whole, so the draws never depend on the bot's state."""


def _one_update(step: dict[str, Any], harness: Harness) -> dict[str, Any]:
    user, language, kind = step["user"], step["language"], step["kind"]
    shown = harness.api.chat(user)
    if kind in ("tap", "old tap") and shown:
        message = shown[-1] if kind == "tap" else shown[step["message"] % len(shown)]
        choices = [data for _, data in buttons(message)]
        if choices:
            pressed = choices[step["button"] % len(choices)]
            return callback_update(user, pressed, message, language=language)
    if kind == "forged tap":
        message = (
            shown[-1]
            if shown
            else {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}}
        )
        return callback_update(user, step["forged"], message, language=language)
    if kind == "command":
        return message_update(user, step["command"], language=language)
    if kind == "media":
        return message_update(user, extra=step["media"], language=language)
    if kind == "edit":
        return message_update(user, step["text"], kind="edited_message", language=language)
    if kind == "group":
        update = message_update(user, step["command"], language=language)
        update["message"]["chat"] = {"id": -1000 - user, "type": "supergroup", "title": "G"}
        return update
    if kind == "unhandled":
        update = message_update(user, "x")
        del update["message"]
        kind_of_update: dict[str, Any] = step["unhandled"]
        return update | kind_of_update
    return message_update(user, step["text"], language=language)


fed = 0


@settings(
    max_examples=max(1, UPDATES // STEPS),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(drawn=st.lists(steps, min_size=STEPS, max_size=STEPS))
def test_no_generated_update_makes_an_error(
    fuzzed: tuple[asyncio.Runner, Harness], drawn: list[dict[str, Any]]
) -> None:
    global fed
    runner, harness = fuzzed
    for step in drawn:
        update = _one_update(step, harness)
        runner.run(harness.feed(update))
        fed += 1
        assert harness.errors == [], (update, harness.errors)
        assert harness.api.violations == [], (update, harness.api.violations)


def test_the_generated_updates_were_all_fed() -> None:
    """The figure the module promises: at least ``SICHECK_FUZZ_UPDATES`` updates went in."""
    assert fed >= UPDATES - STEPS


CONSOLE_EXAMPLES = int(os.environ.get("SICHECK_FUZZ_CONSOLE", "2000"))
RESEED_EVERY = 25
"""Examples on one console before it is put back on its screen, so every screen stays fed."""
PROFILE = ["1", "Fuzzed practice", "1", "Org", "1", "ok", "ok"]
REVIEW = [*PROFILE, "3", *["s"] * 9]
SCREENS: dict[str, tuple[str | None, list[str]]] = {
    "language": (None, []),
    "consent": ("en", []),
    "name": ("lv", ["1"]),
    "country": ("es", ["1", "Fuzzed practice"]),
    "organisation": ("fr", ["1", "Fuzzed practice", "2"]),
    "groups": ("sv", PROFILE[:4]),
    "themes": ("en", PROFILE[:6]),
    "criterion 1": ("en", PROFILE),
    "criterion 2": ("lv", [*PROFILE, "3", "t2"]),
    "guidance": ("en", [*PROFILE, "3", "/info"]),
    "review": ("fr", REVIEW),
    "summary": ("en", [*REVIEW, "ok"]),
    "history": ("es", [*REVIEW, "ok", "h"]),
    "past summary": ("sv", [*REVIEW, "ok", "h", "1"]),
    "new question": ("en", [*PROFILE, "2", "/new"]),
    "delete question": ("lv", [*PROFILE, "/delete"]),
    "cancelled": ("en", [*PROFILE, "/cancel"]),
}
KEYS = (
    "0", "1", "2", "3", "4", "9", "10", "n", "N", "b", "s", "i", "ok", "OK", "h", "new", "t1",
    "t4", "x", "/new", "/help", "/privacy", "/history", "/back", "/skip", "/info", "/cancel",
    "/mydata", "/delete", "/quit", "/start", "²", "①", "١", "٣", "０", "³", "Ⅻ", "\x00", "\x1b[A",
    "\r", "\t", "\u200b", "\ufeff1", " 2 ", "1 2", "-1", "+1", "1.0", "2030", "0x1",
)  # fmt: skip
lines = st.one_of(
    st.sampled_from(KEYS),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Nl", "Cc", "Cf", "Zs"]), max_size=6),
    st.builds(lambda key, tail: key + tail, st.sampled_from(KEYS), st.text(max_size=4)),
    st.integers(4000, 4100).map(lambda size: "ļ" * size),
)


class ConsoleFuzz:
    """One console per screen, on one database, each put back on its screen now and then."""

    def __init__(self, database: Database, reports: str) -> None:
        self.database = database
        self.content = default_content()
        self.reports = reports
        self.consoles: dict[str, Console] = {}
        self.fed: dict[str, int] = {}
        self.printed: list[str] = []
        self.users = 0

    async def console(self, screen: str) -> Console:
        """The console on ``screen``, started anew when it ended or had its turns."""
        console = self.consoles.get(screen)
        if console is not None and self.fed[screen] % RESEED_EVERY:
            return console
        language, script = SCREENS[screen]
        self.users += 1
        who = Who(PLATFORM, f"fuzz-{self.users}", language)
        console = Console(
            self.content, self.database, who, self.printed.append, Path(self.reports), 60
        )
        await console.open()
        for line in script:
            assert await console.feed(line)
        self.consoles[screen] = console
        return console

    async def recorded(self) -> tuple[int, int]:
        """How many answers and answer-log entries the database holds."""
        counts = select(
            select(func.count()).select_from(Answer).scalar_subquery(),
            select(func.count()).select_from(AnswerLog).scalar_subquery(),
        )
        (answers, entries), *_ = await self.database.store.run(
            lambda connection: list(connection.execute(counts))
        )
        return int(answers), int(entries)

    async def feed(self, screen: str, typed: list[str]) -> None:
        """Type ``typed`` on ``screen``: every line answered, nothing recorded lost."""
        console = await self.console(screen)
        self.fed[screen] = self.fed.get(screen, 0) + 1
        before = await self.recorded()
        for line in typed:
            self.printed.clear()
            going_on = await console.feed(line)
            if not going_on:
                self.fed[screen] = 0  # ended (/quit, or erased): start anew next time
                break
            assert self.printed, f"no answer to {line!r} on {screen}"
        after = await self.recorded()
        if not console.erased:
            assert after[0] >= before[0], (screen, typed)
            assert after[1] >= before[1], (screen, typed)


@pytest.fixture(scope="module")
def console_fuzz(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[asyncio.Runner, ConsoleFuzz]]:
    """The consoles for the whole module, on their own event loop."""
    directory = tmp_path_factory.mktemp("console-fuzz")
    url = SERVER_URL or f"sqlite+aiosqlite:///{directory}/fuzz.db"
    with asyncio.Runner() as runner:
        database = runner.run(open_database(url, migrate=True))
        try:
            yield runner, ConsoleFuzz(database, str(directory / "files"))
        finally:
            if not is_sqlite(url):
                runner.run(_empty_tables(database))
            runner.run(database.close())


console_examples = 0


@settings(
    max_examples=CONSOLE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(screen=st.sampled_from(sorted(SCREENS)), typed=st.lists(lines, min_size=1, max_size=3))
def test_no_typed_line_breaks_the_console(
    console_fuzz: tuple[asyncio.Runner, ConsoleFuzz], screen: str, typed: list[str]
) -> None:
    global console_examples
    runner, fuzz = console_fuzz
    runner.run(fuzz.feed(screen, typed))
    console_examples += 1


def test_the_console_examples_were_all_run() -> None:
    """At least ``SICHECK_FUZZ_CONSOLE`` examples went through the console."""
    assert console_examples >= CONSOLE_EXAMPLES
