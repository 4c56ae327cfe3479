"""The typeface of every document: DejaVu Sans, which covers every letter of the supported
languages and ships with matplotlib."""

from __future__ import annotations

from pathlib import Path

import matplotlib

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT_REGULAR = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
