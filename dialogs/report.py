"""The scored summary as plain, translated data: what the chat text, the chart and the PDF show.

Built once per language from the checklist, its knowledge (practices, risks, competence
centres) and the answers, so every adapter and format says the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_percent

from dialogs.content import Checklist, Criterion
from dialogs.i18n import N_, _, current_language, ngettext, use_language
from dialogs.matching import Match, similar_practices
from dialogs.peers import IN_COHORT, IN_COUNTRY, MARKS, PeerComparison, PeerMedians, position
from dialogs.scoring import score
from dialogs.snapshot import Snapshot

WEAK_VALUE_MAX = 1
"""Answers at or below this level ("Partly") point to a risk."""
FLAGGED_AT_MOST = 3
LISTED_AT_MOST = 2


@dataclass(frozen=True)
class CriterionLine:
    code: str
    number: int
    title: str
    answer: str
    """The answer's scale label, "not applicable" or "not answered", in the report's language."""
    value: int | None
    earlier_answer: str | None = None
    """The answer in the earlier assessment of the same practice, where that one had it."""
    earlier_value: int | None = None
    changed: bool = False
    """Whether the earlier assessment had another answer here (or none, where this one has one)."""
    comment: str | None = None
    """The practitioner's comment on the criterion, in full."""
    aspects: tuple[str, ...] = ()
    """The kinds of novelty ticked (criterion 2), as labels in the report's language."""
    feedback: str | None = None
    """The mentor's feedback on the criterion, as they wrote it, while the assessment is shared."""


@dataclass(frozen=True)
class Advice:
    title: str
    text: str


@dataclass(frozen=True)
class Flag(Advice):
    """A risk or threat weak answers point to: the seed's description, and ``why`` it is shown."""

    why: str


@dataclass(frozen=True)
class Suggestion:
    name: str
    country: str
    title: str
    reason: str
    links: tuple[str, ...]


@dataclass(frozen=True)
class Help:
    name: str
    summary: str
    url: str | None


@dataclass(frozen=True)
class PastAssessment:
    assessment_id: int
    checklist_version: int
    practice_name: str | None
    completed_at: datetime | None
    percent: float | None
    """The overall score, ``None`` when no criterion was scored."""


@dataclass(frozen=True)
class History:
    """A respondent's latest finished assessments, newest first, and their language."""

    assessments: tuple[PastAssessment, ...]
    language: str


NO_CLOSE_PRACTICE = N_("None of the good practices SI Check knows is close to this one yet.")
NOTHING_TO_MATCH = N_(
    "Similar good practices are found by the target groups and themes a practice works for, "
    "and this assessment names none."
)


@dataclass(frozen=True)
class Report:
    language: str
    checklist_version: int
    practice: str
    country: str | None
    organisation: str | None
    date: str | None
    percent: float | None
    percent_text: str | None
    scored: int
    total: int
    band: str | None
    band_meaning: str | None
    max_value: int
    criteria: tuple[CriterionLine, ...]
    strengths: tuple[Advice, ...]
    weaknesses: tuple[Advice, ...]
    recommendations: tuple[Advice, ...]
    """A recommendation for every scored criterion below the top of the scale."""
    next_steps: tuple[Advice, ...]
    """Where no criterion stands out as weak: the criteria to start with, or the seed's next
    step for a practice at the top of the scale (empty when ``weaknesses`` says it)."""
    risks: tuple[Flag, ...]
    practices: tuple[Suggestion, ...]
    help: tuple[Help, ...]
    earlier_percent_text: str | None
    earlier_date: str | None
    shared: bool | None = None
    """Whether the practitioner shares it with their cohort's coordinator (their mentor);
    ``None`` where there is no one to share it with, or it was not asked."""
    peers: PeerComparison | None = None
    """Where the practice stands against its peers' medians; ``None`` when no group is shown."""
    no_practices: str = ""
    """Why ``practices`` is empty, when it is."""

    @property
    def has_earlier(self) -> bool:
        """Whether an earlier assessment of the same practice is compared."""
        return any(line.earlier_answer is not None for line in self.criteria)


_FRENCH_PUNCTUATION = re.compile(
    r"(&#?\w+;)|(?<=[^\s(\[«/])[ \N{NO-BREAK SPACE}]?([:;?!])(?=\s|$|<|\))"
)
"""A ``:``, ``;``, ``?`` or ``!`` ending a word (never inside an address such as ``https://``),
or an HTML character reference, which is left whole."""


def typeset(text: str, language: str) -> str:
    """``text`` set by ``language``'s typography: French puts a narrow no-break space before
    ``:``, ``;``, ``?`` and ``!``; no language writes "…." twice over."""
    text = text.replace("….", "…")
    if language == "fr":
        text = _FRENCH_PUNCTUATION.sub(
            lambda found: found[1] or "\N{NARROW NO-BREAK SPACE}" + found[2], text
        )
    return text


def overall_text(report: Report, percent: str) -> str:
    """The overall score as a sentence, ``percent`` being the score as the caller marks it up."""
    return ngettext(
        "Overall score: %(percent)s (%(scored)s of %(count)s criterion scored)",
        "Overall score: %(percent)s (%(scored)s of %(count)s criteria scored)",
        report.total,
        percent=percent,
        scored=report.scored,
    )


def percent_text(value: float) -> str:
    """Format a percentage (0..100) the way the current language writes it."""
    return format_percent(value / 100, locale=current_language())


def country_name(country: str | None) -> str:
    """The country's name in the current language, from Babel's CLDR data."""
    if country is None:
        return _("Another country")
    return str(Locale.parse(current_language()).territories.get(country, country))


def answer_label(checklist: Checklist, value: int | None) -> str:
    """The scale label of ``value`` in the current language."""
    if value is None:
        return _(checklist.not_applicable.label)
    return _(checklist.scale[value].label)


def build_report(
    checklist: Checklist, snapshot: Snapshot, completed_at: datetime | None = None
) -> Report:
    """The summary of ``snapshot`` in its own language."""
    with use_language(snapshot.language):
        values = {code: answer.value for code, answer in snapshot.answers.items()}
        result = score(checklist, values)
        earlier = snapshot.earlier
        earlier_result = None if earlier is None else score(checklist, earlier.answers)
        lines = [
            _line(checklist, number, criterion, snapshot, values)
            for number, criterion in enumerate(checklist.criteria, start=1)
        ]
        below = [
            line for line in lines if line.value is not None and line.value < checklist.max_value
        ]
        profile = snapshot.profile
        matches = similar_practices(
            checklist.knowledge.practices,
            target_groups=profile.target_groups,
            themes=profile.themes,
            country=profile.country,
            weak_criteria=[code for code, value in values.items() if _weak(value)],
        )
        return Report(
            language=snapshot.language,
            checklist_version=checklist.version,
            practice=profile.practice_name or "",
            country=country_name(profile.country) if profile.country else None,
            organisation=profile.organisation,
            date=format_day(completed_at),
            percent=result.percent,
            percent_text=None if result.percent is None else percent_text(result.percent),
            scored=result.scored,
            total=len(checklist.criteria),
            band=None if result.band is None else _(result.band.label),
            band_meaning=None if result.band is None else _(result.band.meaning),
            max_value=checklist.max_value,
            criteria=tuple(lines),
            strengths=tuple(
                Advice(_(checklist.criterion(code).title), answer_label(checklist, values[code]))
                for code in result.strongest
            ),
            weaknesses=tuple(_recommendation(checklist, code) for code in result.weakest),
            next_steps=() if result.weakest else _next_steps(checklist, below, result.scored > 0),
            recommendations=tuple(_recommendation(checklist, line.code) for line in below),
            risks=_risks(checklist, values),
            practices=tuple(_suggestion(checklist, found) for found in matches),
            help=_help(checklist, profile.country),
            earlier_percent_text=None
            if earlier_result is None or earlier_result.percent is None
            else percent_text(earlier_result.percent),
            earlier_date=None if earlier is None else format_day(earlier.completed_at),
            peers=None
            if snapshot.peers is None
            else _peers(lines, result.percent, snapshot.peers),
            no_practices=""
            if matches
            else _(
                NO_CLOSE_PRACTICE if profile.target_groups or profile.themes else NOTHING_TO_MATCH
            ),
        )


def _peers(
    lines: list[CriterionLine], percent: float | None, peers: PeerMedians
) -> PeerComparison:
    """The comparison with the peers' medians, in the current language."""
    text = None
    if percent is not None and peers.percent is not None:
        score_text, median = percent_text(percent), percent_text(peers.percent)
        if peers.scope == "country":
            text = _(
                IN_COUNTRY, score=score_text, country=country_name(peers.country), median=median
            )
        else:
            text = _(IN_COHORT, score=score_text, median=median)
    medians = tuple(peers.criteria.get(line.code) for line in lines)
    positions = tuple(
        position(line.value, median) for line, median in zip(lines, medians, strict=True)
    )
    marks = tuple(None if found is None else _(MARKS[found]) for found in positions)
    return PeerComparison(text, medians, positions, marks)


def _line(
    checklist: Checklist,
    number: int,
    criterion: Criterion,
    snapshot: Snapshot,
    values: Mapping[str, int | None],
) -> CriterionLine:
    code, earlier = criterion.code, snapshot.earlier
    recorded = snapshot.answers.get(code)
    labels = {aspect.code: _(aspect.label) for aspect in criterion.aspects}
    aspects = () if recorded is None else recorded.aspects
    before = None if earlier is None else earlier.answers.get(code)
    return CriterionLine(
        code=code,
        number=number,
        title=_(criterion.title),
        answer=_answer(checklist, values, code),
        value=values.get(code),
        earlier_answer=None if earlier is None else _answer(checklist, earlier.answers, code),
        earlier_value=before,
        changed=earlier is not None
        and (code in earlier.answers, before) != (code in values, values.get(code)),
        comment=None if recorded is None else recorded.comment,
        aspects=tuple(labels[aspect] for aspect in aspects if aspect in labels),
        feedback=snapshot.feedback.get(code),
    )


def _answer(checklist: Checklist, values: Mapping[str, int | None], code: str) -> str:
    return answer_label(checklist, values[code]) if code in values else _("not answered")


def _weak(value: int | None) -> bool:
    return value is not None and value <= WEAK_VALUE_MAX


def format_day(moment: datetime | None) -> str | None:
    """A date the way the current language writes it in full."""
    return None if moment is None else format_date(moment, "long", locale=current_language())


def _recommendation(checklist: Checklist, code: str) -> Advice:
    criterion = checklist.criterion(code)
    return Advice(_(criterion.title), _(criterion.recommendation))


def _next_steps(
    checklist: Checklist, below: list[CriterionLine], scored: bool
) -> tuple[Advice, ...]:
    """What to do next when no criterion stands out as weaker than the others."""
    if below:
        lowest = sorted(below, key=lambda line: line.value or 0)[:FLAGGED_AT_MOST]
        return tuple(_recommendation(checklist, line.code) for line in lowest)
    if scored:
        step = checklist.next_step
        return (Advice(_(step.title), _(step.text)),)
    return ()


def _risks(checklist: Checklist, values: Mapping[str, int | None]) -> tuple[Flag, ...]:
    """The seed's risks and threats that weak answers point to, the most pointed-to first."""
    notes = (*checklist.knowledge.risks.risks, *checklist.knowledge.risks.threats)
    pointed = [(note, [c for c in note.criteria if _weak(values.get(c))]) for note in notes]
    flagged = [(note, weak) for note, weak in pointed if weak]
    # Most weak criteria first, then the notes that are about those criteria alone, then
    # the lowest answers; the content file's order breaks ties.
    flagged.sort(
        key=lambda item: (
            -len(item[1]),
            len(item[0].criteria) - len(item[1]),
            min(values[code] or 0 for code in item[1]),
        )
    )
    flags = []
    for note, weak in flagged[:FLAGGED_AT_MOST]:
        because = "; ".join(
            _(
                "%(criterion)s: %(answer)s",
                criterion=_(checklist.criterion(code).title),
                answer=answer_label(checklist, values[code]),
            )
            for code in weak
        )
        flags.append(Flag(_(note.title), _(note.text), _("Why: %(reasons)s.", reasons=because)))
    return tuple(flags)


def _suggestion(checklist: Checklist, found: Match) -> Suggestion:
    taxonomy = checklist.knowledge.taxonomy
    labels = {tag.code: _(tag.label) for tag in (*taxonomy.target_groups, *taxonomy.themes)}
    reasons = []
    if found.groups:
        shared = _listed(labels[code] for code in found.groups)
        reasons.append(_("the same target groups: %(groups)s", groups=shared))
    if found.themes:
        shared = _listed(labels[code] for code in found.themes)
        reasons.append(_("the same themes: %(themes)s", themes=shared))
    if found.complements:
        numbers = ", ".join(str(checklist.criterion(code).number) for code in found.complements)
        reasons.append(
            ngettext(
                "strong where yours is weak: %(count)s criterion (%(numbers)s)",
                "strong where yours is weak: %(count)s criteria (%(numbers)s)",
                len(found.complements),
                numbers=numbers,
            )
        )
    if found.same_country:
        reasons.append(_("the same country"))
    practice = found.practice
    return Suggestion(
        name=practice.name,
        country=country_name(practice.country),
        title=_(practice.title),
        # A list shortened with "…" ends the sentence itself.
        reason=_("Why suggested: %(reasons)s.", reasons="; ".join(reasons)).replace("….", "…"),
        links=practice.links,
    )


def _listed(labels: Iterable[str]) -> str:
    """The first labels of a list, with an ellipsis for the rest, to keep a line short."""
    shown = list(labels)
    return ", ".join(shown[:LISTED_AT_MOST]) + (", …" if len(shown) > LISTED_AT_MOST else "")


def _help(checklist: Checklist, country: str | None) -> tuple[Help, ...]:
    centres = checklist.knowledge.centres
    national = [centre for centre in centres if country and centre.country == country]
    chosen = national or [centre for centre in centres if centre.country is None]
    return tuple(Help(_(centre.title), _(centre.summary), centre.url) for centre in chosen)
