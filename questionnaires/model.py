"""The questionnaire as immutable values: what the app shows and what analysis counts.

Everything is keyed by codes (item ids, option codes, area codes); translated strings are
only reached through ``text(lang)`` / ``label(lang)``. A language the questionnaire does
not have falls back to zh_Hans, the source language every file must contain.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_LANGUAGE = "zh_Hans"


@dataclass(frozen=True)
class Problem:
    """One defect in one questionnaire file.

    ``item`` is the item id when the defect is inside an item, else None; ``field`` is
    the path inside the item (``text.ug``) or inside the document (``scales.x.dont_know``).
    """

    file: str
    item: str | None
    field: str
    message: str

    @property
    def location(self) -> str:
        """Path in the document, e.g. ``items[q03].text.ug``."""
        if self.item is None:
            return self.field
        return f"items[{self.item}].{self.field}" if self.field else f"items[{self.item}]"

    def __str__(self) -> str:
        parts = [self.file]
        if self.item is not None:
            parts.append(f"item {self.item}")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class QuestionnaireError(Exception):
    """A questionnaire that cannot be used; ``problems`` lists every defect found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class Translations:
    """A text in several languages, as ``(language, text)`` pairs in file order."""

    pairs: tuple[tuple[str, str], ...]

    def get(self, lang: str) -> str:
        """The text in ``lang``, else in zh_Hans (validated files always have both)."""
        found = dict(self.pairs)
        return found.get(lang) or found[SOURCE_LANGUAGE]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang, _text in self.pairs)


@dataclass(frozen=True)
class Option:
    """One answer. ``recognised`` is True/False for scale options and None for 不了解."""

    code: int
    labels: Translations
    recognised: bool | None

    def label(self, lang: str) -> str:
        return self.labels.get(lang)

    @property
    def is_dont_know(self) -> bool:
        return self.recognised is None


@dataclass(frozen=True)
class Scale:
    """Ordered answers, most favourable first, and the 不了解 answer shown after them."""

    key: str
    options: tuple[Option, ...]
    dont_know: Option

    def all_options(self) -> tuple[Option, ...]:
        """Every answer in display order, 不了解 last."""
        return (*self.options, self.dont_know)

    @property
    def recognised_codes(self) -> frozenset[int]:
        return frozenset(option.code for option in self.options if option.recognised)

    @property
    def codes(self) -> frozenset[int]:
        """Every code an answer may take, 不了解 included."""
        return frozenset(option.code for option in self.all_options())

    def option(self, code: int) -> Option:
        for option in self.all_options():
            if option.code == code:
                return option
        raise KeyError(f"scale {self.key} has no answer code {code}")


@dataclass(frozen=True)
class Item:
    """One question. ``audience`` is None when every group of the questionnaire sees it."""

    id: str
    area: str
    scale: Scale
    texts: Translations
    audience: frozenset[str] | None = None

    def text(self, lang: str) -> str:
        return self.texts.get(lang)

    def all_options(self) -> tuple[Option, ...]:
        """Answers in display order, 不了解 last."""
        return self.scale.all_options()

    def options(self, lang: str) -> tuple[tuple[int, str], ...]:
        """``(code, label)`` pairs in display order, 不了解 last: ready for a radio field."""
        return tuple((option.code, option.label(lang)) for option in self.all_options())

    def option_label(self, code: int, lang: str) -> str:
        return self.scale.option(code).label(lang)

    def shown_to(self, group: str) -> bool:
        return self.audience is None or group in self.audience

    @property
    def recognised_codes(self) -> frozenset[int]:
        return self.scale.recognised_codes

    @property
    def dont_know_code(self) -> int:
        return self.scale.dont_know.code


@dataclass(frozen=True)
class Comment:
    """The one optional open comment at the end of the questionnaire."""

    id: str
    max_length: int
    texts: Translations
    optional: bool = True

    def text(self, lang: str) -> str:
        return self.texts.get(lang)


@dataclass(frozen=True)
class Questionnaire:
    """One version of one questionnaire, validated.

    ``content_hash`` (``sha256:…``) is taken over the parsed content, so it ignores YAML
    layout and comments but changes with any text, code or flag; responses store
    ``(key, version)`` and the publication lock ties each version to its hash.
    """

    key: str
    version: int
    groups: tuple[str, ...]
    reading_level: str | None
    languages: tuple[str, ...]
    titles: Translations
    intros: Translations
    scales: tuple[Scale, ...]
    items: tuple[Item, ...]
    comment: Comment | None
    content_hash: str

    def title(self, lang: str) -> str:
        return self.titles.get(lang)

    def intro_text(self, lang: str) -> str:
        """The one-line purpose shown before the first question."""
        return self.intros.get(lang)

    def comment_text(self, lang: str) -> str:
        return self.comment.text(lang) if self.comment is not None else ""

    @property
    def comment_max_length(self) -> int:
        return self.comment.max_length if self.comment is not None else 0

    def items_for(self, group: str) -> tuple[Item, ...]:
        """The items ``group`` sees, in questionnaire order."""
        if group not in self.groups:
            raise ValueError(f"group {group!r} does not answer questionnaire {self.key!r}")
        return tuple(item for item in self.items if item.shown_to(group))

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"questionnaire {self.key} v{self.version} has no item {item_id!r}")

    def scale(self, key: str) -> Scale:
        for scale in self.scales:
            if scale.key == key:
                return scale
        raise KeyError(f"questionnaire {self.key} v{self.version} has no scale {key!r}")

    def recognised_codes(self, item_id: str) -> frozenset[int]:
        """Answer codes of ``item_id`` that count as recognised (the numerator)."""
        return self.item(item_id).recognised_codes

    def dont_know_code(self, item_id: str) -> int:
        """The 不了解 code of ``item_id``: excluded from the denominator."""
        return self.item(item_id).dont_know_code

    def area_of(self, item_id: str) -> str:
        return self.item(item_id).area
