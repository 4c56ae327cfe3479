"""A member who left a team and follows its invitation again is back with the assessment they
began in it, neither asked to cancel it nor made to answer again."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Answer, Assessment, Respondent
from storage.store import Database
from tests.telegram_harness import Harness
from tests.test_teams import answer_all, owners_link


def members(database: Database, person: int) -> list[tuple[str, bool]]:
    """The person's assessments: their status and whether each is in a team."""
    with database.sessions() as session:
        rows = session.execute(
            select(Assessment.status, Assessment.team_id)
            .join(Respondent, Respondent.id == Assessment.respondent_id)
            .where(Respondent.external_id == str(person))
            .order_by(Assessment.id)
        ).all()
    return [(status, team is not None) for status, team in rows]


async def leave(bot: Harness, member: int) -> None:
    """The member leaves their team, confirming it."""
    await bot.say(member, "/team")
    await bot.press(member, "Leave the team")
    await bot.press(member, "Yes, leave the team")


async def test_a_member_rejoining_mid_way_goes_on_with_their_answers(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)
    await bot.say(801, f"/start {link}")
    await bot.tap(801, "y")
    await bot.tap(801, "a:C01:2")
    await leave(bot, 801)
    assert members(database, 801) == [("active", False)]
    await bot.say(801, f"/start {link}")
    assert "unfinished assessment" not in bot.text(801)
    assert "Criterion 2/10" in bot.text(801)
    assert members(database, 801) == [("active", True)]
    with database.sessions() as session:
        assert session.scalars(select(Answer.criterion)).all() == ["C01"]
    assert bot.errors == []


async def test_a_finished_member_rejoining_is_counted_without_answering_again(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)
    await bot.say(801, f"/start {link}")
    await bot.tap(801, "y")
    await answer_all(bot, 801)
    await leave(bot, 801)
    await bot.say(801, f"/start {link}")
    assert members(database, 801) == [("completed", True)]
    await bot.say(OWNER_ID, "/team")
    assert "1 of 2 finished." in bot.text(OWNER_ID)
    assert bot.errors == []


OWNER_ID = 800


async def test_an_assessment_of_ones_own_of_the_same_name_is_not_taken_into_the_team(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)  # "Community kitchen", in Latvia
    await bot.say(801, "/start")
    await bot.tap(801, "y")
    await bot.say(801, "Community kitchen")
    for action in ("c:ES", "s", "ok", "ok", "a:C01:1"):
        await bot.tap(801, action)
    await bot.say(801, f"/start {link}")
    assert "You have an unfinished assessment of <b>Community kitchen</b>" in bot.text(801)
    assert members(database, 801) == [("active", False)]


async def test_a_member_cannot_go_back_to_rename_the_teams_practice(
    bot: Harness, database: Database
) -> None:
    link = await owners_link(bot)
    await bot.say(801, f"/start {link}")
    await bot.tap(801, "y")
    assert "Criterion 1/10" in bot.text(801)
    await bot.say(801, "/back")
    assert "the same for every member" in bot.text(801)
    assert "Criterion 1/10" in bot.text(801)
    with database.sessions() as session:
        names = session.scalars(select(Assessment.practice_name)).all()
    assert len(set(names)) == 1
    assert bot.errors == []
