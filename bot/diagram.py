"""``sicheck diagram``: write or check the committed state diagram."""

from __future__ import annotations

import sys
from pathlib import Path

from dialogs.content import default_content
from dialogs.diagram import document

DIAGRAM = Path(__file__).resolve().parents[1] / "docs" / "state-diagram.md"


def run(*, check: bool) -> int:
    """Write ``docs/state-diagram.md``, or with ``check`` fail when it differs."""
    expected = document(default_content().latest)
    if check:
        if not DIAGRAM.exists() or DIAGRAM.read_text(encoding="utf-8") != expected:
            print(f"{DIAGRAM} is stale: run `sicheck diagram`", file=sys.stderr)
            return 1
        return 0
    DIAGRAM.parent.mkdir(exist_ok=True)
    DIAGRAM.write_text(expected, encoding="utf-8")
    print(f"wrote {DIAGRAM}")
    return 0
