"""Similar good practices: a pure, explainable match of a practice against the content's ones.

A good practice is relevant only when it shares a target group or a theme with the practice
assessed: the same country, or strength where the practice is weak, then rank the relevant
ones but never make a practice relevant on their own, so a practice that shares nothing is
told so instead of being offered noise.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dialogs.content import Practice

GROUP_WEIGHT = 3
THEME_WEIGHT = 2
COUNTRY_WEIGHT = 1
COMPLEMENT_WEIGHT = 1
SUGGESTED_AT_MOST = 3


@dataclass(frozen=True)
class Match:
    practice: Practice
    groups: tuple[str, ...]
    """Target-group codes the two practices share."""
    themes: tuple[str, ...]
    """Theme codes the two practices share."""
    same_country: bool
    complements: tuple[str, ...]
    """Criteria where the practice assessed is weak and this good practice is strong."""

    @property
    def points(self) -> int:
        """The match's score: the sum of its weighted reasons."""
        return (
            GROUP_WEIGHT * len(self.groups)
            + THEME_WEIGHT * len(self.themes)
            + COUNTRY_WEIGHT * self.same_country
            + COMPLEMENT_WEIGHT * len(self.complements)
        )

    @property
    def relevant(self) -> bool:
        """Whether the practices share whom or what they work for."""
        return bool(self.groups or self.themes)


def match(
    practice: Practice,
    *,
    target_groups: Collection[str],
    themes: Collection[str],
    country: str | None,
    weak_criteria: Collection[str],
) -> Match:
    """Explain how ``practice`` relates to the profile and weak criteria of an assessment."""
    return Match(
        practice,
        tuple(code for code in practice.target_groups if code in target_groups),
        tuple(code for code in practice.themes if code in themes),
        country is not None and practice.country == country,
        tuple(code for code in practice.strong_criteria if code in weak_criteria),
    )


def similar_practices(
    practices: Sequence[Practice],
    *,
    target_groups: Collection[str],
    themes: Collection[str],
    country: str | None,
    weak_criteria: Collection[str],
    limit: int = SUGGESTED_AT_MOST,
) -> tuple[Match, ...]:
    """The most relevant good practices, best first; empty when none is relevant."""
    matches = [
        match(
            practice,
            target_groups=target_groups,
            themes=themes,
            country=country,
            weak_criteria=weak_criteria,
        )
        for practice in practices
    ]
    relevant = [candidate for candidate in matches if candidate.relevant]
    # Ties keep the content file's order, so the result is stable.
    relevant.sort(key=lambda candidate: -candidate.points)
    return tuple(relevant[:limit])
