"""``sicheck coordinator``, ``cohort``, ``export``, ``stats``, ``erase`` and ``purge``.

The coordinators' shell. Each subcommand imports what it uses when it runs, so the others,
and ``sicheck --help``, do not pay for the export, chart and database libraries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot import mentoring
from bot.arguments import add_database_url, console_user, languages, number, user_id

if TYPE_CHECKING:
    from bot.settings import Settings
    from dialogs.content import Content
    from storage.privacy import Erased
    from storage.stats import GroupStats
    from storage.store import Database

T = TypeVar("T")
PLATFORM = "telegram"
Handler = Callable[[argparse.Namespace, "Settings"], Coroutine[Any, Any, int]]


def invitation_link(username: str | None, code: str) -> str:
    """The deep link that makes whoever starts the bot through it a member of the cohort."""
    return f"https://t.me/{username or '<bot username>'}?start={code}"


def erased_line(erased: Erased) -> str:
    """What ``sicheck erase`` erased, in the current language."""
    from dialogs.i18n import _, ngettext
    from dialogs.views import erased_counts

    return _(
        "erased %(respondents)s, %(assessments)s, %(answers)s and %(entries)s",
        respondents=ngettext("%(count)s respondent", "%(count)s respondents", erased.respondents),
        **erased_counts(erased.assessments, erased.answers, erased.log_entries),
    )


def purged_line(days: int, erased: Erased) -> str:
    """What ``sicheck purge`` removed, in the current language."""
    from dialogs.i18n import _, ngettext

    return _(
        "past %(days)s: %(assessments)s and %(identities)s removed",
        days=ngettext("%(count)s day", "%(count)s days", days),
        assessments=ngettext(
            "%(count)s unfinished assessment",
            "%(count)s unfinished assessments",
            erased.assessments,
        ),
        identities=ngettext("%(count)s identity", "%(count)s identities", erased.respondents),
    )


def _coordinator_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("add", "remove", "list"))
    parser.add_argument(
        "user_id", nargs="?", type=user_id, help="the coordinator's Telegram user id"
    )
    add_database_url(parser)


def _cohort_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("new", "list"))
    parser.add_argument("name", nargs="?", help="the new cohort's name")
    parser.add_argument(
        "--coordinator",
        type=mentoring.mentor,
        help="telegram:ID, the coordinator who mentors the cohort (a recorded coordinator)",
    )
    add_database_url(parser)


def _filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohort", help="only this cohort (its code)")
    parser.add_argument("--country", help="only this country (ISO code or name, such as LV)")
    parser.add_argument("--lang", choices=languages(), default=languages()[0])
    add_database_url(parser)


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    from bot.exporting import KINDS, NAMES, SHAPES

    parser.add_argument("--format", choices=KINDS, default="xlsx", dest="kind")
    parser.add_argument(
        "--shape", choices=SHAPES, default="answers", help="for csv, excel and jsonl"
    )
    parser.add_argument("--out", type=Path, help="the file to write (default: its own name)")
    parser.add_argument("--since", help="from this day (YYYY-MM-DD)")
    parser.add_argument("--until", help="through this day (YYYY-MM-DD)")
    parser.add_argument("--version", type=number, help="only this checklist version (a number)")
    parser.add_argument("--completed", action="store_true", help="completed assessments only")
    parser.add_argument(
        "--names",
        choices=NAMES,
        help="column names: translated labels, or stable codes (default: labels; jsonl: codes)",
    )
    parser.add_argument(
        "--include-identities",
        action="store_true",
        help="add each respondent's platform and user id (otherwise pseudonyms only)",
    )
    _filter_arguments(parser)


def _erase_arguments(parser: argparse.ArgumentParser) -> None:
    whom = parser.add_mutually_exclusive_group(required=True)
    whom.add_argument("--telegram-id", type=user_id, help="their Telegram user id")
    whom.add_argument(
        "--console-user",
        type=console_user,
        help="the --user name they answered under in the console",
    )
    add_database_url(parser)


def map_file(text: str) -> Path:
    """An argparse type: the ecosystem map's file, named ``.png`` or ``.pdf``."""
    from bot.ecosystem import map_format

    if map_format(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the map is drawn as PNG or PDF, so its name must end in .png or .pdf"
        )
    return Path(text)


def _stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chart", type=Path, help="also write the distribution chart (PNG)")
    parser.add_argument(
        "--map",
        type=map_file,
        metavar="FILE",
        help="also write the ecosystem map, each criterion's mean per group (.png or .pdf)",
    )
    _filter_arguments(parser)


def _writable(path: Path) -> None:
    """Refuse, before anything is read, a file that cannot be made where it is asked for."""
    from bot.runtime import StartupError

    if path.is_dir():
        raise StartupError(f"cannot write {path}: it is a directory")
    if not path.parent.is_dir():
        raise StartupError(f"cannot write {path}: there is no directory {path.parent}")


async def _write(path: Path, write: Callable[[], T]) -> T:
    """Run ``write`` (which writes ``path``) off the event loop; a failure is one line."""
    from xlsxwriter.exceptions import XlsxFileError

    from bot.runtime import StartupError

    try:
        return await asyncio.to_thread(write)
    except (OSError, XlsxFileError) as error:
        # XlsxWriter wraps the OSError of the file it could not create.
        reason = getattr(error, "strerror", None) or getattr(error.args[0], "strerror", error)
        raise StartupError(f"cannot write {path}: {reason}") from None


CREATING = {("coordinator", "add"), ("cohort", "new")}
"""What may be the first thing done on a new installation: these make its database."""


@asynccontextmanager
async def _opened(args: argparse.Namespace, settings: Settings) -> AsyncIterator[Database]:
    from bot.runtime import missing_sqlite_file, open_database

    url = args.database_url or settings.database_url
    missing = missing_sqlite_file(url)
    creating = (args.command, getattr(args, "action", None)) in CREATING
    database = await open_database(url, must_exist=not creating)
    if missing is not None:
        print(f"sicheck: a new database was made at {missing}", file=sys.stderr)
    try:
        yield database
    finally:
        await database.close()


async def _erase(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console import REPORTS_DIR, erase_with_files
    from storage.privacy import erase

    whom = (PLATFORM, args.telegram_id) if args.telegram_id else ("console", args.console_user)
    async with _opened(args, settings) as database:
        if args.telegram_id:
            erased = await database.store.run(lambda c: erase(c, *whom))
        else:  # and the files the console wrote for them, where it writes them by default
            erased = await erase_with_files(database, args.console_user, REPORTS_DIR)
    print(erased_line(erased))
    if erased.coordinators:
        print(f"{whom[1]} is no longer a coordinator")
    return 0 if erased.anything else 1


async def _purge(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import timedelta

    from storage.privacy import purge

    retention = timedelta(days=settings.retention_days)
    async with _opened(args, settings) as database:
        erased = await database.store.run(lambda c: purge(c, retention))
    print(purged_line(settings.retention_days, erased))
    return 0


async def _coordinator(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import StartupError
    from storage.coordination import add_coordinator, list_coordinators, remove_coordinator

    if args.action != "list" and not args.user_id:
        raise StartupError(f"coordinator {args.action} needs a Telegram user id")
    async with _opened(args, settings) as database:
        if args.action == "add":
            await database.store.run(lambda c: add_coordinator(c, PLATFORM, args.user_id))
            print(f"{args.user_id} is a coordinator")
            return 0
        if args.action == "remove":
            removed = await database.store.run(
                lambda c: remove_coordinator(c, PLATFORM, args.user_id)
            )
            print(f"{args.user_id} is no longer a coordinator" if removed else "not a coordinator")
            return 0 if removed else 1
        for platform, external_id, notify in await database.store.run(list_coordinators):
            print(f"{platform}\t{external_id}\t{'notified' if notify else '-'}")
    return 0


async def _cohort(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import StartupError
    from storage.coordination import list_cohorts, new_cohort_by

    name = (args.name or "").strip()[:200]
    if args.action == "new" and not name:
        raise StartupError("cohort new needs a name, such as: sicheck cohort new 'Riga 2026'")
    async with _opened(args, settings) as database:
        if args.action == "new":
            made = new_cohort_by(name, args.coordinator, settings.coordinators)
            asked = await database.store.run(made)
            if asked is None:
                raise StartupError(f"{args.coordinator} is not a coordinator")
            link = invitation_link(settings.telegram_bot_username, asked.code)
            print(f"cohort {name!r}{' (made before)' if asked.existed else ''}: {link}")
            return 0
        cohorts = await database.store.run(list_cohorts)
    print("code\tname\trespondents\tstarted\tcompleted\tcreated")
    for cohort in cohorts:
        print(
            f"{cohort.code}\t{cohort.name}\t{cohort.respondents}\t{cohort.started}\t"
            f"{cohort.completed}\t{cohort.created_at:%Y-%m-%d}"
        )
    return 0


async def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.documents import stats_png
    from bot.exporting import ExplainedRequestError, figures
    from bot.runtime import StartupError, load_checked_content
    from bot.stats_text import stats_plain

    content = load_checked_content()
    for path in (args.chart, args.map):
        if path is not None:
            _writable(path)
    try:
        asked = figures(content, settings.stats_min_group, args.cohort, args.country, args.lang)
        async with _opened(args, settings) as database:
            groups = await database.store.run(asked)
    except ExplainedRequestError as error:
        raise StartupError(str(error)) from None
    print(stats_plain(groups, content, args.lang))
    if args.chart is not None:
        png = await asyncio.to_thread(stats_png, groups, content, args.lang)
        if png is None:
            print("no chart: every group is too small to show", file=sys.stderr)
            return 1
        await _write(args.chart, lambda: args.chart.write_bytes(png))
    if args.map is not None:
        return await _write_map(args.map, groups, content, args.lang)
    return 0


async def _write_map(path: Path, groups: list[GroupStats], content: Content, language: str) -> int:
    """Write the ecosystem map of ``groups`` to ``path``; 1 if every group is hidden."""
    from bot.documents import stats_map
    from bot.ecosystem import map_format
    from bot.stats_text import no_map_line
    from dialogs.i18n import use_language

    fmt = map_format(path.name)
    assert fmt is not None  # the option's type refused any other name
    drawn = await asyncio.to_thread(stats_map, groups, content, language, fmt)
    if drawn is None:
        with use_language(language):
            print(no_map_line(groups[0].threshold), file=sys.stderr)
        return 1
    await _write(path, lambda: path.write_bytes(drawn))
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from bot.exporting import (
        ExplainedRequestError,
        ExportRequestError,
        known_cohort,
        parse_words,
        run_export,
    )
    from bot.runtime import StartupError, load_checked_content, require_pseudonym_key

    words = [args.kind, args.shape] + ["completed"] * args.completed + [args.names or ""]
    for option in ("since", "until", "cohort", "country", "version"):
        if getattr(args, option) not in (None, ""):
            words.append(f"{option}={getattr(args, option)}")
    try:
        request = replace(
            parse_words([word for word in words if word], args.lang),
            include_identities=args.include_identities,
        )
    except ExplainedRequestError as error:
        raise StartupError(str(error)) from None
    except ExportRequestError as error:
        raise StartupError(f"export option {error}") from None
    path = args.out or Path(request.filename)
    _writable(path)
    key = settings.sicheck_pseudonym_key
    secret = key.get_secret_value() if key else ""
    # Opening the database also checks that its schema is current before reading from it.
    async with _opened(args, settings) as database:
        await require_pseudonym_key(database, secret)
        try:
            await database.store.run(known_cohort(request.filter.cohort, args.lang))
        except ExplainedRequestError as error:
            raise StartupError(str(error)) from None
    url = args.database_url or settings.database_url
    content = load_checked_content()
    rows = await _write(path, lambda: run_export(url, content, request, path, secret))
    print(f"{rows} rows written to {path}", file=sys.stderr)
    return 0


SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {
    "coordinator": ("who may export and see figures", _coordinator_arguments, _coordinator),
    "cohort": ("groups of practitioners invited by one link", _cohort_arguments, _cohort),
    "export": ("answer logs and assessments as files", _export_arguments, _export),
    "erase": ("erase a respondent, as they asked by e-mail", _erase_arguments, _erase),
    "purge": ("remove what is past RETENTION_DAYS now", add_database_url, _purge),
    "stats": ("aggregate figures per cohort and country", _stats_arguments, _stats),
    "mentor": ("a mentor's shared assessments and feedback", mentoring.arguments, mentoring.run),
}
"""Each subcommand's one-line help, the function that declares its options, and its work."""
