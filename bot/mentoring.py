"""``sicheck mentor list|show|feedback``: a mentor's work from the shell.

The mentor names themselves (``--as telegram:ID``) and sees only the assessments shared with
them now; anything else, whether it exists or not, is "not available". Feedback written here
is kept and shown in the practitioner's summary and report, and the running bot's notices job
tells the practitioner within a minute, as it does for feedback written on Telegram.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from bot.arguments import add_database_url, is_number, languages, number

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from bot.settings import Settings
    from dialogs.content import Content
    from dialogs.report import Report
    from storage.mentoring import Mentee

PLATFORM = "telegram"
NOT_AVAILABLE = "not available: nothing is shared with you under that number"
_CRITERION = re.compile(r"(?:C|c)?(\d{1,2})")


def mentor(text: str) -> str:
    """An argparse type: ``telegram:ID``, the mentor's Telegram user id."""
    platform, _, external_id = text.partition(":")
    if platform != PLATFORM or not is_number(external_id):
        raise argparse.ArgumentTypeError(f"{text!r} is not telegram:ID (a Telegram user id)")
    return str(int(external_id))


def criterion(text: str) -> str:
    """An argparse type: a criterion as its number (3) or code (C03)."""
    found = _CRITERION.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a criterion (a number such as 3)")
    return f"C{int(found[1]):02d}"


def arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``sicheck mentor``."""
    parser.add_argument("action", choices=("list", "show", "feedback"))
    parser.add_argument("ref", nargs="?", type=number, help="the shared assessment's number")
    parser.add_argument("criterion", nargs="?", type=criterion, help="for feedback: 3 or C03")
    parser.add_argument("text", nargs="?", help="for feedback: the feedback itself")
    parser.add_argument(
        "--as", dest="mentor", type=mentor, required=True, help="telegram:ID, the mentor"
    )
    parser.add_argument("--lang", choices=languages(), default=languages()[0])
    add_database_url(parser)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """List, show or write feedback on what is shared with the mentor."""
    from bot.runtime import StartupError, load_checked_content, open_database

    if args.action != "list" and args.ref is None:
        raise StartupError(f"mentor {args.action} needs the number of a shared assessment")
    if args.action == "feedback" and (args.criterion is None or args.text is None):
        raise StartupError("mentor feedback needs a number, a criterion and the feedback text")
    work = _work(args, settings.coordinators, load_checked_content())
    database = await open_database(args.database_url or settings.database_url, must_exist=True)
    try:
        found, answer = await database.store.run(work)
    finally:
        await database.close()
    if not found:
        print(f"{PLATFORM}:{args.mentor} is not a coordinator", file=sys.stderr)
        return 1
    if answer is None:
        print(NOT_AVAILABLE, file=sys.stderr)
        return 1
    print(answer)
    return 0


def _work(
    args: argparse.Namespace, configured: Collection[str], content: Content
) -> Callable[[Connection], tuple[bool, str | None]]:
    """The unit of work of the action asked: whether the mentor is a coordinator, and what to
    print (``None``: not available to them)."""
    from bot.runtime import StartupError
    from storage import mentoring
    from storage.coordination import coordinator_id

    text = mentoring.clean_feedback(args.text or "")
    if args.action == "feedback" and text is None:
        limit = mentoring.FEEDBACK_MAX
        raise StartupError(f"feedback must have some text and at most {limit} characters")

    def work(connection: Connection) -> tuple[bool, str | None]:
        found = coordinator_id(connection, PLATFORM, args.mentor, configured)
        if found is None:
            return False, None
        if args.action == "list":
            return True, _listed(mentoring.mentees(connection, found))
        if args.action == "show":
            report = mentoring.mentee_report(connection, content, found, args.ref, args.lang)
            return True, None if report is None else _shown(report)
        assert text is not None
        saved = mentoring.leave_feedback(
            connection, content, found, args.ref, args.criterion, text
        )
        return True, f"feedback on {args.criterion} saved" if saved else None

    return work


def _listed(mentees: list[Mentee]) -> str:
    lines = ["ref\tpractice\torganisation\tcohort\tshared"]
    lines += [
        f"{m.assessment_id}\t{m.practice or ''}\t{m.organisation or ''}\t{m.cohort_name or ''}\t"
        f"{m.shared_at:%Y-%m-%d}"
        for m in mentees
    ]
    return "\n".join(lines)


def _shown(report: Report) -> str:
    from dialogs.i18n import use_language
    from dialogs.views import plain, summary_view

    with use_language(report.language):
        return plain(summary_view(report, past=True).text)
