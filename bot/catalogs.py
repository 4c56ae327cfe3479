"""``sicheck i18n``: extract, update, compile and check the gettext catalogs.

The extraction mappings are read from ``[[tool.babel.mappings]]`` in ``pyproject.toml``, the
same ones ``pybabel extract -F pyproject.toml`` uses. English is the source language: its
catalog is filled with the message ids themselves, so it is complete by construction.
"""

from __future__ import annotations

import copy
import re
import sys
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.telegram.application import COMMANDS
from bot.telegram.callback_data import LARGEST, pack
from dialogs.content import Checklist, Content, default_content
from dialogs.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, _, compile_catalog, use_language
from dialogs.machine import states
from dialogs.peers import PeerMedians
from dialogs.report import History, PastAssessment
from dialogs.snapshot import (
    COMMENT_MAX,
    NAME_MAX,
    Earlier,
    Profile,
    RecordedAnswer,
    Snapshot,
)
from dialogs.views import MESSAGE_MAX, history_view, plain, render
from locales import TEMPLATE, catalog_path
from storage.reports import HISTORY_MAX

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("bot", "dialogs", "storage")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"<(/?)([a-z]+)>")
ALLOWED_TAGS = frozenset({"b", "i", "code"})
LETTERS = re.compile(r"[A-Za-z]{3,}")
WIDTH = 99


def _mappings() -> list[tuple[str, str]]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        config = tomllib.load(handle)
    return [(m["pattern"], m["method"]) for m in config["tool"]["babel"]["mappings"]]


def extract() -> Catalog:
    """Collect every translatable message of the source and the content files."""
    template = Catalog(project="sicheck", charset="utf-8", fuzzy=False)
    # The mappings' "**.py" is read in the source directories only, never in tests or bench.
    method_map = [
        (f"{directory}/{pattern}" if pattern.startswith("**") else pattern, method)
        for pattern, method in _mappings()
        for directory in SOURCE_DIRS
    ]
    for filename, line, message, comments, context in extract_from_dir(
        ROOT,
        method_map=method_map,
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        template.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return template


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=WIDTH, ignore_obsolete=True, include_lineno=False)


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update() -> None:
    """Write the template and merge it into every language's catalog."""
    template = extract()
    _write(template, TEMPLATE)
    for language in SUPPORTED_LANGUAGES:
        path = catalog_path(language)
        catalog = _read(path, language) if path.exists() else Catalog(locale=language)
        # update() adopts the template's message objects: each language gets its own copy.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        # Babel marks a new catalog's header fuzzy; msgfmt would then skip the charset.
        catalog.fuzzy = False
        if language == SOURCE_LANGUAGE:
            for message in catalog:
                if message.id and not any(_forms(message.string)):
                    message.string = message.id
        _write(catalog, path)


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def html_problems(text: str) -> list[str]:
    """Say what is wrong with the HTML subset of ``text``: unknown or unbalanced tags."""
    problems = []
    open_tags: list[str] = []
    for closing, name in TAG.findall(text):
        if name not in ALLOWED_TAGS:
            problems.append(f"unsupported tag <{name}>")
        elif not closing:
            open_tags.append(name)
        elif not open_tags or open_tags.pop() != name:
            problems.append(f"unbalanced </{name}>")
    problems += [f"unclosed <{name}>" for name in open_tags]
    return problems


def _forms(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A message's id or translation as a tuple: one text, or one per plural form."""
    if value is None:
        return ("",)
    return (value,) if isinstance(value, str) else tuple(value)


def message_key(message: Message) -> str:
    """The singular id that names a message, plural or not."""
    return _forms(message.id)[0]


def check_catalog(catalog: Catalog, expected: Iterable[Message], language: str) -> list[str]:
    """Every problem of one language's catalog against the template's messages.

    A plural message needs every form its language has (Latvian three, the others two), each
    with the same placeholders as the English plural.
    """
    problems = []
    entries = {message_key(message): message for message in catalog if message.id}
    wanted = {message_key(message): message for message in expected if message.id}
    for msgid, source in wanted.items():
        message = entries.get(msgid)
        where = f"{language}: {msgid[:60]!r}"
        if message is None:
            problems.append(f"{where}: missing")
            continue
        plural = source.pluralizable
        if plural != message.pluralizable:
            problems.append(f"{where}: plural forms differ from the template")
            continue
        texts = _forms(message.string)
        if plural and len(texts) != catalog.num_plurals:
            problems.append(f"{where}: {len(texts)} plural forms, {catalog.num_plurals} needed")
        if message.fuzzy:
            problems.append(f"{where}: fuzzy")
        if not all(text.strip() for text in texts):
            problems.append(f"{where}: empty")
            continue
        ids = _forms(source.id)
        words = PLACEHOLDER.sub("", " ".join(ids))
        if language != SOURCE_LANGUAGE and texts[0] == ids[0] and LETTERS.search(words):
            problems.append(f"{where}: not translated (same as the English)")
        # Every form names the count: Latvian's "singular" also serves 21, 31, ...
        if any(_placeholders(text) != _placeholders(ids[-1]) for text in (*ids, *texts)):
            problems.append(f"{where}: placeholders differ")
        for text in texts:
            problems += [f"{where}: {problem}" for problem in html_problems(text)]
    problems += [
        f"{language}: {msgid[:60]!r}: no longer used" for msgid in entries.keys() - wanted.keys()
    ]
    return problems


def check() -> list[str]:
    """Every problem of the committed catalogs; an empty list means they are complete."""
    expected = [message for message in extract() if message.id]
    problems = []
    if TEMPLATE.exists():
        committed = {_forms(m.id) for m in _read(TEMPLATE) if m.id}
        if committed != {_forms(message.id) for message in expected}:
            problems.append(f"{TEMPLATE.name} is stale: run `sicheck i18n update`")
    else:
        problems.append(f"{TEMPLATE.name} is missing: run `sicheck i18n update`")
    for message in expected:
        for msgid in _forms(message.id):
            problems += [f"source: {msgid[:60]!r}: {problem}" for problem in html_problems(msgid)]
    for language in SUPPORTED_LANGUAGES:
        path = catalog_path(language)
        if not path.exists():
            problems.append(f"{language}: {path} is missing")
            continue
        problems += check_catalog(_read(path, language), expected, language)
    return problems


def run(action: str) -> int:
    """Carry out ``sicheck i18n <action>``."""
    if action in ("extract", "update"):
        if action == "extract":
            _write(extract(), TEMPLATE)
        else:
            update()
        print(f"wrote {TEMPLATE.relative_to(ROOT)}" + (" and the catalogs" * (action == "update")))
        return 0
    if action == "compile":
        for language in SUPPORTED_LANGUAGES:
            compile_catalog(language)
            print(f"compiled {catalog_path(language, '.mo').relative_to(ROOT)}")
        return 0
    problems = check() + render_problems(default_content())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the catalogs", file=sys.stderr)
        return 1
    print(f"catalogs complete: {', '.join(SUPPORTED_LANGUAGES)}")
    return 0


BUTTON_LABEL_MAX = 40
COMMAND_DESCRIPTION_MAX = 256
LONG_AGO = datetime(2026, 9, 30, tzinfo=UTC)
"""A date whose name is long in every language (September)."""


def _worst_snapshots(checklist: Checklist, language: str) -> list[Snapshot]:
    """Every state of the dialogue with the longest data a user can give, and with none."""
    comment = "W" * COMMENT_MAX
    # Strong, weak and middling answers, so the summary lists strengths, weaknesses and risks,
    # each changed since an earlier assessment; every tag ticked, in the country with the most
    # competence centres.
    values = [(3, 0, 1)[index % 3] for index in range(len(checklist.criteria))]
    answers = MappingProxyType(
        {
            criterion.code: RecordedAnswer(
                value, tuple(aspect.code for aspect in criterion.aspects), comment, 9
            )
            for criterion, value in zip(checklist.criteria, values, strict=True)
        }
    )
    taxonomy = checklist.knowledge.taxonomy
    centres = Counter(centre.country for centre in checklist.knowledge.centres)
    profile = Profile(
        "W" * NAME_MAX,
        max(centres, key=lambda country: (country is not None, centres[country])),
        "W" * NAME_MAX,
        tuple(tag.code for tag in taxonomy.target_groups),
        tuple(tag.code for tag in taxonomy.themes),
    )
    earlier = Earlier({criterion.code: 2 for criterion in checklist.criteria}, LONG_AGO)
    # Peers' medians between the answers, so every criterion carries a mark.
    medians = {criterion.code: 1.5 for criterion in checklist.criteria}
    peers = PeerMedians("country", profile.country, 50.0, medians)
    worst = Snapshot(
        checklist.version, "", language, True, profile, answers, earlier=earlier, peers=peers
    )
    empty = replace(worst, answers=MappingProxyType({}))
    return [
        replace(snapshot, state=state)
        for snapshot in (worst, empty)
        for state in states(checklist)
    ]


def render_problems(content: Content) -> list[str]:
    """Texts that Telegram would refuse or a phone could not show, in any language."""
    problems = []
    past = PastAssessment(LARGEST.assessment_id, 999, "W" * NAME_MAX, LONG_AGO, 66.7)
    for language in SUPPORTED_LANGUAGES:
        with use_language(language):
            problems += [
                f"{language}: /{name} description length"
                for name, description in COMMANDS
                if not 1 <= len(_(description)) <= COMMAND_DESCRIPTION_MAX
            ]
            # Guidance shown wherever there are answers: the longest form of a question.
            views = [
                (worst.state, render(content.latest, worst, info=bool(worst.answers)))
                for worst in _worst_snapshots(content.latest, language)
            ]
            views.append(("history", history_view(History((past,) * HISTORY_MAX, language))))
            for state, view in views:
                where = f"{language}: view {state}"
                length = len(plain(view.text))
                if length > MESSAGE_MAX:
                    problems.append(f"{where}: {length} characters > {MESSAGE_MAX}")
                for button in (button for row in view.buttons for button in row):
                    if len(button.label) > BUTTON_LABEL_MAX:
                        problems.append(f"{where}: button {button.label!r} is too long")
                    try:
                        pack(LARGEST, button.action)
                    except ValueError as error:
                        problems.append(f"{where}: {error}")
    return problems
