"""The dialogue as a ``transitions`` state machine: states, transitions and what each trigger
records are declared as data; ``Dialog`` holds the conditions and actions they name."""

from __future__ import annotations

import threading
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from transitions import EventData, Machine

from dialogs import events
from dialogs.content import Checklist
from dialogs.effects import Effect, GiveConsent, RecordAnswer, SetLanguage, StartNew
from dialogs.i18n import N_, SUPPORTED_LANGUAGES
from dialogs.snapshot import COMMENT_MAX, NAME_MAX, Draft, RecordedAnswer, Snapshot

LANGUAGE = "language"
CONSENT = "consent"
PROFILE_NAME = "profile_name"
PROFILE_COUNTRY = "profile_country"
PROFILE_ORGANISATION = "profile_organisation"
PROFILE_GROUPS = "profile_groups"
PROFILE_THEMES = "profile_themes"
REVIEW = "review"
SUMMARY = "summary"
CANCELLED = "cancelled"
DECLINED = "declined"

PROFILE_FIELDS = {
    PROFILE_NAME: "practice_name",
    PROFILE_COUNTRY: "country",
    PROFILE_ORGANISATION: "organisation",
    PROFILE_GROUPS: "target_groups",
    PROFILE_THEMES: "themes",
}
"""The profile steps, in order, and the field of ``Profile`` each one fills."""
TAG_STATES = (PROFILE_GROUPS, PROFILE_THEMES)
FINAL_STATES = (SUMMARY, CANCELLED, DECLINED)

TRIGGERS: dict[type[object], str] = {
    events.ChooseLanguage: "choose_language",
    events.Text: "text",
    events.ChooseCountry: "choose_country",
    events.Answer: "answer",
    events.ToggleAspect: "toggle_aspect",
    events.ToggleTag: "toggle_tag",
    events.Back: "back",
    events.Skip: "skip",
    events.Confirm: "confirm",
    events.Cancel: "cancel",
    events.Restart: "restart",
}
"""The trigger each kind of event fires (``Consent`` and ``Edit`` name theirs by their data)."""
ACTIONS = {
    "choose_language": "set_language",
    "accept": "give_consent",
    "text": "keep_text",
    "choose_country": "keep_country",
    "answer": "record_answer",
    "toggle_aspect": "tick_aspect",
    "toggle_tag": "tick_tag",
    "restart": "start_new",
}
"""What a trigger records wherever it fires, before the state changes (``edit_<criterion>``
triggers open their question for editing)."""
ELSEWHERE = N_("That button belongs to another question.")
TEAM_PROFILE = N_(
    "This practice is assessed as a team: its name, country and groups are the team's, the same "
    "for every member, so they are not changed here."
)

Row = tuple[str, str | list[str], str | None, list[str]]
"""A transition as ``(trigger, source, dest, conditions)``; ``dest`` ``None`` stays put."""


def states(checklist: Checklist) -> list[str]:
    """Every state of the dialogue for ``checklist``, in the order a practitioner meets them."""
    questions = [criterion.code for criterion in checklist.criteria]
    return [LANGUAGE, CONSENT, *PROFILE_FIELDS, *questions, REVIEW, *FINAL_STATES]


def declared_states(checklist: Checklist) -> list[str | dict[str, str]]:
    """The states, each question declared with the callback that opens it (the review's,
    ``Dialog.on_enter_review``, is bound by its name)."""
    questions = {criterion.code for criterion in checklist.criteria}
    return [
        {"name": name, "on_enter": "open_question"} if name in questions else name
        for name in states(checklist)
    ]


def transitions(checklist: Checklist) -> list[dict[str, Any]]:
    """The dialogue's transitions as data; the first whose conditions hold fires."""
    questions = [criterion.code for criterion in checklist.criteria]
    active = [LANGUAGE, CONSENT, *PROFILE_FIELDS, *questions, REVIEW]
    rows: list[Row] = [
        # A team member's assessment comes with the team's profile: it opens at the first
        # question.
        (
            "choose_language",
            LANGUAGE,
            questions[0],
            ["language_supported", "consented", "profiled"],
        ),
        ("choose_language", LANGUAGE, PROFILE_NAME, ["language_supported", "consented"]),
        ("choose_language", LANGUAGE, CONSENT, ["language_supported"]),
        ("accept", CONSENT, questions[0], ["profiled"]),
        ("accept", CONSENT, PROFILE_NAME, []),
        ("decline", CONSENT, DECLINED, []),
        ("back", CONSENT, LANGUAGE, []),
        ("text", PROFILE_NAME, PROFILE_COUNTRY, ["name_fits"]),
        ("choose_country", PROFILE_COUNTRY, PROFILE_ORGANISATION, []),
        ("back", PROFILE_COUNTRY, PROFILE_NAME, []),
        ("text", PROFILE_ORGANISATION, PROFILE_GROUPS, ["name_fits"]),
        ("skip", PROFILE_ORGANISATION, PROFILE_GROUPS, []),
        ("back", PROFILE_ORGANISATION, PROFILE_COUNTRY, []),
        ("toggle_tag", list(TAG_STATES), None, ["tag_fits"]),
        ("confirm", PROFILE_GROUPS, PROFILE_THEMES, []),
        ("skip", PROFILE_GROUPS, PROFILE_THEMES, []),
        ("back", PROFILE_GROUPS, PROFILE_ORGANISATION, []),
        ("confirm", PROFILE_THEMES, questions[0], []),
        ("skip", PROFILE_THEMES, questions[0], []),
        ("back", PROFILE_THEMES, PROFILE_GROUPS, []),
    ]
    previous = [PROFILE_THEMES, *questions[:-1]]
    following = [*questions[1:], REVIEW]
    for code, before, after in zip(questions, previous, following, strict=True):
        # A question opened from the review returns there. Leaving a question drops a comment
        # written before any answer, so skipping it takes its own button (confirm) and going
        # back is refused until it is answered or skipped.
        for trigger, condition in (
            ("answer", "answer_fits"),
            ("skip", "nothing_unsaved"),
            ("confirm", "comment_unsaved"),
        ):
            rows += [
                (trigger, code, REVIEW, [condition, "editing"]),
                (trigger, code, after, [condition]),
            ]
        rows += [
            ("back", code, REVIEW, ["nothing_unsaved", "editing"]),
            (
                "back",
                code,
                before,
                ["nothing_unsaved", "profile_open"]
                if code == questions[0]
                else ["nothing_unsaved"],
            ),
            ("text", code, None, ["comment_fits"]),
            ("toggle_aspect", code, None, ["aspect_fits"]),
            (f"edit_{code}", REVIEW, code, []),
        ]
    rows += [
        ("back", REVIEW, questions[-1], []),
        ("confirm", REVIEW, SUMMARY, []),
        ("cancel", active, CANCELLED, []),
        ("restart", active, CANCELLED, []),
        ("restart", list(FINAL_STATES), None, []),
    ]
    actions = ACTIONS | {f"edit_{code}": "start_edit" for code in questions}
    keys = ("trigger", "source", "dest", "conditions")
    return [dict(zip(keys, row, strict=True), before=actions.get(row[0])) for row in rows]


def trigger_for(event: events.Event) -> str | None:
    """Name the machine trigger an event fires; ``None`` for events that change nothing."""
    match event:
        case events.Consent(accepted):
            return "accept" if accepted else "decline"
        case events.Edit(criterion):
            return f"edit_{criterion}"
    return TRIGGERS.get(type(event))


class Dialog:
    """The machine's model for one step: a mutable copy of a snapshot plus what it changed."""

    state: str
    snapshot: Snapshot
    effects: list[Effect]
    problem: str | None
    """Why the event was refused, as an untranslated message id."""

    def __init__(self, checklist: Checklist, snapshot: Snapshot) -> None:
        self.checklist = checklist
        self.reset(snapshot)

    def reset(self, snapshot: Snapshot) -> None:
        """Take up ``snapshot`` for the next step, forgetting the previous one."""
        self.snapshot = snapshot
        self.effects = []
        self.problem = None

    def _update(self, **changes: Any) -> None:
        self.snapshot = replace(self.snapshot, **changes)

    def _refuse(self, problem: str) -> bool:
        self.problem = problem
        return False

    # Conditions

    def language_supported(self, data: EventData) -> bool:
        supported = data.kwargs["event"].language in SUPPORTED_LANGUAGES
        return supported or self._refuse(N_("That language is not available."))

    def consented(self, data: EventData) -> bool:
        return self.snapshot.consented

    def profiled(self, data: EventData) -> bool:
        return self.snapshot.profile.practice_name is not None

    def editing(self, data: EventData) -> bool:
        return self.snapshot.editing

    def name_fits(self, data: EventData) -> bool:
        return self._fits(
            data,
            NAME_MAX,
            N_("Please write the name."),
            N_("That is too long: please keep it under 200 characters."),
        )

    def comment_fits(self, data: EventData) -> bool:
        return self._fits(
            data,
            COMMENT_MAX,
            N_("An empty comment was not saved."),
            N_("That comment is too long: please keep it under 1000 characters."),
        )

    def _fits(self, data: EventData, limit: int, empty: str, too_long: str) -> bool:
        text = data.kwargs["event"].text
        if not text:
            return self._refuse(empty)
        return len(text) <= limit or self._refuse(too_long)

    def comment_unsaved(self, data: EventData) -> bool:
        return self.snapshot.draft.comment is not None and self.state not in self.snapshot.answers

    def nothing_unsaved(self, data: EventData) -> bool:
        return not self.comment_unsaved(data) or self._refuse(
            N_(
                "Your comment is saved with an answer. Choose an answer to keep it, or "
                "“Skip, without the comment” to leave the question without it."
            )
        )

    def profile_open(self, data: EventData) -> bool:
        return not self.snapshot.in_team or self._refuse(TEAM_PROFILE)

    def answer_fits(self, data: EventData) -> bool:
        event = data.kwargs["event"]
        if event.criterion != self.state:
            return self._refuse(ELSEWHERE)
        if event.value is not None and not 0 <= event.value <= self.checklist.max_value:
            return self._refuse(N_("That answer is not on the scale."))
        return True

    def aspect_fits(self, data: EventData) -> bool:
        event = data.kwargs["event"]
        fits = event.criterion == self.state and event.aspect in self._aspect_codes()
        return fits or self._refuse(ELSEWHERE)

    def tag_fits(self, data: EventData) -> bool:
        return data.kwargs["event"].code in self._tag_codes() or self._refuse(ELSEWHERE)

    def _aspect_codes(self) -> list[str]:
        return [aspect.code for aspect in self.checklist.criterion(self.state).aspects]

    def _tag_codes(self) -> list[str]:
        tags = getattr(self.checklist.knowledge.taxonomy, PROFILE_FIELDS[self.state])
        return [tag.code for tag in tags]

    # Actions

    def set_language(self, data: EventData) -> None:
        language = data.kwargs["event"].language
        self._update(language=language)
        self.effects.append(SetLanguage(language))

    def give_consent(self, data: EventData) -> None:
        self._update(consented=True)
        self.effects.append(GiveConsent())

    def keep_text(self, data: EventData) -> None:
        """Keep a text as the profile step's field, or as the question's comment."""
        text = data.kwargs["event"].text
        recorded = self.snapshot.answers.get(self.state)
        if self.state in PROFILE_FIELDS:
            self._profile(text)
            return
        # The draft keeps the comment too: a level chosen next is recorded with the draft's.
        self._update(draft=replace(self.snapshot.draft, comment=text))
        if recorded is not None:
            self._store(recorded.value, recorded.aspects, text)

    def keep_country(self, data: EventData) -> None:
        self._profile(data.kwargs["event"].country)

    def record_answer(self, data: EventData) -> None:
        draft = self.snapshot.draft
        self._store(data.kwargs["event"].value, draft.aspects, draft.comment)

    def tick_aspect(self, data: EventData) -> None:
        chosen = set(self.snapshot.draft.aspects) ^ {data.kwargs["event"].aspect}
        aspects = tuple(code for code in self._aspect_codes() if code in chosen)
        self._update(draft=replace(self.snapshot.draft, aspects=aspects))

    def tick_tag(self, data: EventData) -> None:
        chosen = set(getattr(self.snapshot.profile, PROFILE_FIELDS[self.state]))
        chosen ^= {data.kwargs["event"].code}
        self._profile(tuple(code for code in self._tag_codes() if code in chosen))

    def start_edit(self, data: EventData) -> None:
        self._update(editing=True)

    def start_new(self, data: EventData) -> None:
        self.effects.append(StartNew())

    def open_question(self, data: EventData) -> None:
        """Open the question with what was recorded for it before."""
        recorded = self.snapshot.answers.get(self.state)
        draft = Draft() if recorded is None else Draft(recorded.aspects, recorded.comment)
        self._update(draft=draft)

    def on_enter_review(self, data: EventData) -> None:
        self._update(editing=False, draft=Draft())

    def _profile(self, value: Any) -> None:
        field = PROFILE_FIELDS[self.state]
        self._update(profile=replace(self.snapshot.profile, **{field: value}))

    def _store(self, value: int | None, aspects: tuple[str, ...], comment: str | None) -> None:
        code = self.state
        previous = self.snapshot.answers.get(code)
        revision = 1 if previous is None else previous.revision + 1
        answer = RecordedAnswer(value, aspects, comment, revision)
        self._update(answers=MappingProxyType({**self.snapshot.answers, code: answer}))
        self.effects.append(RecordAnswer(code, value, aspects, comment))


_machines: dict[tuple[int, int], tuple[Checklist, Machine, Dialog]] = {}


def machine_for(checklist: Checklist, snapshot: Snapshot) -> Dialog:
    """The machine of ``checklist`` shared in this thread, its one model primed with ``snapshot``
    (building a machine costs more than a step)."""
    key = (id(checklist), threading.get_ident())
    cached = _machines.get(key)
    if cached is None or cached[0] is not checklist:
        dialog = Dialog(checklist, snapshot)
        shared = Machine(
            model=dialog,
            states=declared_states(checklist),
            transitions=transitions(checklist),
            initial=snapshot.state,
            auto_transitions=False,
            send_event=True,
        )
        cached = _machines[key] = (checklist, shared, dialog)
    _, shared, dialog = cached
    dialog.reset(snapshot)
    shared.set_state(snapshot.state, model=dialog)
    return dialog
