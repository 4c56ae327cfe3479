"""Start-up shared by every adapter: content, catalogs and a migrated database."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from babel.messages.mofile import read_mo
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from dialogs.content import Content, ContentError, check_translations, default_content
from dialogs.i18n import SUPPORTED_LANGUAGES, compiled_catalog
from storage.coordination import adopt_pseudonym_key
from storage.database import create_engine, is_sqlite, sqlite_file
from storage.migrate import (
    HEAD,
    UnsafeMigrationError,
    alembic_config,
    current_revision,
    schema_is_current,
    upgrade,
)
from storage.store import Database, connect

T = TypeVar("T")
PSEUDONYM_KEY_MIN = 16


class StartupError(Exception):
    """SI Check cannot start; the message says what to do, in one line."""


def catalog_texts(language: str) -> dict[str, str]:
    """The ``msgid -> msgstr`` pairs a language's compiled catalog translates.

    The compiled catalog holds no fuzzy or empty entry, and is the one the dialogue speaks.
    """
    catalog = read_mo(io.BytesIO(compiled_catalog(language)))
    return {str(m.id): str(m.string) for m in catalog if m.id}


def load_checked_content(stats_min_group: int | None = None) -> Content:
    """Load the content files and make sure every language translates every text; with
    ``stats_min_group``, peer groups need that many practices (the setting)."""
    try:
        content = default_content()
        lookup = {language: catalog_texts(language) for language in SUPPORTED_LANGUAGES}
    except (ContentError, OSError) as error:
        raise StartupError(f"content: {error}") from None
    missing = check_translations(content, SUPPORTED_LANGUAGES, lookup)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise StartupError(f"content: {missing[0]}{more}; run `sicheck i18n check`")
    if stats_min_group is not None:
        content = content.model_copy(update={"stats_min_group": stats_min_group})
    return content


def _usable(make: Callable[[str], T], url: str) -> T:
    try:
        return make(url)
    except Exception as error:  # an unparsable URL or a missing driver
        raise StartupError(f"DATABASE_URL is not usable: {error}") from None


def _unreachable(url: str, error: BaseException) -> StartupError:
    reason = str(getattr(error, "orig", None) or error).splitlines()[0]
    where = make_url(url).render_as_string(hide_password=True)
    return StartupError(f"cannot reach the database at {where}: {reason}")


def missing_sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names when there is none yet, which opening it would make."""
    try:
        file = sqlite_file(url)
    except ArgumentError:
        return None  # the opening refuses it on its own
    return None if file is None or file.exists() else file.absolute()


def _require_file(url: str) -> None:
    # Opening SQLite makes the file: a mistyped path, or the default relative one in another
    # directory, would be read as an empty database, or given a coordinator the bot never sees.
    missing = missing_sqlite_file(url)
    if missing is not None:
        raise StartupError(f"no database at {missing}: check --database-url or DATABASE_URL")


async def inspect_revision(url: str) -> str | None:
    """The migration the database at ``url`` is at, without changing anything."""
    _require_file(url)
    engine = _usable(create_engine, url)
    try:
        return await current_revision(engine)
    except (DBAPIError, OSError) as error:
        raise _unreachable(url, error) from None
    finally:
        engine.dispose()


async def open_database(
    url: str, *, migrate: bool | None = None, must_exist: bool = False
) -> Database:
    """Connect to ``url`` and make sure its schema is current.

    The embedded SQLite default migrates itself; a shared server database is migrated by
    ``sicheck db upgrade`` so that replicas never race to change its schema. An SQLite file
    that is not there is made, unless it ``must_exist``.
    """
    if must_exist:
        _require_file(url)
    database = _usable(connect, url)
    try:
        if not await asyncio.to_thread(schema_is_current, database.engine):
            stored = await current_revision(database.engine)
            if stored is not None and not await asyncio.to_thread(_known_revision, stored):
                raise StartupError(
                    f"the database is at migration {stored}, newer than this version of "
                    f"SI Check (at {HEAD}): run the version that migrated it"
                )
            if not (migrate if migrate is not None else is_sqlite(url)):
                raise StartupError(
                    "the database schema is not current: run `sicheck db upgrade` first"
                )
            await upgrade(database.engine)
    except BaseException as error:
        await database.close()
        if isinstance(error, DBAPIError | OSError):
            raise _unreachable(url, error) from None
        if isinstance(error, UnsafeMigrationError):
            raise StartupError(f"{error}: keep the database as it is and report this") from None
        raise
    return database


def _known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (a later one is not)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return revision in {known.revision for known in script.walk_revisions()}


async def require_pseudonym_key(database: Database, configured: str | None) -> None:
    """Refuse to go on without ``SICHECK_PSEUDONYM_KEY``, or with one the data does not match."""
    if not configured:
        raise StartupError(
            f"SICHECK_PSEUDONYM_KEY is not set: set a secret of at least {PSEUDONYM_KEY_MIN} "
            "characters, kept for good (respondents' pseudonyms in exports are made with it)"
        )
    if len(configured) < PSEUDONYM_KEY_MIN:
        raise StartupError(
            f"SICHECK_PSEUDONYM_KEY must be at least {PSEUDONYM_KEY_MIN} characters "
            f"(it has {len(configured)})"
        )
    if not await database.store.run(lambda c: adopt_pseudonym_key(c, configured)):
        raise StartupError(
            "SICHECK_PSEUDONYM_KEY is not the key this database's pseudonyms were made with: "
            "set the original key"
        )
