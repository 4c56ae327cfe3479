"""The dialogue as a ``transitions`` state machine: states and transitions declared as data.

One machine is built per checklist version and thread, with one ``Dialog`` model that each step
primes with the assessment's snapshot before firing one trigger (``machine_for``).
"""

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

PROFILE_STATES = (
    PROFILE_NAME,
    PROFILE_COUNTRY,
    PROFILE_ORGANISATION,
    PROFILE_GROUPS,
    PROFILE_THEMES,
)
TAG_STATES = (PROFILE_GROUPS, PROFILE_THEMES)
FINAL_STATES = (SUMMARY, CANCELLED, DECLINED)


def states(checklist: Checklist) -> list[str]:
    """Every state of the dialogue for ``checklist``, in the order a practitioner meets them."""
    questions = [criterion.code for criterion in checklist.criteria]
    return [LANGUAGE, CONSENT, *PROFILE_STATES, *questions, REVIEW, *FINAL_STATES]


def transitions(checklist: Checklist) -> list[dict[str, Any]]:
    """The dialogue's transitions as data; the first whose conditions hold fires."""
    questions = [criterion.code for criterion in checklist.criteria]
    active = [LANGUAGE, CONSENT, *PROFILE_STATES, *questions, REVIEW]
    table: list[dict[str, Any]] = [
        {
            "trigger": "choose_language",
            "source": LANGUAGE,
            "dest": PROFILE_NAME,
            "conditions": ["language_supported", "consented"],
            "before": "set_language",
        },
        {
            "trigger": "choose_language",
            "source": LANGUAGE,
            "dest": CONSENT,
            "conditions": "language_supported",
            "before": "set_language",
        },
        {"trigger": "accept", "source": CONSENT, "dest": PROFILE_NAME, "before": "give_consent"},
        {"trigger": "decline", "source": CONSENT, "dest": DECLINED},
        {"trigger": "back", "source": CONSENT, "dest": LANGUAGE},
        {
            "trigger": "text",
            "source": PROFILE_NAME,
            "dest": PROFILE_COUNTRY,
            "conditions": "name_fits",
            "before": "save_practice_name",
        },
        {
            "trigger": "choose_country",
            "source": PROFILE_COUNTRY,
            "dest": PROFILE_ORGANISATION,
            "before": "save_country",
        },
        {"trigger": "back", "source": PROFILE_COUNTRY, "dest": PROFILE_NAME},
        {
            "trigger": "text",
            "source": PROFILE_ORGANISATION,
            "dest": PROFILE_GROUPS,
            "conditions": "name_fits",
            "before": "save_organisation",
        },
        {"trigger": "skip", "source": PROFILE_ORGANISATION, "dest": PROFILE_GROUPS},
        {"trigger": "back", "source": PROFILE_ORGANISATION, "dest": PROFILE_COUNTRY},
        {
            "trigger": "toggle_tag",
            "source": list(TAG_STATES),
            "dest": None,
            "conditions": "tag_fits",
            "after": "tick_tag",
        },
        {"trigger": "confirm", "source": PROFILE_GROUPS, "dest": PROFILE_THEMES},
        {"trigger": "skip", "source": PROFILE_GROUPS, "dest": PROFILE_THEMES},
        {"trigger": "back", "source": PROFILE_GROUPS, "dest": PROFILE_ORGANISATION},
        {"trigger": "confirm", "source": PROFILE_THEMES, "dest": questions[0]},
        {"trigger": "skip", "source": PROFILE_THEMES, "dest": questions[0]},
        {"trigger": "back", "source": PROFILE_THEMES, "dest": PROFILE_GROUPS},
    ]
    for index, code in enumerate(questions):
        following = questions[index + 1] if index + 1 < len(questions) else REVIEW
        previous = questions[index - 1] if index else PROFILE_THEMES
        table += [
            {
                "trigger": "answer",
                "source": code,
                "dest": REVIEW,
                "conditions": ["answer_fits", "editing"],
                "before": "record_answer",
            },
            {
                "trigger": "answer",
                "source": code,
                "dest": following,
                "conditions": "answer_fits",
                "before": "record_answer",
            },
            {
                "trigger": "skip",
                "source": code,
                "dest": REVIEW,
                "conditions": ["nothing_unsaved", "editing"],
            },
            {
                "trigger": "skip",
                "source": code,
                "dest": following,
                "conditions": "nothing_unsaved",
            },
            # Skipping a question drops a comment written before any answer: only on request.
            {
                "trigger": "confirm",
                "source": code,
                "dest": REVIEW,
                "conditions": ["comment_unsaved", "editing"],
            },
            {
                "trigger": "confirm",
                "source": code,
                "dest": following,
                "conditions": "comment_unsaved",
            },
            {"trigger": "back", "source": code, "dest": REVIEW, "conditions": "editing"},
            {"trigger": "back", "source": code, "dest": previous},
            {
                "trigger": "text",
                "source": code,
                "dest": None,
                "conditions": "comment_fits",
                "after": "record_comment",
            },
            {
                "trigger": "toggle_aspect",
                "source": code,
                "dest": None,
                "conditions": "aspect_fits",
                "after": "tick_aspect",
            },
            {"trigger": f"edit_{code}", "source": REVIEW, "dest": code, "after": "start_edit"},
        ]
    table += [
        {"trigger": "back", "source": REVIEW, "dest": questions[-1]},
        {"trigger": "confirm", "source": REVIEW, "dest": SUMMARY},
        {"trigger": "cancel", "source": active, "dest": CANCELLED},
        {"trigger": "restart", "source": active, "dest": CANCELLED, "after": "start_new"},
        {"trigger": "restart", "source": list(FINAL_STATES), "dest": None, "after": "start_new"},
    ]
    return table


def trigger_for(event: events.Event) -> str | None:
    """Name the machine trigger an event fires; ``None`` for events that change nothing."""
    match event:
        case events.ChooseLanguage():
            return "choose_language"
        case events.Consent(accepted):
            return "accept" if accepted else "decline"
        case events.Text():
            return "text"
        case events.ChooseCountry():
            return "choose_country"
        case events.Answer():
            return "answer"
        case events.ToggleAspect():
            return "toggle_aspect"
        case events.ToggleTag():
            return "toggle_tag"
        case events.Edit(criterion):
            return f"edit_{criterion}"
        case events.Back():
            return "back"
        case events.Skip():
            return "skip"
        case events.Confirm():
            return "confirm"
        case events.Cancel():
            return "cancel"
        case events.Restart():
            return "restart"
    return None


class Dialog:
    """The machine's model for one step: a mutable copy of a snapshot plus what it changed."""

    state: str

    def __init__(self, checklist: Checklist) -> None:
        self.checklist = checklist
        self.snapshot = Snapshot(checklist.version, LANGUAGE, "en")
        self.effects: list[Effect] = []
        self.problem: str | None = None
        """Why the event was refused, as an untranslated message id."""

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
        event = data.kwargs["event"]
        if event.language in SUPPORTED_LANGUAGES:
            return True
        return self._refuse(N_("That language is not available."))

    def consented(self, data: EventData) -> bool:
        return self.snapshot.consented

    def editing(self, data: EventData) -> bool:
        return self.snapshot.editing

    def name_fits(self, data: EventData) -> bool:
        text = data.kwargs["event"].text
        if not text:
            return self._refuse(N_("Please write the name."))
        if len(text) > NAME_MAX:
            return self._refuse(N_("That is too long: please keep it under 200 characters."))
        return True

    def comment_fits(self, data: EventData) -> bool:
        text = data.kwargs["event"].text
        if not text:
            return self._refuse(N_("An empty comment was not saved."))
        if len(text) > COMMENT_MAX:
            return self._refuse(
                N_("That comment is too long: please keep it under 1000 characters.")
            )
        return True

    def comment_unsaved(self, data: EventData) -> bool:
        return self.snapshot.draft.comment is not None and self.state not in self.snapshot.answers

    def nothing_unsaved(self, data: EventData) -> bool:
        if self.comment_unsaved(data):
            return self._refuse(
                N_(
                    "Your comment is saved with an answer. Choose an answer to keep it, or "
                    "“Skip, without the comment” to leave the question without it."
                )
            )
        return True

    def answer_fits(self, data: EventData) -> bool:
        event = data.kwargs["event"]
        if event.criterion != self.state:
            return self._refuse(N_("That button belongs to another question."))
        if event.value is not None and not 0 <= event.value <= self.checklist.max_value:
            return self._refuse(N_("That answer is not on the scale."))
        return True

    def aspect_fits(self, data: EventData) -> bool:
        event = data.kwargs["event"]
        aspects = {aspect.code for aspect in self.checklist.criterion(self.state).aspects}
        if event.criterion != self.state or event.aspect not in aspects:
            return self._refuse(N_("That button belongs to another question."))
        return True

    def tag_fits(self, data: EventData) -> bool:
        if data.kwargs["event"].code not in self._tag_codes():
            return self._refuse(N_("That button belongs to another question."))
        return True

    def _tag_codes(self) -> list[str]:
        taxonomy = self.checklist.knowledge.taxonomy
        tags = taxonomy.target_groups if self.state == PROFILE_GROUPS else taxonomy.themes
        return [tag.code for tag in tags]

    # Actions

    def set_language(self, data: EventData) -> None:
        language = data.kwargs["event"].language
        self._update(language=language)
        self.effects.append(SetLanguage(language))

    def give_consent(self, data: EventData) -> None:
        self._update(consented=True)
        self.effects.append(GiveConsent())

    def save_practice_name(self, data: EventData) -> None:
        self._update(profile=replace(self.snapshot.profile, practice_name=_text(data)))

    def save_country(self, data: EventData) -> None:
        country = data.kwargs["event"].country
        self._update(profile=replace(self.snapshot.profile, country=country))

    def save_organisation(self, data: EventData) -> None:
        self._update(profile=replace(self.snapshot.profile, organisation=_text(data)))

    def record_answer(self, data: EventData) -> None:
        code = self.state
        value = data.kwargs["event"].value
        draft = self.snapshot.draft
        self._store(code, value, draft.aspects, draft.comment)

    def record_comment(self, data: EventData) -> None:
        code = self.state
        comment = _text(data)
        existing = self.snapshot.answers.get(code)
        if existing is None:
            self._update(draft=replace(self.snapshot.draft, comment=comment))
        else:
            self._store(code, existing.value, existing.aspects, comment)

    def tick_aspect(self, data: EventData) -> None:
        aspect = data.kwargs["event"].aspect
        chosen = set(self.snapshot.draft.aspects) ^ {aspect}
        order = [a.code for a in self.checklist.criterion(self.state).aspects]
        aspects = tuple(code for code in order if code in chosen)
        self._update(draft=replace(self.snapshot.draft, aspects=aspects))

    def tick_tag(self, data: EventData) -> None:
        profile = self.snapshot.profile
        groups = self.state == PROFILE_GROUPS
        chosen = set(profile.target_groups if groups else profile.themes)
        chosen ^= {data.kwargs["event"].code}
        ordered = tuple(code for code in self._tag_codes() if code in chosen)
        if groups:
            self._update(profile=replace(profile, target_groups=ordered))
        else:
            self._update(profile=replace(profile, themes=ordered))

    def start_edit(self, data: EventData) -> None:
        self._update(editing=True)

    def start_new(self, data: EventData) -> None:
        self.effects.append(StartNew())

    def on_enter_question(self, data: EventData) -> None:
        """Open the question with what was recorded for it before."""
        recorded = self.snapshot.answers.get(self.state)
        draft = Draft() if recorded is None else Draft(recorded.aspects, recorded.comment)
        self._update(draft=draft)

    def on_enter_review(self, data: EventData) -> None:
        self._update(editing=False, draft=Draft())

    def _store(
        self, code: str, value: int | None, aspects: tuple[str, ...], comment: str | None
    ) -> None:
        previous = self.snapshot.answers.get(code)
        answer = RecordedAnswer(
            value, aspects, comment, 1 if previous is None else previous.revision + 1
        )
        self._update(answers=MappingProxyType({**self.snapshot.answers, code: answer}))
        self.effects.append(RecordAnswer(code, value, aspects, comment))


def _text(data: EventData) -> str:
    text: str = data.kwargs["event"].text
    return text


def declared_states(checklist: Checklist) -> list[str | dict[str, str]]:
    """The states with the callbacks that run on entering them."""
    questions = {criterion.code for criterion in checklist.criteria}
    declared: list[str | dict[str, str]] = []
    for name in states(checklist):
        if name in questions:
            declared.append({"name": name, "on_enter": "on_enter_question"})
        elif name == REVIEW:
            declared.append({"name": name, "on_enter": "on_enter_review"})
        else:
            declared.append(name)
    return declared


_machines: dict[tuple[int, int], tuple[Checklist, Machine, Dialog]] = {}


def machine_for(checklist: Checklist, snapshot: Snapshot) -> Dialog:
    """The shared machine of ``checklist``, its model primed with ``snapshot``.

    Steps are synchronous, so one model per machine and thread serves every assessment in
    turn: it is re-primed for each step instead of being added to and removed from the
    machine, which costs more than the step itself.
    """
    key = (id(checklist), threading.get_ident())
    cached = _machines.get(key)
    if cached is None or cached[0] is not checklist:
        shared = Machine(
            model=None,
            states=declared_states(checklist),
            transitions=transitions(checklist),
            initial=None,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )
        dialog = Dialog(checklist)
        shared.add_model(dialog, initial=snapshot.state)
        cached = _machines[key] = (checklist, shared, dialog)
    _, shared, dialog = cached
    dialog.reset(snapshot)
    shared.set_state(snapshot.state, model=dialog)
    return dialog
