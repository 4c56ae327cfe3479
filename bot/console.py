"""The terminal adapter: views as keyed choices, one line of input per step.

It reads standard input line by line, so a whole assessment can be piped in. Every choice
has a key in square brackets: on a criterion the key is the scale value itself (``0``-``3``),
``n`` not applicable, ``i`` guidance, ``b`` back, ``s`` skip, the same on every criterion;
elsewhere options are numbered. Other text answers the current text prompt (a name, a
comment); ``/help`` lists the commands. Only the ASCII digits 0-9 count as numbers. Every step
is committed before its view is printed, and a finished assessment is never replaced by a new
one until the practitioner asks for it.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from html import escape
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.arguments import is_number
from dialogs import events, machine, views
from dialogs.content import Content
from dialogs.engine import NOT_HERE
from dialogs.i18n import N_, _, ngettext, use_language
from dialogs.report import History, Report
from dialogs.views import View, history_view, plain, summary_view
from storage.dialogue import (
    Outcome,
    Who,
    apply,
    current_view,
    load,
    open_dialogue,
    set_language,
)
from storage.privacy import Erased, erase, my_data
from storage.reports import history, report_of
from storage.store import Database

PLATFORM = "console"
REPORTS_DIR = Path("data", "reports")
"""Where the console writes PDF reports and data copies, beside the default database."""
INPUT_MAX = 4000
WIDTH_MIN = 20
RETENTION_DAYS = 90
MY_DATA_FILE = "sicheck-my-data.json"

KEYS: dict[type, str] = {
    events.Back: "b",
    events.Skip: "s",
    events.Info: "i",
    events.Confirm: "ok",
    events.Report: "r",
    events.Restart: "new",
    events.Cancel: "x",
}
"""The letter or word that chooses each navigation button, on every screen alike."""
NOT_APPLICABLE_KEY = "n"
HISTORY_KEY = "h"
EVENT_COMMANDS: dict[str, events.Event] = {
    "/back": events.Back(),
    "/skip": events.Skip(),
    "/info": events.Info(),
    "/cancel": events.Cancel(),
}
CONSOLE_COMMANDS = ("/help", "/quit", "/new", "/history", "/privacy", "/mydata", "/delete")
STARTED = (machine.LANGUAGE, machine.CONSENT, machine.PROFILE_NAME)
"""States where an assessment holds nothing yet that a fresh start would leave behind."""

EMPTY = N_("Please type the number of an option, or some text where it is asked for.")
TOO_LONG = N_("That line is too long.")
UNKNOWN = N_("Unknown command. Type /help to see the commands.")
NO_SUCH_OPTION = N_("There is no option with that number.")
DIGITS_ONLY = N_("Please type the number with the digits 0 to 9.")
CHOOSE = N_("Please type one of the choices shown in square brackets.")
HELP = N_(
    "Type the key shown in square brackets and press Enter: on a criterion, 0 to 3 is your "
    "answer on the scale, n is not applicable, i shows the guidance, b goes back and s skips. "
    "Where a text answer is asked for (a name, or a comment on a criterion), type it. "
    "Commands: /back, /skip, /info, /new (a fresh assessment), /cancel, /history (your "
    "finished assessments), /privacy, /mydata (a copy of your data), /delete (erase it), "
    "/help, /quit. Your answers are saved as you go: run sicheck console again to continue "
    "where you stopped."
)
RESUMING = N_("Resuming your assessment of %(practice)s.")
RESUMING_UNNAMED = N_("Resuming your assessment.")
WELCOME_BACK = N_("Welcome back. Your last assessment:")
ASK_NEW = N_(
    "Your assessment is not finished. Start a new one? The answers given so far are kept."
)
KEEP_GOING = N_("Go on with this one")
NEW_ASSESSMENT = N_("🔄 New assessment")
HISTORY_LABEL = N_("Your finished assessments")
BACK = N_("⬅️ Back")
REPORT = N_("📄 Report")
PRIVACY = N_(
    "<b>Privacy in SI Check</b>\n\n"
    "<b>What is recorded:</b> the user name you run the console under, your language, the "
    "practice's name, country, organisation, target groups and themes, your answers and "
    "comments, and every change of an answer.\n"
    "<b>Why:</b> to give you the scored summary, and to let the coordinators of your "
    "programme see how practices measure up against the EAPN checklist.\n"
    "<b>Who sees it:</b> you; the coordinators see answers under a pseudonym, never your "
    "user name, and figures only for groups of several respondents.\n"
    "<b>Your rights:</b> /mydata writes everything recorded about you to a file, /delete "
    "erases it all. Declining consent records nothing."
)
NOTHING = N_("SI Check has no data about you.")
DATA_WRITTEN = N_("Your data was written to %(path)s")
DELETE_ASK = N_(
    "This erases your assessments, answers and comments for good, and they leave every "
    "export and figure. Erase everything?"
)
ERASE = N_("🗑 Erase everything")
KEEP = N_("Keep my data")
NOT_ERASED = N_("Nothing was erased.")
REPORT_WRITTEN = N_("Report written to %(path)s")
NOT_AVAILABLE = N_("That report is not available.")
NOT_SAVED = N_("Your last answer could not be saved. Please try again in a moment.")
END_SAVED = N_("End of input. Your answers are saved: run sicheck console to continue.")
END_NOTHING = N_("End of input. Nothing was recorded.")
NAME_HINT = N_("<i>Type the name and press Enter.</i>")
COMMENT_HINT = N_("<i>You may add a comment: type it and press Enter.</i>")
CONSOLE_WORDING = {
    N_("Which organisation runs the practice? Write its name, or skip this question."): N_(
        "Which organisation runs the practice? Type its name, or skip this question."
    ),
    N_("Please write the name."): N_("Please type the name of the practice."),
    N_(
        "To do this, SI Check records your answers and comments, the practice's name, "
        "country, organisation, target groups and themes, your language and your user "
        "id, to give you the summary and to let the coordinators of your programme see "
        "how practices measure up. They see the answers under a pseudonym, never your "
        "name or user id. Unfinished assessments are deleted after a while without "
        "activity. /privacy tells more, /mydata sends you a copy of your data and "
        "/delete erases it. If you decline, nothing is recorded."
    ): N_(
        "To do this, SI Check records your answers and comments, the practice's name, "
        "country, organisation, target groups and themes, your language and the user name "
        "you run the console under, to give you the summary and to let the coordinators of "
        "your programme see how practices measure up. They see the answers under a "
        "pseudonym, never your user name. Unfinished assessments are deleted after a while "
        "without activity. /privacy tells more, /mydata writes a copy of your data to a file "
        "and /delete erases it. If you decline, nothing is recorded."
    ),
    N_("You have no finished assessments yet. Use /new to begin one."): N_(
        "You have no finished assessments yet. Type /new to begin one."
    ),
}
"""Telegram's wording of a view, and how the terminal says it instead (both translated)."""

Action = Callable[[], Awaitable[bool]]
"""A console choice: does its work and says whether the session goes on."""


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    act: events.Event | Action


@dataclass(frozen=True)
class Screen:
    """What the terminal shows: text, then rows of keyed choices."""

    text: str
    rows: tuple[tuple[Choice, ...], ...] = ()
    progress: str | None = None
    accepts_text: bool = False
    headline: str | None = None
    """What a refused input shows again instead of a long text (the summary's first lines)."""

    @property
    def choices(self) -> dict[str, Choice]:
        """Every choice by its key."""
        return {choice.key: choice for row in self.rows for choice in row}


@dataclass(frozen=True)
class Command:
    name: str


def console_wording(text: str) -> str:
    """``text`` (translated, with markup) with Telegram's "send a message" said as "type"."""
    for telegram, console in CONSOLE_WORDING.items():
        text = text.replace(_(telegram), _(console))
    return text


def _key(event: events.Event, counters: dict[str, int]) -> str:
    match event:
        case events.Answer(value=int() as value):
            return str(value)
        case events.Answer(value=None):
            return NOT_APPLICABLE_KEY
        case events.ToggleAspect():
            counters["t"] += 1
            return f"t{counters['t']}"
    key = KEYS.get(type(event))
    if key is not None:
        return key
    counters["#"] += 1
    return str(counters["#"])


def _label(event: events.Event, label: str) -> str:
    if isinstance(event, events.Answer) and event.value is not None:
        # The key is the value already: "[2] Largely", not "[2] 2 · Largely".
        return label.removeprefix(f"{event.value} · ")
    return label


def screen_of(view: View, *, headline: bool = False) -> Screen:
    """A view's keyed screen; call it inside the view's language."""
    counters = {"t": 0, "#": 0}
    rows = []
    for row in view.buttons:
        cells = []
        for button in row:
            event = events.decode(button.action)
            if event is not None:
                cells.append(Choice(_key(event, counters), _label(event, button.label), event))
        rows.append(tuple(cells))
    text = plain(console_wording(view.text))
    first = "\n\n".join(text.split("\n\n")[:2]) if headline else None
    return Screen(text, tuple(rows), view.progress, view.accepts_text, first)


def clean(line: str) -> str:
    """Drop control characters and surrounding space from one line of input."""
    kept = (ch for ch in line if ch == " " or unicodedata.category(ch)[0] != "C")
    return "".join(kept).strip()


def interpret(line: str, screen: Screen) -> Choice | events.Event | Command | str:
    """What a cleaned line means on ``screen``: a choice, a text answer, a command, or the
    (untranslated) reason it is none of them."""
    if not line:
        return EMPTY
    if len(line) > INPUT_MAX:
        return TOO_LONG
    if line.startswith("/"):
        command = line.split()[0].lower()
        if command in CONSOLE_COMMANDS:
            return Command(command)
        if command in EVENT_COMMANDS:
            return EVENT_COMMANDS[command]
        return UNKNOWN
    choices = screen.choices
    choice = choices.get(line.lower())
    if choice is not None:
        return choice
    if is_number(line):
        # A number is a choice where choices are numbered; elsewhere it may be a name.
        if any(is_number(key) for key in choices) or not screen.accepts_text:
            return NO_SUCH_OPTION
    elif not line.isascii() and line.replace(" ", "").isnumeric():
        # "²", "①", "٣": a number, but not in the digits a choice is typed with.
        return DIGITS_ONLY
    if screen.accepts_text:
        return events.Text(line)
    return CHOOSE


def wrap(text: str, width: int) -> str:
    """``text`` wrapped to ``width`` columns, never cutting a word; bullets hang."""
    lines = []
    for line in text.split("\n"):
        indent = "  " if line.startswith(("• ", "■", "□", "·")) else ""
        lines.append(
            textwrap.fill(
                line,
                width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            if line.strip()
            else ""
        )
    return "\n".join(lines)


def _choice_lines(rows: tuple[tuple[Choice, ...], ...], width: int) -> list[str]:
    lines = []
    for row in rows:
        cells = [f"[{choice.key}] {choice.label}" for choice in row]
        joined = "   ".join(cells)
        if len(joined) <= width:
            lines.append(joined)
            continue
        for choice, cell in zip(row, cells, strict=True):
            hang = " " * (len(choice.key) + 3)
            lines.append(
                textwrap.fill(cell, width, subsequent_indent=hang, break_long_words=False)
            )
    return lines


def render_screen(screen: Screen, width: int, *, notice: str | None = None) -> str:
    """The screen as printed; after a ``notice`` a long screen shows only its headline."""
    lines = []
    if notice:
        lines.append(wrap(f"! {notice}", width))
    if notice and screen.headline:
        lines.append(wrap(screen.headline, width))
    else:
        if screen.progress:
            lines.append(f"── {screen.progress} ──")
        lines.append(wrap(screen.text, width))
    lines += _choice_lines(screen.rows, width)
    return "\n".join(lines) + "\n"


@dataclass
class Opened:
    outcome: Outcome
    resumed: bool
    practice: str | None


@dataclass
class Console:
    """One practitioner's dialogue on a terminal."""

    content: Content
    database: Database
    who: Who
    out: Callable[[str], None]
    reports: Path = REPORTS_DIR
    width: int | None = None
    """Columns to wrap to; ``None`` asks the terminal each time."""
    retention_days: int = RETENTION_DAYS
    outcome: Outcome | None = None
    menus: list[Screen] = field(default_factory=list)
    """The console's own prompts (history, confirmations) open over the dialogue."""
    erased: bool = False

    @property
    def language(self) -> str:
        """The language the user reads, once known."""
        return self.outcome.language if self.outcome else self.who.language or "en"

    @property
    def columns(self) -> int:
        """The width text is wrapped to."""
        width = self.width or shutil.get_terminal_size().columns
        return max(WIDTH_MIN, width)

    def say(self, text: str) -> None:
        """Print one message, wrapped, set apart from what follows."""
        self.out(wrap(text, self.columns) + "\n")

    def dialogue_screen(self) -> Screen:
        """The screen of the current dialogue step, in its language."""
        assert self.outcome is not None
        outcome = self.outcome
        with use_language(outcome.language):
            view = outcome.view
            if outcome.problem:
                # The notice is printed on its own line: strip it from the view's text.
                prefix = f"<i>{escape(_(outcome.problem))}</i>\n\n"
                view = replace(view, text=view.text.removeprefix(prefix))
            if view.accepts_text:
                view = replace(view, text=_with_hint(view))
            finished = outcome.state == machine.SUMMARY
            screen = screen_of(view, headline=finished)
            if finished:
                extra = Choice(HISTORY_KEY, _(HISTORY_LABEL), self.show_history)
                screen = Screen(
                    screen.text, (*screen.rows, (extra,)), screen.progress, False, screen.headline
                )
        return screen

    @property
    def screen(self) -> Screen:
        """What the next line of input answers."""
        return self.menus[-1] if self.menus else self.dialogue_screen()

    def show(self, notice: str | None = None) -> None:
        """Print the current screen, after ``notice`` (an untranslated message id) if any."""
        with use_language(self.language):
            text = console_wording(_(notice)) if notice else None
            self.out(render_screen(self.screen, self.columns, notice=plain(text or "") or None))

    async def open(self) -> None:
        """Resume the user's assessment, or start one if there is none to show, and show it."""
        content, who = self.content, self.who

        def work(connection: Connection) -> Opened:
            loaded = load(connection, who)
            latest = loaded.assessment
            shown = None
            if who.language is not None:
                shown = set_language(connection, content, loaded, who.language)
            if latest is not None and latest.status in ("active", "completed"):
                outcome = shown or current_view(connection, content, loaded)
            elif latest is None:
                outcome = shown or open_dialogue(connection, content, loaded)
            else:
                outcome = open_dialogue(connection, content, loaded)
            resumed = (
                latest is not None and latest.status == "active" and latest.state not in STARTED
            )
            return Opened(outcome, resumed, latest.practice_name if latest else None)

        opened = await self.database.store.run(work)
        self.outcome = opened.outcome
        with use_language(self.language):
            if opened.resumed and opened.practice:
                self.say(_(RESUMING, practice=opened.practice))
            elif opened.resumed:
                self.say(_(RESUMING_UNNAMED))
            if self.outcome.state == machine.SUMMARY:
                screen = self.dialogue_screen()
                self.say(_(WELCOME_BACK))
                self.out(render_screen(_headline_only(screen), self.columns))
                return
        self.show()

    async def feed(self, line: str) -> bool:
        """Apply one line of input and show what follows; ``False`` ends the session."""
        assert self.outcome is not None
        meaning = interpret(clean(line), self.screen)
        if isinstance(meaning, str):
            self.show(meaning)
            return True
        if isinstance(meaning, Command):
            return await self.command(meaning.name)
        if isinstance(meaning, Choice):
            if not isinstance(meaning.act, events.Event):
                return await meaning.act()
            meaning = meaning.act
        if self.menus:
            if isinstance(meaning, events.Back):
                return await self.back()
            self.show(NOT_HERE)
            return True
        await self.step(meaning)
        return True

    async def step(self, event: events.Event) -> None:
        """Apply an engine event to the current assessment, committed before it is shown."""
        assert self.outcome is not None
        current = self.outcome
        if isinstance(event, events.Report):
            await self.write_report(current.assessment_id)
            return
        content, who = self.content, self.who
        self.outcome = await self.database.store.run(
            lambda connection: apply(
                connection, content, who, event, source=PLATFORM, expected=current.expected
            )
        )
        self.show(self.outcome.problem)

    async def command(self, name: str) -> bool:
        """Carry out one of the console's own commands."""
        if name == "/quit":
            return False
        if name == "/help":
            with use_language(self.language):
                self.say(_(HELP))
            self.show_headline()
            return True
        if name == "/privacy":
            with use_language(self.language):
                days = self.retention_days
                self.say(plain(_(PRIVACY) + "\n" + retention_text(days)))
            self.show_headline()
            return True
        if name == "/mydata":
            await self.write_my_data()
            return True
        if name == "/history":
            return await self.show_history()
        if name == "/delete":
            self.ask(DELETE_ASK, ((ERASE, self.erase), (KEEP, self.keep)))
            return True
        return await self.start_new()

    def ask(self, question: str, answers: tuple[tuple[str, Action], ...]) -> None:
        """Open a numbered question over whatever is shown."""
        with use_language(self.language):
            choices = tuple(
                (Choice(str(number), _(label), act),)
                for number, (label, act) in enumerate(answers, start=1)
            )
            self.menus = [Screen(_(question), choices)]
        self.show()

    async def back(self) -> bool:
        """Close the console's innermost prompt."""
        self.menus.pop()
        self.show_headline()
        return True

    async def start_new(self) -> bool:
        """Start a fresh assessment, asking first if the current one is unfinished."""
        assert self.outcome is not None
        self.menus = []
        state = self.outcome.state
        if state in machine.FINAL_STATES or state in STARTED:
            return await self.restart()
        self.ask(ASK_NEW, ((NEW_ASSESSMENT, self.restart), (KEEP_GOING, self.back)))
        return True

    async def restart(self) -> bool:
        """Leave the current assessment for a fresh one."""
        self.menus = []
        await self.step(events.Restart())
        return True

    async def show_history(self) -> bool:
        """List the finished assessments, each opening its summary."""
        content, who = self.content, self.who
        found: History = await self.database.store.run(
            lambda connection: history(connection, content, who)
        )
        with use_language(self.language):
            screen = screen_of(history_view(found))
            rows = tuple(
                tuple(Choice(c.key, c.label, self._opener(c.act)) for c in row)
                for row in screen.rows
            )
            back = (Choice(KEYS[events.Back], _(BACK), self.back),)
            self.menus = [Screen(screen.text, (*rows, back))]
        self.show()
        return True

    def _opener(self, event: events.Event | Action) -> Action:
        assert isinstance(event, events.Open)
        return lambda: self.open_past(event.assessment_id)

    async def open_past(self, assessment_id: int) -> bool:
        """Show the summary of one finished assessment, with its report."""
        report = await self._report(assessment_id)
        if report is None:
            self.show(NOT_AVAILABLE)
            return True
        with use_language(self.language):
            text = plain(console_wording(summary_view(report).text))

            async def write() -> bool:
                await self.write_report(assessment_id)
                return True

            rows = (
                (Choice(KEYS[events.Report], _(REPORT), write),),
                (Choice(KEYS[events.Back], _(BACK), self.back),),
            )
            headline = "\n\n".join(text.split("\n\n")[:2])
            self.menus.append(Screen(text, rows, headline=headline))
        self.show()
        return True

    async def _report(self, assessment_id: int) -> Report | None:
        content, who = self.content, self.who
        return await self.database.store.run(
            lambda connection: report_of(connection, content, who, assessment_id)
        )

    async def write_report(self, assessment_id: int) -> None:
        """Write a finished assessment's PDF report into the report folder."""
        from bot.documents import report_filename, report_pdf

        report = await self._report(assessment_id)
        if report is None:
            self.show(NOT_AVAILABLE)
            return
        pdf = await asyncio.to_thread(report_pdf, report)
        path = self.reports / f"{assessment_id}-{report_filename(report)}"
        await asyncio.to_thread(_write, path, pdf)
        with use_language(self.language):
            self.say(_(REPORT_WRITTEN, path=str(path)))
        self.show_headline()

    def show_headline(self) -> None:
        """Show the current screen again, shortened to its headline where it has one."""
        screen = self.screen
        self.out(render_screen(_headline_only(screen), self.columns))

    async def write_my_data(self) -> None:
        """Write everything kept about the user to a JSON file and say where."""
        who = self.who
        data = await self.database.store.run(lambda connection: my_data(connection, who))
        with use_language(self.language):
            if data is None:
                self.say(_(NOTHING))
            else:
                path = self.reports / MY_DATA_FILE
                text = json.dumps(data, ensure_ascii=False, indent=2)
                await asyncio.to_thread(_write, path, text.encode())
                self.say(_(DATA_WRITTEN, path=str(path)))
        self.show_headline()

    async def erase(self) -> bool:
        """Erase everything about the user; the session ends, as nothing is left to show."""
        who = self.who
        erased: Erased = await self.database.store.run(
            lambda connection: erase(connection, who.platform, who.external_id)
        )
        self.erased = True
        self.menus = []
        with use_language(self.language):
            self.say(erased_text(erased))
        return False

    async def keep(self) -> bool:
        """Close the erase question without erasing."""
        self.menus = []
        with use_language(self.language):
            self.say(_(NOT_ERASED))
        self.show()
        return True

    def farewell(self) -> str:
        """The last line at the end of input, true to what is recorded."""
        declined = self.outcome is not None and self.outcome.state == machine.DECLINED
        with use_language(self.language):
            return _(END_NOTHING if self.erased or declined else END_SAVED)


def erased_text(erased: Erased) -> str:
    """What ``/delete`` erased, in the current language."""
    return views.erased_text(erased.assessments, erased.answers, erased.log_entries)


def retention_text(days: int) -> str:
    """How long unfinished assessments are kept, in the current language."""
    return ngettext(
        "<b>How long:</b> unfinished assessments are deleted after %(count)s day without "
        "activity.",
        "<b>How long:</b> unfinished assessments are deleted after %(count)s days without "
        "activity.",
        days,
    )


def _with_hint(view: View) -> str:
    """The text of a view that takes a typed answer, its closing hint said for the terminal."""
    text, gap, last = view.text.rpartition("\n\n")
    if not (gap and last.startswith("<i>") and last.endswith("</i>")):
        return view.text
    # A question of the checklist takes a comment; the other text question is the name.
    return f"{text}{gap}{_(COMMENT_HINT if view.progress else NAME_HINT)}"


def _headline_only(screen: Screen) -> Screen:
    if screen.headline is None:
        return screen
    return Screen(screen.headline, screen.rows)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def run_console(
    content: Content,
    database: Database,
    *,
    user: str,
    language: str | None,
    stdin: TextIO,
    stdout: TextIO,
    reports: Path = REPORTS_DIR,
    width: int | None = None,
    retention_days: int = RETENTION_DAYS,
) -> int:
    """Run the dialogue until end of input or ``/quit``; return the process exit code."""

    def out(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    console = Console(
        content,
        database,
        Who(PLATFORM, user, language),
        out,
        reports,
        width,
        retention_days,
    )
    await console.open()
    while True:
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            console.say(console.farewell())
            return 0
        try:
            if not await console.feed(line):
                return 0
        except SQLAlchemyError:
            console.show(NOT_SAVED)
