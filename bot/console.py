"""The terminal adapter: views as numbered choices, one line of input per step.

It reads standard input line by line, so a whole assessment can be piped in. A number presses
a button; other text answers the current text prompt (a name, a comment); ``/help`` lists
the commands. Every step is committed before its view is printed.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.documents import report_filename, report_pdf
from dialogs import events
from dialogs.content import Content
from dialogs.engine import NOT_HERE
from dialogs.i18n import N_, _, use_language
from dialogs.views import View, plain
from storage.dialogue import (
    Outcome,
    Who,
    apply,
    open_dialogue,
    set_language,
)
from storage.reports import report_of
from storage.store import Database

PLATFORM = "console"
REPORTS_DIR = Path("data", "reports")
"""Where the console writes PDF reports, beside the default database."""
INPUT_MAX = 4000

COMMANDS: dict[str, events.Event] = {
    "/back": events.Back(),
    "/skip": events.Skip(),
    "/info": events.Info(),
    "/cancel": events.Cancel(),
    "/new": events.Restart(),
}
HELP = N_(
    "Type the number of an option and press Enter. Where a text answer is asked for "
    "(a name, or a comment on a criterion), type it; a number alone always chooses an "
    "option. Commands: /back, /skip, /info "
    "(guidance), /new (a fresh assessment), /cancel, /help, /quit. Your answers are saved "
    "as you go: run sicheck console again to continue where you stopped."
)


def format_view(view: View) -> str:
    """Lay a view out as text with numbered choices."""
    lines = []
    if view.progress:
        lines.append(f"── {view.progress} ──")
    lines.append(plain(view.text))
    number = 0
    for row in view.buttons:
        cells = []
        for button in row:
            number += 1
            cells.append(f"[{number}] {button.label}")
        lines.append("   ".join(cells))
    return "\n".join(lines) + "\n"


def clean(line: str) -> str:
    """Drop control characters and surrounding space from one line of input."""
    kept = (ch for ch in line if ch == " " or unicodedata.category(ch)[0] != "C")
    return "".join(kept).strip()


def interpret(line: str, view: View) -> events.Event | str:
    """Turn a line into an event, or into the (untranslated) reason it is not one."""
    if not line:
        return N_("Please type the number of an option, or some text where it is asked for.")
    if len(line) > INPUT_MAX:
        return N_("That line is too long.")
    if line.startswith("/"):
        command = line.split()[0].lower()
        if command in COMMANDS:
            return COMMANDS[command]
        return N_("Unknown command. Type /help to see the commands.")
    if line.isdigit():
        # A number always means an option, even where text is asked for.
        actions = view.actions
        index = int(line) - 1
        event = events.decode(actions[index]) if 0 <= index < len(actions) else None
        return event if event is not None else N_("There is no option with that number.")
    if view.accepts_text:
        return events.Text(line)
    return N_("Please type the number of one of the options.")


class Console:
    """One practitioner's dialogue on a terminal."""

    def __init__(
        self,
        content: Content,
        database: Database,
        who: Who,
        out: Callable[[str], None],
        reports: Path = REPORTS_DIR,
    ) -> None:
        self.content = content
        self.database = database
        self.who = who
        self.out = out
        self.outcome: Outcome | None = None
        self.reports = reports

    @property
    def language(self) -> str:
        """The language the user reads, once known."""
        return self.outcome.language if self.outcome else self.who.language or "en"

    async def open(self) -> None:
        """Resume the user's unfinished assessment or start one, and show it."""
        language = self.who.language

        def work(connection: Connection) -> Outcome:
            if language is not None:
                set_language(connection, self.content, self.who, language)
            return open_dialogue(connection, self.content, self.who)

        self.outcome = await self.database.store.run(work)
        self.out(format_view(self.outcome.view))

    async def handle(self, line: str) -> None:
        """Apply one line of input and show what follows."""
        assert self.outcome is not None
        current = self.outcome
        meaning = interpret(clean(line), current.view)
        if isinstance(meaning, str):
            with use_language(current.language):
                notice = _(meaning)
            self.out(f"! {notice}\n" + format_view(current.view))
            return
        event = meaning
        if isinstance(event, events.Report):
            await self.write_report(current)
            return
        self.outcome = await self.database.store.run(
            lambda session: apply(
                session,
                self.content,
                self.who,
                event,
                source=PLATFORM,
                expected=current.expected,
            )
        )
        self.out(format_view(self.outcome.view))

    async def write_report(self, current: Outcome) -> None:
        """Write the finished assessment's PDF report into the report folder."""
        content, who = self.content, self.who
        report = await self.database.store.run(
            lambda connection: report_of(connection, content, who, current.assessment_id)
        )
        if report is None:
            with use_language(current.language):
                self.out("! " + _(NOT_HERE) + "\n" + format_view(current.view))
            return
        pdf = await asyncio.to_thread(report_pdf, report)
        self.reports.mkdir(parents=True, exist_ok=True)
        path = self.reports / f"{current.assessment_id}-{report_filename(report)}"
        path.write_bytes(pdf)
        with use_language(report.language):
            self.out(_("Report written to %(path)s", path=str(path)) + "\n")


async def run_console(
    content: Content,
    database: Database,
    *,
    user: str,
    language: str | None,
    stdin: TextIO,
    stdout: TextIO,
    reports: Path = REPORTS_DIR,
) -> int:
    """Run the dialogue until end of input; return the process exit code."""

    def out(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    console = Console(content, database, Who(PLATFORM, user, language), out, reports)
    await console.open()
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            with use_language(console.language):
                out(_("End of input. Your answers are saved: run sicheck console to continue."))
            return 0
        command = clean(line).lower()
        if command == "/quit":
            return 0
        if command == "/help":
            with use_language(console.language):
                out(_(HELP))
            continue
        try:
            await console.handle(line)
        except SQLAlchemyError:
            with use_language(console.language):
                out("! " + _("Your last answer could not be saved. Please try again in a moment."))
