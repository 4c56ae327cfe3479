"""Each Latvian text quoted from the seed lies within the seed lines its content entry cites."""

from __future__ import annotations

import re

from bot.runtime import catalog_texts
from dialogs.content import Content
from tests.conftest import SEED_DIR, normalise

PAGE_HEADINGS = frozenset({"RISKI", "DRAUDI"})
"""Headings the brochure's layout puts inside a paragraph; the quoted texts leave them out."""


def _cited(pointer: str) -> str:
    """The seed lines ``pointer`` names, normalised, page headings left out."""
    prefix, lines = pointer.split(":")
    first, _, last = lines.partition("-")
    path = next(SEED_DIR.glob(f"{prefix}_*.txt"))
    kept = path.read_text(encoding="utf-8").splitlines()[int(first) - 1 : int(last or first)]
    return normalise("\n".join(line for line in kept if line.strip() not in PAGE_HEADINGS))


def _quoted(content: Content) -> list[tuple[str, str, str]]:
    """``(code, seed pointer, English text)`` of every text whose Latvian is the seed's own."""
    quoted = []
    for criterion in content.latest.criteria:
        quoted += [(criterion.code, criterion.seed, criterion.guidance)]
        quoted += [(aspect.code, aspect.seed, aspect.text) for aspect in criterion.aspects]
    for note in (*content.principles, *content.opportunities):
        quoted.append((note.code, note.seed, note.text))
    for note in (*content.risks.risks, *content.risks.threats):
        quoted.append((note.code, note.seed, note.text))
    quoted += [(practice.code, practice.seed, practice.summary) for practice in content.practices]
    return quoted


def test_every_latvian_seed_text_lies_within_the_lines_it_cites(content: Content) -> None:
    latvian = catalog_texts("lv")
    outside = []
    for code, pointer, english in _quoted(content):
        cited = _cited(pointer)
        for sentence in re.split(r"(?<=[.!?])\s+", normalise(latvian[english])):
            if sentence not in cited:
                outside.append((code, pointer, sentence[:60]))
    assert outside == []
