"""Scores of an assessment: pure functions of the checklist and the answers given.

"Not applicable / don't know" (``None``) and unanswered criteria are left out of the
denominator, so a practice is judged only on what its practitioner could answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from dialogs.content import Band, Checklist

NOT_APPLICABLE = None
STRENGTH_MIN_VALUE = 2
LISTED_AT_MOST = 3


@dataclass(frozen=True)
class CriterionScore:
    code: str
    answered: bool
    value: int | None
    """0..max on the scale, ``None`` when not applicable or unanswered."""

    @property
    def scored(self) -> bool:
        """Whether this criterion counts in the overall score."""
        return self.value is not None

    def percent(self, max_value: int) -> float | None:
        """The criterion's score as a percentage of the scale's top."""
        return None if self.value is None else 100 * self.value / max_value


@dataclass(frozen=True)
class Score:
    criteria: tuple[CriterionScore, ...]
    overall: Fraction | None
    """The share of the possible points reached over scored criteria, ``None`` if none."""
    band: Band | None
    strongest: tuple[str, ...]
    weakest: tuple[str, ...]

    @property
    def scored(self) -> int:
        """How many criteria count in the overall score."""
        return sum(1 for criterion in self.criteria if criterion.scored)

    @property
    def not_applicable(self) -> int:
        """How many criteria were answered "not applicable / don't know"."""
        return sum(1 for c in self.criteria if c.answered and not c.scored)

    @property
    def unanswered(self) -> int:
        """How many criteria have no answer at all."""
        return sum(1 for criterion in self.criteria if not criterion.answered)

    @property
    def percent(self) -> float | None:
        """The overall score as a percentage."""
        return None if self.overall is None else float(self.overall * 100)


def band_for(checklist: Checklist, overall: Fraction) -> Band:
    """Return the highest band whose threshold ``overall`` reaches, compared exactly."""
    reached = [band for band in checklist.bands if overall * 100 >= band.min_percent]
    return reached[-1]


def score(checklist: Checklist, answers: Mapping[str, int | None]) -> Score:
    """Score ``answers`` (criterion code to value, ``None`` for N/A) against ``checklist``."""
    criteria = tuple(
        CriterionScore(
            code=criterion.code,
            answered=criterion.code in answers,
            value=answers.get(criterion.code),
        )
        for criterion in checklist.criteria
    )
    scored = [criterion for criterion in criteria if criterion.value is not None]
    if not scored:
        return Score(criteria, None, None, (), ())
    points = sum(criterion.value for criterion in scored if criterion.value is not None)
    overall = Fraction(points, checklist.max_value * len(scored))
    values = [criterion.value or 0 for criterion in scored]
    highest, lowest = max(values), min(values)
    # A criterion stands out only against the others: where all are equal, the band says it.
    by_strength = sorted(scored, key=lambda c: -(c.value or 0))
    strongest = tuple(
        c.code for c in by_strength if STRENGTH_MIN_VALUE <= (c.value or 0) > lowest
    )[:LISTED_AT_MOST]
    by_weakness = sorted(scored, key=lambda c: c.value or 0)
    weakest = tuple(
        c.code for c in by_weakness if (c.value or 0) < highest and c.code not in strongest
    )[:LISTED_AT_MOST]
    return Score(criteria, overall, band_for(checklist, overall), strongest, weakest)
