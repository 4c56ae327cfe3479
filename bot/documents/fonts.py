"""The typeface of every document: DejaVu Sans, which covers every letter of the supported
languages and ships with matplotlib.

Found without importing matplotlib, so that a PDF without a chart does not load it for a path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _matplotlib_fonts() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib, which ships the DejaVu fonts, is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


FONT_DIR = _matplotlib_fonts()
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
