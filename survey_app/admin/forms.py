"""The administrator's forms: a new account, an account's campaigns, its state and a
new password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, Field, HiddenField, SelectField, SelectMultipleField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, ValidationError

from survey_app.auth.services import AccountRefused, normalise_email
from survey_app.forms import StaffForm
from survey_app.vocabulary import ROLE_LABELS, STAFF_ROLES


class CampaignsField(SelectMultipleField):
    """Campaigns as a list of check boxes (the choices: the campaigns' keys)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class NewAccountForm(StaffForm):
    email = EmailField(
        _l("E-mail (the login name)"),
        validators=[DataRequired(), Length(max=254)],
        render_kw={"autocomplete": "off"},
    )

    def validate_email(self, field: Field) -> None:
        try:
            normalise_email(field.data or "")
        except AccountRefused as error:
            raise ValidationError(_l("Give an e-mail address.")) from error

    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in STAFF_ROLES],
        validators=[DataRequired()],
    )
    campaigns = CampaignsField(_l("Campaigns"), choices=[], validate_choice=True)


class CampaignsForm(StaffForm):
    """The boxes checked are the campaigns the account keeps: unchecked boxes send
    nothing, so the hidden field tells this form from a bare POST (which changes nothing)."""

    campaigns = CampaignsField(_l("Campaigns"), choices=[], validate_choice=True)
    form = HiddenField(validators=[AnyOf(("campaigns",))])


class RoleForm(StaffForm):
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, ROLE_LABELS[role]) for role in STAFF_ROLES],
        validators=[DataRequired()],
    )


class ActiveForm(StaffForm):
    """One button; the hidden field says which way (1 enables, 0 disables)."""

    active = HiddenField(validators=[AnyOf(("0", "1"))])


class ResetPasswordForm(StaffForm):
    """One button; the hidden field says what it is for (a bare POST resets nothing)."""

    action = HiddenField(validators=[AnyOf(("reset",))])
