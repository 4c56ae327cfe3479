"""The engine's one pure step: ``(snapshot, event) -> (snapshot, effects, view)``.

No I/O here: the caller loads the snapshot, records the effects and the new snapshot in one
transaction, and only then shows the view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from transitions import MachineError

from dialogs import events, machine
from dialogs.content import Checklist
from dialogs.effects import Effect
from dialogs.i18n import N_, _, use_language
from dialogs.snapshot import Snapshot
from dialogs.views import View, render

NOT_HERE = N_("That is not possible at this step.")
USE_BUTTONS = N_("Please choose one of the options below.")


@dataclass(frozen=True)
class Step:
    snapshot: Snapshot
    effects: tuple[Effect, ...]
    view: View
    problem: str | None = None
    """Why the event was refused (a message id): then nothing changed and the view says why."""

    @property
    def accepted(self) -> bool:
        """Whether the event was applied."""
        return self.problem is None


def initial_state(*, language_known: bool, consented: bool) -> str:
    """Where a new assessment starts for a respondent we may already know."""
    if not language_known:
        return machine.LANGUAGE
    return machine.PROFILE_NAME if consented else machine.CONSENT


def show(
    checklist: Checklist, snapshot: Snapshot, notice: str | None = None, *, info: bool = False
) -> View:
    """Render ``snapshot`` in its own language (with the question's guidance for ``info``)."""
    with use_language(snapshot.language):
        return render(checklist, snapshot, notice=_(notice) if notice else None, info=info)


def step(checklist: Checklist, snapshot: Snapshot, event: events.Event) -> Step:
    """Apply ``event`` to ``snapshot``; a refused event changes nothing and says why."""
    questions = {criterion.code for criterion in checklist.criteria}
    if isinstance(event, events.Report | events.Info):
        # Events that only show something, each where it means something.
        info = isinstance(event, events.Info)
        if snapshot.state not in (questions if info else {machine.SUMMARY}):
            return _refused(checklist, snapshot, NOT_HERE)
        return Step(snapshot, (), show(checklist, snapshot, info=info))
    trigger = machine.trigger_for(event)
    # An edit of a criterion this checklist has not names no trigger of its machine.
    if trigger is None or (isinstance(event, events.Edit) and event.criterion not in questions):
        return _refused(checklist, snapshot, NOT_HERE)
    dialog = machine.machine_for(checklist, snapshot)
    try:
        moved = dialog.trigger(trigger, event=event)  # type: ignore[attr-defined]
    except MachineError:
        problem = USE_BUTTONS if isinstance(event, events.Text) else NOT_HERE
        return _refused(checklist, snapshot, problem)
    if not moved:
        return _refused(checklist, snapshot, dialog.problem or NOT_HERE)
    result = replace(dialog.snapshot, state=dialog.state)
    return Step(result, tuple(dialog.effects), show(checklist, result))


def _refused(checklist: Checklist, snapshot: Snapshot, problem: str) -> Step:
    return Step(snapshot, (), show(checklist, snapshot, notice=problem), problem)
