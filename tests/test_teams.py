"""Team assessments: the summary's arithmetic, the units of work, a team of five on Telegram,
and the console's invite, join, summary and leave."""

from __future__ import annotations

import html
import io
import json
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from bot.console import run_console
from bot.documents.team_chart import team_chart
from bot.telegram.callback_data import (
    LARGEST,
    TeamInvitePress,
    TeamJoinPress,
    TeamPress,
    decode,
    encode,
)
from dialogs.content import Content
from dialogs.team import (
    NO_ASSESSMENT,
    NOT_A_MEMBER,
    NOT_YET,
    ONLY_OWNER,
    TEAM_CLOSED,
    UNKNOWN_TEAM,
    spread_of,
    summary_view,
    team_summary,
)
from storage.dialogue import Who
from storage.models import Assessment, Respondent, Team
from storage.privacy import erase, my_data, purge
from storage.store import Database
from storage.teams import Done, Refused, close, code_of, invite, join, payload, summary
from tests.fake_bot_api import buttons, callback_update
from tests.telegram_harness import Harness

T = TypeVar("T")
OWNER, MEMBERS = 800, (801, 802, 803, 804)
TEAM = (OWNER, *MEMBERS)
PRACTICE = "Community kitchen"
# Each row is one person's answers to C01..C10, in team order; None is "not applicable".
ANSWERS: dict[int, tuple[int | None, ...]] = {
    OWNER: (2, 1, 0, 3, 0, 1, 3, 0, None, 2),
    801: (2, 2, 1, 3, 3, 2, 2, 0, None, 3),
    802: (2, 2, 2, 3, None, 1, 3, 0, 1, 2),
    803: (2, 2, 2, 3, None, 2, 2, 0, 1, 3),
    804: (2, 1, 2, None, None, 2, 3, 2, None, 2),
}
"""C03 (0-2), C05 (0-3) and C08 (0-2) lie two levels or more apart; the others one or none."""
FLAGGED = ("C03", "C05", "C08")


def rows(*people: int) -> list[dict[str, int | None]]:
    return [
        {f"C{n:02d}": value for n, value in enumerate(ANSWERS[person], start=1)}
        for person in people
    ]


def ok(found: T | Refused) -> T:
    """A unit's result that is not a refusal."""
    assert not isinstance(found, Refused), found
    return found


# The summary, without I/O


def test_a_spread_counts_levels_and_leaves_not_applicable_out_of_the_median() -> None:
    line = spread_of("C01", "Title", [0, 2, None, 2, 3], 3)
    assert line.counts == (1, 0, 2, 1)
    assert line.not_applicable == 1
    assert line.median == 2
    assert (line.low, line.high, line.spread, line.flagged) == (0, 3, 3, True)
    even = spread_of("C02", "Title", [1, 2], 3)
    assert even.median == 1.5
    assert (even.spread, even.flagged) == (1, False)


def test_a_criterion_nobody_scored_has_no_median_and_is_never_flagged() -> None:
    line = spread_of("C09", "Title", [None, None], 3)
    assert (line.median, line.low, line.high, line.spread, line.flagged) == (
        None,
        None,
        None,
        0,
        False,
    )
    assert line.counts == (0, 0, 0, 0)
    assert line.not_applicable == 2


def test_the_team_summary_flags_exactly_the_criteria_two_levels_apart(content: Content) -> None:
    found = team_summary(content.latest, PRACTICE, rows(*TEAM), language="en", members=5)
    assert found.flagged == FLAGGED
    assert found.finished == 5
    by_code = {line.code: line for line in found.criteria}
    assert by_code["C04"].counts == (0, 0, 0, 4)
    assert by_code["C04"].not_applicable == 1
    assert by_code["C05"].median == 1.5
    # An unanswered (skipped) criterion counts as not applicable.
    skipped = team_summary(content.latest, PRACTICE, [{}, {"C01": 1}], language="en", members=2)
    assert skipped.criteria[0].counts == (0, 1, 0, 0)
    assert skipped.criteria[0].not_applicable == 1


def test_one_answer_apart_everywhere_flags_nothing(content: Content) -> None:
    answers = [
        {c.code: 1 for c in content.latest.criteria},
        {c.code: 2 for c in content.latest.criteria},
    ]
    found = team_summary(content.latest, PRACTICE, answers, language="en", members=2)
    assert found.flagged == ()
    assert "No criterion has answers two levels or more apart." in summary_view(found).text


@pytest.mark.parametrize("language", ["en", "lv", "es", "fr", "sv"])
def test_the_summary_and_the_chart_speak_every_language(content: Content, language: str) -> None:
    found = team_summary(
        content.latest, "Kopienas virtuve", rows(*TEAM), language=language, members=5
    )
    text = summary_view(found).text
    assert text.count("⚠️") == len(FLAGGED)
    assert len(text) <= 4096
    png = team_chart(found)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width > 500


def test_team_presses_fit_the_codec_and_refuse_forgeries() -> None:
    press = TeamPress(2**63 - 1, "leave-yes")
    assert decode(encode(press)) == press
    join_press = TeamJoinPress("A" * 32, True, LARGEST.assessment_id)
    assert decode(encode(join_press)) == join_press
    # An older button, without the assessment its question named, names none.
    assert decode("J:" + "A" * 16 + ":y") == TeamJoinPress("A" * 16, True, 0)
    for forged in (
        "T:1:erase",
        "T:x:summary",
        "T:1:summary:extra",
        "J:short:y",
        "J:" + "a" * 40 + ":y",
        "J:" + "a" * 16 + ":y:x",
        "J:" + "a" * 16 + ":y:" + "9" * 19,
    ):
        assert decode(forged) is None
    assert code_of(payload("abc_DEF-123")) == "abc_DEF-123"
    assert code_of("abcdefghijklmnop") is None  # a cohort's code


# Units of work


def named(database: Database, content: Content, user: str) -> Who:
    """A console respondent whose assessment names the practice (the profile is typed)."""
    return Who("console", user, "en")


async def _console(database: Database, content: Content, user: str, lines: list[str]) -> str:
    stdout = io.StringIO()
    await run_console(
        content,
        database,
        user=user,
        language="en",
        stdin=io.StringIO("".join(f"{line}\n" for line in lines)),
        stdout=stdout,
        reports=Path(tempfile.mkdtemp(prefix="sicheck-teams-")),
        width=200,
    )
    return stdout.getvalue()


PROFILE = ["1", PRACTICE, "1", "Red Cross", "2", "ok", "/skip"]


def console_answers(person: int) -> list[str]:
    return ["n" if value is None else str(value) for value in ANSWERS[person]] + ["ok"]


async def test_invite_is_idempotent_and_needs_a_whole_profile(
    database: Database, content: Content
) -> None:
    owner = Who("console", "owner", "en")
    refused = await database.store.run(lambda c: invite(c, owner))
    assert getattr(refused, "reason", None) is not None
    # Named, with its country, but the rest of the profile still to come: members would copy
    # it incomplete.
    early = await _console(database, content, "owner", [*PROFILE[:3], "/team"])
    assert NO_ASSESSMENT in " ".join(early.split())
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 0
    await _console(database, content, "owner", PROFILE[3:])
    first = await database.store.run(lambda c: invite(c, owner))
    second = await database.store.run(lambda c: invite(c, owner))
    assert first == second
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1


async def test_console_invite_join_summary_and_leave(database: Database, content: Content) -> None:
    output = await _console(
        database, content, "owner", [*PROFILE, *console_answers(OWNER), "/team"]
    )
    code = re.search(r"/join ([A-Za-z0-9_-]{16})", output)
    assert code is not None
    # A member joins by the code, opens at the first criterion (no profile asked), and cannot
    # see the summary before finishing.
    member = await _console(database, content, "member", ["/join " + code[1], "1", "/team", "2"])
    assert "You joined the team assessing Community kitchen." in " ".join(member.split())
    assert "What is the name of the practice" not in member
    assert "── 1/10 ──" in member
    assert NOT_YET in " ".join(member.split())
    done = await _console(database, content, "member", [*console_answers(801), "/team", "1"])
    assert "Team summary: Community kitchen" in done
    assert "2 of 2 members finished." in done
    # Leave, with confirmation; then the team is no longer theirs.
    left = await _console(database, content, "member", ["/team", "2", "1", "/team"])
    assert "You left the team." in " ".join(left.split())
    # /team now invites to a team of their own: the old team's code is not theirs to show.
    assert left.count(f"/join {code[1]}") == 1
    assert len(set(re.findall(r"/join ([A-Za-z0-9_-]{16})", left))) == 2
    unknown = await _console(database, content, "stranger", ["1", "/join nosuchcode"])
    assert UNKNOWN_TEAM in " ".join(unknown.split())


async def test_erasure_takes_a_member_out_and_an_owner_takes_the_team(
    database: Database, content: Content
) -> None:
    owner, member = Who("console", "o", "en"), Who("console", "m", "en")
    await _console(database, content, "o", [*PROFILE, *console_answers(OWNER)])
    status = ok(await database.store.run(lambda c: invite(c, owner)))
    code = status.code
    await _console(database, content, "m", [f"/join {code}", "1", *console_answers(801)])
    team_id = status.team_id
    before = await database.store.run(lambda c: summary(c, content, owner, team_id))
    assert ok(before).finished == 2
    mine = await database.store.run(lambda c: my_data(c, member))
    assert mine is not None
    teams = [one["team"] for one in mine["assessments"] if one["team"]]
    assert teams == [{"practice": PRACTICE, "role": "member", "closed_at": None}]
    await database.store.run(lambda c: erase(c, "console", "m"))
    after = await database.store.run(lambda c: summary(c, content, owner, team_id))
    assert ok(after).finished == 1
    await database.store.run(lambda c: erase(c, "console", "o"))
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 0


async def test_joining_with_work_under_way_asks_first(
    database: Database, content: Content
) -> None:
    owner = Who("console", "o", "en")
    await _console(database, content, "o", PROFILE)
    code = ok(await database.store.run(lambda c: invite(c, owner))).code
    busy = Who("console", "busy", "en")
    await _console(database, content, "busy", ["1", "Own practice", "1"])
    asked = await database.store.run(lambda c: join(c, content, busy, code))
    assert asked.ask == "Own practice"
    assert asked.outcome is None
    assert asked.cancels is not None
    kept = await _console(database, content, "busy", [f"/join {code}", "2"])
    assert "Own practice" in kept
    # A confirmation naming another assessment cancels nothing: it asks again.
    other = asked.cancels + 1
    still = await database.store.run(lambda c: join(c, content, busy, code, confirmed=other))
    assert (still.ask, still.cancels) == ("Own practice", asked.cancels)
    joined_text = await _console(database, content, "busy", [f"/join {code}", "1"])
    assert "You joined the team assessing Community kitchen." in " ".join(joined_text.split())
    joined = await database.store.run(lambda c: join(c, content, busy, code))
    assert joined.outcome is not None
    assert joined.outcome.state == "C01"
    cancels = asked.cancels
    again = await database.store.run(lambda c: join(c, content, busy, code, confirmed=cancels))
    assert again.outcome is not None
    assert again.outcome.assessment_id == joined.outcome.assessment_id
    with database.sessions() as session:
        statuses = session.scalars(
            select(Assessment.status)
            .join(Team, Team.id == Assessment.team_id, isouter=True)
            .where(Assessment.practice_name == "Own practice")
        ).all()
        assert statuses == ["cancelled"]


# A team of five on Telegram


async def answer_all(bot: Harness, person: int) -> None:
    await bot.say(person, "/resume")
    for n, value in enumerate(ANSWERS[person], start=1):
        await bot.tap(person, f"a:C{n:02d}:{'-' if value is None else value}")
    await bot.tap(person, "ok")


def team_buttons(bot: Harness, person: int) -> dict[str, str]:
    """The buttons of the bot's latest message to ``person``, a chart's included."""
    return {label: data for label, data in buttons(bot.api.chat(person)[-1])}


def toasts(bot: Harness) -> list[str]:
    return [call.params.get("text", "") for call in bot.api.calls_to("answerCallbackQuery")]


async def forge(bot: Harness, person: int, data: str) -> None:
    await bot.feed(callback_update(person, data, bot.last(person)))


async def owners_link(bot: Harness) -> str:
    """The owner's team invitation (``team-<code>``), from an assessment at its first
    criterion: the profile is answered, the organisation skipped."""
    await bot.say(OWNER, "/start")
    await bot.tap(OWNER, "y")
    await bot.say(OWNER, PRACTICE)
    for action in ("c:LV", "s", "ok", "ok"):
        await bot.tap(OWNER, action)
    await bot.say(OWNER, "/team")
    link = re.search(r"start=(team-[A-Za-z0-9_-]{16})", bot.text(OWNER))
    assert link is not None
    return link[1]


async def test_a_team_of_five_on_telegram(
    bot: Harness, database: Database, content: Content
) -> None:
    code = await owners_link(bot)
    assert len(code) <= 64
    url = f"https://t.me/sicheck_test_bot?start={code}"
    assert url in bot.text(OWNER)
    await bot.say(OWNER, "/team")  # a second tap: the same team and link
    assert url in bot.text(OWNER)
    team_id = int(decode(team_buttons(bot, OWNER)["🔒 Close the team"]).team_id)  # type: ignore[union-attr]
    for member in MEMBERS:
        await bot.say(member, f"/start {code}")
        await bot.tap(member, "y")  # consent: then straight to the first criterion
        assert "Criterion 1/10" in bot.text(member)  # no profile asked: the team's
    # Nobody sees the summary before finishing, not even by forging the button.
    await forge(bot, 801, encode(TeamPress(team_id, "summary")))
    assert toasts(bot)[-1] == NOT_YET
    await bot.say(801, "/team")
    assert "📊 Team summary" not in team_buttons(bot, 801)
    for person in TEAM:
        await answer_all(bot, person)
        offered = team_buttons(bot, person)
        assert "📊 Team summary" in offered
    await bot.press(OWNER, "📊 Team summary", message=bot.api.chat(OWNER)[-1])
    text = bot.text(OWNER)
    assert "5 of 5 members finished." in text
    assert text.count("⚠️") == 3
    with database.sessions() as session:
        assert session.scalar(select(func.count()).where(Assessment.team_id == team_id)) == 5
    found = await database.store.run(
        lambda c: summary(c, content, Who("telegram", str(OWNER)), team_id)
    )
    assert ok(found).flagged == FLAGGED
    assert any(upload.chat_id == OWNER for upload in bot.api.files_in(OWNER))
    # Someone else's team, forged and stale buttons.
    await forge(bot, 801, encode(TeamPress(team_id, "close")))
    assert toasts(bot)[-1] == ONLY_OWNER
    await bot.say(900, "/start")
    await forge(bot, 900, encode(TeamPress(team_id, "summary")))
    assert toasts(bot)[-1] == NOT_A_MEMBER
    await forge(bot, 801, encode(TeamPress(team_id + 1, "summary")))
    assert toasts(bot)[-1] == NOT_A_MEMBER
    # 804 leaves: C08 no longer spreads two levels, and four finished.
    await bot.say(804, "/team")
    await bot.press(804, "🚪 Leave the team")
    leave = await bot.press(804, "Yes, leave the team")
    await bot.feed(leave)  # the same update again: applied once
    await forge(bot, 804, encode(TeamPress(team_id, "leave-yes")))
    assert toasts(bot)[-1] == NOT_A_MEMBER
    found = await database.store.run(
        lambda c: summary(c, content, Who("telegram", str(OWNER)), team_id)
    )
    assert ok(found).flagged == ("C03", "C05")
    assert ok(found).finished == 4
    # The owner closes the team: a new join is refused.
    await bot.say(OWNER, "/team")
    await bot.press(OWNER, "🔒 Close the team")
    await bot.say(805, f"/start {code}")
    assert TEAM_CLOSED in html.unescape(bot.text(805))
    await bot.say(806, "/start team-AAAAAAAAAAAAAAAAAAAAAA")
    assert UNKNOWN_TEAM in html.unescape(bot.text(806))
    await forge(bot, 806, "T:abc:summary")
    # Ids past what the database holds are forgeries too, not failures.
    for forged in (f"T:{'9' * 19}:summary", f"ti:{'9' * 19}"):
        await forge(bot, 806, forged)
        assert toasts(bot)[-1] != ""
    assert bot.errors == []


async def test_a_member_with_work_under_way_is_asked_on_telegram(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)
    await bot.say(OWNER, f"/start {link}")  # one's own link joins nothing
    assert "That is your own team" in html.unescape(bot.text(OWNER))
    await bot.say(801, "/start")
    await bot.tap(801, "y")
    await bot.say(801, "Own practice")
    await bot.say(801, f"/start {link}")
    assert "You have an unfinished assessment of <b>Own practice</b>" in bot.text(801)
    asked = bot.last(801)
    await bot.press(801, "Keep my assessment", message=asked)
    join = await bot.press(801, "Join the team", message=asked)
    await bot.feed(join)  # a redelivered tap: one team assessment, not two
    await bot.press(801, "Join the team", message=asked)  # a second tap: already in the team
    with database.sessions() as session:
        rows = session.execute(
            select(Assessment.practice_name, Assessment.status, Assessment.country)
            .join(Team, Team.id == Assessment.team_id, isouter=True)
            .where(Assessment.respondent_id != None)  # noqa: E711 - SQL, not Python
            .order_by(Assessment.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (PRACTICE, "active", "LV"),
        ("Own practice", "cancelled", None),
        (PRACTICE, "active", "LV"),
    ]
    assert "Criterion 1/10" in bot.text(801)
    await bot.say(801, "/mydata")
    document = bot.api.files_in(801)[-1]
    data = json.loads(document.content)
    assert [one["team"] for one in data["assessments"]] == [
        None,
        {"practice": PRACTICE, "role": "member", "closed_at": None},
    ]


async def test_no_team_before_the_owners_profile_is_complete(
    bot: Harness, database: Database
) -> None:
    await bot.say(OWNER, "/start")
    await bot.tap(OWNER, "y")
    await bot.say(OWNER, PRACTICE)  # named: the country and the rest still to come
    await bot.say(OWNER, "/team")
    assert NO_ASSESSMENT in html.unescape(bot.text(OWNER))
    await bot.say(OWNER, "/resume")
    await bot.tap(OWNER, "c:LV")
    await bot.say(OWNER, "/team")
    assert NO_ASSESSMENT in html.unescape(bot.text(OWNER))
    with database.sessions() as session:
        started = session.scalar(select(Assessment.id))
    assert started is not None
    await forge(bot, OWNER, encode(TeamInvitePress(started)))  # "Invite my team", forged
    assert toasts(bot)[-1] == NO_ASSESSMENT
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 0
    await bot.say(OWNER, "/resume")
    for action in ("s", "ok", "ok"):
        await bot.tap(OWNER, action)
    await bot.say(OWNER, "/team")
    link = re.search(r"start=(team-[A-Za-z0-9_-]{16})", bot.text(OWNER))
    assert link is not None
    await bot.say(801, f"/start {link[1]}")
    await bot.tap(801, "y")
    assert "Criterion 1/10" in bot.text(801)
    with database.sessions() as session:
        countries = session.scalars(select(Assessment.country).order_by(Assessment.id)).all()
    assert countries == ["LV", "LV"]
    assert bot.errors == []


async def test_an_old_join_button_cancels_only_the_assessment_it_named(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)
    await bot.say(801, "/start")
    await bot.tap(801, "y")
    await bot.say(801, "Own practice")
    await bot.say(801, f"/start {link}")
    asked = bot.last(801)
    await bot.say(801, "/new")  # "Own practice" is cancelled; another one is started
    await bot.say(801, "Second practice")
    await bot.press(801, "Join the team", message=asked)
    assert "unfinished assessment of <b>Second practice</b>" in bot.text(801)
    # An older button, naming no assessment, asks again too.
    await forge(bot, 801, f"J:{code_of(link)}:y")
    assert "unfinished assessment of <b>Second practice</b>" in bot.text(801)

    def practices() -> list[tuple[str | None, str, bool]]:
        with database.sessions() as session:
            rows = session.execute(
                select(Assessment.practice_name, Assessment.status, Assessment.team_id)
                .where(Assessment.respondent_id != select(Team.owner_id).scalar_subquery())
                .order_by(Assessment.id)
            ).all()
        return [(name, status, team is not None) for name, status, team in rows]

    assert practices() == [
        ("Own practice", "cancelled", False),
        ("Second practice", "active", False),
    ]
    await bot.press(801, "Join the team")  # the question just asked names "Second practice"
    assert "Criterion 1/10" in bot.text(801)
    assert practices() == [
        ("Own practice", "cancelled", False),
        ("Second practice", "cancelled", False),
        (PRACTICE, "active", True),
    ]
    # Nothing unfinished any more: an old button simply joins.
    await bot.say(802, "/start")
    await bot.tap(802, "y")
    await bot.say(802, "Own practice")
    await bot.say(802, f"/start {link}")
    asked = bot.last(802)
    await bot.say(802, "/cancel")
    await bot.press(802, "Join the team", message=asked)
    assert "Criterion 1/10" in bot.text(802)
    assert bot.errors == []


async def test_a_finished_member_following_the_link_again_is_not_counted_twice(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)
    await bot.say(801, f"/start {link}")
    await bot.tap(801, "y")
    await answer_all(bot, 801)
    await bot.say(801, "/new")  # another practice, not named yet
    await bot.say(801, f"/start {link}")  # the old invitation, tapped again
    with database.sessions() as session:
        theirs = session.scalars(
            select(Assessment.status)
            .join(Team, Team.id == Assessment.team_id)
            .where(Team.owner_id != Assessment.respondent_id)
            .order_by(Assessment.id)
        ).all()
    assert theirs == ["completed"]
    await bot.say(OWNER, "/team")
    assert "1 of 2 finished." in bot.text(OWNER)


async def test_mydata_shows_a_team_owned_after_the_owners_own_assessment_of_it_went(
    database: Database, content: Content
) -> None:
    owner = Who("console", "o", "en")
    await _console(database, content, "o", PROFILE)
    ok(await database.store.run(lambda c: invite(c, owner)))
    await _console(database, content, "o", ["/cancel"])  # then the purge takes it
    await _console(database, content, "o", [])  # a fresh assessment keeps the owner
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with database.sessions() as session, session.begin():
        session.execute(
            update(Assessment).where(Assessment.status == "cancelled").values(updated_at=long_ago)
        )
    erased = await database.store.run(lambda c: purge(c, timedelta(days=365)))
    assert erased.assessments == 1
    data = await database.store.run(lambda c: my_data(c, owner))
    assert data is not None
    assert [one["team"] for one in data["assessments"]] == [None]
    [team] = data["teams_owned"]
    assert (team["practice"], team["closed_at"]) == (PRACTICE, None)


async def test_an_owner_whose_own_assessment_of_the_team_was_purged_can_still_close_it(
    database: Database, content: Content
) -> None:
    owner, stranger = Who("console", "o", "en"), Who("console", "s", "en")
    await _console(database, content, "o", PROFILE)
    team = ok(await database.store.run(lambda c: invite(c, owner)))
    await _console(database, content, "o", ["/cancel"])
    await _console(database, content, "o", [])  # a fresh assessment keeps the owner
    await _console(database, content, "s", [])
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with database.sessions() as session, session.begin():
        session.execute(
            update(Assessment).where(Assessment.status == "cancelled").values(updated_at=long_ago)
        )
    assert (await database.store.run(lambda c: purge(c, timedelta(days=365)))).assessments == 1
    # Anyone else is still refused; the owner's button from the team view closes it.
    refused = await database.store.run(lambda c: close(c, stranger, team.team_id))
    assert getattr(refused, "reason", None) == NOT_A_MEMBER
    done = await database.store.run(lambda c: close(c, owner, team.team_id))
    assert isinstance(done, Done), done
    with database.sessions() as session:
        assert session.scalar(select(Team.closed_at).where(Team.id == team.team_id)) is not None


async def test_the_purge_of_an_idle_owner_leaves_the_members_their_team(
    database: Database, content: Content
) -> None:
    owner, member = Who("console", "o", "en"), Who("console", "m", "en")
    await _console(database, content, "o", PROFILE)  # the owner never finishes
    status = ok(await database.store.run(lambda c: invite(c, owner)))
    await _console(database, content, "m", [f"/join {status.code}", "1", *console_answers(801)])
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with database.sessions() as session, session.begin():
        session.execute(update(Respondent).values(created_at=long_ago))
        session.execute(
            update(Assessment).where(Assessment.status == "active").values(updated_at=long_ago)
        )
    erased = await database.store.run(lambda c: purge(c, timedelta(days=365)))
    assert erased.assessments == 1
    # The member's finished part of the team, and the team, stay; the owner's identity goes.
    found = ok(await database.store.run(lambda c: summary(c, content, member, status.team_id)))
    assert found.finished == 1
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1
        assert session.scalars(select(Respondent.platform).order_by(Respondent.id)).all() == [
            "retired",
            "console",
        ]


async def test_a_member_joining_after_the_owners_assessment_went_gets_the_teams_profile(
    database: Database, content: Content
) -> None:
    owner = Who("console", "o", "en")
    await _console(database, content, "o", PROFILE)
    status = ok(await database.store.run(lambda c: invite(c, owner)))
    await _console(database, content, "m", [f"/join {status.code}", "1"])
    await _console(database, content, "o", ["/cancel"])
    long_ago = datetime.now(UTC) - timedelta(days=400)
    with database.sessions() as session, session.begin():
        session.execute(
            update(Assessment)
            .where(Assessment.team_id == status.team_id, Assessment.status == "cancelled")
            .values(updated_at=long_ago)
        )
    assert (await database.store.run(lambda c: purge(c, timedelta(days=365)))).assessments == 1
    await _console(database, content, "late", [f"/join {status.code}", "1"])
    with database.sessions() as session:
        profiles = session.execute(
            select(Assessment.practice_name, Assessment.country, Assessment.organisation)
            .where(Assessment.team_id == status.team_id)
            .order_by(Assessment.id)
        ).all()
    # Counted in the team's country, not under "another country" for want of one.
    assert [tuple(row) for row in profiles] == [(PRACTICE, "LV", "Red Cross")] * 2
