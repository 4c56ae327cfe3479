"""Exports and figures as a coordinator asks for them: options read once for the CLI and Telegram.

An export runs on a connection of its own (``storage.exports.export_engine``), never through
the store's writer, and writes to a file, so a million rows never sit in memory.
"""

from __future__ import annotations

import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal, cast

from babel import Locale
from sqlalchemy.engine import Connection

from bot.arguments import is_number
from dialogs.content import Content
from dialogs.i18n import SUPPORTED_LANGUAGES, _, use_language
from dialogs.report import country_name
from dialogs.views import COUNTRIES
from storage.coordination import cohort_id, derived_key
from storage.exports import ExportFilter, Names, Shape, export, export_engine, export_xlsx
from storage.stats import GroupStats, stats

Kind = Literal["csv", "excel", "xlsx", "jsonl"]
KINDS: tuple[Kind, ...] = ("xlsx", "csv", "excel", "jsonl")
SHAPES: tuple[Shape, ...] = ("answers", "assessments")
NAMES: tuple[Names, ...] = ("labels", "codes")
SUFFIX = {"csv": ".csv", "excel": ".csv", "xlsx": ".xlsx", "jsonl": ".jsonl"}


class ExportRequestError(ValueError):
    """An export option that cannot be understood; the message names it."""


class ExplainedRequestError(ExportRequestError):
    """A request refused with a whole message, translated, to show as it is."""


class UnknownCountryError(ExplainedRequestError):
    """A country that SI Check does not record; the message lists those it does."""


class UnknownCohortError(ExplainedRequestError):
    """A cohort code that names no cohort, whose figures would look merely too few."""


def known_cohort(code: str | None, language: str) -> Callable[[Connection], None]:
    """The store's unit raising ``UnknownCohortError`` when ``code`` names no cohort."""

    def check(connection: Connection) -> None:
        if code is not None and cohort_id(connection, code) is None:
            with use_language(language):
                raise UnknownCohortError(
                    _(
                        "No cohort has the code %(code)s: the list of cohorts shows the codes.",
                        code=code,
                    )
                )

    return check


def _folded(text: str) -> str:
    """``text`` compared without case or accents: "suède" finds "Suède"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@cache
def _country_names() -> dict[str, str]:
    names = {_folded(code): code for code in COUNTRIES}
    for language in SUPPORTED_LANGUAGES:
        territories = Locale.parse(language).territories
        for code in COUNTRIES:
            names.setdefault(_folded(territories.get(code, code)), code)
    return names


def country_code(given: str, language: str) -> str:
    """The ISO code of a country given by code or by name in any of SI Check's languages."""
    found = _country_names().get(_folded(given))
    if found is not None:
        return found
    with use_language(language):
        valid = ", ".join(f"{code} ({country_name(code)})" for code in COUNTRIES)
        raise UnknownCountryError(
            _(
                "Unknown country: %(given)s. Give one of %(countries)s, by code or by name.",
                given=given.strip(),
                countries=valid,
            )
        )


def figures(
    content: Content, threshold: int, cohort: str | None, country: str | None, language: str
) -> Callable[[Connection], list[GroupStats]]:
    """The store's unit reading the figures asked for; ``UnknownCountryError`` before any read,
    ``UnknownCohortError`` from the unit."""
    code = country_code(country, language) if country else None
    check = known_cohort(cohort, language)

    def read(connection: Connection) -> list[GroupStats]:
        check(connection)
        return stats(connection, content, cohort=cohort, country=code, threshold=threshold)

    return read


@dataclass(frozen=True)
class ExportRequest:
    kind: Kind = "xlsx"
    shape: Shape = "answers"
    """For CSV and JSON Lines; a workbook holds both shapes."""
    filter: ExportFilter = field(default_factory=ExportFilter)
    language: str = "en"
    include_identities: bool = False
    names: Names | None = None
    """``labels`` (translated) or ``codes`` (stable); by default labels, codes for JSON Lines."""

    @property
    def filename(self) -> str:
        """The file's name, such as ``sicheck-answers-2026-11-25.csv``."""
        what = "export" if self.kind == "xlsx" else self.shape
        return f"sicheck-{what}-{datetime.now(UTC):%Y-%m-%d}{SUFFIX[self.kind]}"


def _day(options: dict[str, str], option: str) -> datetime | None:
    if option not in options:
        return None
    try:
        return datetime.strptime(options[option], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ExportRequestError(f"{option}: a date such as 2026-03-31") from None


def parse_words(words: Sequence[str], language: str) -> ExportRequest:
    """An export from words such as ``csv assessments completed country=LV since=2026-01-01``."""
    kind: Kind = "xlsx"
    shape: Shape = "answers"
    names: Names | None = None
    options: dict[str, str] = {}
    completed = False
    for word in words:
        lowered = word.lower()
        if lowered in KINDS:
            kind = lowered
        elif lowered in SHAPES:
            shape = lowered
        elif lowered in NAMES:
            names = lowered
        elif lowered == "completed":
            completed = True
        elif "=" in word:
            key, value = word.split("=", 1)
            options[key.lower()] = value
        else:
            raise ExportRequestError(word)
    unknown = set(options) - {"since", "until", "cohort", "country", "version", "names"}
    if unknown:
        raise ExportRequestError(", ".join(sorted(unknown)))
    if "names" in options:
        if options["names"].lower() not in NAMES:
            raise ExportRequestError("names: labels or codes")
        names = cast(Names, options["names"].lower())
    version = options.get("version")
    if version is not None and not is_number(version):
        raise ExportRequestError("version: a number")
    since, until = _day(options, "since"), _day(options, "until")
    if since is not None and until is not None and until < since:
        # Otherwise an empty export, as if nothing had been answered then.
        raise ExportRequestError(f"until: a day no earlier than since ({options['since']})")
    return ExportRequest(
        kind,
        shape,
        ExportFilter(
            since=since,
            # "until=2026-03-31" means through that day: the filter's bound is exclusive.
            until=until + timedelta(days=1) if until else None,
            cohort=options.get("cohort"),
            country=country_code(options["country"], language) if "country" in options else None,
            checklist_version=int(version) if version else None,
            completed_only=completed,
        ),
        language,
        names=names,
    )


def run_export(
    database_url: str, content: Content, request: ExportRequest, path: Path, key: str
) -> int:
    """Write the export to ``path`` from one snapshot of the database; rows written."""
    engine = export_engine(database_url)
    try:
        with engine.connect() as connection:
            if request.kind == "xlsx":
                written = export_xlsx(
                    connection,
                    content,
                    path,
                    filter=request.filter,
                    language=request.language,
                    names=request.names or "labels",
                    include_identities=request.include_identities,
                    key=derived_key(key),
                )
                return sum(written.values())
            with path.open("wb") as out:
                return export(
                    connection,
                    content,
                    shape=request.shape,
                    fmt="jsonl" if request.kind == "jsonl" else "csv",
                    out=out,
                    filter=request.filter,
                    language=request.language,
                    names=request.names,
                    include_identities=request.include_identities,
                    excel=request.kind == "excel",
                    key=derived_key(key),
                )
    finally:
        engine.dispose()


def within(path: Path, filename: str, limit: int) -> list[tuple[Path, str]]:
    """Files of at most ``limit`` bytes holding ``path``: itself, zipped, or the zip in parts.

    Parts are named ``<name>.zip.001``, ``.002``...: 7-Zip opens them as one archive, and
    ``cat`` joins them back into the zip.
    """
    if path.stat().st_size <= limit:
        return [(path, filename)]
    zipped = path.with_name(path.name + ".zip")
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(path, filename)
    if zipped.stat().st_size <= limit:
        return [(zipped, filename + ".zip")]
    parts = []
    with zipped.open("rb") as whole:
        # A part (Telegram's 50 MB at most) is read whole: the rows were never all in memory.
        for number, block in enumerate(iter(lambda: whole.read(limit), b""), start=1):
            part = zipped.with_name(f"{zipped.name}.{number:03d}")
            part.write_bytes(block)
            parts.append((part, f"{filename}.zip.{number:03d}"))
    return parts
