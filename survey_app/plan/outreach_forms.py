"""The supervisor's forms for the groups not reached through schools."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from survey_app.plan.lists import MAX_LIST_SIZE
from survey_app.plan.open_links import MAX_LABEL, MAX_QUOTA
from survey_app.vocabulary import GROUP_LABELS, LIST_GROUPS


class ListForm(FlaskForm):
    group = SelectField(
        _l("Group"), choices=[SelectChoice(group, GROUP_LABELS[group]) for group in LIST_GROUPS]
    )
    size = IntegerField(
        _l("People on the list"),
        validators=[Optional(), NumberRange(min=1, max=MAX_LIST_SIZE)],
        description=_l("Numbered 1 to N as the list is published; or upload its ids."),
    )
    ids = FileField(
        _l("Anonymous ids (optional)"),
        description=_l("A text or CSV file, one id per line in list order; never names."),
    )
    planned = IntegerField(
        _l("People to draw"),
        validators=[Optional(), NumberRange(min=0, max=MAX_LIST_SIZE)],
        description=_l("Empty: enough for ±10 points at 85%, with the list's size."),
    )


class OpenLinkForm(FlaskForm):
    slug = StringField(
        _l("Short name"),
        validators=[DataRequired(), Length(max=30)],
        description=_l("Lower-case letters, digits, - and _, e.g. chengguan."),
    )
    label = StringField(_l("Area"), validators=[DataRequired(), Length(max=MAX_LABEL)])
    quota = IntegerField(
        _l("Quota"), validators=[InputRequired(), NumberRange(min=1, max=MAX_QUOTA)]
    )
    population = IntegerField(
        _l("Residents of the area"),
        validators=[Optional(), NumberRange(min=0, max=10**9)],
        description=_l("For the weights; optional."),
    )
