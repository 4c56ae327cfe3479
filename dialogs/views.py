"""Views: what a step shows, as plain data (HTML-subset text and rows of buttons).

Adapters render a view their own way: Telegram as a message with an inline keyboard, the
console as numbered choices. Texts use only ``<b>`` and ``<i>``; user text is escaped.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, replace
from html import escape, unescape

from babel import Locale

from dialogs import events, machine
from dialogs.content import Checklist, Criterion
from dialogs.i18n import N_, SUPPORTED_LANGUAGES, _, current_language, ngettext, use_language
from dialogs.report import (
    Advice,
    CriterionLine,
    History,
    Report,
    Suggestion,
    answer_label,
    build_report,
    country_name,
    format_day,
    overall_text,
    percent_text,
    typeset,
)
from dialogs.snapshot import Snapshot

COUNTRIES = ("LV", "ES", "FR", "SE", "BE", "FI", "HU", "PT")
"""The BuiCaSuS partner countries, then those of the seed's good practices."""
MESSAGE_MAX = 4096
"""Characters a chat message may hold (Telegram's limit, counted without markup)."""
COMMENT_SHOWN = 100
"""Characters of a comment the chat summary shows; the PDF holds it in full."""
FEEDBACK_SHOWN = 300
"""Characters of a mentor's feedback the chat summary shows; the PDF holds it in full."""
_MARKUP = re.compile(r"</?(?:b|i|code)>")

# Texts both adapters show, beside the views.
NEW_ASSESSMENT = N_("🔄 New assessment")
HISTORY_TITLE = N_("Your finished assessments")
CHOOSE_LANGUAGE = N_("Choose your language.")
NOT_AVAILABLE = N_("That report is not available.")
NOTHING = N_("SI Check has no data about you.")
DELETE_ASK = N_(
    "This erases your assessments, answers and comments for good, and they leave every "
    "export and figure. Erase everything?"
)
ERASE_LABEL = N_("🗑 Erase everything")
KEEP_LABEL = N_("Keep my data")
NOT_ERASED = N_("Nothing was erased.")


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    """The event token (see ``dialogs.events``) the button sends back."""


@dataclass(frozen=True)
class View:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    progress: str | None = None
    accepts_text: bool = False
    """Whether a free-text message is an answer here (a name, or a comment)."""

    @property
    def actions(self) -> tuple[str, ...]:
        """Every button token of the view, row by row."""
        return tuple(button.action for row in self.buttons for button in row)


def plain(text: str) -> str:
    """A view's text without its markup, as a terminal shows it and Telegram counts it."""
    return unescape(_MARKUP.sub("", text))


def _button(label: str, event: events.Event) -> Button:
    return Button(label, events.encode(event))


def back_button() -> Button:
    """The button that goes back a step, in the current language."""
    return _button(_("⬅️ Back"), events.Back())


def _rows(buttons: list[Button], width: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))


def language_name(language: str) -> str:
    """The language's own name for itself, as a person would pick it from a list."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def render(
    checklist: Checklist, snapshot: Snapshot, *, notice: str | None = None, info: bool = False
) -> View:
    """Build the view of ``snapshot``'s state; ``notice`` explains a refused input first."""
    view = _render_state(checklist, snapshot, info)
    if notice:
        view = replace(view, text=f"<i>{escape(notice)}</i>\n\n{view.text}")
    return _typeset(view)


def _typeset(view: View) -> View:
    """``view`` with its text set by the current language's typography."""
    return replace(view, text=typeset(view.text, current_language()))


def _render_state(checklist: Checklist, snapshot: Snapshot, info: bool) -> View:
    state = snapshot.state
    if state == machine.LANGUAGE:
        return _language()
    if state == machine.CONSENT:
        return _consent()
    if state == machine.PROFILE_NAME:
        return View(
            _("<b>Your practice</b>\n\nWhat is the name of the practice you are assessing?")
            + "\n\n"
            + _("<i>Write the name of the practice.</i>"),
            accepts_text=True,
        )
    if state == machine.PROFILE_COUNTRY:
        return _country()
    if state == machine.PROFILE_ORGANISATION:
        return View(
            _("Which organisation runs the practice? Write its name, or skip this question."),
            ((_button(_("Skip"), events.Skip()), back_button()),),
            accepts_text=True,
        )
    if state in machine.TAG_STATES:
        return _tags(checklist, snapshot)
    if state == machine.REVIEW:
        return _review(checklist, snapshot)
    if state == machine.SUMMARY:
        return summary_view(build_report(checklist, snapshot))
    if state == machine.CANCELLED:
        return View(
            _("This assessment was cancelled. The answers given so far are kept."),
            ((_button(_(NEW_ASSESSMENT), events.Restart()),),),
        )
    if state == machine.DECLINED:
        return View(
            _("Understood: nothing more will be asked or recorded. Thank you for your time."),
            ((_button(_("🔄 Start again"), events.Restart()),),),
        )
    return _question(checklist, checklist.criterion(state), snapshot, info)


def _language() -> View:
    buttons = [
        _button(language_name(code), events.ChooseLanguage(code)) for code in SUPPORTED_LANGUAGES
    ]
    return View("<b>SI Check</b>\n\n" + _(CHOOSE_LANGUAGE), _rows(buttons, 2))


def _consent() -> View:
    text = "\n\n".join(
        (
            _(
                "<b>SI Check</b> checks a social-innovation practice against the 10 criteria "
                "of the EAPN checklist for good social innovation, one question at a time, "
                "and ends with a scored summary."
            ),
            _(
                "To do this, SI Check records your answers and comments, the practice's name, "
                "country, organisation, target groups and themes, your language and your user "
                "id, to give you the summary and to let the coordinators of your programme see "
                "how practices measure up. They see the answers under a pseudonym, never your "
                "name or user id. Unfinished assessments are deleted after a while without "
                "activity. /privacy tells more, /mydata sends you a copy of your data and "
                "/delete erases it. If you decline, nothing is recorded."
            ),
            _("Do you agree that your answers are recorded?"),
        )
    )
    agree = _button(_("✅ I agree"), events.Consent(accepted=True))
    return View(text, ((agree, _button(_("❌ No, thanks"), events.Consent(accepted=False))),))


def _country() -> View:
    buttons = [_button(country_name(code), events.ChooseCountry(code)) for code in COUNTRIES]
    buttons.append(_button(country_name(None), events.ChooseCountry(None)))
    rows = (*_rows(buttons, 3), (back_button(),))
    return View(_("In which country does the practice work?"), rows)


def _tick(ticked: bool) -> str:
    return "☑️" if ticked else "⬜"


def _tags(checklist: Checklist, snapshot: Snapshot) -> View:
    taxonomy = checklist.knowledge.taxonomy
    if snapshot.state == machine.PROFILE_GROUPS:
        offered, chosen = taxonomy.target_groups, snapshot.profile.target_groups
        question = _("Whom does the practice work with? Tick every group that fits.")
    else:
        offered, chosen = taxonomy.themes, snapshot.profile.themes
        question = _("What does the practice work on? Tick every theme that fits.")
    toggles = [
        _button(f"{_tick(tag.code in chosen)} {_(tag.label)}", events.ToggleTag(tag.code))
        for tag in offered
    ]
    hint = _("<i>These help to find similar good practices. Tick none to skip.</i>")
    rows = (
        *_rows(toggles, 1),
        (back_button(), _button(_("✅ Done"), events.Confirm())),
    )
    return View(f"{question}\n\n{hint}", rows)


def _question(checklist: Checklist, criterion: Criterion, snapshot: Snapshot, info: bool) -> View:
    total = len(checklist.criteria)
    number = checklist.criteria.index(criterion) + 1
    heading = _("Criterion %(number)s/%(total)s", number=number, total=total)
    lines = [f"<b>{heading}: {escape(_(criterion.title))}</b>", escape(_(criterion.question))]
    if info:
        lines.append("ℹ️ <i>" + escape(_(criterion.guidance)) + "</i>")
    buttons: list[tuple[Button, ...]] = []
    if criterion.aspects:
        lines.append(_("Tick every kind of novelty the practice brings, then choose a level."))
        for aspect in criterion.aspects:
            if info:
                lines.append(f"• <b>{escape(_(aspect.label))}</b>: {escape(_(aspect.text))}")
            label = f"{_tick(aspect.code in snapshot.draft.aspects)} {_(aspect.label)}"
            buttons.append((_button(label, events.ToggleAspect(criterion.code, aspect.code)),))
    recorded = snapshot.answers.get(criterion.code)
    if recorded is not None:
        label = escape(answer_label(checklist, recorded.value))
        lines.append(_("Your answer: %(answer)s", answer=f"<b>{label}</b>"))
    comment = snapshot.draft.comment if recorded is None else recorded.comment
    if comment:
        lines.append(_("Your comment: %(comment)s", comment=f"<i>{escape(comment)}</i>"))
    lines.append(_("<i>You may add a comment: write it as a message of its own.</i>"))
    levels = [
        _button(f"{level.value} · {_(level.label)}", events.Answer(criterion.code, level.value))
        for level in checklist.scale
    ]
    buttons += _rows(levels, 2)
    not_applicable = _(checklist.not_applicable.label)
    buttons.append((_button(not_applicable, events.Answer(criterion.code, None)),))
    if recorded is None and snapshot.draft.comment:
        # Skipping records nothing, so the comment would be lost: the button says so.
        skip = _button(_("Skip, without the comment ➡️"), events.Confirm())
    else:
        skip = _button(_("Skip ➡️"), events.Skip())
    # Before a team's first question lies the profile, which is the team's and stays as it is.
    profile_fixed = number == 1 and snapshot.in_team and not snapshot.editing
    navigation = [skip] if profile_fixed else [back_button(), skip]
    if not info:
        navigation.insert(0, _button(_("ℹ️ Guidance"), events.Info()))
    buttons.append(tuple(navigation))
    return View(
        "\n\n".join(lines), tuple(buttons), progress=f"{number}/{total}", accepts_text=True
    )


def _review(checklist: Checklist, snapshot: Snapshot) -> View:
    lines = ["<b>" + _("Review your answers") + "</b>"]
    edits = []
    for number, criterion in enumerate(checklist.criteria, start=1):
        recorded = snapshot.answers.get(criterion.code)
        answer = _("not answered") if recorded is None else answer_label(checklist, recorded.value)
        lines.append(f"{number}. {escape(_(criterion.title))}: <b>{escape(answer)}</b>")
        edits.append(_button(f"✏️ {number}", events.Edit(criterion.code)))
    unanswered = sum(1 for c in checklist.criteria if c.code not in snapshot.answers)
    if unanswered:
        lines.append(
            ngettext(
                "<i>%(count)s criterion has no answer; it is left out of the score.</i>",
                "<i>%(count)s criteria have no answer; they are left out of the score.</i>",
                unanswered,
            )
        )
    lines.append(_("Choose a number to change that answer, or confirm to see the summary."))
    rows = (
        *_rows(edits, 5),
        (_button(_("✅ Confirm"), events.Confirm()),),
        (back_button(),),
    )
    total = len(checklist.criteria)
    return View("\n".join(lines), rows, progress=f"{total}/{total}")


def _bar(value: int | None, max_value: int) -> str:
    return "·" * max_value if value is None else "■" * value + "□" * (max_value - value)


def summary_view(report: Report, *, past: bool = False) -> View:
    """The chat text of ``report`` in its language; the PDF holds the full texts of risks,
    recommendations and comments. A ``past`` one, opened from the history, offers only its
    report: the other button acts on the current assessment."""
    language = report.language
    with use_language(language):
        # Rather than a message Telegram refuses (long comments, content that grows), the chat
        # leaves the advice and reasons to the PDF first, then the comments.
        for detailed, comments in ((True, True), (False, True), (False, False)):
            # Measured as sent: French typography adds spaces.
            text = typeset(_summary_text(report, detailed=detailed, comments=comments), language)
            if len(plain(text)) <= MESSAGE_MAX:
                break
        buttons: tuple[tuple[Button, ...], ...] = ((_button(_("📄 Report"), events.Report()),),)
        if not past:
            buttons += ((_button(_(NEW_ASSESSMENT), events.Restart()),),)
        return View(text, buttons)


def _summary_text(report: Report, *, detailed: bool, comments: bool) -> str:
    lines = ["<b>" + _("Summary: %(practice)s", practice=escape(report.practice)) + "</b>", ""]
    if report.percent_text is None or report.band is None:
        lines.append(_("No criterion was scored, so there is no overall score."))
    else:
        lines.append(overall_text(report, "<b>" + report.percent_text + "</b>"))
        lines.append(f"<b>{escape(report.band)}</b>: {escape(report.band_meaning or '')}")
    if report.has_earlier:
        lines.append(
            _(
                "Earlier assessment of this practice (%(date)s): %(percent)s",
                date=report.earlier_date or "–",
                percent=report.earlier_percent_text or "–",
            )
        )
    peers = report.peers
    if peers is not None and peers.text:
        lines.append(escape(peers.text))
    lines.append("")
    for index, line in enumerate(report.criteria):
        shown = _criterion_lines(line, report.max_value, comments)
        mark = None if peers is None else peers.marks[index]
        if mark:
            shown[0] += f" · <i>{escape(mark)}</i>"
        lines += shown
    risks = [Advice(flag.title, flag.why) for flag in report.risks]
    sections = (
        (_("Strongest criteria"), _items(report.strengths, shown=True)),
        (_("Criteria to work on"), _items(report.weaknesses, shown=detailed)),
        (_("Next steps"), _items(report.next_steps, shown=detailed)),
        (_("Risks to watch"), _items(risks, shown=detailed)),
        (
            _("Similar good practices"),
            [_suggestion_line(found, detailed) for found in report.practices]
            or [report.no_practices],
        ),
        (_("Where to get help"), [f"• <b>{escape(centre.name)}</b>" for centre in report.help]),
    )
    for heading, items in sections:
        if items:
            lines += ["", f"<b>{heading}</b>", *items]
    return "\n".join(lines)


def _criterion_lines(line: CriterionLine, max_value: int, comments: bool) -> list[str]:
    """A criterion's line with its bar and answer, then its novelty kinds and comment."""
    answer = escape(line.answer)
    if line.changed and line.earlier_answer is not None:
        # An arrow rather than words: it keeps the longest summaries within one message.
        answer = f"{escape(line.earlier_answer)} → {answer}"
    shown = f"{escape(line.title)}: {answer}"
    lines = [f"<code>{_bar(line.value, max_value)}</code> {line.number}. {shown}"]
    if line.aspects:
        kinds = ", ".join(line.aspects)
        lines.append("    " + _("Novelty: %(kinds)s", kinds=escape(kinds)))
    if line.comment and comments:
        shortened = textwrap.shorten(line.comment, COMMENT_SHOWN, placeholder=" …")
        lines.append("    💬 <i>" + escape(shortened) + "</i>")
    if line.feedback and comments:
        shortened = textwrap.shorten(line.feedback, FEEDBACK_SHOWN, placeholder=" …")
        feedback = f"<i>{escape(shortened)}</i>"
        lines.append("    🧑‍🏫 " + _("Mentor: %(feedback)s", feedback=feedback))
    return lines


def _items(advices: Iterable[Advice], *, shown: bool) -> list[str]:
    """Bulleted titles, each with its text where ``shown``."""
    return [
        f"• <b>{escape(a.title)}</b>" + (f": {escape(a.text)}" if shown and a.text else "")
        for a in advices
    ]


def _suggestion_line(suggestion: Suggestion, detailed: bool) -> str:
    heading = f"{escape(suggestion.name)} ({escape(suggestion.country)})"
    lines = [f"• <b>{heading}</b>: {escape(suggestion.title)}"]
    if detailed:
        lines.append(escape(suggestion.reason))
    lines += [escape(link) for link in suggestion.links[:1]]
    return "\n".join(lines)


def history_view(found: History) -> View:
    """The practitioner's finished assessments, each a button that opens its summary."""
    if not found.assessments:
        return View(_("You have no finished assessments yet. Use /new to begin one."))
    lines = ["<b>" + _(HISTORY_TITLE) + "</b>", ""]
    buttons = []
    for number, past in enumerate(found.assessments, start=1):
        score_text = "–" if past.percent is None else percent_text(past.percent)
        name = escape(past.practice_name or "")
        lines.append(f"{number}. <b>{name}</b>, {format_day(past.completed_at)}: {score_text}")
        buttons.append(_button(f"📊 {number}", events.Open(past.assessment_id)))
    lines += ["", _("Choose a number to open that summary.")]
    return _typeset(View("\n".join(lines), _rows(buttons, 5)))


def erased_counts(assessments: int, answers: int, entries: int) -> dict[str, str]:
    """What an erasure removed, counted in the current language's plural forms."""
    return {
        "assessments": ngettext("%(count)s assessment", "%(count)s assessments", assessments),
        "answers": ngettext("%(count)s answer", "%(count)s answers", answers),
        "entries": ngettext("%(count)s answer-log entry", "%(count)s answer-log entries", entries),
    }


def erased_text(assessments: int, answers: int, entries: int) -> str:
    """What an erasure on request removed, in the current language."""
    return _(
        "Erased: %(assessments)s, %(answers)s and %(entries)s. SI Check keeps nothing more "
        "about you.",
        **erased_counts(assessments, answers, entries),
    )
