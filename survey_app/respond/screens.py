"""Question screens ready to render: each item's text and radio buttons, escaped once
per questionnaire version and language, not on every request.

Rendering twenty-odd radio buttons through the template, one escape and one lookup at
a time, was the largest single cost of a question page; the markup of an option never
changes within a version, only which one is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from questionnaires import Item, Questionnaire


@dataclass(frozen=True)
class OptionView:
    code: int
    unchecked: Markup
    checked: Markup

    def html(self, chosen: int | None) -> Markup:
        return self.checked if chosen == self.code else self.unchecked


@dataclass(frozen=True)
class ItemView:
    id: str
    text: str
    options: tuple[OptionView, ...]
    labels: dict[int, str]  # option code -> its label, as the review shows it

    def options_html(self, chosen: int | None) -> Markup:
        """The item's radio buttons, ``chosen`` checked (none if it is not a code)."""
        return Markup("").join(option.html(chosen) for option in self.options)


_VIEWS: dict[tuple[str, str, int, str], dict[str, ItemView]] = {}


def item_views(questionnaire: Questionnaire, language: str) -> dict[str, ItemView]:
    """Every item of ``questionnaire`` in ``language``, by item id (cached: a few
    versions times four languages)."""
    key = (questionnaire.key, questionnaire.content_hash, questionnaire.version, language)
    views = _VIEWS.get(key)
    if views is None:
        views = {item.id: _item_view(item, language) for item in questionnaire.items}
        _VIEWS[key] = views
    return views


def _item_view(item: Item, language: str) -> ItemView:
    options = []
    labels = {}
    for index, option in enumerate(item.all_options()):
        label = labels[option.code] = option.label(language)
        option_id = escape(f"{item.id}-{index}")
        start = Markup(
            '<label class="option" for="{id}"><input id="{id}" name="{name}" type="radio"'
            ' value="{code}"'
        ).format(id=option_id, name=item.id, code=option.code)
        end = Markup("> <span>{label}</span></label>").format(label=label)
        options.append(OptionView(option.code, start + end, start + Markup(" checked") + end))
    return ItemView(item.id, item.text(language), tuple(options), labels)
