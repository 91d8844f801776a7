"""Forms of the respondent's path (question screens are rendered from questionnaire data)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired


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
