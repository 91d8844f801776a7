"""Find every defect in one parsed questionnaire document, as :class:`Problem` values.

Two passes over the same document, both of which always run to the end: the JSON Schema
(structure, vocabularies) and the cross-references a schema cannot express (each language
of ``languages`` in every text, unique item ids, scales that exist and say what counts as
recognised, audiences within ``groups``). Checks are defensive: a malformed part is
reported and skipped, never allowed to crash the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from questionnaires.model import Problem

STUDENT = "student"

_REQUIRED_MESSAGES = {
    "dont_know": "missing: every scale needs a 不了解 (don't know) answer",
    "recognised": "missing: say whether this answer counts as recognised",
}


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema shipped beside the data (questionnaires/schema.json)."""
    text = resources.files("questionnaires").joinpath("schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def vocabulary(name: str) -> tuple[str, ...]:
    """Codes of a vocabulary defined in the schema: group, reading_level, language, area."""
    return tuple(schema()["$defs"][name]["enum"])


def area_label(area: str, lang: str) -> str:
    """The name of a content area in ``lang`` (zh_Hans when the language is unknown)."""
    labels: dict[str, str] = schema()["$defs"]["area"]["x-labels"][area]
    return labels.get(lang) or labels["zh_Hans"]


def find_problems(document: object, file: str) -> list[Problem]:
    """Every defect of ``document`` (already parsed from ``file``), schema ones first."""
    problems = [
        problem
        for error in _schema_errors(document)
        for problem in _schema_problems(error, document, file)
    ]
    if isinstance(document, dict):
        problems.extend(_ReferenceCheck(document, file).problems())
    return _unique(problems)


def _schema_errors(document: object) -> list[ValidationError]:
    errors = _validator().iter_errors(document)
    return sorted(errors, key=lambda error: [str(part) for part in error.absolute_path])


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _path_text(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def locate(document: object, path: Sequence[str | int]) -> tuple[str | None, str]:
    """``(item id, field)`` for a path into the document; item-relative inside an item."""
    if len(path) >= 2 and path[0] == "items" and isinstance(path[1], int):
        items = document.get("items") if isinstance(document, dict) else None
        entry = items[path[1]] if isinstance(items, list) and path[1] < len(items) else None
        item_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(item_id, str) and item_id:
            return item_id, _path_text(path[2:])
    return None, _path_text(path)


def _join(field: str, name: str) -> str:
    return f"{field}.{name}" if field else name


def _schema_problems(error: ValidationError, document: object, file: str) -> list[Problem]:
    path = list(error.absolute_path)
    item, field = locate(document, path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        return [
            Problem(file, item, _join(field, name), _REQUIRED_MESSAGES.get(name, "missing"))
            for name in expected
            if name not in instance
        ]
    if keyword == "additionalProperties":
        allowed = error.schema.get("properties", {})
        extra = sorted(str(name) for name in instance if name not in allowed)
        return [Problem(file, item, _join(field, name), "unknown field") for name in extra]
    if keyword in ("minItems", "maxItems"):
        noun = "items" if path == ["items"] else "entries"
        bound = "at least" if keyword == "minItems" else "at most"
        verb = "needed" if keyword == "minItems" else "allowed"
        message = f"has {len(instance)} {noun}; {bound} {expected} {verb}"
        return [Problem(file, item, field, message)]
    return [Problem(file, item, _key_field(document, path, field, instance), _message(error))]


def _key_field(document: object, path: list[str | int], field: str, instance: object) -> str:
    """For an error about a mapping key (``propertyNames``), point at the key itself."""
    target: object = document
    for part in path:
        try:
            target = target[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return field
    if isinstance(target, dict) and isinstance(instance, str) and instance in target:
        return _join(field, instance)
    return field


def _message(error: ValidationError) -> str:
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "enum":
        for vocabulary_name in ("area", "group", "language", "reading_level"):
            if list(expected) == list(vocabulary(vocabulary_name)):
                noun = vocabulary_name.replace("_", " ")
                return f"unknown {noun} {instance!r} (allowed: {', '.join(expected)})"
        return f"{instance!r} is not one of {', '.join(map(str, expected))}"
    if keyword == "type":
        return f"must be of type {expected}, not {type(instance).__name__}"
    if keyword == "pattern":
        if expected == "\\S":
            return "must not be blank"
        return f"{instance!r} does not match {expected}"
    if keyword == "const":
        return f"must be {json.dumps(expected)}"
    if keyword == "contains":
        return f"must include {expected.get('const', expected)!r}"
    if keyword == "uniqueItems":
        return "has duplicate entries"
    if keyword == "minProperties":
        return "must not be empty"
    if keyword in ("minimum", "maximum"):
        return f"must be {'at least' if keyword == 'minimum' else 'at most'} {expected}"
    return str(error.message)


class _ReferenceCheck:
    """The checks that need the whole document; each method appends to ``found``."""

    def __init__(self, document: dict[str, Any], file: str) -> None:
        self.document = document
        self.file = file
        self.found: list[Problem] = []
        known = vocabulary("language")
        self.languages = [lang for lang in _list(document.get("languages")) if lang in known]
        self.groups = [group for group in _list(document.get("groups")) if isinstance(group, str)]

    def problems(self) -> list[Problem]:
        self._reading_level()
        self._translations(self.document.get("title"), None, "title")
        self._translations(self.document.get("intro"), None, "intro")
        scales = self.document.get("scales")
        if isinstance(scales, dict):
            for key, scale in scales.items():
                self._scale(str(key), scale)
        self._items(scales if isinstance(scales, dict) else {})
        comment = self.document.get("comment")
        if isinstance(comment, dict):
            self._translations(comment.get("text"), None, "comment.text")
        return self.found

    def _add(self, item: str | None, field: str, message: str) -> None:
        self.found.append(Problem(self.file, item, field, message))

    def _reading_level(self) -> None:
        has_level = "reading_level" in self.document
        if STUDENT in self.groups and not has_level:
            self._add(None, "reading_level", "required when groups include student")
        if has_level and STUDENT not in self.groups:
            self._add(None, "reading_level", "only questionnaires for students have one")

    def _translations(self, texts: object, item: str | None, field: str) -> None:
        if not isinstance(texts, dict) or not self.languages:
            return  # a missing or invalid `languages` is reported by the schema
        for lang in self.languages:
            if lang not in texts:
                self._add(item, f"{field}.{lang}", "missing translation")
        for lang in texts:
            if lang in vocabulary("language") and lang not in self.languages:
                self._add(item, f"{field}.{lang}", "language not listed in languages")

    def _scale(self, key: str, scale: object) -> None:
        if not isinstance(scale, dict):
            return
        field = f"scales.{key}"
        options = [option for option in _list(scale.get("options")) if isinstance(option, dict)]
        for index, option in enumerate(options):
            self._translations(option.get("label"), None, f"{field}.options[{index}].label")
        dont_know = scale.get("dont_know")
        if isinstance(dont_know, dict):
            self._translations(dont_know.get("label"), None, f"{field}.dont_know.label")
        flags = [option.get("recognised") for option in options]
        if flags and not any(flag is True for flag in flags):
            self._add(None, f"{field}.options", "no answer counts as recognised")
        if flags and all(flag is True for flag in flags):
            self._add(None, f"{field}.options", "every answer counts as recognised")
        first_unrecognised = next((i for i, flag in enumerate(flags) if flag is False), len(flags))
        if any(flag is True for flag in flags[first_unrecognised:]):
            self._add(
                None, f"{field}.options", "recognised answers must come first (most favourable)"
            )
        codes = [option.get("code") for option in options]
        numbers = [code for code in codes if isinstance(code, int)]
        if len(numbers) == len(codes) and numbers != sorted(numbers, reverse=True):
            self._add(None, f"{field}.options", "codes must descend, most favourable first")
        if isinstance(dont_know, dict):
            codes.append(dont_know.get("code"))
        for code in sorted({c for c in codes if isinstance(c, int) and codes.count(c) > 1}):
            self._add(None, f"{field}.options", f"answer code {code} is used twice")

    def _items(self, scales: dict[str, Any]) -> None:
        seen: dict[str, int] = {}
        items = [item for item in _list(self.document.get("items")) if isinstance(item, dict)]
        for position, item in enumerate(items, start=1):
            item_id = item.get("id") if isinstance(item.get("id"), str) else None
            label = item_id or f"#{position}"
            if item_id is not None:
                if item_id in seen:
                    first = seen[item_id]
                    self._add(item_id, "id", f"duplicate item id (first at position {first})")
                seen.setdefault(item_id, position)
            self._translations(item.get("text"), label, "text")
            scale = item.get("scale")
            if isinstance(scale, str) and scale not in scales:
                defined = ", ".join(map(str, scales)) or "none"
                self._add(label, "scale", f"unknown scale {scale!r} (defined: {defined})")
            for index, group in enumerate(_list(item.get("audience"))):
                known = group in vocabulary("group")
                if known and group not in self.groups:
                    self._add(
                        label,
                        f"audience[{index}]",
                        f"group {group!r} does not answer this questionnaire",
                    )
        comment = self.document.get("comment")
        comment_id = comment.get("id") if isinstance(comment, dict) else None
        if isinstance(comment_id, str) and comment_id in seen:
            self._add(None, "comment.id", f"{comment_id!r} is also an item id")
        if any("audience" in item for item in items):
            self._items_per_group(items)

    def _items_per_group(self, items: list[dict[str, Any]]) -> None:
        """Each group must see as many items as a questionnaire must have (schema bounds)."""
        bounds = schema()["properties"]["items"]
        low, high = bounds["minItems"], bounds["maxItems"]
        for group in self.groups:
            seen_by = [item for item in items if group in item.get("audience", [group])]
            if not low <= len(seen_by) <= high:
                self._add(
                    None,
                    "items",
                    f"group {group} sees {len(seen_by)} items; {low} to {high} allowed",
                )


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
