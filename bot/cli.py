"""The ``sicheck`` command line: console, database and translation tasks.

Only the chosen subcommand's options are declared and only its modules imported, so
``sicheck --help`` and the console start without the database, Telegram, chart or PDF
libraries they do not use.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import admin
from bot.arguments import add_database_url, languages

if TYPE_CHECKING:
    from bot.settings import Settings

DIAGRAM = Path(__file__).resolve().parents[1] / "docs" / "state-diagram.md"


def _console_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="whose assessment this is (default: your login name)")
    parser.add_argument("--lang", choices=languages(), help="the language to use")
    add_database_url(parser)


def _db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("upgrade", "current"))
    add_database_url(parser)


def _i18n_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("extract", "update", "compile", "check"))


def _diagram_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="fail if the committed one is stale")


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "console"


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    import io

    from bot.console import run_console
    from bot.runtime import load_checked_content, open_database

    content = load_checked_content(settings.stats_min_group)
    database = await open_database(args.database_url or settings.database_url)
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    try:
        return await run_console(
            content,
            database,
            user=args.user or _login_name(),
            language=args.lang,
            stdin=sys.stdin,
            stdout=sys.stdout,
            retention_days=settings.retention_days,
        )
    finally:
        await database.close()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot import logs
    from bot.telegram.run import run_bot

    logs.configure(settings.log_level, settings.log_format)
    return await run_bot(settings)


async def _db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import inspect_revision, open_database
    from storage.migrate import head_revision

    url = args.database_url or settings.database_url
    if args.action == "upgrade":
        database = await open_database(url, migrate=True)
        await database.close()
        print(f"database upgraded to {head_revision()}")
        return 0
    revision = await inspect_revision(url)
    print(f"database at {revision}, code at {head_revision()}")
    return 0 if revision == head_revision() else 1


async def _i18n(args: argparse.Namespace, settings: Settings) -> int:
    from bot import catalogs

    return catalogs.run(args.action)


async def _diagram(args: argparse.Namespace, settings: Settings) -> int:
    """Write ``docs/state-diagram.md``, or with ``--check`` fail when it differs."""
    from dialogs.content import default_content
    from dialogs.diagram import document

    expected = document(default_content().latest)
    if args.check:
        if not DIAGRAM.exists() or DIAGRAM.read_text(encoding="utf-8") != expected:
            print(f"{DIAGRAM} is stale: run `sicheck diagram`", file=sys.stderr)
            return 1
        return 0
    DIAGRAM.parent.mkdir(exist_ok=True)
    DIAGRAM.write_text(expected, encoding="utf-8")
    print(f"wrote {DIAGRAM}")
    return 0


SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], admin.Handler]] = {
    "console": ("run an assessment in this terminal", _console_arguments, _console),
    "run": ("run the Telegram bot (long polling, or webhook if set)", lambda _: None, _run),
    "db": ("database schema tasks", _db_arguments, _db),
    "i18n": ("translation catalogs", _i18n_arguments, _i18n),
    **admin.SUBCOMMANDS,
    "diagram": ("write the dialogue's state diagram (mermaid)", _diagram_arguments, _diagram),
}


def _parser(chosen: str | None) -> argparse.ArgumentParser:
    """The parser; only the ``chosen`` subcommand's options are declared (and imported)."""
    parser = argparse.ArgumentParser(
        prog="sicheck",
        description="SI Check: assess a social-innovation practice against the EAPN checklist.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (summary, declare, _work) in SUBCOMMANDS.items():
        subparser = commands.add_parser(name, help=summary)
        if name == chosen:
            declare(subparser)
    return parser


def _settings() -> Settings:
    from pydantic import ValidationError

    from bot.runtime import StartupError
    from bot.settings import Settings

    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]).upper()
        raise StartupError(f"setting {field}: {first['msg']}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sicheck`` command."""
    words = sys.argv[1:] if argv is None else list(argv)
    # The top-level parser has no option but --help, so the subcommand is the first word.
    chosen = next((word for word in words if word in SUBCOMMANDS), None)
    try:
        args = _parser(chosen).parse_args(words)
    except SystemExit as stopped:  # --help, or a usage error already printed in one line
        return stopped.code if isinstance(stopped.code, int) else 2
    # The libraries imported next build objects that live as long as the process: the
    # collector would walk them over and over while they load, at every full pass and at
    # exit. Frozen, they are left out of its passes, as the bot does once it has started.
    gc.disable()
    try:
        from bot.runtime import StartupError
    finally:
        gc.freeze()
        gc.enable()

    try:
        return asyncio.run(SUBCOMMANDS[args.command][2](args, _settings()))
    except StartupError as error:
        print(f"sicheck: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "console":
            print(
                "\nStopped. Your answers are saved: run `sicheck console` to continue.",
                file=sys.stderr,
            )
        else:
            print("\nStopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
