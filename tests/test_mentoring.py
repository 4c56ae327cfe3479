"""Mentoring: a practitioner shares a finished summary with their cohort's coordinator, who
reads it and leaves feedback; nothing unshared is ever visible to a mentor."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from bot import cli
from bot.telegram.callback_data import (
    FeedbackPress,
    MenteePress,
    SharePress,
    TeamInvitePress,
    encode,
)
from dialogs.content import Content
from dialogs.i18n import _, use_language
from storage import mentoring
from storage.coordination import add_coordinator, new_cohort, remove_coordinator
from storage.dialogue import Who
from storage.models import (
    Assessment,
    Cohort,
    Coordinator,
    MentorFeedback,
    MentorShare,
    Respondent,
)
from storage.privacy import erase, my_data
from storage.reports import report_of
from storage.store import Database
from tests.fake_bot_api import buttons, callback_update, message_update
from tests.telegram_harness import Harness, running_bot

MENTOR = 800
OTHER_MENTOR = 801
ANA = 810
"""Shares her assessment; speaks Latvian."""
BEN = 811
"""In the same cohort, finishes, and never shares."""
CARL = 812
"""In the other mentor's cohort."""
NOT_AVAILABLE = "That report is not available."
FEEDBACK = "Talk to the families <first> & then decide."


@pytest.fixture
async def staffed(database: Database, database_url: str) -> AsyncIterator[Harness]:
    """The bot with two coordinators configured by ``SICHECK_COORDINATORS``."""
    async with running_bot(
        database_url, sicheck_coordinators=f"{MENTOR},{OTHER_MENTOR}"
    ) as harness:
        yield harness
        assert harness.errors == []
        assert harness.api.violations == []


async def cohort(bot: Harness, coordinator: int, name: str) -> str:
    """A new cohort made by ``coordinator`` on Telegram; its invitation code."""
    await bot.say(coordinator, f"/cohort new {name}")
    link = re.search(r"start=([\w-]{16})", bot.text(coordinator))
    assert link is not None
    return link[1]


async def finish(
    bot: Harness, user: int, code: str | None, language: str = "en", practice: str = "Soup kitchen"
) -> int:
    """A whole assessment of ``practice`` through the cohort's link; its id."""
    await bot.say(user, f"/start {code}" if code else "/start", language=language)
    await bot.tap(user, "y", language=language)
    await bot.say(user, practice, language=language)
    for action in ("c:LV", "s", "ok", "ok", *(f"a:C{n:02d}:2" for n in range(1, 11)), "ok"):
        await bot.tap(user, action, language=language)
    summary = next(m for m in reversed(bot.api.chat(user)) if "pdf" in str(m.get("reply_markup")))
    [data] = [data for _label, data in buttons(summary) if data.endswith(":pdf")]
    return int(data.split(":")[1])


async def share_with_mentor(bot: Harness, user: int, assessment_id: int) -> None:
    """``user`` taps "Share with my mentor" where the bot offered it last."""
    await press_data(
        bot, user, encode(SharePress(assessment_id, True)), with_button(bot, user, "ms:")
    )


def with_button(bot: Harness, chat: int, prefix: str) -> dict[str, Any]:
    """The bot's latest message in ``chat`` with a button whose data starts with ``prefix``."""
    return next(
        message
        for message in reversed(bot.api.chat(chat))
        if any(data.startswith(prefix) for _label, data in buttons(message))
    )


async def press_data(
    bot: Harness, user: int, data: str, message: dict[str, Any] | None = None, lang: str = "en"
) -> str | None:
    """``user`` presses a button carrying ``data`` (forged or not); the toast they got."""
    sent = bot.api.chat(user)
    target = message or (sent[-1] if sent else None)
    target = target or {"message_id": 1, "date": 0, "chat": {"id": user, "type": "private"}}
    target = as_delivered(target)
    await bot.feed(callback_update(user, data, target, language=lang))
    answer = bot.api.calls_to("answerCallbackQuery")[-1]
    text = answer.params.get("text")
    return None if text is None else str(text)


def as_delivered(message: dict[str, Any]) -> dict[str, Any]:
    """A bot message as Telegram puts it in an update: with an inline keyboard only."""
    if "inline_keyboard" in (message.get("reply_markup") or {}):
        return message
    return {key: value for key, value in message.items() if key != "reply_markup"}


def pdf_text(content: bytes) -> str:
    """The report's text, its lines joined as one (a cell wraps long feedback)."""
    pages = (page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(" ".join(pages).split())


async def open_from_history(bot: Harness, user: int, lang: str = "en") -> dict[str, Any]:
    """``user`` opens their latest finished assessment from ``/history``; the summary."""
    await bot.say(user, "/history", language=lang)
    listing = bot.last(user)
    await bot.feed(callback_update(user, buttons(listing)[0][1], listing, language=lang))
    return bot.last(user)


async def report_pdf(bot: Harness, user: int, summary: dict[str, Any], lang: str = "en") -> str:
    [data] = [data for _label, data in buttons(summary) if data.endswith(":pdf")]
    await bot.feed(callback_update(user, data, summary, language=lang))
    return pdf_text(bot.api.files_in(user)[-1].content)


async def ask(bot: Harness, assessment: int, criterion: str = "C03") -> dict[str, Any]:
    """The mentor presses the feedback button of ``criterion``; the prompt they got."""
    await press_data(bot, MENTOR, encode(FeedbackPress(assessment, criterion)))
    return bot.last(MENTOR)


async def reply(bot: Harness, user: int, prompt: dict[str, Any], text: str) -> None:
    await bot.feed(message_update(user, text, extra={"reply_to_message": as_delivered(prompt)}))


async def test_share_feedback_revoke_and_share_again_end_to_end(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Rīga 2026")
    ana = await finish(bot, ANA, code, language="lv")
    offer = with_button(bot, ANA, "ms:")
    # "What next?" under the chart: the team's invitation and the share, nothing else.
    assert [data for _label, data in buttons(offer)] == [
        encode(TeamInvitePress(ana)),
        encode(SharePress(ana, True)),
    ]
    assert offer == bot.api.chat(ANA)[-1]
    with database.sessions() as session:
        assert session.scalar(select(MentorShare)) is None  # nothing without the tap
    assert "mo:" not in str(bot.api.chat(MENTOR))

    await press_data(bot, ANA, encode(SharePress(ana, True)), offer, lang="lv")
    notice = with_button(bot, MENTOR, "mo:")
    assert "Rīga 2026" in notice["text"]
    assert "Soup kitchen" in notice["text"]
    with use_language("lv"):
        assert _("Stop sharing") not in str(bot.last(ANA))  # the label is translated
        assert _("🚫 Stop sharing with my mentor") in str(bot.last(ANA))

    await bot.press(MENTOR, "📊", message=notice)
    shown = bot.last(MENTOR)
    assert "Summary: Soup kitchen" in shown["text"]  # in the mentor's language
    asks = [data for _label, data in buttons(shown)]
    assert asks == [encode(FeedbackPress(ana, f"C{n:02d}")) for n in range(1, 11)]

    prompt = await ask(bot, ana)
    assert bot.api.calls_to("sendMessage")[-1].params["reply_markup"]["force_reply"] is True
    assert f"🔖 {ana}/C03" in prompt["text"]
    await reply(bot, MENTOR, prompt, FEEDBACK)
    assert "saved" in bot.text(MENTOR)
    told = bot.last(ANA)["text"]
    assert "Talk to the families &lt;first&gt; &amp; then decide." in told
    with use_language("lv"):
        heading = _("You find it under that criterion in the summary (/history) and its report.")
    assert heading in told
    assert heading != "You find it under that criterion in the summary (/history) and its report."

    summary = await open_from_history(bot, ANA, "lv")
    assert "Talk to the families &lt;first&gt;" in summary["text"]
    assert encode(SharePress(ana, False)) in [data for _label, data in buttons(summary)]
    assert "Talk to the families <first> & then decide." in await report_pdf(bot, ANA, summary)

    # A second reply replaces the feedback on that criterion.
    await reply(bot, MENTOR, prompt, "Ask the families first.")
    with database.sessions() as session:
        kept = session.scalars(select(MentorFeedback.text)).all()
    assert kept == ["Ask the families first."]

    await press_data(bot, ANA, encode(SharePress(ana, False)), summary, lang="lv")
    assert await press_data(bot, MENTOR, encode(MenteePress(ana)), notice) == NOT_AVAILABLE
    await bot.say(MENTOR, "/mentees")
    assert "Soup kitchen" not in bot.text(MENTOR)
    hidden = await open_from_history(bot, ANA, "lv")
    assert "Ask the families" not in hidden["text"]
    assert encode(SharePress(ana, True)) in [data for _label, data in buttons(hidden)]
    assert "Ask the families" not in await report_pdf(bot, ANA, hidden)
    # Feedback written to a revoked share is refused, and the practitioner hears nothing.
    told_before = len(bot.api.chat(ANA))
    await reply(bot, MENTOR, prompt, "Too late.")
    assert NOT_AVAILABLE in bot.text(MENTOR)
    assert len(bot.api.chat(ANA)) == told_before

    await press_data(bot, ANA, encode(SharePress(ana, True)), hidden, lang="lv")
    again = await open_from_history(bot, ANA, "lv")
    assert "Ask the families first." in again["text"]
    await bot.say(MENTOR, "/mentees")
    listing = bot.last(MENTOR)
    assert "Soup kitchen" in listing["text"]
    assert [data for _label, data in buttons(listing)] == [encode(MenteePress(ana))]


async def test_a_practitioner_who_did_not_share_is_invisible_to_the_mentor(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Valmiera")
    ana = await finish(bot, ANA, code)
    ben = await finish(bot, BEN, code)
    await share_with_mentor(bot, ANA, ana)
    prompt = await ask(bot, ana)

    await bot.say(MENTOR, "/mentees")
    assert [data for _label, data in buttons(bot.last(MENTOR))] == [encode(MenteePress(ana))]
    sent = len(bot.api.chat(MENTOR))
    for forged in (
        encode(MenteePress(ben)),
        encode(FeedbackPress(ben, "C03")),
        encode(FeedbackPress(ben, "C01")),
    ):
        assert await press_data(bot, MENTOR, forged, prompt) == NOT_AVAILABLE
    assert len(bot.api.chat(MENTOR)) == sent
    # A prompt forged to name Ben's assessment writes nothing and tells Ben nothing.
    forged_prompt = {**prompt, "text": prompt["text"].replace(f"{ana}/C03", f"{ben}/C03")}
    bens_messages = len(bot.api.chat(BEN))
    await reply(bot, MENTOR, forged_prompt, "Feedback for Ben")
    assert bot.text(MENTOR) == NOT_AVAILABLE
    assert len(bot.api.chat(BEN)) == bens_messages
    with database.sessions() as session:
        assert session.scalar(select(MentorFeedback)) is None
        assert session.scalar(select(MentorShare).where(MentorShare.assessment_id == ben)) is None
    bens = await open_from_history(bot, BEN)
    assert "Feedback for Ben" not in bens["text"]


async def test_a_practice_name_cannot_redirect_the_mentors_reply(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Jelgava")
    ana = await finish(bot, ANA, code)
    await share_with_mentor(bot, ANA, ana)
    # Ben names his practice after the mark of a prompt on Ana's assessment.
    ben = await finish(bot, BEN, code, practice=f"Youth club 🔖 {ana}/C03")
    await share_with_mentor(bot, BEN, ben)
    prompt = await ask(bot, ben, "C05")
    anas_messages = len(bot.api.chat(ANA))
    await reply(bot, MENTOR, prompt, "For Ben")
    with database.sessions() as session:
        kept = session.execute(
            select(MentorFeedback.assessment_id, MentorFeedback.criterion, MentorFeedback.text)
        ).all()
    assert [tuple(row) for row in kept] == [(ben, "C05", "For Ben")]
    assert len(bot.api.chat(ANA)) == anas_messages
    assert "For Ben" in bot.last(BEN)["text"]


async def test_another_cohorts_coordinator_and_practitioners_see_and_write_nothing(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Cēsis")
    other = await cohort(bot, OTHER_MENTOR, "Madrid")
    ana = await finish(bot, ANA, code)
    await finish(bot, CARL, other)
    await share_with_mentor(bot, ANA, ana)
    prompt = await ask(bot, ana)

    await bot.say(OTHER_MENTOR, "/mentees")
    assert "Soup kitchen" not in bot.text(OTHER_MENTOR)
    assert buttons(bot.last(OTHER_MENTOR)) == []
    for data in (encode(MenteePress(ana)), encode(FeedbackPress(ana, "C03"))):
        assert await press_data(bot, OTHER_MENTOR, data) == NOT_AVAILABLE
        assert await press_data(bot, CARL, data) == NOT_AVAILABLE
    await reply(bot, OTHER_MENTOR, prompt, "Not my mentee")
    assert bot.text(OTHER_MENTOR) == NOT_AVAILABLE
    await reply(bot, CARL, prompt, "Not a mentor")
    assert bot.text(CARL) == NOT_AVAILABLE
    await bot.say(CARL, "/mentees")
    assert bot.text(CARL) == "This command is for coordinators."
    # Nobody shares or stops sharing someone else's assessment.
    for wanted in (True, False):
        assert await press_data(bot, CARL, encode(SharePress(ana, wanted))) == NOT_AVAILABLE
    with database.sessions() as session:
        assert session.scalar(select(MentorFeedback)) is None
        [share] = session.scalars(select(MentorShare)).all()
        assert share.revoked_at is None


async def test_bad_feedback_stale_buttons_and_double_taps(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Liepāja")
    ana = await finish(bot, ANA, code)
    offer = with_button(bot, ANA, "ms:")
    share = callback_update(ANA, encode(SharePress(ana, True)), offer)
    await bot.feed(share)
    await bot.feed(share)  # redelivered: applied once, one notice
    assert sum("mo:" in str(m.get("reply_markup")) for m in bot.api.chat(MENTOR)) == 1
    assert await press_data(bot, ANA, encode(SharePress(ana, True)), offer) == "Already shared."
    assert sum("mo:" in str(m.get("reply_markup")) for m in bot.api.chat(MENTOR)) == 1

    assert await press_data(bot, MENTOR, encode(FeedbackPress(ana, "C99"))) == NOT_AVAILABLE
    # Ids past what the database holds are forgeries too, not failures.
    too_big = "9" * 19
    for user, forged in (
        (ANA, f"ms:{too_big}:y"),
        (MENTOR, f"mo:{too_big}"),
        (MENTOR, f"mf:{too_big}:C03"),
    ):
        assert await press_data(bot, user, forged) is not None
    assert bot.errors == []
    prompt = await ask(bot, ana)
    await reply(bot, MENTOR, prompt, "x" * (mentoring.FEEDBACK_MAX + 1))
    assert "at most 1000 characters" in bot.text(MENTOR)
    await reply(bot, MENTOR, prompt, "\x00\x01")
    assert "at most 1000 characters" in bot.text(MENTOR)
    unknown = {**prompt, "text": prompt["text"].replace("/C03", "/C99")}
    await reply(bot, MENTOR, unknown, "Fine")
    assert bot.text(MENTOR) == NOT_AVAILABLE
    # Replying to a message of one's own that looks like a prompt is an ordinary comment.
    own = {**prompt, "from": {"id": MENTOR, "is_bot": False, "first_name": "M"}}
    await reply(bot, MENTOR, own, "Not feedback")
    with database.sessions() as session:
        assert session.scalar(select(MentorFeedback)) is None
    longest = "y" * mentoring.FEEDBACK_MAX
    await reply(bot, MENTOR, prompt, longest)
    assert longest in bot.last(ANA)["text"]
    # The same reply delivered again is applied once.
    update = message_update(MENTOR, "Once", extra={"reply_to_message": as_delivered(prompt)})
    await bot.feed(update)
    told = len(bot.api.chat(ANA))
    await bot.feed(update)
    assert len(bot.api.chat(ANA)) == told


async def test_a_coordinator_dropped_from_the_settings_hears_of_no_share(
    database: Database, database_url: str
) -> None:
    async with running_bot(database_url, sicheck_coordinators=str(MENTOR)) as bot:
        code = await cohort(bot, MENTOR, "Talsi")
    async with running_bot(database_url, sicheck_coordinators="") as bot:
        ana = await finish(bot, ANA, code)
        # Nothing offers a share with them: not "What next?", not the summary from /history.
        assert "ms:" not in str(bot.api.chat(ANA))
        summary = await open_from_history(bot, ANA)
        assert [data.rsplit(":", 1)[-1] for _label, data in buttons(summary)] == ["pdf"]
        told = await press_data(bot, ANA, encode(SharePress(ana, True)))
        assert told == NOT_AVAILABLE
        assert "Soup kitchen" not in str(bot.api.chat(MENTOR))
        assert bot.errors == []
    with database.sessions() as session:
        assert session.scalar(select(MentorShare)) is None


async def test_no_share_button_without_a_cohort_coordinator(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    ana = await finish(bot, ANA, None)
    assert "ms:" not in str(bot.api.chat(ANA))
    summary = await open_from_history(bot, ANA)
    assert [data.rsplit(":", 1)[-1] for _label, data in buttons(summary)] == ["pdf"]
    assert await press_data(bot, ANA, encode(SharePress(ana, True))) == NOT_AVAILABLE
    with database.sessions() as session:
        assert session.scalar(select(MentorShare)) is None


async def my_data_of(bot: Harness, user: int) -> dict[str, Any]:
    """What ``/mydata`` sends ``user``: the latest document, read back."""
    await bot.say(user, "/mydata")
    data = json.loads(bot.api.files_in(user)[-1].content)
    assert isinstance(data, dict)
    return data


async def test_a_mentors_mydata_lists_their_cohorts_shares_and_feedback(
    staffed: Harness,
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Cēsis")
    ana = await finish(bot, ANA, code)
    await finish(bot, BEN, code, practice="Never shared")
    await share_with_mentor(bot, ANA, ana)
    await reply(bot, MENTOR, await ask(bot, ana), FEEDBACK)
    await finish(bot, MENTOR, None, practice="My own")

    mine = (await my_data_of(bot, MENTOR))["coordinator"]
    assert mine["notify_completed"] is False
    assert [(made["name"], sorted(made)) for made in mine["cohorts_created"]] == [
        ("Cēsis", ["created_at", "name"])
    ]
    [held] = mine["shares_held"]
    assert held["revoked_at"] is None
    assert {key: held[key] for key in ("assessment_id", "practice")} == {
        "assessment_id": ana,
        "practice": "Soup kitchen",
    }
    assert sorted(held) == ["assessment_id", "practice", "revoked_at", "shared_at"]
    [written] = mine["feedback_written"]
    assert {key: written[key] for key in ("assessment_id", "criterion", "text")} == {
        "assessment_id": ana,
        "criterion": "C03",
        "text": FEEDBACK,
    }
    assert sorted(written) == ["assessment_id", "criterion", "text", "written_at"]
    # Nothing of the practitioner beyond what the mentor was shown.
    listed = ("cohorts_created", "shares_held", "feedback_written")
    values = [str(value) for key in listed for entry in mine[key] for value in entry.values()]
    assert str(ANA) not in values  # the practitioner's Telegram id, as a value of its own
    assert "Never shared" not in json.dumps(mine)

    summary = await open_from_history(bot, ANA)
    await press_data(bot, ANA, encode(SharePress(ana, False)), summary)
    [held] = (await my_data_of(bot, MENTOR))["coordinator"]["shares_held"]
    assert held["revoked_at"] is not None


async def test_a_mentor_who_never_answered_gets_and_erases_their_data(
    staffed: Harness, database: Database
) -> None:
    bot = staffed
    code = await cohort(bot, MENTOR, "Talsi")
    ana = await finish(bot, ANA, code)
    await share_with_mentor(bot, ANA, ana)
    await reply(bot, MENTOR, await ask(bot, ana), FEEDBACK)

    data = await my_data_of(bot, MENTOR)
    assert data["respondent"] is None
    assert data["assessments"] == data["teams_owned"] == []
    assert [made["name"] for made in data["coordinator"]["cohorts_created"]] == ["Talsi"]
    assert [text["text"] for text in data["coordinator"]["feedback_written"]] == [FEEDBACK]

    await bot.say(MENTOR, "/delete")
    assert "Erase everything?" in bot.text(MENTOR)
    await bot.press(MENTOR, "🗑")
    assert "SI Check keeps nothing more about you." in bot.text(MENTOR)
    with database.sessions() as session:
        assert session.scalar(select(Coordinator)) is None
        assert session.scalar(select(MentorShare)) is None
        assert session.scalar(select(MentorFeedback)) is None
        # The cohort stays for its practitioners, without its mentor.
        [kept] = session.scalars(select(Cohort)).all()
        assert (kept.name, kept.created_by) == ("Talsi", None)
        assert session.get(Assessment, ana) is not None
    await bot.say(MENTOR, "/mydata")
    assert bot.text(MENTOR) == "SI Check has no data about you."
    assert "Talk to the families" not in (await open_from_history(bot, ANA))["text"]


# Storage units and the CLI, on a database prepared directly.


def _completed(
    connection: Connection, content: Content, user: int, cohort_id: int, **profile: str
) -> int:
    """A Latvian-speaking practitioner's completed assessment in the cohort; its id."""
    respondent = connection.execute(
        insert(Respondent)
        .values(platform="telegram", external_id=str(user), language="lv")
        .returning(Respondent.id)
    ).scalar_one()
    return int(
        connection.execute(
            insert(Assessment)
            .values(
                respondent_id=respondent,
                checklist_version=content.latest.version,
                state="summary",
                status="completed",
                cohort_id=cohort_id,
                completed_at=datetime(2026, 5, 1, tzinfo=UTC),
                **profile,
            )
            .returning(Assessment.id)
        ).scalar_one()
    )


def _prepared(connection: Connection, content: Content) -> dict[str, int]:
    """A mentor's cohort with a shared and an unshared assessment, and another cohort's."""
    mentor = add_coordinator(connection, "telegram", str(MENTOR))
    other = add_coordinator(connection, "telegram", str(OTHER_MENTOR))
    new_cohort(connection, "Ogre", mentor)
    new_cohort(connection, "Bilbao", other)
    cohorts = dict(connection.execute(select(Cohort.name, Cohort.id)).all())
    ids: dict[str, int] = {"mentor": mentor, "other": other}
    for user, name in ((ANA, "Ana's"), (BEN, "Ben's")):
        ids[name] = _completed(connection, content, user, cohorts["Ogre"], practice_name=name)
    shared = mentoring.set_shared(connection, Who("telegram", str(ANA)), ids["Ana's"], True)
    assert shared is not None
    assert shared.notice is not None
    assert shared.notice.external_id == str(MENTOR)
    return ids


def test_the_mentor_cli_sees_and_writes_only_what_is_shared_with_them(
    database: Database, database_url: str, content: Content, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    ana, ben = ids["Ana's"], ids["Ben's"]
    url = ["--database-url", database_url]
    me, other = ["--as", f"telegram:{MENTOR}"], ["--as", f"telegram:{OTHER_MENTOR}"]

    assert cli.main(["mentor", "list", *me, *url]) == 0
    listed = capsys.readouterr().out
    assert f"{ana}\tAna's" in listed
    assert "Ben's" not in listed
    assert cli.main(["mentor", "show", str(ana), *me, "--lang", "en", *url]) == 0
    assert "Summary: Ana's" in capsys.readouterr().out
    assert cli.main(["mentor", "feedback", str(ana), "3", "Well done", *me, *url]) == 0
    assert "saved" in capsys.readouterr().out

    for refused in (
        ["show", str(ben), *me],
        ["feedback", str(ben), "3", "Hidden", *me],
        ["show", str(ana), *other],
        ["feedback", str(ana), "3", "Not mine", *other],
        ["feedback", str(ana), "99", "No such criterion", *me],
        ["show", "999999", *me],
    ):
        assert cli.main(["mentor", *refused, *url]) == 1
        assert "not available" in capsys.readouterr().err
    assert cli.main(["mentor", "list", *other, *url]) == 0
    assert "Ana's" not in capsys.readouterr().out
    assert cli.main(["mentor", "list", "--as", f"telegram:{ANA}", *url]) == 1
    assert "not a coordinator" in capsys.readouterr().err
    for bad in (
        ["list", "--as", "console:x"],
        ["feedback", str(ana), "x", "Text", *me],
        ["feedback", str(ana), "3", "z" * 1001, *me],
        ["feedback", str(ana), "3", "   ", *me],
        ["show", *me],
    ):
        assert cli.main(["mentor", *bad, *url]) == 2
    with database.sessions() as session:
        assert session.scalars(select(MentorFeedback.text)).all() == ["Well done"]

    # Revoked: hidden from the mentor's list and summary, and from the practitioner's report.
    who = Who("telegram", str(ANA))
    database.store.run_now(lambda c: mentoring.set_shared(c, who, ana, False))
    assert cli.main(["mentor", "list", *me, *url]) == 0
    assert "Ana's" not in capsys.readouterr().out
    assert cli.main(["mentor", "show", str(ana), *me, *url]) == 1
    report = database.store.run_now(lambda c: report_of(c, content, who, ana))
    assert report is not None
    assert report.shared is False
    assert all(line.feedback is None for line in report.criteria)


def test_cohort_new_names_its_coordinator(
    database: Database, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--database-url", database_url]
    assert cli.main(["cohort", "new", "Tukums", "--coordinator", f"telegram:{MENTOR}", *url]) == 2
    assert cli.main(["coordinator", "add", str(MENTOR), *url]) == 0
    assert cli.main(["cohort", "new", "Tukums", "--coordinator", f"telegram:{MENTOR}", *url]) == 0
    with database.sessions() as session:
        [made] = session.scalars(select(Cohort)).all()
        assert made.created_by is not None


def test_mydata_erasure_and_a_removed_coordinator(database: Database, content: Content) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    ana = ids["Ana's"]
    assert database.store.run_now(
        lambda c: mentoring.leave_feedback(c, content, ids["mentor"], ana, "C03", "Good")
    )
    who = Who("telegram", str(ANA))
    data = database.store.run_now(lambda c: my_data(c, who))
    assert data is not None
    [mine] = data["assessments"]
    assert mine["shared_with_mentor"]["revoked_at"] is None
    assert [f["text"] for f in mine["mentor_feedback"]] == ["Good"]
    report = database.store.run_now(lambda c: report_of(c, content, who, ana))
    assert report is not None
    assert [line.feedback for line in report.criteria if line.feedback] == ["Good"]

    # A coordinator removed takes their shares along: the feedback is hidden, not shown.
    database.store.run_now(lambda c: remove_coordinator(c, "telegram", str(MENTOR)))
    report = database.store.run_now(lambda c: report_of(c, content, who, ana))
    assert report is not None
    assert report.shared is None
    assert all(line.feedback is None for line in report.criteria)
    database.store.run_now(lambda c: erase(c, "telegram", str(ANA)))
    with database.sessions() as session:
        assert session.scalar(select(MentorFeedback)) is None
        assert session.scalar(select(MentorShare)) is None


def test_feedback_is_kept_only_with_text_within_the_limit() -> None:
    assert mentoring.clean_feedback("  Fine \x00") == "Fine"
    assert mentoring.clean_feedback(" \n\x01") is None
    assert mentoring.clean_feedback("a" * mentoring.FEEDBACK_MAX) == "a" * mentoring.FEEDBACK_MAX
    assert mentoring.clean_feedback("a" * (mentoring.FEEDBACK_MAX + 1)) is None


async def test_a_long_list_of_mentees_stays_within_one_message(
    staffed: Harness, database: Database, content: Content
) -> None:
    long = "Ā" * 200

    def prepare(connection: Connection) -> None:
        mentor = add_coordinator(connection, "telegram", str(MENTOR))
        new_cohort(connection, long, mentor)
        cohort_id = connection.execute(select(Cohort.id)).scalar_one()
        for user in range(1000, 1000 + mentoring.LISTED_MAX):
            assessment = _completed(
                connection, content, user, cohort_id, practice_name=long, organisation=long
            )
            assert mentoring.set_shared(connection, Who("telegram", str(user)), assessment, True)

    database.store.run_now(prepare)
    await staffed.say(MENTOR, "/mentees")
    listing = staffed.last(MENTOR)
    assert listing["text"].count(long) == 3 * len(
        buttons(listing)
    )  # practice, organisation, cohort
    assert 0 < len(buttons(listing)) < mentoring.LISTED_MAX


def test_a_removed_coordinators_feedback_goes_with_the_role(
    database: Database, database_url: str, content: Content, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = database.store.run_now(lambda c: _prepared(c, content))
    ana = ids["Ana's"]
    assert database.store.run_now(
        lambda c: mentoring.leave_feedback(c, content, ids["mentor"], ana, "C03", "Good")
    )
    url = ["--database-url", database_url]
    assert cli.main(["coordinator", "remove", str(MENTOR), *url]) == 0
    # Nothing could show the feedback again, nor find it for its writer's /mydata or erasure:
    # kept without its author, it would be nobody's to erase.
    with database.sessions() as session:
        assert session.scalars(select(MentorFeedback.text)).all() == []
    assert database.store.run_now(lambda c: my_data(c, Who("telegram", str(MENTOR)))) is None


async def test_a_reply_to_the_summary_is_no_answer_of_the_mentors_own(
    staffed: Harness, database: Database
) -> None:
    """Feedback sent as a reply to the shared summary (or its notice) instead of to a
    criterion's prompt is not taken as an answer of the mentor's own assessment."""
    bot = staffed
    code = await cohort(bot, MENTOR, "pilot")
    shared = await finish(bot, ANA, code)
    await share_with_mentor(bot, ANA, shared)
    notice = with_button(bot, MENTOR, "mo:")
    await bot.say(MENTOR, "/start")  # the mentor's own assessment, at its practice's name
    await bot.tap(MENTOR, "y")
    await press_data(bot, MENTOR, encode(MenteePress(shared)))
    summary = bot.last(MENTOR)
    for wrong in (summary, notice):
        await reply(bot, MENTOR, wrong, FEEDBACK)
        assert "reply to the message that asks for it" in bot.text(MENTOR)
    with database.sessions() as session:
        names = session.scalars(select(Assessment.practice_name).order_by(Assessment.id)).all()
        assert FEEDBACK not in names
        assert session.scalars(select(MentorFeedback.text)).all() == []
