"""Peer comparison as plain data: where an assessment stands against other practices' medians.

``storage.peers`` finds the peers and their medians (and says why a group below the threshold
can never be told apart); this module only compares and names the comparison. A group is
never described by its size: what is shown is a median or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from dialogs.i18n import N_

Scope = Literal["country", "cohort"]
Position = Literal["above", "at", "below"]

MARKS: dict[Position, str] = {
    "above": N_("↑ above the peers' median"),
    "at": N_("= at the peers' median"),
    "below": N_("↓ below the peers' median"),
}
"""How a criterion's answer stands against the peers' median, in a few words."""
IN_COUNTRY = N_(
    "Your score: %(score)s · peers in the same country (%(country)s): median %(median)s"
)
IN_COHORT = N_("Your score: %(score)s · peers in your cohort: median %(median)s")
LEGEND = N_("Peers' median")


@dataclass(frozen=True)
class PeerMedians:
    """The medians of a peer group at or above the threshold (never how many it holds)."""

    scope: Scope
    country: str | None
    """The group's country code when ``scope`` is ``"country"``."""
    percent: float | None
    """The median of the peers' overall scores; ``None`` if too few were scored."""
    criteria: Mapping[str, float | None]
    """Each criterion's median answer on the scale; ``None`` if too few answered it."""


@dataclass(frozen=True)
class PeerComparison:
    """The peer comparison of a report, in the report's language and criterion order."""

    text: str | None
    """The overall score beside the peers' median; ``None`` when either has no score."""
    medians: tuple[float | None, ...]
    positions: tuple[Position | None, ...]
    marks: tuple[str | None, ...]
    """Each position in words, or ``None`` where there is nothing to compare."""


def position(value: int | None, median: float | None) -> Position | None:
    """Whether ``value`` is above, at or below ``median``; ``None`` if either is missing."""
    if value is None or median is None:
        return None
    return "above" if value > median else "below" if value < median else "at"
