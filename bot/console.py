"""The terminal adapter: each view's buttons as keyed choices, one line of input per step.

Input is read line by line, so a whole assessment can be piped in. On a criterion the key is
the scale value itself (``0``-``3``), ``n`` not applicable, ``i`` guidance, ``b`` back and
``s`` skip, the same on every criterion; elsewhere options are numbered. Only the ASCII digits
count as numbers. Every step is committed before its view is printed, and a finished
assessment is never replaced by a new one until the practitioner asks for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from html import escape
from itertools import count
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot import console_teams
from bot.arguments import is_number
from dialogs import events, machine, views
from dialogs.content import Content
from dialogs.engine import NOT_HERE
from dialogs.i18n import N_, _, ngettext, use_language
from dialogs.views import Button, View, back_button, erased_text, history_view, plain, summary_view
from storage.dialogue import Outcome, Who, apply, current_view, load, open_dialogue, set_language
from storage.privacy import Erased, erase, my_data
from storage.reports import history, report_of
from storage.store import Database

T = TypeVar("T")
PLATFORM = "console"
log = logging.getLogger(__name__)
REPORTS_DIR = Path("data", "reports")
"""Where the console writes PDF reports and data copies, beside the default database."""
INPUT_MAX = 4000
WIDTH_MIN = 20
RETENTION_DAYS = 90
MY_DATA_FILE = "sicheck-my-data.json"
BACK = events.encode(events.Back())
REPORT = events.encode(events.Report())
HISTORY, ERASE, KEEP, RESTART, STAY = "history", "erase", "keep", "restart", "stay"
"""The console's own button actions, beside the engine's event tokens."""
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
COMMANDS = {
    **{f"/{name}": f"/{name}" for name in ("help", "quit", "new", "privacy", "mydata", "delete")},
    "/history": HISTORY,
    "/team": "/team",
    "/back": BACK,
    "/skip": events.encode(events.Skip()),
    "/info": events.encode(events.Info()),
    "/cancel": events.encode(events.Cancel()),
    # Telegram's words for continuing or beginning, and for showing where one is.
    "/start": "/start",
    "/resume": "/resume",
}
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
    "finished assessments), /team (assess the practice with your team), /join CODE (join a "
    "team), /privacy, /mydata (a copy of your data), /delete (erase it), /help, /quit. Your "
    "answers are saved as you go: run sicheck console again to continue where you stopped."
)
RESUMING = N_("Resuming your assessment of %(practice)s.")
RESUMING_UNNAMED = N_("Resuming your assessment.")
WELCOME_BACK = N_("Welcome back. Your last assessment:")
ASK_NEW = N_(
    "Your assessment is not finished. Start a new one? The answers given so far are kept."
)
KEEP_GOING = N_("Go on with this one")
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
DATA_WRITTEN = N_("Your data was written to %(path)s")
REPORT_WRITTEN = N_("Report written to %(path)s")
NOT_SAVED = N_("Your last answer could not be saved. Please try again in a moment.")
UNREACHABLE = N_("SI Check cannot reach its database just now. Please try again in a moment.")
END_SAVED = N_("End of input. Your answers are saved: run sicheck console to continue.")
END_NOTHING = N_("End of input. Nothing was recorded.")
NAME_HINT = N_("<i>Type the name and press Enter.</i>")
COMMENT_HINT = N_("<i>You may add a comment: type it and press Enter.</i>")
CONSENT = N_(
    "To do this, SI Check records your answers and comments, the practice's name, "
    "country, organisation, target groups and themes, your language and the user name "
    "you run the console under, to give you the summary and to let the coordinators of "
    "your programme see how practices measure up. They see the answers under a "
    "pseudonym, never your user name. Unfinished assessments are deleted after a while "
    "without activity. /privacy tells more, /mydata writes a copy of your data to a file "
    "and /delete erases it. If you decline, nothing is recorded."
)
"""What the consent question's second paragraph, Telegram's, says in the terminal."""


class InputError(Exception):
    """A line that means nothing on the screen; its argument is the (untranslated) reason."""


def keyed(view: View) -> list[list[tuple[str, Button]]]:
    """Each button of ``view`` with the key that chooses it, row by row."""
    numbers, toggles = count(1), count(1)
    chosen = [events.decode(button.action) for row in view.buttons for button in row]
    on_criterion = any(isinstance(event, events.Answer) for event in chosen)
    rows = []
    for row in view.buttons:
        cells = []
        for button in row:
            match event := events.decode(button.action):
                case events.Confirm() if on_criterion:
                    # "Skip, without the comment": still "s", or an "s" typed to skip would
                    # replace the waiting comment.
                    key = KEYS[events.Skip]
                case events.Answer(value=int() as value):
                    # The key is the value already: "[2] Largely", not "[2] 2 · Largely".
                    key = str(value)
                    button = replace(button, label=button.label.removeprefix(f"{value} · "))
                case events.Answer(value=None):
                    key = "n"
                case events.ToggleAspect():
                    key = f"t{next(toggles)}"
                case None if button.action == HISTORY:
                    key = "h"
                case None if button.action == console_teams.BACK:
                    key = KEYS[events.Back]
                case _:
                    key = KEYS.get(type(event)) or str(next(numbers))
            cells.append((key, button))
        rows.append(cells)
    return rows


def clean(line: str) -> str:
    """Drop control characters and surrounding space from one line of input."""
    kept = (ch for ch in line if ch == " " or unicodedata.category(ch)[0] != "C")
    return "".join(kept).strip()


def interpret(line: str, view: View) -> str | events.Text:
    """The action a cleaned line chooses on ``view`` (a button's or a command's), or the text
    it answers; raises ``InputError`` if it is neither."""
    if not line:
        raise InputError(EMPTY)
    if len(line) > INPUT_MAX:
        raise InputError(TOO_LONG)
    if line.startswith("/"):
        command = line.split()[0].lower()
        if command not in COMMANDS:
            raise InputError(UNKNOWN)
        return COMMANDS[command]
    choices = {key: button.action for row in keyed(view) for key, button in row}
    if line.lower() in choices:
        return choices[line.lower()]
    if is_number(line):
        # A number is a choice where choices are numbered; elsewhere it may be a name.
        if any(is_number(key) for key in choices) or not view.accepts_text:
            raise InputError(NO_SUCH_OPTION)
    elif not line.isascii() and line.replace(" ", "").isnumeric():
        # "²", "①", "٣": a number, but not in the digits a choice is typed with.
        raise InputError(DIGITS_ONLY)
    if view.accepts_text:
        return events.Text(line)
    raise InputError(CHOOSE)


def wrap(text: str, width: int, *, hang: str | None = None) -> str:
    """``text`` wrapped to ``width`` columns, never cutting a word; bullets hang."""
    wrapper = textwrap.TextWrapper(width, break_long_words=False, break_on_hyphens=False)
    lines = []
    for line in text.split("\n"):
        bullet = line.startswith(("• ", "■", "□", "·"))
        wrapper.subsequent_indent = hang or ("  " if bullet else "")
        lines.append(wrapper.fill(line))
    return "\n".join(lines)


def render(view: View, width: int, notice: str | None = None, *, short: bool = False) -> str:
    """``view`` as printed; after a ``notice``, or when ``short``, a summary (a view offering
    its report) shows only its first lines."""
    text = plain(view.text)
    lines = [wrap(f"! {notice}", width)] if notice else []
    if (notice or short) and REPORT in view.actions:
        text = "\n\n".join(text.split("\n\n")[:2])
    elif view.progress:
        lines.append(f"── {view.progress} ──")
    lines.append(wrap(text, width))
    for row in keyed(view):
        cells = [(f"[{key}] ", button.label) for key, button in row]
        joined = "   ".join(key + label for key, label in cells)
        if len(joined) <= width:
            lines.append(joined)
        else:
            lines += [wrap(key + label, width, hang=" " * len(key)) for key, label in cells]
    return "\n".join(lines) + "\n"


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
    menus: list[View] = field(default_factory=list)
    """The console's own prompts (history, confirmations) open over the dialogue."""
    past: int = 0
    """The finished assessment whose summary a prompt shows."""
    erased: bool = False
    team_id: int = 0
    """The team whose menu is open (``/team``)."""
    what_next: tuple[int, View] | None = None
    """The assessment just finished and what may follow it, shown under its summary."""

    @property
    def language(self) -> str:
        """The language the user reads, once known."""
        return self.outcome.language if self.outcome else self.who.language or "en"

    @property
    def columns(self) -> int:
        """The width text is wrapped to."""
        return max(WIDTH_MIN, self.width or shutil.get_terminal_size().columns)

    def say(self, text: str) -> None:
        """Print one message, wrapped, set apart from what follows."""
        self.out(wrap(plain(text), self.columns) + "\n")

    def screen(self) -> View:
        """What the next line of input answers; call it inside the user's language."""
        if self.menus:
            return self.menus[-1]
        assert self.outcome is not None
        view, text = self.outcome.view, self.outcome.view.text
        if self.outcome.problem:
            # The notice is printed on its own line: strip it from the view's text.
            text = text.removeprefix(f"<i>{escape(_(self.outcome.problem))}</i>\n\n")
        *paragraphs, last = text.split("\n\n")
        if view.accepts_text and paragraphs and last.startswith("<i>") and last.endswith("</i>"):
            # The closing hint said for the terminal: a question of the checklist takes a
            # comment; the other text question is the name.
            last = _(COMMENT_HINT if view.progress else NAME_HINT)
        paragraphs.append(last)
        if self.outcome.state == machine.CONSENT:
            paragraphs[1] = _(CONSENT)
        buttons = view.buttons
        if self.outcome.state == machine.SUMMARY:
            buttons = (*buttons, (Button(_(views.HISTORY_TITLE), HISTORY),))
            after = console_teams.what_next_of(self)
            if after is not None:
                paragraphs.append(after.text)
                buttons = (*buttons, *after.buttons)
        return replace(view, text="\n\n".join(paragraphs), buttons=buttons)

    def show(self, notice: str | None = None, *, short: bool = False) -> bool:
        """Print the current screen, after ``notice`` (an untranslated message id) if any."""
        with use_language(self.language):
            text = plain(_(notice)) if notice else None
            self.out(render(self.screen(), self.columns, text, short=short))
        return True

    def tell(self, message: str, **params: object) -> bool:
        """Print ``message`` (an untranslated id) and the screen again, a summary shortened."""
        with use_language(self.language):
            self.say(_(message, **params))
        return self.show(short=True)

    async def open(self) -> None:
        """Resume the user's assessment, or start one if there is none to show, and show it."""
        content, who = self.content, self.who

        def work(connection: Connection) -> tuple[Outcome, bool, str | None]:
            loaded = load(connection, who)
            latest = loaded.assessment
            shown = None
            if who.language is not None:
                shown = set_language(connection, content, loaded, who.language)
            if latest is not None and latest.status not in ("active", "completed"):
                return open_dialogue(connection, content, loaded), False, None
            outcome = shown or current_view(connection, content, loaded)
            if latest is None or latest.status != "active" or latest.state in STARTED:
                return outcome, False, None
            return outcome, True, latest.practice_name

        outcome, resumed, practice = await self.database.store.run(work)
        self.outcome = outcome
        with use_language(self.language):
            if resumed:
                named = _(RESUMING, practice=escape(practice)) if practice else None
                self.say(named or _(RESUMING_UNNAMED))
            if outcome.state == machine.SUMMARY:
                self.say(_(WELCOME_BACK))
        self.show(short=True)

    async def feed(self, line: str) -> bool:
        """Apply one line of input and show what follows; ``False`` ends the session."""
        with use_language(self.language):
            screen = self.screen()
        words = clean(line).split()
        if words[:1] and words[0].lower() == "/join":
            return await console_teams.join(self, words[1] if len(words) > 1 else "")
        try:
            meaning = interpret(clean(line), screen)
        except InputError as refused:
            return self.show(refused.args[0])
        if isinstance(meaning, events.Text):
            await self.step(meaning)
            return True
        return await self.act(meaning)

    async def act(self, action: str) -> bool:
        """Carry out a chosen button or command."""
        if action == "/quit":
            return False
        if action == "/help":
            return self.tell(HELP)
        if action == "/privacy":
            with use_language(self.language):
                self.say(_(PRIVACY) + "\n" + retention_text(self.retention_days))
            return self.show(short=True)
        if action == "/mydata":
            return await self.write_my_data()
        if action in ("/start", "/resume"):
            return await self.continue_or_begin(begin=action == "/start")
        if action == HISTORY:
            return await self.show_history()
        if action == "/team":
            return await console_teams.show_team(self)
        if action.startswith(console_teams.PREFIX):
            return await console_teams.act(self, action)
        if action == "/delete":
            return self.ask(views.DELETE_ASK, (views.ERASE_LABEL, ERASE), (views.KEEP_LABEL, KEEP))
        if action == "/new":
            return await self.start_new()
        if action == ERASE:
            return await self.erase()
        if action in (KEEP, RESTART):
            self.menus = []
            if action == KEEP:
                return self.tell(views.NOT_ERASED)
            action = events.encode(events.Restart())
        event = events.decode(action)
        if not self.menus:
            if isinstance(event, events.Report):
                assert self.outcome is not None
                return await self.write_report(self.outcome.assessment_id)
            if event is not None:
                await self.step(event)
            return True
        if action == STAY or isinstance(event, events.Back):
            self.menus.pop()
            return self.show(short=True)
        if isinstance(event, events.Open):
            return await self.open_past(event.assessment_id)
        if isinstance(event, events.Report):
            return await self.write_report(self.past)
        return self.show(NOT_HERE)

    async def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``work(connection, *args, **kwargs)`` in one committed transaction."""
        return await self.database.store.run(lambda connection: work(connection, *args, **kwargs))

    async def step(self, event: events.Event) -> None:
        """Apply an engine event to the current assessment, committed before it is shown."""
        assert self.outcome is not None
        expected = self.outcome.expected
        self.outcome = await self.run(
            apply, self.content, self.who, event, source=PLATFORM, expected=expected
        )
        if isinstance(event, events.Confirm) and self.outcome.state == machine.SUMMARY:
            try:
                await console_teams.after_finish(self)
            except SQLAlchemyError:  # the answer is saved: the summary shows, without options
                assessment_id = self.outcome.assessment_id
                log.warning(
                    "what follows assessment %s was not read", assessment_id, exc_info=True
                )
        self.show(self.outcome.problem)

    def ask(self, question: str, *answers: tuple[str, str]) -> bool:
        """Open a numbered question over whatever is shown."""
        with use_language(self.language):
            buttons = tuple((Button(_(label), action),) for label, action in answers)
            self.menus = [View(_(question), buttons)]
        return self.show()

    async def start_new(self) -> bool:
        """Start a fresh assessment, asking first if the current one is unfinished."""
        assert self.outcome is not None
        self.menus = []
        state = self.outcome.state
        if state in machine.FINAL_STATES or state in STARTED:
            return await self.act(RESTART)
        return self.ask(ASK_NEW, (views.NEW_ASSESSMENT, RESTART), (KEEP_GOING, STAY))

    async def continue_or_begin(self, *, begin: bool) -> bool:
        """Show the assessment under way; when ``begin``, start one over a finished,
        cancelled or declined one, as Telegram's ``/start`` does."""
        assert self.outcome is not None
        self.menus = []
        if begin and self.outcome.state in machine.FINAL_STATES:
            return await self.act(RESTART)
        return self.show()

    async def show_history(self) -> bool:
        """List the finished assessments, each opening its summary."""
        found = await self.run(history, self.content, self.who)
        with use_language(self.language):
            view = history_view(found)
        self.menus = []
        return self.open_menu(view)

    async def open_past(self, assessment_id: int) -> bool:
        """Show the summary of one finished assessment, with its report."""
        report = await self.run(report_of, self.content, self.who, assessment_id)
        if report is None:
            return self.show(views.NOT_AVAILABLE)
        self.past = assessment_id
        return self.open_menu(summary_view(report, past=True))

    def open_menu(self, view: View) -> bool:
        """Open ``view`` over whatever is shown, with a button back."""
        with use_language(self.language):
            self.menus.append(replace(view, buttons=(*view.buttons, (back_button(),))))
        return self.show()

    async def write_report(self, assessment_id: int) -> bool:
        """Write a finished assessment's PDF report into the report folder."""
        from bot.documents import report_filename, report_pdf

        report = await self.run(report_of, self.content, self.who, assessment_id)
        if report is None:
            return self.show(views.NOT_AVAILABLE)
        pdf = await asyncio.to_thread(report_pdf, report)
        return await self.write(f"{assessment_id}-{report_filename(report)}", pdf, REPORT_WRITTEN)

    async def write_my_data(self) -> bool:
        """Write everything kept about the user to a JSON file and say where."""
        data = await self.run(my_data, self.who)
        if data is None:
            return self.tell(views.NOTHING)
        text = json.dumps(data, ensure_ascii=False, indent=2)
        return await self.write(MY_DATA_FILE, text.encode(), DATA_WRITTEN)

    async def write(self, name: str, data: bytes, written: str) -> bool:
        """Write ``data`` into the report folder and say where, in the words of ``written``."""
        path = self.reports / name
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, data)
        return self.tell(written, path=str(path))

    async def erase(self) -> bool:
        """Erase everything about the user, the files written for them included; the session
        ends, as nothing is left to show."""
        erased = await erase_with_files(self.database, self.who.external_id, self.reports)
        self.erased = True
        self.menus = []
        with use_language(self.language):
            self.say(erased_text(erased.assessments, erased.answers, erased.log_entries))
        return False

    def farewell(self) -> str:
        """The last line at the end of input, true to what is recorded."""
        # Before consent is given nothing has been answered, as after it is declined.
        unanswered = (machine.LANGUAGE, machine.CONSENT, machine.DECLINED)
        nothing = self.outcome is not None and self.outcome.state in unanswered
        with use_language(self.language):
            return _(END_NOTHING if self.erased or nothing else END_SAVED)


async def erase_with_files(database: Database, user: str, reports: Path) -> Erased:
    """Erase the console user ``user`` and the files the console wrote for them into
    ``reports``: their assessments' PDF reports and their copy of their data."""

    def work(connection: Connection) -> tuple[list[int], Erased]:
        theirs = my_data(connection, Who(PLATFORM, user))
        written = [assessment["id"] for assessment in theirs["assessments"]] if theirs else []
        return written, erase(connection, PLATFORM, user)

    assessment_ids, erased = await database.store.run(work)
    await asyncio.to_thread(_forget_files, reports, user, assessment_ids)
    return erased


def _forget_files(reports: Path, user: str, assessment_ids: list[int]) -> None:
    for assessment_id in assessment_ids:
        for pdf in reports.glob(f"{assessment_id}-*.pdf"):
            pdf.unlink(missing_ok=True)
    copy = reports / MY_DATA_FILE
    try:
        holder = json.loads(copy.read_text(encoding="utf-8"))["respondent"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    # The folder is shared: another console user's copy of their data stays.
    if isinstance(holder, dict) and holder.get("user_id") == user:
        copy.unlink(missing_ok=True)


def retention_text(days: int) -> str:
    """How long unfinished assessments are kept, in the current language."""
    return ngettext(
        "<b>How long:</b> unfinished assessments are deleted after %(count)s day without "
        "activity.",
        "<b>How long:</b> unfinished assessments are deleted after %(count)s days without "
        "activity.",
        days,
    )


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

    out = partial(print, file=stdout, flush=True)
    who = Who(PLATFORM, user, language)
    console = Console(content, database, who, out, reports, width, retention_days)
    try:
        await console.open()
    except SQLAlchemyError:
        log.warning("the database could not be read at the start", exc_info=True)
        with use_language(console.language):
            console.say(_(UNREACHABLE))
        return 1
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
