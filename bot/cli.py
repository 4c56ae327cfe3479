"""The ``sicheck`` command line: console, database and translation tasks."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot import admin, catalogs, diagram, logs
from bot.console import run_console
from bot.runtime import StartupError, inspect_revision, load_checked_content, open_database
from bot.settings import Settings
from dialogs.i18n import SUPPORTED_LANGUAGES
from storage.migrate import head_revision


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sicheck",
        description="SI Check: assess a social-innovation practice against the EAPN checklist.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    console = commands.add_parser("console", help="run an assessment in this terminal")
    console.add_argument("--user", help="whose assessment this is (default: your login name)")
    console.add_argument("--lang", choices=SUPPORTED_LANGUAGES, help="the language to use")
    console.add_argument("--database-url", help="overrides DATABASE_URL")

    commands.add_parser("run", help="run the Telegram bot (long polling, or webhook if set)")

    database = commands.add_parser("db", help="database schema tasks")
    database.add_argument("action", choices=("upgrade", "current"))
    database.add_argument("--database-url", help="overrides DATABASE_URL")

    i18n = commands.add_parser("i18n", help="translation catalogs")
    i18n.add_argument("action", choices=("extract", "update", "compile", "check"))

    admin.add_arguments(commands)

    graph = commands.add_parser("diagram", help="write the dialogue's state diagram (mermaid)")
    graph.add_argument("--check", action="store_true", help="fail if the committed one is stale")
    return parser


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "console"


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    content = load_checked_content()
    database = await open_database(args.database_url or settings.database_url)
    stdin = sys.stdin
    if isinstance(stdin, io.TextIOWrapper):
        stdin.reconfigure(errors="replace")
    try:
        return await run_console(
            content,
            database,
            user=args.user or _login_name(),
            language=args.lang,
            stdin=stdin,
            stdout=sys.stdout,
        )
    finally:
        await database.close()


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    url = args.database_url or settings.database_url
    if args.action == "upgrade":
        database = await open_database(url, migrate=True)
        await database.close()
        print(f"database upgraded to {head_revision()}")
        return 0
    revision = await inspect_revision(url)
    print(f"database at {revision}, code at {head_revision()}")
    return 0 if revision == head_revision() else 1


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]).upper()
        raise StartupError(f"setting {field}: {first['msg']}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sicheck`` command."""
    args = _parser().parse_args(argv)
    try:
        settings = _settings()
        if args.command == "console":
            return asyncio.run(_console(args, settings))
        if args.command == "run":
            from bot.telegram.run import run_bot

            logs.configure(settings.log_level, settings.log_format)
            return asyncio.run(run_bot(settings))
        if args.command == "db":
            return asyncio.run(_db(args, settings))
        if args.command == "i18n":
            return catalogs.run(args.action)
        if args.command in ("coordinator", "cohort", "export", "stats", "erase", "purge"):
            return asyncio.run(admin.run(args, settings))
        if args.command == "diagram":
            return diagram.run(check=args.check)
    except StartupError as error:
        print(f"sicheck: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nStopped. Your answers are saved: run `sicheck console` to continue.",
            file=sys.stderr,
        )
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
