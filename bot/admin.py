"""``sicheck coordinator``, ``cohort``, ``export`` and ``stats``: the coordinators' shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bot.documents import stats_png
from bot.exporting import (
    KINDS,
    NAMES,
    SHAPES,
    ExportRequestError,
    UnknownCountryError,
    country_code,
    parse_words,
    run_export,
)
from bot.runtime import (
    StartupError,
    load_checked_content,
    open_database,
    require_pseudonym_key,
)
from bot.settings import Settings
from bot.stats_text import stats_plain
from dialogs.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES
from storage.coordination import (
    add_coordinator,
    list_cohorts,
    list_coordinators,
    new_cohort,
    remove_coordinator,
)
from storage.privacy import erase, purge
from storage.stats import stats
from storage.store import Store

PLATFORM = "telegram"


def invitation_link(username: str | None, code: str) -> str:
    """The deep link that makes whoever starts the bot through it a member of the cohort."""
    return f"https://t.me/{username or '<bot username>'}?start={code}"


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare the ``coordinator`` and ``cohort`` subcommands."""
    coordinator = commands.add_parser("coordinator", help="who may export and see figures")
    coordinator.add_argument("action", choices=("add", "remove", "list"))
    coordinator.add_argument("user_id", nargs="?", help="the coordinator's Telegram user id")
    coordinator.add_argument("--database-url", help="overrides DATABASE_URL")
    cohort = commands.add_parser("cohort", help="groups of practitioners invited by one link")
    cohort.add_argument("action", choices=("new", "list"))
    cohort.add_argument("name", nargs="?", help="the new cohort's name")
    cohort.add_argument("--database-url", help="overrides DATABASE_URL")
    exporting = commands.add_parser("export", help="answer logs and assessments as files")
    exporting.add_argument("--format", choices=KINDS, default="xlsx", dest="kind")
    exporting.add_argument(
        "--shape", choices=SHAPES, default="answers", help="for csv, excel and jsonl"
    )
    exporting.add_argument("--out", type=Path, help="the file to write (default: its own name)")
    exporting.add_argument("--since", help="from this day (YYYY-MM-DD)")
    exporting.add_argument("--until", help="through this day (YYYY-MM-DD)")
    exporting.add_argument("--cohort", help="only this cohort (its code)")
    exporting.add_argument("--country", help="only this country (ISO code or name)")
    exporting.add_argument("--version", help="only this checklist version")
    exporting.add_argument("--completed", action="store_true", help="completed assessments only")
    exporting.add_argument("--lang", choices=SUPPORTED_LANGUAGES, default=SOURCE_LANGUAGE)
    exporting.add_argument(
        "--names",
        choices=NAMES,
        help="column names: translated labels, or stable codes (default: labels; jsonl: codes)",
    )
    exporting.add_argument(
        "--include-identities",
        action="store_true",
        help="add each respondent's platform and user id (otherwise pseudonyms only)",
    )
    exporting.add_argument("--database-url", help="overrides DATABASE_URL")
    erasing = commands.add_parser("erase", help="erase a respondent, as they asked by e-mail")
    erasing.add_argument("--telegram-id", required=True, help="their Telegram user id")
    erasing.add_argument("--database-url", help="overrides DATABASE_URL")
    purging = commands.add_parser("purge", help="remove what is past RETENTION_DAYS now")
    purging.add_argument("--database-url", help="overrides DATABASE_URL")
    figures = commands.add_parser("stats", help="aggregate figures per cohort and country")
    figures.add_argument("--cohort", help="only this cohort (its code)")
    figures.add_argument("--country", help="only this country (ISO code or name, such as LV)")
    figures.add_argument("--lang", choices=SUPPORTED_LANGUAGES, default=SOURCE_LANGUAGE)
    figures.add_argument("--chart", type=Path, help="also write the distribution chart (PNG)")
    figures.add_argument("--database-url", help="overrides DATABASE_URL")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out ``sicheck coordinator`` or ``sicheck cohort``."""
    if args.command == "coordinator" and args.action != "list" and not args.user_id:
        raise StartupError(f"coordinator {args.action} needs a Telegram user id")
    if args.command == "erase" and not args.telegram_id.isdigit():
        raise StartupError("a Telegram user id is a number")
    if args.command == "coordinator" and args.user_id and not args.user_id.isdigit():
        raise StartupError("a Telegram user id is a number")
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
            erased = await database.store.run(lambda c: erase(c, PLATFORM, args.telegram_id))
            print(
                f"erased {erased.respondents} respondent, {erased.assessments} assessments, "
                f"{erased.answers} answers and {erased.log_entries} answer-log entries"
            )
            return 0 if erased.anything else 1
        if args.command == "purge":
            retention = timedelta(days=settings.retention_days)
            erased = await database.store.run(lambda c: purge(c, retention))
            print(
                f"past {settings.retention_days} days: {erased.assessments} unfinished "
                f"assessments and {erased.respondents} identities removed"
            )
            return 0
        return await _cohort(args, database.store, settings)
    finally:
        await database.close()


async def _coordinator(args: argparse.Namespace, store: Store) -> int:
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
    words = [args.kind, args.shape] + ["completed"] * args.completed + [args.names or ""]
    for option in ("since", "until", "cohort", "country", "version"):
        if getattr(args, option):
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
