"""Similar good practices: a pure, explainable match of a practice against the content's ones.

Only a shared target group or theme makes a good practice relevant; the same country and
strength where the practice is weak rank relevant ones, so a practice that shares nothing is
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


def similar_practices(
    practices: Sequence[Practice],
    *,
    target_groups: Collection[str],
    themes: Collection[str],
    country: str | None,
    weak_criteria: Collection[str],
) -> tuple[Match, ...]:
    """The most relevant good practices, best first; empty when none is relevant."""
    matches = [
        Match(
            practice,
            tuple(code for code in practice.target_groups if code in target_groups),
            tuple(code for code in practice.themes if code in themes),
            country is not None and practice.country == country,
            tuple(code for code in practice.strong_criteria if code in weak_criteria),
        )
        for practice in practices
    ]
    # Only whom or what practices work for makes one relevant; ties keep the content's order.
    relevant = sorted((m for m in matches if m.groups or m.themes), key=lambda m: -m.points)
    return tuple(relevant[:SUGGESTED_AT_MOST])
