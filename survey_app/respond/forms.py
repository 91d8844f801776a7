"""Forms of the respondent's path. Question screens are built from questionnaire data."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from questionnaires import Item
from survey_app.respond.services import COMMENT_FIELD


class CodeEntryForm(FlaskForm):
    code = StringField(
        _l("Your code"),
        validators=[DataRequired(message=_l("Please type the code printed on your slip."))],
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "characters",
            "spellcheck": "false",
            "inputmode": "text",
            "placeholder": "XXXXX-XXXXX-XXXXX",
        },
    )


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token: start, submit."""


def question_form(
    items: tuple[Item, ...],
    language: str,
    *,
    with_comment: bool,
    comment_label: str,
    comment_max_length: int,
) -> type[FlaskForm]:
    """A form class for one screen of questions, in the respondent's language.

    The form only renders: the view saves every well-formed answer itself (so one bad
    field never discards the others), and over-long comments are cut, not refused.
    """

    class QuestionScreen(FlaskForm):
        pass

    for item in items:
        choices = [
            SelectChoice(str(option.code), option.label(language)) for option in item.all_options()
        ]
        field = RadioField(item.text(language), choices=choices, validators=[Optional()])
        setattr(QuestionScreen, item.id, field)
    if with_comment:
        setattr(
            QuestionScreen,
            COMMENT_FIELD,
            TextAreaField(
                comment_label,
                validators=[Optional()],
                render_kw={"maxlength": comment_max_length, "rows": 4},
            ),
        )
    return QuestionScreen
