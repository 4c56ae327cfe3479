"""The fault drills of ``bench.reliability``, small: each must hold on every run of the suite.

docs/performance.md gives the commands for the same drills at full size (hundreds of kills,
1,000 duplicated updates, 10% failing Bot API calls, PostgreSQL restarts mid-load).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.loopback import Delivery, Practitioner, ready, start_bot, until
from bench.reliability import DRILLS, _more_polls, _prepared
from dialogs.content import Content
from storage.database import is_sqlite
from storage.dialogue import Who
from storage.models import Answer, AnswerLog, Assessment, Respondent
from storage.store import Database
from storage.teams import Refused
from storage.teams import summary as team_summary
from tests.conftest import SERVER_URL
from tests.test_teams import ANSWERS as TEAM_ANSWERS
from tests.test_teams import FLAGGED as TEAM_FLAGGED
from tests.test_teams import OWNER as TEAM_OWNER

pytestmark = pytest.mark.slow


def _options(**chosen: float) -> argparse.Namespace:
    defaults = {"users": 4, "kills": 2, "max_delay": 0.3, "fault_rate": 0.1, "restarts": 1,
                "every": 1.0, "down": 1.0, "seed": 8}  # fmt: skip
    return argparse.Namespace(**(defaults | chosen))


@pytest.mark.parametrize("drill", ["kill", "duplicates", "faults"])
async def test_a_drill_loses_and_duplicates_no_answer(
    drill: str, database: Database, database_url: str, tmp_path: Path
) -> None:
    result = await DRILLS[drill](_options(), database_url, tmp_path)
    assert result["ok"], result
    assert result["answers_lost"] == 0
    assert result["answer_log_rows_per_assessment"] == {"10": result["users"]}


@pytest.mark.skipif(
    SERVER_URL is None or is_sqlite(SERVER_URL), reason="needs SICHECK_TEST_DATABASE_URL"
)
async def test_the_bot_outlives_a_postgresql_restart(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    options = _options(users=30, every=0.5)
    result = await DRILLS["postgres-restart"](options, database_url, tmp_path)
    assert result["ok"], result
    assert result["restarts"] == 1
    assert result["bot_kept_running"]


TEAM_FIRST_USER = 4_000_000
TEAM_PRACTICE = "Team kitchen"
OWNER_STEPS = (
    ("say", "/start", "I agree"),
    ("press", "✅", "name of the practice"),
    ("say", TEAM_PRACTICE, "In which country"),
    ("press", "Latvia", "Which organisation"),
    ("press", "Skip", "Whom does the practice work with"),
    ("press", "✅", "What does the practice work on"),
    ("press", "✅", "Criterion 1/10"),
    ("say", "/team", f"Team: {TEAM_PRACTICE}"),
)


def _answering(person: int) -> list[tuple[str, str, str]]:
    """One team member's answers (as ``tests.test_teams.ANSWERS``), then the team summary."""
    steps = []
    for number, value in enumerate(TEAM_ANSWERS[person], start=1):
        label = "Not applicable" if value is None else f"{value} ·"
        shown = f"Criterion {number + 1}/10" if number < 10 else "Review your answers"
        steps.append(("press", label, shown))
    return [
        *steps,
        ("press", "✅", f"Summary: {TEAM_PRACTICE}"),
        ("say", "/team", f"Team: {TEAM_PRACTICE}"),
        ("press", "📊", f"Team summary: {TEAM_PRACTICE}"),
    ]


async def _walk(practitioner: Practitioner, steps: Sequence[tuple[str, str, str]]) -> None:
    for kind, what, marker in steps:
        await practitioner.step(kind, what, marker)


async def test_a_team_of_five_survives_kill_9_mid_way(
    database: Database, database_url: str, tmp_path: Path, content: Content
) -> None:
    """Five members answer while the bot is killed -9 twice and started again: every member
    finishes, nothing is lost or doubled, and the team summary flags what it should."""
    api, telegram, watch = await _prepared(database_url)
    delivery = Delivery(api)
    rng = random.Random(22)
    latencies: list[float] = []
    people = {person: TEAM_FIRST_USER + n for n, person in enumerate(TEAM_ANSWERS)}
    owner_id = people[TEAM_OWNER]
    practitioners = {
        person: Practitioner(user_id, delivery, watch, latencies, patience=120)
        for person, user_id in people.items()
    }
    bot = await start_bot(telegram.url, database_url, tmp_path, webhook=False, name="team")
    try:
        await ready(api, bot)
        await _walk(practitioners[TEAM_OWNER], OWNER_STEPS)
        link = re.search(r"start=(team-[A-Za-z0-9_-]{16})", watch.latest[owner_id]["text"])
        assert link is not None
        members = [person for person in TEAM_ANSWERS if person != TEAM_OWNER]
        joining = [("say", f"/start {link[1]}", "I agree"), ("press", "✅", "Criterion 1/10")]
        await asyncio.gather(*(_walk(practitioners[m], joining) for m in members))
        work = asyncio.gather(*(_walk(practitioners[p], _answering(p)) for p in TEAM_ANSWERS))
        for _ in range(2):
            await until(_more_polls(api, 3), 60, "a batch")
            await asyncio.sleep(rng.uniform(0, 0.4))
            assert not work.done()  # killed mid-way, with answers still to come
            bot.kill()
            await bot.process.wait()
            api.polls = 0
            bot = await start_bot(telegram.url, database_url, tmp_path, webhook=False, name="team")
            await ready(api, bot)
        await asyncio.wait_for(work, 300)
        # The owner asks last: every member has finished by now.
        await _walk(practitioners[TEAM_OWNER], _answering(TEAM_OWNER)[-2:])
        assert await bot.stop() == 0
    finally:
        bot.kill()
        await telegram.stop()
    final = watch.latest[owner_id]["text"]
    assert "5 of 5 members finished." in final
    assert final.count("⚠️") == len(TEAM_FLAGGED)
    with database.sessions() as session:
        rows = session.execute(
            select(Respondent.external_id, Assessment.id, Assessment.status, Assessment.team_id)
            .join(Assessment, Assessment.respondent_id == Respondent.id)
            .where(Respondent.external_id.in_([str(u) for u in people.values()]))
        ).all()
        assert len(rows) == 5  # one assessment each: none doubled by a redelivery
        assert {row.status for row in rows} == {"completed"}
        assert len({row.team_id for row in rows}) == 1
        by_user = {int(row.external_id): row.id for row in rows}
        for person, user_id in people.items():
            recorded = dict(
                session.execute(
                    select(Answer.criterion, Answer.value).where(
                        Answer.assessment_id == by_user[user_id]
                    )
                ).all()
            )
            expected = {f"C{n:02d}": v for n, v in enumerate(TEAM_ANSWERS[person], start=1)}
            assert recorded == expected
            logged = session.scalar(
                select(func.count()).where(AnswerLog.assessment_id == by_user[user_id])
            )
            assert logged == 10
    team_id = rows[0].team_id
    found = await database.store.run(
        lambda c: team_summary(c, content, Who("telegram", str(owner_id)), team_id)
    )
    assert not isinstance(found, Refused)
    assert found.flagged == TEAM_FLAGGED
    assert found.finished == 5
