"""The engine without I/O: events in, snapshots, effects and views out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dialogs import events, machine
from dialogs.content import Content
from dialogs.effects import GiveConsent, RecordAnswer, SetLanguage, StartNew
from dialogs.engine import Step, initial_state, show, step
from dialogs.i18n import SUPPORTED_LANGUAGES
from dialogs.snapshot import Snapshot
from dialogs.views import render


def start(content: Content, state: str = machine.LANGUAGE) -> Snapshot:
    return Snapshot(checklist_version=content.latest.version, state=state, language="en")


def run(content: Content, snapshot: Snapshot, *sequence: events.Event) -> Step:
    result = Step(snapshot, (), render(content.latest, snapshot))
    for event in sequence:
        result = step(content.latest, result.snapshot, event)
        assert result.accepted, (event, result.view.text)
    return result


def through_profile(content: Content) -> Snapshot:
    return run(
        content,
        start(content),
        events.ChooseLanguage("en"),
        events.Consent(accepted=True),
        events.Text("Community kitchen"),
        events.ChooseCountry("LV"),
        events.Skip(),
        events.ToggleTag("homeless"),
        events.Confirm(),
        events.Skip(),
    ).snapshot


def test_initial_state_skips_what_the_respondent_already_gave() -> None:
    assert initial_state(language_known=False, consented=False) == machine.LANGUAGE
    assert initial_state(language_known=True, consented=False) == machine.CONSENT
    assert initial_state(language_known=True, consented=True) == machine.PROFILE_NAME


def test_language_and_consent_become_effects(content: Content) -> None:
    result = step(content.latest, start(content), events.ChooseLanguage("lv"))
    assert result.effects == (SetLanguage("lv"),)
    assert result.snapshot.state == machine.CONSENT
    assert result.snapshot.language == "lv"
    result = step(content.latest, result.snapshot, events.Consent(accepted=True))
    assert result.effects == (GiveConsent(),)
    assert result.snapshot.state == machine.PROFILE_NAME


def test_declining_consent_ends_the_dialogue(content: Content) -> None:
    result = run(content, start(content), events.ChooseLanguage("en"), events.Consent(False))
    assert result.snapshot.state == machine.DECLINED
    assert result.effects == ()


def test_a_whole_assessment_reaches_the_summary(content: Content) -> None:
    snapshot = through_profile(content)
    assert snapshot.state == "C01"
    assert snapshot.profile.practice_name == "Community kitchen"
    assert snapshot.profile.country == "LV"
    assert snapshot.profile.target_groups == ("homeless",)
    assert snapshot.profile.themes == ()
    for number, criterion in enumerate(content.latest.criteria, start=1):
        result = step(content.latest, snapshot, events.Answer(criterion.code, number % 4))
        assert result.accepted
        assert result.effects == (RecordAnswer(criterion.code, number % 4, (), None),)
        snapshot = result.snapshot
    assert snapshot.state == machine.REVIEW
    result = run(content, snapshot, events.Confirm())
    assert result.snapshot.state == machine.SUMMARY
    assert "Summary: Community kitchen" in result.view.text
    assert result.view.actions == ("pdf", "new")


def test_progress_counts_criteria(content: Content) -> None:
    result = run(content, through_profile(content), events.Answer("C01", 2), events.Skip())
    assert result.snapshot.state == "C03"
    assert result.view.progress == "3/10"
    assert "Criterion 3/10" in result.view.text


def test_back_then_a_new_answer_is_a_second_revision(content: Content) -> None:
    snapshot = run(content, through_profile(content), events.Answer("C01", 1)).snapshot
    result = run(content, snapshot, events.Back())
    assert result.snapshot.state == "C01"
    assert "Your answer: <b>Partly</b>" in result.view.text
    result = run(content, result.snapshot, events.Answer("C01", 3))
    assert result.snapshot.answers["C01"].value == 3
    assert result.snapshot.answers["C01"].revision == 2
    assert result.snapshot.state == "C02"


def test_an_answer_for_another_question_is_refused_and_changes_nothing(
    content: Content,
) -> None:
    snapshot = run(content, through_profile(content), events.Answer("C01", 1)).snapshot
    result = step(content.latest, snapshot, events.Answer("C01", 3))
    assert not result.accepted
    assert result.snapshot == snapshot
    assert result.effects == ()
    assert "another question" in result.view.text


@pytest.mark.parametrize(
    "event",
    [events.Answer("C01", 7), events.Answer("C01", -1), events.ToggleAspect("C01", "needs")],
)
def test_forged_values_are_refused(content: Content, event: events.Event) -> None:
    snapshot = through_profile(content)
    result = step(content.latest, snapshot, event)
    assert not result.accepted
    assert result.snapshot == snapshot


def test_editing_a_criterion_the_checklist_has_not_is_refused(content: Content) -> None:
    # A button of another checklist version, or a forged one, names a criterion unknown here.
    snapshot = replace(start(content, machine.REVIEW), consented=True)
    result = step(content.latest, snapshot, events.Edit("C99"))
    assert not result.accepted
    assert result.snapshot == snapshot
    assert "not possible at this step" in result.view.text


def test_free_text_where_a_button_is_expected_asks_for_a_button(content: Content) -> None:
    snapshot = start(content)
    result = step(content.latest, snapshot, events.Text("hello"))
    assert not result.accepted
    assert "Please choose one of the options" in result.view.text
    assert result.view.actions == tuple(f"l:{code}" for code in SUPPORTED_LANGUAGES)


def test_an_unavailable_language_is_refused(content: Content) -> None:
    result = step(content.latest, start(content), events.ChooseLanguage("xx"))
    assert not result.accepted
    assert result.snapshot.state == machine.LANGUAGE


def test_novelty_aspects_are_ticked_then_kept_with_the_answer(content: Content) -> None:
    snapshot = run(content, through_profile(content), events.Answer("C01", 2)).snapshot
    assert snapshot.state == "C02"
    result = run(
        content,
        snapshot,
        events.ToggleAspect("C02", "actors"),
        events.ToggleAspect("C02", "needs"),
        events.ToggleAspect("C02", "methods"),
        events.ToggleAspect("C02", "methods"),
    )
    assert result.snapshot.draft.aspects == ("needs", "actors")
    assert "☑️ New needs" in [b.label for row in result.view.buttons for b in row]
    result = run(content, result.snapshot, events.Answer("C02", 2))
    assert result.effects == (RecordAnswer("C02", 2, ("needs", "actors"), None),)
    back = run(content, result.snapshot, events.Back())
    assert back.snapshot.draft.aspects == ("needs", "actors")


def test_a_comment_before_the_answer_travels_with_it(content: Content) -> None:
    snapshot = through_profile(content)
    result = run(content, snapshot, events.Text("Runs since 2019 <with> volunteers"))
    assert result.effects == ()
    assert "Runs since 2019 &lt;with&gt; volunteers" in result.view.text
    result = run(content, result.snapshot, events.Answer("C01", 3))
    assert result.effects == (RecordAnswer("C01", 3, (), "Runs since 2019 <with> volunteers"),)


def test_a_comment_on_an_answered_question_is_a_new_revision(content: Content) -> None:
    snapshot = run(content, through_profile(content), events.Answer("C01", 3)).snapshot
    snapshot = run(content, snapshot, events.Back()).snapshot
    result = run(content, snapshot, events.Text("Funded by the city"))
    assert result.effects == (RecordAnswer("C01", 3, (), "Funded by the city"),)
    assert result.snapshot.answers["C01"].revision == 2


def test_a_new_comment_stays_when_the_answer_is_changed_after_it(content: Content) -> None:
    snapshot = run(
        content, through_profile(content), events.Text("First thoughts"), events.Answer("C01", 2)
    ).snapshot
    result = run(content, snapshot, events.Back(), events.Text("Funded by the city"))
    assert "Funded by the city" in result.view.text
    result = run(content, result.snapshot, events.Answer("C01", 3))
    assert result.effects == (RecordAnswer("C01", 3, (), "Funded by the city"),)
    assert result.snapshot.answers["C01"].comment == "Funded by the city"


def test_a_comment_written_after_ticking_novelty_stays_with_the_answer(
    content: Content,
) -> None:
    snapshot = run(content, through_profile(content), events.Answer("C01", 2)).snapshot
    snapshot = run(content, snapshot, events.Answer("C02", 1), events.Back()).snapshot
    result = run(
        content, snapshot, events.ToggleAspect("C02", "needs"), events.Text("New for Ķekava")
    )
    result = run(content, result.snapshot, events.Answer("C02", 2))
    assert result.effects == (RecordAnswer("C02", 2, ("needs",), "New for Ķekava"),)


def test_control_characters_are_left_out_of_typed_text(content: Content) -> None:
    assert events.Text("Zupas\x00 virtuve\x1b[0m").text == "Zupas virtuve[0m"
    assert events.Text("\tline one\r\nline two").text == "\tline one\r\nline two"
    snapshot = run(
        content, start(content), events.ChooseLanguage("en"), events.Consent(True)
    ).snapshot
    result = step(content.latest, snapshot, events.Text("\x00\x07"))
    assert not result.accepted
    assert "Please write the name." in result.view.text


def test_too_long_texts_are_refused(content: Content) -> None:
    snapshot = run(
        content, start(content), events.ChooseLanguage("en"), events.Consent(True)
    ).snapshot
    result = step(content.latest, snapshot, events.Text("x" * 201))
    assert not result.accepted
    result = step(content.latest, through_profile(content), events.Text("x" * 1001))
    assert not result.accepted


def test_editing_from_the_review_returns_to_the_review(content: Content) -> None:
    snapshot = through_profile(content)
    for criterion in content.latest.criteria:
        snapshot = run(content, snapshot, events.Answer(criterion.code, 1)).snapshot
    result = run(content, snapshot, events.Edit("C05"))
    assert result.snapshot.state == "C05"
    assert result.snapshot.editing
    result = run(content, result.snapshot, events.Answer("C05", 3))
    assert result.snapshot.state == machine.REVIEW
    assert not result.snapshot.editing
    result = run(content, result.snapshot, events.Edit("C07"), events.Back())
    assert result.snapshot.state == machine.REVIEW


def test_guidance_is_shown_on_request_without_changing_state(content: Content) -> None:
    snapshot = through_profile(content)
    result = step(content.latest, snapshot, events.Info())
    assert result.accepted
    assert result.snapshot == snapshot
    assert "ℹ️" in result.view.text
    assert "i" not in result.view.actions


def test_restart_cancels_an_unfinished_assessment_and_asks_for_a_new_one(
    content: Content,
) -> None:
    result = run(content, through_profile(content), events.Restart())
    assert result.snapshot.state == machine.CANCELLED
    assert result.effects == (StartNew(),)


def test_views_speak_the_snapshot_language(content: Content) -> None:
    snapshot = run(content, start(content), events.ChooseLanguage("lv")).snapshot
    result = run(content, snapshot, events.Consent(True), events.Text("Zupas virtuve"))
    assert "Latvija" in [b.label for row in result.view.buttons for b in row]


def test_every_button_token_decodes_to_an_event(content: Content) -> None:
    snapshot = through_profile(content)
    for state in machine.states(content.latest):
        view = show(content.latest, Snapshot(1, state, "en"))
        for action in view.actions:
            decoded = events.decode(action)
            assert decoded is not None
            assert events.encode(decoded) == action
    assert snapshot.state == "C01"


@pytest.mark.parametrize("token", ["", "a:C01", "a:C01:9x", "zz", "e:X01", "t:C02:" + "a" * 30])
def test_garbled_tokens_decode_to_nothing(token: str) -> None:
    assert events.decode(token) is None


@pytest.mark.parametrize("leaving", [events.Skip(), events.Back()], ids=["skip", "back"])
def test_leaving_an_unsaved_comment_asks_first(content: Content, leaving: events.Event) -> None:
    snapshot = run(content, through_profile(content), events.Text("Runs since 2019")).snapshot
    labels = [button.label for row in render(content.latest, snapshot).buttons for button in row]
    assert "Skip, without the comment ➡️" in labels
    assert "Skip ➡️" not in labels
    refused = step(content.latest, snapshot, leaving)
    assert not refused.accepted
    assert refused.snapshot == snapshot
    assert refused.problem is not None
    assert "Choose an answer to keep it" in refused.view.text
    # The comment is still there: an answer keeps it.
    kept = run(content, refused.snapshot, events.Answer("C01", 2))
    assert kept.effects == (RecordAnswer("C01", 2, (), "Runs since 2019"),)
    # Or the practitioner leaves the question without it, on purpose.
    dropped = run(content, snapshot, events.Confirm())
    assert dropped.effects == ()
    assert dropped.snapshot.state == "C02"
    assert "C01" not in dropped.snapshot.answers


def test_skipping_from_the_review_past_an_unsaved_comment_returns_there(
    content: Content,
) -> None:
    snapshot = through_profile(content)
    for _number in range(len(content.latest.criteria)):
        snapshot = run(content, snapshot, events.Skip()).snapshot
    assert snapshot.state == machine.REVIEW
    snapshot = run(content, snapshot, events.Edit("C04"), events.Text("Not sure yet")).snapshot
    assert not step(content.latest, snapshot, events.Skip()).accepted
    assert run(content, snapshot, events.Confirm()).snapshot.state == machine.REVIEW


def test_confirm_on_a_question_without_a_comment_is_refused(content: Content) -> None:
    snapshot = through_profile(content)
    assert not step(content.latest, snapshot, events.Confirm()).accepted
    assert run(content, snapshot, events.Skip()).snapshot.state == "C02"


def test_going_back_to_the_review_keeps_an_unsaved_comment_too(content: Content) -> None:
    snapshot = run(content, through_profile(content), events.Skip()).snapshot
    for number in range(2, 11):
        snapshot = run(content, snapshot, events.Answer(f"C{number:02d}", 2)).snapshot
    assert snapshot.state == "review"
    snapshot = run(content, snapshot, events.Edit("C01"), events.Text("Since 2019")).snapshot
    refused = step(content.latest, snapshot, events.Back())
    assert not refused.accepted
    assert refused.snapshot == snapshot
    kept = run(content, refused.snapshot, events.Answer("C01", 1))
    assert kept.snapshot.state == "review"
    assert kept.snapshot.answers["C01"].comment == "Since 2019"


def test_a_teams_profile_is_not_reached_back_from_its_first_question(content: Content) -> None:
    own = through_profile(content)
    assert "⬅️" in " ".join(
        button.label for row in render(content.latest, own).buttons for button in row
    )
    snapshot = replace(own, in_team=True)
    labels = [button.label for row in render(content.latest, snapshot).buttons for button in row]
    assert not [label for label in labels if "⬅️" in label]
    refused = step(content.latest, snapshot, events.Back())
    assert not refused.accepted
    assert refused.snapshot == snapshot
    assert "the same for every member" in refused.view.text
    # Further on, Back goes where it always does.
    answered = run(content, snapshot, events.Answer("C01", 2), events.Back())
    assert answered.snapshot.state == "C01"
