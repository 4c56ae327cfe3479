"""Which strings of the content files are translatable, and their extraction for Babel.

A translatable string is the value of one of ``TRANSLATABLE_KEYS`` anywhere in a content file.
The English value is the gettext message id; every language's wording lives in ``locales/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

TRANSLATABLE_KEYS = frozenset(
    {"title", "question", "guidance", "recommendation", "label", "meaning", "summary", "text"}
)


def translatable_strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(field path, English text)`` for every translatable string below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if key in TRANSLATABLE_KEYS and isinstance(value, str):
                yield child, value
            else:
                yield from translatable_strings(value, child)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from translatable_strings(item, f"{path}[{index}]")


def extract_content(
    fileobj: IO[bytes],
    keywords: object,
    comment_tags: object,
    options: dict[str, Any],
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method for the YAML content files (see ``[tool.babel.mappings]``)."""
    document = yaml.safe_load(fileobj.read().decode("utf-8"))
    for field, text in translatable_strings(document):
        yield 0, "", text, [field]
