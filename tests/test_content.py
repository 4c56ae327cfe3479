"""The content files: complete, valid, faithful to the seed, and loudly refused when broken."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.runtime import catalog_texts
from dialogs.content import CONTENT_DIR, Content, ContentError, check_translations, load_content
from tests.conftest import SEED_DIR, normalise

SEED_LINES = {
    prefix: len(path.read_text(encoding="utf-8").splitlines())
    for prefix, path in (
        ("000", SEED_DIR / "000_3930b083a27ad2cb.txt"),
        ("003", SEED_DIR / "003_bd656a245c7715c3.txt"),
    )
}


def test_the_checklist_has_the_ten_seed_criteria(content: Content) -> None:
    checklist = content.latest
    assert [c.code for c in checklist.criteria] == [f"C{n:02d}" for n in range(1, 11)]
    assert [a.code for a in checklist.criterion("C02").aspects] == [
        "needs",
        "product",
        "methods",
        "actors",
    ]
    assert all(not c.aspects for c in checklist.criteria if c.code != "C02")
    assert [level.value for level in checklist.scale] == [0, 1, 2, 3]


def test_the_four_good_practices_and_competence_centres_are_there(content: Content) -> None:
    assert sorted(p.country for p in content.practices) == ["BE", "FI", "HU", "PT"]
    assert len(content.risks.risks) == 6
    assert len(content.risks.threats) == 7
    assert len(content.principles) == 7
    assert {c.country for c in content.centres} >= {"LV", "FR", "ES", "SE", None}


def _pointers(content: Content) -> list[str]:
    pointers = [content.latest.source]
    for criterion in content.latest.criteria:
        pointers += [criterion.seed, *(aspect.seed for aspect in criterion.aspects)]
    pointers += [p.seed for p in content.practices]
    pointers += [n.seed for n in (*content.risks.risks, *content.risks.threats)]
    pointers += [n.seed for n in (*content.principles, *content.opportunities)]
    pointers += [c.seed for c in content.centres]
    pointers.append(content.latest.next_step.seed)
    return pointers


def test_every_seed_pointer_is_inside_its_seed_file(content: Content) -> None:
    for pointer in _pointers(content):
        prefix, lines = pointer.split(":")
        first, _, last = lines.partition("-")
        assert 1 <= int(first) <= int(last or first) <= SEED_LINES[prefix], pointer


def test_latvian_criterion_titles_and_guidance_are_the_seed_own_words(
    content: Content, seed_text: str
) -> None:
    latvian = catalog_texts("lv")
    for criterion in content.latest.criteria:
        for text in (criterion.title, criterion.guidance):
            assert normalise(latvian[text]) in seed_text, (criterion.code, latvian[text][:80])


def test_practice_links_are_exactly_those_of_the_seed(content: Content) -> None:
    raw = (SEED_DIR / "000_3930b083a27ad2cb.txt").read_text(encoding="utf-8")
    joined = re.sub(r"\s+", "", raw)
    for practice in content.practices:
        assert practice.links
        for link in practice.links:
            assert link.removeprefix("http://") in joined, link


def test_every_content_text_is_translated_in_every_language(content: Content) -> None:
    lookup = {language: catalog_texts(language) for language in ("en", "lv")}
    assert check_translations(content, ("en", "lv"), lookup) == []


def test_a_missing_translation_is_named_by_file_and_field(content: Content) -> None:
    lookup = {"lv": {**catalog_texts("lv"), content.latest.criterion("C03").question: ""}}
    problems = check_translations(content, ("lv",), lookup)
    assert problems == ["checklist-v1.yaml: criteria[2].question (lv): no translation"]


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_missing_file_is_named(broken_dir: Path) -> None:
    (broken_dir / "practices.yaml").unlink()
    with pytest.raises(ContentError, match=r"practices\.yaml: content file is missing"):
        load_content(broken_dir)


def test_a_corrupt_file_is_named(broken_dir: Path) -> None:
    (broken_dir / "checklist-v1.yaml").write_bytes(b"criteria: [\x00\xff unclosed")
    with pytest.raises(ContentError, match=r"checklist-v1\.yaml: cannot read"):
        load_content(broken_dir)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("checklist-v1.yaml", "code: C04", "code: C03"),
        ("practices.yaml", "code: fi_verkkonikkarit", "code: be_caso"),
    ],
)
def test_a_duplicate_code_is_refused(broken_dir: Path, name: str, old: str, new: str) -> None:
    _edit(broken_dir / name, old, new)
    repeated = new.removeprefix("code: ")
    with pytest.raises(ContentError, match=rf"{re.escape(name)}: .*{repeated}.* appears twice"):
        load_content(broken_dir)


def _change(path: Path, change: Callable[[Any], object]) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")


def test_a_missing_field_is_named(broken_dir: Path) -> None:
    _change(broken_dir / "checklist-v1.yaml", lambda d: d["criteria"][0].pop("question"))
    with pytest.raises(ContentError, match=r"checklist-v1\.yaml: field criteria\.0\.question"):
        load_content(broken_dir)


def test_an_inconsistent_scale_is_refused(broken_dir: Path) -> None:
    _edit(broken_dir / "checklist-v1.yaml", "value: 3", "value: 4")
    with pytest.raises(ContentError, match=r"checklist-v1\.yaml: field scale"):
        load_content(broken_dir)


def test_an_unknown_target_group_is_refused(broken_dir: Path) -> None:
    _change(
        broken_dir / "practices.yaml",
        lambda d: d["practices"][0]["target_groups"].append("nobody"),
    )
    with pytest.raises(ContentError, match=r"practices\.yaml: field practices\.0\.target_groups"):
        load_content(broken_dir)


def test_latvian_competence_centre_names_are_the_seed_own_words(content: Content) -> None:
    seed = normalise((SEED_DIR / "003_bd656a245c7715c3.txt").read_text(encoding="utf-8"))
    latvian = catalog_texts("lv")
    names = {centre.code: latvian[centre.title] for centre in content.centres}
    assert names["lv_sif"] == "Sabiedrības integrācijas fonds (SIF)"
    for code in ("lv_sif", "es_uafse", "es_sssr", "se_ffsis"):
        # The seed writes "Sabiedrības integrācijas fonds-SIF"; the catalog "... (SIF)".
        name, _, acronym = names[code].removesuffix(")").rpartition(" (")
        assert name in seed, code
        assert acronym in seed, code


def test_every_competence_centre_name_is_translated(content: Content) -> None:
    for language in ("lv", "es", "fr", "sv"):
        texts = catalog_texts(language)
        for centre in content.centres:
            assert texts[centre.title], (language, centre.code)
            assert texts[centre.title] != centre.title, (language, centre.code)
