"""The one gettext lookup every room calls: a context-local language and its catalog.

An adapter enters ``use_language(code)`` around the work of one update or one screen; every
``_()`` and ``ngettext()`` inside it speaks that language, in any thread or task the context
is copied to. Catalogs are compiled from ``locales/`` when missing or older than the source.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import cache, lru_cache

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from locales import catalog_path

SOURCE_LANGUAGE = "en"
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "lv", "es", "fr", "sv")

_current_language: ContextVar[str] = ContextVar("sicheck_language", default=SOURCE_LANGUAGE)
_compile_lock = threading.Lock()


@lru_cache(maxsize=1024)  # every update asks, with a handful of tags among all users
def negotiate(language_code: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """Map a client's language tag (``lv``, ``es-AR``, ``sv_SE``) to a supported language."""
    if not language_code:
        return default
    try:
        language = Locale.parse(language_code.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return default
    return language if language in SUPPORTED_LANGUAGES else default


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The gettext catalog of ``language``."""
    return stdlib_gettext.GNUTranslations(io.BytesIO(compiled_catalog(language)))


def compiled_catalog(language: str) -> bytes:
    """The compiled catalog (``.mo``) of ``language``, compiled first when missing or stale."""
    source = catalog_path(language)
    compiled = catalog_path(language, ".mo")
    with _compile_lock:
        if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
            return compiled.read_bytes()
        return compile_catalog(language)


def compile_catalog(language: str) -> bytes:
    """Compile a language's ``messages.po``, writing the ``.mo`` beside it where possible."""
    with catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    data = buffer.getvalue()
    # A read-only install still works: the catalog was compiled in memory. The file is
    # replaced whole, so another process starting at the same time never reads half of it.
    target = catalog_path(language, ".mo")
    unfinished = target.with_suffix(f".{os.getpid()}.mo")
    with suppress(OSError):
        unfinished.write_bytes(data)
        unfinished.replace(target)
    return data


def current_language() -> str:
    """Return the language of the update being handled."""
    return _current_language.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Speak ``language`` in every ``_()`` call made inside the block."""
    token = _current_language.set(language if language in SUPPORTED_LANGUAGES else SOURCE_LANGUAGE)
    try:
        yield
    finally:
        _current_language.reset(token)


def gettext(message: str, **params: object) -> str:
    """Translate ``message`` into the current language and fill its named placeholders."""
    text = translations(_current_language.get()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, count: int, **params: object) -> str:
    """The form ``count`` takes in the current language, with ``count`` as ``%(count)s``."""
    text = translations(_current_language.get()).ngettext(singular, plural, count)
    return text % {"count": count, **params}


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


_ = gettext
