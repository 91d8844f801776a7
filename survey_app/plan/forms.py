"""The supervisor's forms: a new campaign, a school frame to upload."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from survey_app.forms import StaffForm
from survey_app.vocabulary import (
    GROUP_LABELS,
    RESPONDENT_GROUPS,
    SCHOOL_GROUPS,
    STAGE_LABELS,
    STAGES,
)

# Each language in its own name, as the slips' reader will recognise it.
LANGUAGE_NAMES = {
    "zh_Hans": "中文（简体）",
    "zh_Hant": "中文（繁體）",
    "en": "English",
    "ug": "ئۇيغۇرچە",
}


class CampaignForm(StaffForm):
    key = StringField(
        _l("Key"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("Lower-case letters, digits, - and _, e.g. 2026-hx-self."),
    )
    county_code = StringField(
        _l("County code"),
        validators=[DataRequired(), Length(min=6, max=6)],
        description=_l("Six digits (GB/T 2260)."),
    )
    county_name = StringField(_l("County name"), validators=[DataRequired(), Length(max=80)])
    stage = SelectField(
        _l("Stage"), choices=[SelectChoice(stage, STAGE_LABELS[stage]) for stage in STAGES]
    )
    resident_population = IntegerField(
        _l("Resident population"), validators=[InputRequired(), NumberRange(min=1)]
    )
    opens = DateField(_l("First day of fieldwork"), validators=[InputRequired()])
    closes = DateField(_l("Last day of fieldwork"), validators=[InputRequired()])
    threshold = FloatField(
        _l("Threshold"), default=0.85, validators=[InputRequired(), NumberRange(0.01, 0.99)]
    )
    verdict_rule = SelectField(
        _l("Verdict"),
        choices=[
            SelectChoice(
                "confidence", _l("Met when the lower confidence bound reaches the threshold")
            ),
            SelectChoice("point", _l("Met when the estimate reaches the threshold")),
        ],
    )


# One optional policy-weight field per group; all blank means the national composition.
for _group in RESPONDENT_GROUPS:
    setattr(
        CampaignForm,
        f"weight_{_group}",
        FloatField(GROUP_LABELS[_group], validators=[Optional(), NumberRange(0, 1)]),
    )


class CampaignSettingsForm(CampaignForm):
    """A campaign in preparation changed: every field of a new one but the key."""

    key = None  # type: ignore[assignment]


class DrawForm(StaffForm):
    """The seed; the schools per stratum are fields named ``n-<stratum>`` on the page."""

    seed = IntegerField(
        _l("Seed"),
        validators=[InputRequired(), NumberRange(min=0, max=2**63 - 1)],
        description=_l(
            "Recorded with the draw: the same seed draws the same schools. Use a number "
            "drawn in public (a lottery result, dice) if the draw must be seen to be fair."
        ),
    )


class IssueCodesForm(StaffForm):
    language = SelectField(
        _l("Language of the slips"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()],
    )
    output = SelectField(
        _l("Print as"),
        choices=[
            SelectChoice("pdf", _l("PDF slips to cut (QR code, code, link)")),
            SelectChoice("csv", _l("CSV table of codes and links")),
        ],
    )


class RevokeCodeForm(StaffForm):
    code = StringField(_l("Code to revoke"), validators=[DataRequired(), Length(max=60)])


class FrameUploadForm(StaffForm):
    frame = FileField(_l("School frame (CSV or XLSX)"), validators=[FileRequired()])


class ReplaceSchoolForm(StaffForm):
    """A drawn school that refused, after the freeze (``plan/changes.py``); the school's
    code comes from the row of the page it is posted from."""

    school = StringField(validators=[DataRequired(), Length(max=20)])
    substitute = StringField(
        _l("Substitute (school code)"),
        validators=[Optional(), Length(max=20)],
        description=_l("Blank: the next undrawn school of the stratum in frame order."),
    )
    reason = TextAreaField(
        _l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(max=500)]
    )


class CorrectPopulationForm(StaffForm):
    """A corrected population M of one group at a school in the field, after the freeze."""

    school = StringField(validators=[DataRequired(), Length(max=20)])
    group = SelectField(
        _l("Group"), choices=[SelectChoice(group, GROUP_LABELS[group]) for group in SCHOOL_GROUPS]
    )
    population = IntegerField(
        _l("Population"), validators=[InputRequired(), NumberRange(min=0, max=1_000_000)]
    )
    reason = TextAreaField(
        _l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(max=500)]
    )


class ClosingForm(StaffForm):
    """The fieldwork's last day moved (``campaigns.move_closing``), with a reason."""

    closes = DateField(_l("Last day of fieldwork"), validators=[InputRequired()])
    reason = TextAreaField(
        _l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(max=500)]
    )
