"""Option types shared by the ``sicheck`` subcommands: each refuses bad input in one line."""

from __future__ import annotations

import argparse

DIGITS = frozenset("0123456789")


def is_number(text: str) -> bool:
    """Whether ``text`` is a whole number written with the ASCII digits 0-9 only."""
    # str.isdigit() also accepts "²" and "①", which int() then refuses.
    return bool(text) and set(text) <= DIGITS


def number(text: str) -> int:
    """An argparse type: a whole number in ASCII digits."""
    if not is_number(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (use the digits 0-9)")
    return int(text)


def user_id(text: str) -> str:
    """An argparse type: a Telegram user id, kept as the text of its ASCII digits."""
    if not is_number(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Telegram user id (a number, digits 0-9)"
        )
    return str(int(text))


def console_user(text: str) -> str:
    """An argparse type: the ``--user`` name a console practitioner answered under."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a console user name cannot be empty")
    return text


def languages() -> tuple[str, ...]:
    """The languages SI Check speaks (imported only by the subcommands that take one)."""
    from dialogs.i18n import SUPPORTED_LANGUAGES

    return SUPPORTED_LANGUAGES


def add_database_url(parser: argparse.ArgumentParser) -> None:
    """Declare ``--database-url``."""
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
