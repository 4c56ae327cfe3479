"""After finishing: one "What next?" message with exactly the options that apply (the team,
its invitation, the mentor share), the invitation button, the console's same options, and the
mentor's feedback in every summary the practitioner sees."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.telegram.callback_data import SharePress, TeamInvitePress, TeamPress, encode
from dialogs import team
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.report import typeset
from dialogs.team import NOT_A_MEMBER, TeamStatus
from dialogs.views import MESSAGE_MAX, plain
from dialogs.what_next import (
    INVITE,
    INVITE_AGAIN,
    INVITE_LABEL,
    INVITE_OFFER,
    OFFER,
    SHARE,
    SHARE_LABEL,
    SHARED_NOW,
    STOP_LABEL,
    STOP_SHARING,
    TITLE,
    WhatNext,
    what_next_view,
)
from storage.models import Assessment, Team
from storage.store import Database
from tests.fake_bot_api import buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot
from tests.test_teams import PROFILE, _console

MENTOR = 700
ANA, BEN, CARL = 710, 711, 712
WHAT_NEXT = "What next?"
FEEDBACK = "Ask the families <first>."


def status(*, owner: bool, closed: bool = False) -> TeamStatus:
    return TeamStatus(7, "code", "Soup kitchen", owner, closed, 3, 2, True, "en")


def actions(found: WhatNext) -> list[str]:
    return [button.action for row in what_next_view(found).buttons for button in row]


# The view, without I/O


@pytest.mark.parametrize(
    ("team_status", "shared", "expected"),
    [
        (None, None, [INVITE]),
        (None, False, [INVITE, SHARE]),
        (None, True, [INVITE, STOP_SHARING]),
        (status(owner=False), None, [team.SUMMARY]),
        (status(owner=False), False, [team.SUMMARY, SHARE]),
        (status(owner=True), None, [team.SUMMARY, INVITE]),
        (status(owner=True, closed=True), None, [team.SUMMARY]),
    ],
    ids=["alone", "cohort", "shared", "member", "member-cohort", "owner", "owner-closed"],
)
def test_the_view_offers_exactly_what_applies(
    team_status: TeamStatus | None, shared: bool | None, expected: list[str]
) -> None:
    found = WhatNext("en", "Soup <kitchen>", team_status, shared)
    assert actions(found) == expected
    text = what_next_view(found).text
    assert text.startswith(f"<b>{WHAT_NEXT}</b>")
    assert ("2 of 3 members finished." in text) == (team_status is not None)
    assert ("Soup &lt;kitchen&gt;" in text) == (team_status is None)
    assert (OFFER in text) == (shared is False)
    assert (SHARED_NOW in text) == (shared is True)
    assert (INVITE_AGAIN in text) == (team_status is not None and INVITE in expected)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_what_next_speaks_every_language(language: str) -> None:
    texts = (TITLE, INVITE_LABEL, SHARE_LABEL, STOP_LABEL, INVITE_OFFER, INVITE_AGAIN, SHARED_NOW)
    with use_language(language):
        translated = [_(text, practice="x") for text in texts]
    if language != "en":
        assert all(ours != english for ours, english in zip(translated, texts, strict=True))
    for shared in (False, True):
        for found in (
            WhatNext(language, "x" * 200, None, shared),
            WhatNext(language, "x", status(owner=True), shared),
        ):
            view = what_next_view(found)
            assert len(plain(view.text)) <= MESSAGE_MAX
            labels = [button.label for row in view.buttons for button in row]
            with use_language(language):
                assert typeset(_(TITLE), language) in view.text
                assert _(SHARE_LABEL if not shared else STOP_LABEL) in labels


# On Telegram


@pytest.fixture
async def staffed(database: Database, database_url: str) -> AsyncIterator[Harness]:
    """The bot with a coordinator configured by ``SICHECK_COORDINATORS``."""
    async with running_bot(database_url, sicheck_coordinators=str(MENTOR)) as harness:
        yield harness
        assert harness.errors == []
        assert harness.api.violations == []


async def cohort(bot: Harness, name: str) -> str:
    await bot.say(MENTOR, f"/cohort new {name}")
    link = re.search(r"start=([\w-]{16})", bot.text(MENTOR))
    assert link is not None
    return link[1]


async def to_criteria(bot: Harness, user: int, start: str = "/start", lang: str = "en") -> None:
    """``user`` starts, consents and names the practice, up to the first criterion."""
    await bot.say(user, start, language=lang)
    await bot.tap(user, "y", language=lang)
    await bot.say(user, "Soup kitchen", language=lang)
    for action in ("c:LV", "s", "ok", "ok"):
        await bot.tap(user, action, language=lang)


async def answer(bot: Harness, user: int, lang: str = "en", first: int = 1) -> int:
    """``user`` answers every criterion from ``first`` on and confirms; the finished
    assessment's id."""
    for action in (*(f"a:C{n:02d}:2" for n in range(first, 11)), "ok"):
        await bot.tap(user, action, language=lang)
    [data] = [data for _label, data in buttons(bot.summary(user)) if data.endswith(":pdf")]
    return int(data.split(":")[1])


def after_summary(bot: Harness, user: int) -> list[dict[str, Any]]:
    """The messages the bot sent ``user`` after their latest summary, a photo's caption as its
    text."""
    sent = [
        {**message, "text": message.get("text") or message.get("caption")}
        for message in bot.api.chat(user)
        if "text" in message or "caption" in message
    ]
    return sent[sent.index(bot.summary(user)) + 1 :]


def data_of(message: dict[str, Any]) -> list[str]:
    return [data for _label, data in buttons(message)]


def toast(bot: Harness) -> str | None:
    text = bot.api.calls_to("answerCallbackQuery")[-1].params.get("text")
    return None if text is None else str(text)


async def test_the_chart_after_finishing_alone_offers_the_invitation(bot: Harness) -> None:
    await to_criteria(bot, ANA)
    ana = await answer(bot, ANA)
    [chart] = after_summary(bot, ANA)
    # One message after the summary: the chart, its caption the score, then "What next?".
    assert chart["text"].startswith("<b>Soup kitchen</b>\n")
    assert f"\n\n<b>{WHAT_NEXT}</b>\n\n" in chart["text"]
    assert "Assess <b>Soup kitchen</b> with your team" in chart["text"]
    assert data_of(chart) == [encode(TeamInvitePress(ana))]
    methods = [call.method for call in bot.api.calls if call.method.startswith("send")]
    assert methods[-1] == "sendPhoto"


async def test_options_too_long_for_the_caption_follow_the_chart(bot: Harness) -> None:
    practice = "<&> " * 50  # 200 characters, 700 in HTML
    await bot.say(ANA, "/start")
    await bot.tap(ANA, "y")
    await bot.say(ANA, practice)
    for action in ("c:LV", "s", "ok", "ok"):
        await bot.tap(ANA, action)
    ana = await answer(bot, ANA)
    chart, what_next = after_summary(bot, ANA)
    assert WHAT_NEXT not in chart["text"]
    assert "reply_markup" not in chart
    assert what_next["text"].startswith(f"<b>{WHAT_NEXT}</b>")
    assert data_of(what_next) == [encode(TeamInvitePress(ana))]
    methods = [call.method for call in bot.api.calls if call.method.startswith("send")]
    assert methods[-2:] == ["sendPhoto", "sendMessage"]


async def test_in_a_cohort_with_a_coordinator_the_share_comes_with_the_invitation(
    staffed: Harness,
) -> None:
    bot = staffed
    code = await cohort(bot, "Rīga")
    await to_criteria(bot, ANA, f"/start {code}")
    ana = await answer(bot, ANA)
    [what_next] = after_summary(bot, ANA)
    assert OFFER in what_next["text"]
    assert data_of(what_next) == [encode(TeamInvitePress(ana)), encode(SharePress(ana, True))]


async def test_the_owner_and_a_member_see_the_team_line(bot: Harness) -> None:
    await to_criteria(bot, ANA)
    await bot.say(ANA, "/team")  # from the assessment under way
    link = re.search(r"start=(team-[\w-]{16})", bot.text(ANA))
    assert link is not None
    team_id = int(data_of(bot.last(ANA))[0].split(":")[1])
    await bot.say(BEN, f"/start {link[1]}")
    await bot.tap(BEN, "y")
    await answer(bot, BEN)
    [member] = after_summary(bot, BEN)
    assert "1 of 2 finished." in member["text"]
    assert data_of(member) == [encode(TeamPress(team_id, team.SUMMARY))]
    await bot.say(ANA, "/resume")
    ana = await answer(bot, ANA)
    [owner] = after_summary(bot, ANA)
    assert "2 of 2 members finished." in owner["text"]
    assert INVITE_AGAIN in owner["text"]
    assert data_of(owner) == [
        encode(TeamPress(team_id, team.SUMMARY)),
        encode(TeamInvitePress(ana)),
    ]
    await bot.press(ANA, "📊 Team summary", message=owner)
    assert "Team summary: Soup kitchen" in bot.text(ANA)


async def test_the_invitation_button_makes_one_team_and_shows_the_same_link(
    bot: Harness, database: Database
) -> None:
    await to_criteria(bot, ANA)
    await answer(bot, ANA)
    [what_next] = after_summary(bot, ANA)
    await bot.press(ANA, "👥 Invite my team", message=what_next)
    first = bot.text(ANA)
    link = re.search(r"https://t\.me/\w+\?start=team-[\w-]{16}", first)
    assert link is not None
    tap = await bot.press(ANA, "👥 Invite my team", message=what_next)  # a double tap
    assert link[0] in bot.text(ANA)
    sent = len(bot.api.chat(ANA))
    await bot.feed(tap)  # the same update delivered again: nothing new
    assert len(bot.api.chat(ANA)) == sent
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1
    # The invitation works: a member joins the team of the finished assessment.
    await bot.say(BEN, "/start " + link[0].rsplit("=", 1)[1])
    await bot.tap(BEN, "y")
    assert "Criterion 1/10" in bot.text(BEN)


async def test_a_forged_or_stale_invitation_press_is_refused(
    bot: Harness, database: Database
) -> None:
    await to_criteria(bot, ANA)
    ana = await answer(bot, ANA)
    what_next = after_summary(bot, ANA)[0]
    await to_criteria(bot, BEN)
    bens_messages = len(bot.api.chat(BEN))
    for forged in (TeamInvitePress(ana), TeamInvitePress(ana + 1000)):
        await bot.feed(callback_update(BEN, encode(forged), what_next))
        assert toast(bot) == NOT_A_MEMBER
    assert len(bot.api.chat(BEN)) == bens_messages
    # Ben's own assessment, cancelled since: its button no longer invites.
    [bens] = {int(d.split(":")[1]) for _l, d in buttons(bot.last(BEN)) if d.startswith("v")}
    await bot.say(BEN, "/cancel")
    await bot.feed(callback_update(BEN, encode(TeamInvitePress(bens)), bot.last(BEN)))
    assert toast(bot) == NOT_A_MEMBER
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 0
        assert session.scalar(select(func.count()).where(Assessment.team_id.is_not(None))) == 0
    assert bot.errors == []


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements run meanwhile."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", note)


async def test_resume_shows_the_mentors_feedback_while_shared(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, "Cēsis")
    await to_criteria(bot, ANA, f"/start {code}", lang="lv")
    with statements(bot.services.database) as seen:
        await bot.tap(ANA, "a:C01:2", language="lv")  # an ordinary answer step
    assert seen
    assert not [text for text in seen if "mentor_feedback" in text]
    ana = await answer(bot, ANA, lang="lv", first=2)
    share = encode(SharePress(ana, True))
    await bot.feed(callback_update(ANA, share, after_summary(bot, ANA)[0], language="lv"))
    notice = next(m for m in bot.api.chat(MENTOR) if "mo:" in str(m.get("reply_markup")))
    await bot.press(MENTOR, "📊", message=notice)
    await bot.feed(callback_update(MENTOR, f"mf:{ana}:C03", bot.last(MENTOR)))
    prompt = bot.last(MENTOR)
    await bot.feed(message_update(MENTOR, FEEDBACK, extra={"reply_to_message": prompt}))
    shown = "Ask the families &lt;first&gt;."

    await bot.say(ANA, "/resume", language="lv")
    resumed = bot.text(ANA)
    assert shown in resumed
    await bot.say(ANA, "/history", language="lv")
    listing = bot.last(ANA)
    await bot.feed(callback_update(ANA, data_of(listing)[0], listing, language="lv"))
    from_history = bot.last(ANA)["text"]
    # The same summary either way, feedback and all.
    assert resumed == from_history

    await bot.feed(callback_update(ANA, encode(SharePress(ana, False)), listing, language="lv"))
    await bot.say(ANA, "/resume", language="lv")
    assert shown not in bot.text(ANA)


# In the console


ANSWERS = [*["2"] * 10, "ok"]


async def test_the_console_says_what_next_and_invites_by_code(
    database: Database, content: Any
) -> None:
    finished = await _console(database, content, "ana", [*PROFILE, *ANSWERS, "1", "b", "2"])
    after = finished[finished.index("Summary: Community kitchen") :]
    assert WHAT_NEXT in after
    assert "Assess Community kitchen with your team" in " ".join(after.split())
    assert "[1] 👥 Invite my team" in after
    codes = re.findall(r"/join ([\w-]{16})", finished)
    # Invited, then back at the summary: its choices now name the team; asking again shows
    # the same code.
    assert len(codes) == 2
    assert len(set(codes)) == 1
    assert "[1] 📊 Team summary" in finished
    assert "1 of 1 finished." in finished
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1
    member = await _console(database, content, "ben", [f"/join {codes[0]}", "1", *ANSWERS])
    assert "1 of 2 finished." not in member
    assert "2 of 2 members finished." in member
    assert "Invite my team" not in member[member.rindex("Summary: Community kitchen") :]
