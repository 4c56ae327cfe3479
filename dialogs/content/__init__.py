"""Checklist and seed content as versioned data, loaded and validated at start.

Every file cites the seed lines its texts come from (``seed: "000:558-570"``) in ``seeds/``,
the EAPN brochure (000) and the BuiCaSuS summary (003) as they were given. A new checklist
version is a new ``checklist-v<N>.yaml``; stored answers keep the version they were given under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from dialogs.content.catalog import translatable_strings

CONTENT_DIR = Path(__file__).resolve().parent
Text = Annotated[str, Field(min_length=1)]
Code = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=24)]
CriterionCode = Annotated[str, Field(pattern=r"^C\d\d$")]
SeedPointer = Annotated[str, Field(pattern=r"^00[03]:\d+(-\d+)?$")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
M = TypeVar("M", bound=BaseModel)


def _unique(items: tuple[Any, ...]) -> tuple[Any, ...]:
    codes = [item.code for item in items]
    for code in codes:
        if codes.count(code) > 1:
            raise ValueError(f"code {code!r} appears twice")
    return items


Unique = AfterValidator(_unique)
"""Refuses a list whose items' codes repeat."""


class ContentError(Exception):
    """A content file is missing, unreadable or invalid; the message names file and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Meaning(_Model):
    label: Text
    meaning: Text


class ScaleLevel(Meaning):
    value: int = Field(ge=0, le=3)


class Band(Meaning):
    code: Code
    min_percent: int = Field(ge=0, le=100)


class Labelled(_Model):
    code: Code
    label: Text


class Aspect(Labelled):
    seed: SeedPointer
    text: Text


class Criterion(_Model):
    code: CriterionCode
    seed: SeedPointer
    title: Text
    question: Text
    guidance: Text
    recommendation: Text
    """What to do next when the practice is weak here, drawn from the seed's guidance."""
    aspects: Annotated[tuple[Aspect, ...], Unique] = ()

    @property
    def number(self) -> int:
        """The criterion's number in the seed's checklist (1-based)."""
        return int(self.code[1:])


class Taxonomy(_Model):
    target_groups: Annotated[tuple[Labelled, ...], Unique]
    themes: Annotated[tuple[Labelled, ...], Unique]


class Practice(_Model):
    code: Code
    seed: SeedPointer
    country: CountryCode
    name: Text
    organisation: Text
    network: Text
    title: Text
    summary: Text
    target_groups: tuple[Code, ...]
    themes: tuple[Code, ...]
    strong_criteria: tuple[CriterionCode, ...]
    links: tuple[Annotated[str, Field(pattern=r"^https?://\S+$")], ...]


class Note(_Model):
    seed: SeedPointer
    title: Text
    text: Text


class SeedNote(Note):
    """A titled seed text tied to checklist criteria: a principle, opportunity, risk or threat."""

    code: Code
    criteria: tuple[CriterionCode, ...] = ()


class Risks(_Model):
    risks: tuple[SeedNote, ...]
    threats: tuple[SeedNote, ...]


class Centre(_Model):
    code: Code
    country: CountryCode | None
    title: Text
    """The organisation's name: its own official one in its language, translated in others."""
    summary: Text
    seed: SeedPointer
    url: str | None = None


class Knowledge(_Model):
    """What a summary draws on besides the answers; set from the other content files at load."""

    taxonomy: Taxonomy = Taxonomy(target_groups=(), themes=())
    practices: tuple[Practice, ...] = ()
    risks: Risks = Risks(risks=(), threats=())
    centres: tuple[Centre, ...] = ()


class Checklist(_Model):
    version: int = Field(ge=1)
    source: SeedPointer
    title: Text
    scale: tuple[ScaleLevel, ...]
    not_applicable: Meaning
    bands: Annotated[tuple[Band, ...], Unique]
    criteria: Annotated[tuple[Criterion, ...], Unique]
    next_step: Note
    """What a practice at the top of the scale on every criterion does next."""
    knowledge: Knowledge = Knowledge()

    @model_validator(mode="after")
    def _consistent(self) -> Checklist:
        if [level.value for level in self.scale] != [0, 1, 2, 3]:
            raise ValueError("scale must list the values 0, 1, 2, 3 in order")
        minimums = [band.min_percent for band in self.bands]
        if not minimums or minimums[0] != 0 or minimums != sorted(set(minimums)):
            raise ValueError("bands must start at min_percent 0 and strictly ascend")
        return self

    @property
    def max_value(self) -> int:
        """The top of the answer scale."""
        return self.scale[-1].value

    def criterion(self, code: str) -> Criterion:
        """Return the criterion with ``code``; ``KeyError`` when the checklist has none."""
        return {criterion.code: criterion for criterion in self.criteria}[code]


class Practices(_Model):
    practices: Annotated[tuple[Practice, ...], Unique]


class Principles(_Model):
    principles: tuple[SeedNote, ...]


class Opportunities(_Model):
    opportunities: tuple[SeedNote, ...]


class Centres(_Model):
    centres: tuple[Centre, ...]


class Content(Knowledge):
    """Everything the engine reads from ``dialogs/content/``."""

    checklists: Mapping[int, Checklist]
    principles: tuple[SeedNote, ...]
    opportunities: tuple[SeedNote, ...]
    texts: Mapping[str, str]
    """Every translatable English text, mapped to the ``file: field`` it was first found at."""
    stats_min_group: int = Field(5, ge=1)
    """The fewest practices a peer group shows medians for: no content file sets it, the
    adapters give ``STATS_MIN_GROUP`` at start (``bot.runtime.load_checked_content``)."""

    @property
    def latest(self) -> Checklist:
        """The checklist new assessments use."""
        return self.checklists[max(self.checklists)]

    def checklist(self, version: int) -> Checklist:
        """Return the checklist an assessment was started with."""
        try:
            return self.checklists[version]
        except KeyError:
            raise ContentError(f"no checklist version {version} in {CONTENT_DIR}") from None


def _parse(model: type[M], path: Path, texts: dict[str, str]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
        # libyaml's safe loader, where PyYAML has it, reads the same documents in C.
        if yaml.__with_libyaml__:
            document = yaml.load(text, Loader=yaml.CSafeLoader)
        else:
            document = yaml.safe_load(text)
    except FileNotFoundError:
        raise ContentError(f"{path}: content file is missing") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ContentError(f"{path}: cannot read content file: {error}") from None
    try:
        parsed = model.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise ContentError(f"{path.name}: field {field}: {first['msg']}") from None
    for field, text in translatable_strings(document):
        texts.setdefault(text, f"{path.name}: {field}")
    return parsed


def _cross_check(content: Content) -> None:
    codes = {criterion.code for criterion in content.latest.criteria}
    groups = {item.code for item in content.taxonomy.target_groups}
    themes = {item.code for item in content.taxonomy.themes}
    for index, practice in enumerate(content.practices):
        where = f"practices.yaml: field practices.{index}"
        _must_belong(f"{where}.target_groups", practice.target_groups, groups)
        _must_belong(f"{where}.themes", practice.themes, themes)
        _must_belong(f"{where}.strong_criteria", practice.strong_criteria, codes)
    for kind, notes in (
        ("risks", content.risks.risks),
        ("threats", content.risks.threats),
        ("principles", content.principles),
        ("opportunities", content.opportunities),
    ):
        for index, note in enumerate(notes):
            _must_belong(f"{kind}.{index}.criteria", note.criteria, codes)


def _must_belong(field: str, values: Iterable[str], allowed: set[str]) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ContentError(f"{field}: unknown code(s) {', '.join(unknown)}")


def load_content(directory: Path = CONTENT_DIR) -> Content:
    """Read and validate every content file in ``directory``; ``ContentError`` names the fault."""
    texts: dict[str, str] = {}
    checklists: dict[int, Checklist] = {}
    for path in sorted(directory.glob("checklist-v*.yaml")):
        checklist = _parse(Checklist, path, texts)
        if path.stem != f"checklist-v{checklist.version}":
            raise ContentError(f"{path.name}: field version: {checklist.version} != file name")
        checklists[checklist.version] = checklist
    if not checklists:
        raise ContentError(f"{directory}: no checklist-v<N>.yaml content file")
    knowledge = Knowledge(
        taxonomy=_parse(Taxonomy, directory / "taxonomy.yaml", texts),
        practices=_parse(Practices, directory / "practices.yaml", texts).practices,
        risks=_parse(Risks, directory / "risks.yaml", texts),
        centres=_parse(Centres, directory / "competence_centres.yaml", texts).centres,
    )
    checklists = {
        version: checklist.model_copy(update={"knowledge": knowledge})
        for version, checklist in checklists.items()
    }
    content = Content(
        **dict(knowledge),
        checklists=checklists,
        principles=_parse(Principles, directory / "principles.yaml", texts).principles,
        opportunities=_parse(Opportunities, directory / "opportunities.yaml", texts).opportunities,
        texts=texts,
    )
    _cross_check(content)
    return content


@cache
def default_content() -> Content:
    """The content shipped with SI Check, loaded once per process."""
    return load_content()


def check_translations(
    content: Content, languages: Iterable[str], lookup: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """List every content text that a language's catalog lacks, as ``file: field (lang)``."""
    return [
        f"{where} ({language}): no translation"
        for language in languages
        for text, where in content.texts.items()
        if not lookup[language].get(text)
    ]
