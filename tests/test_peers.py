"""Peer comparison: other practices' medians, never a group below the threshold, never a count."""

from __future__ import annotations

import io
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from bot.documents.chart import radar_figure
from bot.documents.pdf import pdf_report
from dialogs import machine
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.peers import IN_COHORT, IN_COUNTRY, LEGEND, MARKS, PeerMedians, position
from dialogs.report import Report, build_report, country_name, percent_text
from dialogs.snapshot import Profile, RecordedAnswer, Snapshot
from dialogs.views import plain, summary_view
from storage.dialogue import Who
from storage.models import Answer, Assessment, Cohort, Respondent, Team
from storage.peers import batches
from storage.privacy import erase
from storage.reports import report_of
from storage.store import Database
from storage.teams import Done as Left
from storage.teams import leave
from tests.telegram_harness import running_bot
from tests.test_console import ANSWERS, CONFIRM, PROFILE, console
from tests.test_console import flat as flat_output
from tests.test_telegram_summary import finish, pdf_text

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
VIEWER = "viewer"
CODES = tuple(f"C{number:02d}" for number in range(1, 11))


@dataclass(frozen=True)
class Done:
    """A completed assessment to store: whose, of what, where, its answers and when."""

    who: str
    values: Sequence[int | None]
    country: str | None = "LV"
    cohort: int | None = None
    practice: str = "Soup kitchen"
    minute: int = 0
    team: int | None = None


def store(connection: Connection, done: Done) -> int:
    """Record ``done`` as a completed assessment (its respondent made on first use)."""
    found = connection.execute(
        select(Respondent.id).where(Respondent.external_id == done.who)
    ).scalar()
    if found is None:
        values = {"platform": "telegram", "external_id": done.who, "language": "en"}
        made = insert(Respondent).values(**values, consent_at=START).returning(Respondent.id)
        found = connection.execute(made).scalar_one()
    moment = START + timedelta(minutes=done.minute)
    assessment: int = connection.execute(
        insert(Assessment)
        .values(
            respondent_id=found,
            checklist_version=1,
            state=machine.SUMMARY,
            status="completed",
            practice_name=done.practice,
            country=done.country,
            cohort_id=done.cohort,
            started_at=moment,
            completed_at=moment,
            team_id=done.team,
        )
        .returning(Assessment.id)
    ).scalar_one()
    for code, value in zip(CODES, done.values, strict=True):
        connection.execute(
            insert(Answer).values(assessment_id=assessment, criterion=code, value=value)
        )
    return assessment


async def stored(database: Database, *done: Done) -> list[int]:
    return await database.store.run(lambda connection: [store(connection, d) for d in done])


async def cohort(database: Database, code: str) -> int:
    def work(connection: Connection) -> int:
        made = insert(Cohort).values(code=code, name=code).returning(Cohort.id)
        return int(connection.execute(made).scalar_one())

    return await database.store.run(work)


async def report(
    database: Database, content: Content, assessment_id: int, who: str = VIEWER
) -> Report:
    found = await database.store.run(
        lambda connection: report_of(connection, content, Who("telegram", who), assessment_id)
    )
    assert found is not None
    return found


def flat(value: int) -> list[int | None]:
    return [value] * 10


def others(count: int, value: int = 1, **where: Any) -> list[Done]:
    """``count`` other respondents' practices, finished one minute apart."""
    return [Done(f"peer{n}", flat(value), minute=n + 1, **where) for n in range(count)]


def everything_shown(found: Report) -> str:
    """Every text the summary, the chart's legend and the PDF show of ``found``."""
    figure = radar_figure(found)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    pdf = PdfReader(io.BytesIO(pdf_report(found, None)))
    pages = "\n".join(page.extract_text() for page in pdf.pages)
    return "\n".join((plain(summary_view(found).text), *legend, pages))


async def test_a_group_below_the_threshold_shows_nothing_and_no_count(
    database: Database, content: Content
) -> None:
    [mine] = await stored(database, Done(VIEWER, flat(2)))
    alone = everything_shown(await report(database, content, mine))
    await stored(database, *others(4, value=1))
    found = await report(database, content, mine)
    assert found.peers is None
    shown = everything_shown(found)
    assert "peer" not in shown.casefold()
    assert "median" not in shown.casefold()
    # Four others show exactly what none do: no count, no hint of them anywhere.
    assert shown == alone


async def test_at_the_threshold_the_medians_show_in_text_chart_and_pdf(
    database: Database, content: Content
) -> None:
    values = [flat(1), flat(1), flat(2), flat(3), [3, 3, 3, 3, 3, 0, 0, 0, 0, None]]
    peers = [Done(f"peer{n}", given, minute=n + 1) for n, given in enumerate(values)]
    [mine, *_rest] = await stored(database, Done(VIEWER, [2] * 9 + [0]), *peers)
    found = await report(database, content, mine)
    assert found.peers is not None
    # Scores 33%, 33%, 56% (15 of 27), 67% and 100%: the median is 56%.
    line = "Your score: 60% · peers in the same country (Latvia): median 56%"
    assert found.peers.text == line
    # Criterion 1: 1, 1, 2, 3, 3; criterion 6: 1, 1, 2, 3, 0.
    assert found.peers.medians[0] == 2
    assert found.peers.positions[:1] + found.peers.positions[5:6] == ("at", "above")
    # Criterion 10: four answers and one "not applicable" are fewer than the threshold.
    assert found.peers.medians[9] is None
    assert found.peers.positions[9] is None
    shown = everything_shown(found)
    assert line in shown
    assert "= at the peers' median" in plain(summary_view(found).text)
    assert "Peers' median" in shown
    # No number but the percentages: no count of practices, anywhere.
    assert re.findall(r"\d+", line) == ["60", "56"]


async def test_the_viewers_own_assessments_never_count(
    database: Database, content: Content
) -> None:
    own = [Done(VIEWER, flat(3), practice=f"Mine {n}", minute=n) for n in range(6)]
    [*_own, mine] = await stored(database, *own, *others(4), Done(VIEWER, flat(2), minute=30))
    assert (await report(database, content, mine)).peers is None
    # With a fifth other practice the group shows, and its medians are the others' alone.
    await stored(database, Done("peer9", flat(1), minute=31))
    found = await report(database, content, mine)
    assert found.peers is not None
    assert set(found.peers.medians) == {1}
    assert "median 33%" in str(found.peers.text)


async def test_one_practice_counts_once_as_last_assessed(
    database: Database, content: Content
) -> None:
    first = Done("peer0", flat(0), practice="Soup kitchen", minute=1)
    again = Done("peer0", flat(3), practice=" soup KITCHEN", minute=3)
    [mine, *_rest] = await stored(
        database, Done(VIEWER, flat(2)), first, *others(4, value=3)[1:], again
    )
    # Four practices, not five: the two assessments of "Soup kitchen" are one.
    assert (await report(database, content, mine)).peers is None
    await stored(database, Done("peer8", flat(3), minute=9))
    found = await report(database, content, mine)
    assert found.peers is not None
    # peer0's practice counts as last assessed (3), not as first (0).
    assert set(found.peers.medians) == {3}


async def test_peers_in_the_cohort_when_the_country_has_too_few(
    database: Database, content: Content
) -> None:
    pilot = await cohort(database, "pilot")
    [mine, *_rest] = await stored(
        database,
        Done(VIEWER, flat(2), country="ES", cohort=pilot),
        *others(5, value=3, cohort=pilot),
    )
    found = await report(database, content, mine)
    assert found.peers is not None
    assert found.peers.text == "Your score: 67% · peers in your cohort: median 100%"
    assert set(found.peers.positions) == {"below"}


async def test_another_checklist_version_or_an_unfinished_one_is_no_peer(
    database: Database, content: Content
) -> None:
    [mine, *peers] = await stored(database, Done(VIEWER, flat(2)), *others(5))

    def work(connection: Connection) -> None:
        connection.execute(
            update(Assessment).where(Assessment.id == peers[0]).values(checklist_version=2)
        )
        connection.execute(
            update(Assessment).where(Assessment.id == peers[1]).values(status="active")
        )

    assert (await report(database, content, mine)).peers is not None
    await database.store.run(work)
    assert (await report(database, content, mine)).peers is None


async def readings(
    database: Database, content: Content, assessment_ids: Sequence[int], who: str = VIEWER
) -> list[Any]:
    """What the viewer is shown of their peers for each of ``assessment_ids``."""
    found = [await report(database, content, each, who) for each in assessment_ids]
    return [(each.peers, plain(summary_view(each).text)) for each in found]


@pytest.mark.parametrize("hidden_value", [0, 3])
async def test_reading_before_and_after_a_practice_is_finished_tells_nothing_of_it(
    database: Database, content: Content, hidden_value: int
) -> None:
    """The attack: read the peers' medians, wait for one more practice to be finished (or one
    to be assessed again), read again; the change would be that practice's answers."""
    raw = [1, 1, 2, 3, 3]
    peers = [Done(f"peer{n}", flat(value), minute=n + 1) for n, value in enumerate(raw)]
    [mine, *_rest] = await stored(database, Done(VIEWER, flat(2)), *peers)
    before = await readings(database, content, [mine])
    newcomer = Done("newcomer", flat(hidden_value), minute=20)
    reassessed = Done("peer0", flat(hidden_value), minute=21)
    await stored(database, newcomer, reassessed)
    # The newcomer is in no full batch, and peer0's batch closed before its new answers.
    assert await readings(database, content, [mine]) == before
    # The attack is real on the raw answers: the plain median would have moved with them.
    assert statistics.median([*raw, hidden_value]) != statistics.median(raw)
    # Once a whole batch more is finished, it counts, the newcomer and peer0's answers in it.
    await stored(database, *(Done(f"late{n}", flat(3), minute=30 + n) for n in range(4)))
    assert await readings(database, content, [mine]) != before


@pytest.mark.parametrize("hidden_value", [0, 3])
async def test_the_country_and_its_cohort_cannot_be_differenced_to_find_the_rest(
    database: Database, content: Content, hidden_value: int
) -> None:
    """The attack: Latvia's median against the median of Latvia's cohort "pilot"; what tells
    them apart would be the Latvian practices outside the cohort (fewer than the threshold)."""
    pilot = await cohort(database, "pilot")
    inside = [Done(f"in{n}", flat(n % 4), cohort=pilot, minute=n) for n in range(5)]
    outside = [Done(f"out{n}", flat(hidden_value), minute=10 + n) for n in range(2)]
    [in_latvia, in_the_cohort, *_rest] = await stored(
        database,
        Done(VIEWER, flat(2), minute=30),
        Done(VIEWER, flat(2), practice="Other", country="ES", cohort=pilot, minute=31),
        *inside,
        *outside,
    )
    country, cohort_reading = await readings(database, content, [in_latvia, in_the_cohort])
    assert country[0] is not None
    assert cohort_reading[0] is not None
    # Both are the medians of the cohort's Latvian batch alone: the rest never contributes.
    assert country[0].medians == cohort_reading[0].medians
    assert str(country[0].text).replace("the same country (Latvia)", "your cohort") == (
        cohort_reading[0].text
    )
    # The attack is real on the raw answers: with the two outside, Latvia's median moves.
    raw = [n % 4 for n in range(5)]
    assert statistics.median([*raw, hidden_value, hidden_value]) != statistics.median(raw)


def test_a_cell_counts_whole_batches_each_as_its_last_member_found_it() -> None:
    @dataclass
    class Row:
        id: int
        respondent_id: int
        practice_name: str
        completed_at: datetime

    def row(number: int, respondent: int, minute: int, name: str = "P") -> Row:
        return Row(number, respondent, name, START + timedelta(minutes=minute))

    rows = [row(n, n, n) for n in range(1, 8)]
    assert [found.id for found in batches(rows, 3)] == [1, 2, 3, 4, 5, 6]
    assert batches(rows[:2], 3) == []
    # Respondent 1's second assessment came after the batch closed: the first one counts.
    later = row(20, 1, 20, name=" p")
    assert [found.id for found in batches([*rows[:3], later], 3)] == [1, 2, 3]
    # Another practice of respondent 1 is another practice.
    other = row(21, 1, 21, name="Q")
    assert [found.id for found in batches([*rows[:5], other], 3)] == [1, 2, 3, 4, 5, 21]


def test_a_position_is_above_at_or_below_the_median() -> None:
    assert position(3, 2.5) == "above"
    assert position(2, 2) == "at"
    assert position(0, 0.5) == "below"
    assert position(None, 2) is None
    assert position(2, None) is None


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_comparison_reads_in_every_language(content: Content, language: str) -> None:
    checklist = content.latest
    answers = {
        code: RecordedAnswer(value) for code, value in zip(CODES, (3, 2, 1) * 4, strict=False)
    }
    peers = PeerMedians("country", "LV", 50.0, dict.fromkeys(CODES, 2.0))
    profile = Profile("Zupas virtuve", "LV")
    snapshot = Snapshot(1, machine.SUMMARY, language, True, profile, answers, peers=peers)
    found = build_report(checklist, snapshot, START)
    text = plain(summary_view(found).text)
    with use_language(language):
        expected = _(
            IN_COUNTRY,
            score=percent_text(found.percent or 0),
            country=country_name("LV"),
            median=percent_text(50),
        )
        marks = {_(mark) for mark in MARKS.values()}
        legend = _(LEGEND)
        if language != "en":
            for source in (IN_COUNTRY, IN_COHORT, LEGEND, *MARKS.values()):
                assert _(source) != source
    assert found.peers is not None
    assert found.peers.text == expected
    assert expected.replace("\N{NARROW NO-BREAK SPACE}", " ") in text.replace(
        "\N{NARROW NO-BREAK SPACE}", " "
    )
    assert all(mark in text for mark in marks)
    assert legend in everything_shown(found)


async def test_telegram_summary_shows_the_peer_line_once_enough_others_finished(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, stats_min_group=3) as bot:
        for user, value in ((701, 1), (702, 3), (703, 3)):
            await finish(bot, user, name=f"Practice {user}", value=value)
            assert "peers" not in bot.summary(user)["text"]
        await finish(bot, 704, name="Mine", value=2)
        summary = plain(bot.summary(704)["text"])
        assert "Your score: 67% · peers in the same country (Latvia): median 100%" in summary
        assert "↓ below the peers' median" in summary
        await bot.press(704, "📄", message=bot.summary(704))
        assert "median 100%" in pdf_text(bot.api.files_in(704)[-1].content)
        await bot.say(704, "/history")
        await bot.press(704, "📊 1")
        assert "median 100%" in bot.text(704)
        assert bot.errors == []
        assert bot.api.violations == []


async def test_the_console_summary_shows_the_peer_line(
    database: Database, content: Content
) -> None:
    await stored(database, *others(5, value=3))
    lines = PROFILE + ANSWERS + CONFIRM
    output = flat_output(
        await console(database, content.model_copy(update={"stats_min_group": 5}), lines)
    )
    assert "Your score: 70% · peers in the same country (Latvia): median 100%" in output
    assert "↓ below the peers' median" in output
    # Five peers are too few at a threshold of six: the same summary says nothing of them.
    fewer = content.model_copy(update={"stats_min_group": 6})
    again = flat_output(await console(database, fewer, ["/history", "1"], user="tester"))
    assert "Summary: Community kitchen" in again
    assert "peers" not in again


async def team_of(database: Database, owner: Done) -> tuple[int, int]:
    """``owner``'s assessment, stored with the team it invites to (made a minute before)."""

    def work(connection: Connection) -> tuple[int, int]:
        made = store(connection, owner)
        respondent = connection.execute(
            select(Assessment.respondent_id).where(Assessment.id == made)
        ).scalar_one()
        values = {
            "code": f"team-of-{owner.who}",
            "owner_id": respondent,
            "practice_name": owner.practice,
            "checklist_version": 1,
            "created_at": START + timedelta(minutes=owner.minute - 1),
        }
        team = connection.execute(insert(Team).values(values).returning(Team.id)).scalar_one()
        connection.execute(update(Assessment).where(Assessment.id == made).values(team_id=team))
        return made, int(team)

    return await database.store.run(work)


def member(who: str, team: int, value: int, minute: int) -> Done:
    """A member's finished assessment of the team's practice (named as the owner's)."""
    return Done(who, flat(value), practice="Team practice", minute=minute, team=team)


async def test_a_team_of_three_counts_once_as_its_owners_answers(
    database: Database, content: Content
) -> None:
    _made, team = await team_of(database, Done("owner", flat(3), practice="Team practice"))
    [mine, *_rest] = await stored(
        database,
        Done(VIEWER, flat(2), minute=40),
        member("mate1", team, 0, 2),
        member("mate2", team, 0, 3),
        *others(3, value=3, practice="Other")[:3],
    )
    # The owner's practice and three others: four practices, not six.
    assert (await report(database, content, mine)).peers is None
    await stored(database, Done("peer8", flat(3), minute=20))
    found = await report(database, content, mine)
    assert found.peers is not None
    # The members' answers (0) are in no median: the team's practice is the owner's (3).
    assert set(found.peers.medians) == {3}


async def test_a_member_never_has_their_team_mates_as_peers(
    database: Database, content: Content
) -> None:
    _made, team = await team_of(database, Done("owner", flat(0), practice="Team practice"))
    first = [Done(f"first{n}", flat(1), minute=2 + n) for n in range(4)]
    [own, mate, outsider, *_rest] = await stored(
        database,
        member(VIEWER, team, 2, 10),
        member("mate", team, 0, 11),
        Done("outsider", flat(2), practice="Elsewhere", minute=12),
        *first,
    )
    # The one batch holds the viewer's own team's practice: it is left out whole.
    assert (await report(database, content, own)).peers is None
    assert (await report(database, content, outsider, "outsider")).peers is not None
    assert (await report(database, content, mate, "mate")).peers is None
    await stored(database, *(Done(f"second{n}", flat(2), minute=20 + n) for n in range(4)))
    found = await report(database, content, own)
    assert found.peers is not None
    # The second batch alone (the outsider and the four after them): all 2s, no team-mate.
    assert set(found.peers.medians) == {2}
    seen = await report(database, content, outsider, "outsider")
    assert seen.peers is not None
    assert set(seen.peers.medians) == {1}  # both batches: 0, 1, 1, 1, 1 and 2, 2, 2, 2, 2


async def test_joining_and_leaving_a_team_change_the_peers_by_whole_batches_only(
    database: Database, content: Content
) -> None:
    """The attack: read, join a team (or leave it, or see a member leave), read again; a
    difference of fewer practices than the threshold would be theirs."""
    _made, team = await team_of(database, Done("owner", flat(0), practice="Team practice"))
    [mine, *_rest] = await stored(
        database,
        Done(VIEWER, flat(2), practice="Mine", minute=60),
        member("quitter", team, 3, 2),
        *(Done(f"first{n}", flat(1), minute=3 + n) for n in range(4)),
        *(Done(f"second{n}", flat(2), minute=10 + n) for n in range(5)),
        *(Done(f"rest{n}", flat(3), minute=20 + n) for n in range(4)),
    )
    both = await readings(database, content, [mine])
    assert both[0][0] is not None
    # Another member leaving changes nothing: their assessment stays the team's, out of it.
    left = await database.store.run(lambda c: leave(c, Who("telegram", "quitter"), team))
    assert isinstance(left, Left)
    assert await readings(database, content, [mine]) == both
    # The viewer joins: exactly the team's batch goes (the second batch's medians remain).
    [joined] = await stored(database, member(VIEWER, team, 2, 61))
    after_join = await readings(database, content, [mine])
    assert after_join != both
    assert after_join[0][0] is not None
    assert set(after_join[0][0].medians) == {2}
    # The viewer leaves: nothing changes, in this summary or the one of the team's practice.
    in_team = await readings(database, content, [joined])
    left = await database.store.run(lambda c: leave(c, Who("telegram", VIEWER), team))
    assert isinstance(left, Left)
    assert await readings(database, content, [mine]) == after_join
    assert await readings(database, content, [joined]) == in_team
    # The attack is real on the raw answers: the quitter's 3s would have moved the medians.
    raw = [0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert statistics.median([*raw, 3]) != statistics.median(raw)


def test_a_batch_holding_a_left_out_practice_goes_whole() -> None:
    @dataclass
    class Row:
        id: int
        respondent_id: int
        practice_name: str

    rows = [Row(n, n, "P") for n in range(1, 8)]
    assert [found.id for found in batches(rows, 3, {(2, "p")})] == [4, 5, 6]
    assert [found.id for found in batches(rows, 3, {(7, "p")})] == [1, 2, 3, 4, 5, 6]


async def test_a_members_erasure_changes_no_reading(database: Database, content: Content) -> None:
    _made, team = await team_of(database, Done("owner", flat(1), practice="Team practice"))
    [mine, *_rest] = await stored(
        database,
        Done(VIEWER, flat(2), practice="Mine", minute=60),
        member("mate", team, 3, 2),
        *(Done(f"first{n}", flat(value), minute=3 + n) for n, value in enumerate([3, 3, 1, 1])),
        *(Done(f"rest{n}", flat(3), minute=20 + n) for n in range(3)),
    )
    before = await readings(database, content, [mine])
    assert before[0][0] is not None
    # The member's answers were in no median: erased, they leave every reading as it was.
    await database.store.run(lambda c: erase(c, "telegram", "mate"))
    assert await readings(database, content, [mine]) == before
    # The attack is real on the raw answers: with the member's 3s, the batch's median is 3.
    assert statistics.median([1, 3, 3, 3, 1]) != statistics.median([1, 3, 3, 1, 1])
