"""Gettext catalogs of SI Check: ``messages.pot`` and ``<lang>/LC_MESSAGES/messages.po``."""

from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent
DOMAIN = "messages"
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"


def catalog_path(language: str, suffix: str = ".po") -> Path:
    """Return where the catalog of ``language`` lives."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"
