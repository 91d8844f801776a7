"""Question screens' cached markup: escaped once, checked where the answer is."""

from __future__ import annotations

import dataclasses

from questionnaires import published_for
from questionnaires.model import Translations
from survey_app.respond.screens import item_views


def test_each_option_is_a_labelled_radio_checked_only_when_chosen():
    questionnaire = published_for("parent")
    item = questionnaire.items[0]
    view = item_views(questionnaire, "en")[item.id]
    assert view.text == item.text("en")
    first = view.options[0]
    code = item.all_options()[0].code
    assert f'name="{item.id}" type="radio" value="{code}">' in first.html(None)
    assert " checked>" in first.html(code)
    assert " checked" not in first.html(code + 1)
    assert item.all_options()[0].label("en") in first.html(None)


def test_labels_and_texts_are_escaped():
    questionnaire = published_for("parent")
    item = questionnaire.items[0]
    hostile = Translations((("zh_Hans", '<script>"x"</script>'), ("en", "<b>")))
    option = dataclasses.replace(item.scale.options[0], labels=hostile)
    scale = dataclasses.replace(item.scale, options=(option, *item.scale.options[1:]))
    changed = dataclasses.replace(item, scale=scale, texts=hostile)
    edited = dataclasses.replace(
        questionnaire, items=(changed,), content_hash="sha256:test-escaping"
    )
    view = item_views(edited, "zh_Hans")[item.id]
    html = view.options[0].html(None)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert view.text == '<script>"x"</script>'  # plain text: the template escapes it
