"""Catalogs: complete, checked, and negotiated from a client's language tag."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot import catalogs
from dialogs.content import Content
from dialogs.i18n import _, negotiate, use_language
from locales import catalog_path


@pytest.mark.parametrize(
    ("tag", "language"),
    [("lv", "lv"), ("lv-LV", "lv"), ("en-GB", "en"), ("es-AR", "es"), ("fr-CA", "fr"),
     ("sv_SE", "sv"), ("de", "en"), ("ru-LV", "en"), ("", "en"), (None, "en"),
     ("not a tag!", "en")],
)  # fmt: skip
def test_language_tags_are_negotiated(tag: str | None, language: str) -> None:
    assert negotiate(tag) == language


def test_the_committed_catalogs_are_complete_and_current() -> None:
    assert catalogs.check() == []


def test_named_placeholders_are_filled_in_each_language() -> None:
    with use_language("lv"):
        assert _("Criterion %(number)s/%(total)s", number=3, total=10) == "Kritērijs 3/10"
    with use_language("en"):
        assert _("Criterion %(number)s/%(total)s", number=3, total=10) == "Criterion 3/10"


@pytest.fixture
def broken_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the Latvian catalog that the check reads instead of the real one."""
    copy = tmp_path / "lv" / "LC_MESSAGES" / "messages.po"
    copy.parent.mkdir(parents=True)
    shutil.copy(catalog_path("lv"), copy)

    def patched(language: str, suffix: str = ".po") -> Path:
        return copy if language == "lv" and suffix == ".po" else catalog_path(language, suffix)

    monkeypatch.setattr(catalogs, "catalog_path", patched)
    return copy


def _rewrite(path: Path, msgid: str, msgstr: str, *, fuzzy: bool = False) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="lv")
    message = catalog[msgid]
    assert message is not None
    message.string = msgstr
    if fuzzy:
        message.flags.add("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog)


@pytest.mark.parametrize(
    ("msgstr", "fuzzy", "problem"),
    [
        ("Kritērijs %(skaitlis)s/%(total)s", False, "placeholders differ"),
        ("", False, "empty"),
        ("Kritērijs %(number)s/%(total)s", True, "fuzzy"),
        ("<b>Kritērijs %(number)s/%(total)s", False, "unclosed <b>"),
        ("<u>Kritērijs</u> %(number)s/%(total)s", False, "unsupported tag <u>"),
        ("Criterion %(number)s/%(total)s", False, "not translated"),
    ],
)
def test_a_broken_catalog_fails_the_check(
    broken_catalog: Path, msgstr: str, fuzzy: bool, problem: str
) -> None:
    _rewrite(broken_catalog, "Criterion %(number)s/%(total)s", msgstr, fuzzy=fuzzy)
    problems = catalogs.check()
    assert any(problem in line and line.startswith("lv:") for line in problems), problems


def test_a_missing_message_fails_the_check(broken_catalog: Path) -> None:
    with broken_catalog.open("rb") as handle:
        catalog = read_po(handle, locale="lv")
    catalog.delete("Skip")
    with broken_catalog.open("wb") as handle:
        write_po(handle, catalog)
    assert "lv: 'Skip': missing" in catalogs.check()


def test_every_view_fits_telegram_in_every_language(content: Content) -> None:
    assert catalogs.render_problems(content) == []


def test_the_render_check_reports_what_does_not_fit(
    content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogs, "MESSAGE_MAX", 1500)
    monkeypatch.setattr(catalogs, "BUTTON_LABEL_MAX", 12)
    problems = catalogs.render_problems(content)
    assert any("lv: view C02:" in line and "> 1500" in line for line in problems)
    assert any("button '⬜ New product or service' is too long" in line for line in problems)


def _plural_catalog(language: str, forms: tuple[str, ...]) -> Catalog:
    catalog = Catalog(locale=language)
    catalog.add(("%(count)s criterion", "%(count)s criteria"), forms)
    return catalog


@pytest.mark.parametrize(
    ("language", "forms", "problem"),
    [
        ("lv", ("%(count)s kritērijs", "%(count)s kritēriji"), "2 plural forms, 3 needed"),
        ("lv", ("%(count)s kritērijs", "%(count)s kritēriji", ""), "empty"),
        ("lv", ("viens kritērijs", "%(count)s kritēriji", "%(count)s kritēriju"), "placeholders"),
        ("fr", ("%(count)s critère",), "1 plural forms, 2 needed"),
    ],
)
def test_a_plural_message_needs_every_form_of_its_language(
    language: str, forms: tuple[str, ...], problem: str
) -> None:
    template = _plural_catalog("en", ("", ""))
    problems = catalogs.check_catalog(_plural_catalog(language, forms), template, language)
    assert any(problem in line for line in problems), problems


def test_a_complete_plural_message_passes_the_check() -> None:
    template = _plural_catalog("en", ("", ""))
    forms = ("%(count)s kritērijs", "%(count)s kritēriji", "%(count)s kritēriju")
    assert catalogs.check_catalog(_plural_catalog("lv", forms), template, "lv") == []
