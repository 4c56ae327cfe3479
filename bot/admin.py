"""``sicheck coordinator``, ``cohort``, ``export``, ``stats``, ``erase`` and ``purge``.

The coordinators' shell. Each subcommand imports what it uses when it runs, so the others,
and ``sicheck --help``, do not pay for the export, chart and database libraries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.arguments import add_database_url, console_user, languages, number, user_id

if TYPE_CHECKING:
    from bot.settings import Settings
    from storage.privacy import Erased
    from storage.store import Store

PLATFORM = "telegram"
CONSOLE = "console"


def invitation_link(username: str | None, code: str) -> str:
    """The deep link that makes whoever starts the bot through it a member of the cohort."""
    return f"https://t.me/{username or '<bot username>'}?start={code}"


def erased_line(erased: Erased) -> str:
    """What ``sicheck erase`` erased, counted in the current language's plural forms."""
    from dialogs.i18n import ngettext

    parts = (
        ngettext("%(count)s respondent", "%(count)s respondents", erased.respondents),
        ngettext("%(count)s assessment", "%(count)s assessments", erased.assessments),
        ngettext("%(count)s answer", "%(count)s answers", erased.answers),
        ngettext("%(count)s answer-log entry", "%(count)s answer-log entries", erased.log_entries),
    )
    return f"erased {parts[0]}, {parts[1]}, {parts[2]} and {parts[3]}"


def purged_line(days: int, erased: Erased) -> str:
    """What ``sicheck purge`` removed, counted in the current language's plural forms."""
    from dialogs.i18n import ngettext

    return (
        "past "
        + ngettext("%(count)s day", "%(count)s days", days)
        + ": "
        + ngettext(
            "%(count)s unfinished assessment",
            "%(count)s unfinished assessments",
            erased.assessments,
        )
        + " and "
        + ngettext("%(count)s identity", "%(count)s identities", erased.respondents)
        + " removed"
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
    parser.add_argument("--cohort", help="only this cohort (its code)")
    parser.add_argument("--country", help="only this country (ISO code or name)")
    parser.add_argument("--version", type=number, help="only this checklist version (a number)")
    parser.add_argument("--completed", action="store_true", help="completed assessments only")
    parser.add_argument("--lang", choices=languages(), default=languages()[0])
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
    add_database_url(parser)


def _erase_arguments(parser: argparse.ArgumentParser) -> None:
    whom = parser.add_mutually_exclusive_group(required=True)
    whom.add_argument("--telegram-id", type=user_id, help="their Telegram user id")
    whom.add_argument(
        "--console-user",
        type=console_user,
        help="the --user name they answered under in the console",
    )
    add_database_url(parser)


def _stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohort", help="only this cohort (its code)")
    parser.add_argument("--country", help="only this country (ISO code or name, such as LV)")
    parser.add_argument("--lang", choices=languages(), default=languages()[0])
    parser.add_argument("--chart", type=Path, help="also write the distribution chart (PNG)")
    add_database_url(parser)


SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "coordinator": ("who may export and see figures", _coordinator_arguments),
    "cohort": ("groups of practitioners invited by one link", _cohort_arguments),
    "export": ("answer logs and assessments as files", _export_arguments),
    "erase": ("erase a respondent, as they asked by e-mail", _erase_arguments),
    "purge": ("remove what is past RETENTION_DAYS now", add_database_url),
    "stats": ("aggregate figures per cohort and country", _stats_arguments),
}
"""Each subcommand's one-line help and the function that declares its options."""


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one of the coordinators' subcommands."""
    from bot.runtime import StartupError, open_database

    if args.command == "coordinator" and args.action != "list" and not args.user_id:
        raise StartupError(f"coordinator {args.action} needs a Telegram user id")
    if args.command == "cohort" and args.action == "new" and not (args.name or "").strip():
        raise StartupError("cohort new needs a name, such as: sicheck cohort new 'Riga 2026'")
    if args.command == "export":
        return await _export(args, settings)
    database = await open_database(args.database_url or settings.database_url)
    try:
        if args.command == "coordinator":
            return await _coordinator(args, database.store)
        if args.command == "stats":
            return await _stats(args, database.store, settings)
        if args.command == "erase":
            return await _erase(args, database.store)
        if args.command == "purge":
            return await _purge(database.store, settings)
        return await _cohort(args, database.store, settings)
    finally:
        await database.close()


async def _erase(args: argparse.Namespace, store: Store) -> int:
    from storage.privacy import erase

    if args.telegram_id is not None:
        platform, external_id = PLATFORM, args.telegram_id
    else:
        platform, external_id = CONSOLE, args.console_user
    erased = await store.run(lambda c: erase(c, platform, external_id))
    print(erased_line(erased))
    return 0 if erased.anything else 1


async def _purge(store: Store, settings: Settings) -> int:
    from datetime import timedelta

    from storage.privacy import purge

    retention = timedelta(days=settings.retention_days)
    erased = await store.run(lambda c: purge(c, retention))
    print(purged_line(settings.retention_days, erased))
    return 0


async def _coordinator(args: argparse.Namespace, store: Store) -> int:
    from storage.coordination import add_coordinator, list_coordinators, remove_coordinator

    if args.action == "add":
        await store.run(lambda c: add_coordinator(c, PLATFORM, args.user_id))
        print(f"{args.user_id} is a coordinator")
        return 0
    if args.action == "remove":
        removed = await store.run(lambda c: remove_coordinator(c, PLATFORM, args.user_id))
        print(f"{args.user_id} is no longer a coordinator" if removed else "not a coordinator")
        return 0 if removed else 1
    for platform, external_id, notify in await store.run(list_coordinators):
        print(f"{platform}\t{external_id}\t{'notified' if notify else '-'}")
    return 0


async def _cohort(args: argparse.Namespace, store: Store, settings: Settings) -> int:
    from storage.coordination import list_cohorts, new_cohort

    if args.action == "new":
        name = args.name.strip()[:200]
        code = await store.run(lambda c: new_cohort(c, name))
        print(f"cohort {name!r}: {invitation_link(settings.telegram_bot_username, code)}")
        return 0
    print("code\tname\trespondents\tstarted\tcompleted\tcreated")
    for cohort in await store.run(list_cohorts):
        print(
            f"{cohort.code}\t{cohort.name}\t{cohort.respondents}\t{cohort.started}\t"
            f"{cohort.completed}\t{cohort.created_at:%Y-%m-%d}"
        )
    return 0


async def _stats(args: argparse.Namespace, store: Store, settings: Settings) -> int:
    from bot.documents import stats_png
    from bot.exporting import UnknownCountryError, country_code
    from bot.runtime import StartupError, load_checked_content
    from bot.stats_text import stats_plain
    from storage.stats import stats

    content = load_checked_content()
    try:
        country = country_code(args.country, args.lang) if args.country else None
    except UnknownCountryError as error:
        raise StartupError(str(error)) from None
    groups = await store.run(
        lambda c: stats(
            c, content, cohort=args.cohort, country=country, threshold=settings.stats_min_group
        )
    )
    print(stats_plain(groups, content, args.lang))
    if args.chart is not None:
        png = await asyncio.to_thread(stats_png, groups, content, args.lang)
        if png is None:
            print("no chart: every group is too small to show", file=sys.stderr)
            return 1
        await asyncio.to_thread(args.chart.write_bytes, png)
    return 0


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from bot.exporting import ExportRequestError, UnknownCountryError, parse_words, run_export
    from bot.runtime import (
        StartupError,
        load_checked_content,
        open_database,
        require_pseudonym_key,
    )

    words = [args.kind, args.shape] + ["completed"] * args.completed + [args.names or ""]
    for option in ("since", "until", "cohort", "country", "version"):
        if getattr(args, option) not in (None, ""):
            words.append(f"{option}={getattr(args, option)}")
    try:
        request = replace(
            parse_words([word for word in words if word], args.lang),
            include_identities=args.include_identities,
        )
    except UnknownCountryError as error:
        raise StartupError(str(error)) from None
    except ExportRequestError as error:
        raise StartupError(f"export option {error}") from None
    url = args.database_url or settings.database_url
    # Opening the database also checks that its schema is current before reading from it.
    database = await open_database(url)
    key = settings.sicheck_pseudonym_key
    secret = key.get_secret_value() if key else ""
    try:
        await require_pseudonym_key(database, secret)
    finally:
        await database.close()
    path = args.out or Path(request.filename)
    content = load_checked_content()
    rows = await asyncio.to_thread(run_export, url, content, request, path, secret)
    print(f"{rows} rows written to {path}", file=sys.stderr)
    return 0
