"""Scores of an assessment: pure functions of the checklist and the answers given.

"Not applicable / don't know" (``None``) and unanswered criteria are left out of the
denominator, so a practice is judged only on what its practitioner could answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from dialogs.content import Band, Checklist

STRENGTH_MIN_VALUE = 2
LISTED_AT_MOST = 3


@dataclass(frozen=True)
class Score:
    overall: Fraction | None
    """The share of the possible points reached over scored criteria, ``None`` if none."""
    band: Band | None
    strongest: tuple[str, ...]
    weakest: tuple[str, ...]
    scored: int
    """How many criteria count in the overall score."""
    not_applicable: int
    unanswered: int

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
    codes = [criterion.code for criterion in checklist.criteria]
    values = {code: value for code in codes if (value := answers.get(code)) is not None}
    not_applicable = sum(1 for code in codes if code in answers) - len(values)
    unanswered = sum(1 for code in codes if code not in answers)
    if not values:
        return Score(None, None, (), (), 0, not_applicable, unanswered)
    overall = Fraction(sum(values.values()), checklist.max_value * len(values))
    highest, lowest = max(values.values()), min(values.values())
    # A criterion stands out only against the others: where all are equal, the band says it.
    by_strength = sorted(values, key=lambda code: -values[code])
    strongest = tuple(c for c in by_strength if STRENGTH_MIN_VALUE <= values[c] > lowest)
    strongest = strongest[:LISTED_AT_MOST]
    # Below every strength listed: a level both strong and to work on would say neither.
    ceiling = min((values[code] for code in strongest), default=highest)
    by_weakness = sorted(values, key=lambda code: values[code])
    weakest = tuple(c for c in by_weakness if values[c] < ceiling)
    band = band_for(checklist, overall)
    return Score(
        overall, band, strongest, weakest[:LISTED_AT_MOST], len(values), not_applicable, unanswered
    )
