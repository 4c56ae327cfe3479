"""``/stats map``: the ecosystem map of the figures a coordinator asked for, as a photo.

Drawn in the drawing pool from the figures ``/stats`` reads, so the map shows no group the
figures hide; a group too many to fit is left out with a note saying how many.
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InputFile

from bot.documents import stats_map
from bot.stats_text import no_map_line
from bot.telegram.context import BotContext
from bot.telegram.replies import send
from storage.stats import GroupStats

MAP_WORD = "map"
ROWS_MAX = 40
"""Groups drawn at most: 40 rows keep the photo within Telegram's 10,000 pixels of width and
height together, and readable on a phone."""


def asks_for_map(args: Sequence[str]) -> bool:
    """Whether ``/stats`` was sent with the word ``map``."""
    return any(arg.lower() == MAP_WORD for arg in args)


async def send_map(
    context: BotContext, chat: int, groups: Sequence[GroupStats], language: str
) -> None:
    """Send the map of ``groups`` in ``language``, or say why there is none."""
    content = context.services.content
    png = await context.services.draw(
        lambda: stats_map(groups, content, language, "png", ROWS_MAX) or b""
    )
    if not png:
        await send(context.bot, chat, no_map_line(groups[0].threshold))
        return
    await context.bot.send_photo(chat, InputFile(png, filename="sicheck-map.png"))
