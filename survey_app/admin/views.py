"""Staff accounts on the web, for administrators: the list, a new account, and one
account's campaigns, state and password (``auth/accounts.py`` does the work).

A new or reset password is shown once, on the page that answers the form, and never
again: only its hash is kept, and nothing logs it.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from survey_app.admin.forms import (
    ActiveForm,
    CampaignsForm,
    NewAccountForm,
    ResetPasswordForm,
    RoleForm,
)
from survey_app.auth import accounts, services
from survey_app.auth.access import staff_blueprint
from survey_app.models import User

bp = staff_blueprint("admin", __name__, roles=("admin",), url_prefix="/admin")


def _campaign_choices() -> list[SelectChoice]:
    """Every campaign as its key, labelled "key · county", newest window first."""
    return [
        SelectChoice(campaign.key, f"{campaign.key} · {campaign.county_name}")
        for campaign in services.visible_campaigns(current_user)  # an admin sees all
    ]


def _account_or_404(account_id: int) -> User:
    try:
        return accounts.account(account_id)
    except accounts.AccountChangeRefused:
        abort(404)


@bp.route("/accounts")
def account_list() -> ResponseReturnValue:
    return render_template("admin/accounts.html", accounts=accounts.accounts())


@bp.route("/accounts/new", methods=["GET", "POST"])
def new_account() -> ResponseReturnValue:
    form = NewAccountForm()
    form.campaigns.choices = _campaign_choices()
    status = 200
    if form.validate_on_submit():
        role = form.role.data or ""
        keys = [] if role == "admin" else list(form.campaigns.data or [])
        password = accounts.new_password()
        try:
            user = accounts.create(form.email.data or "", role, password, keys, by=current_user)  # type: ignore[arg-type]
        except services.AccountRefused:
            form.email.errors = [*form.email.errors, _("An account with this e-mail exists.")]
            status = 409
        else:
            return render_template("admin/password.html", account=user, password=password, new=True)
    elif form.is_submitted():
        status = 422
    return render_template("admin/new_account.html", form=form), status


@bp.route("/accounts/<int:account_id>")
def account_page(account_id: int) -> ResponseReturnValue:
    return _account_page(_account_or_404(account_id))


def _campaigns_form(user: User | None = None) -> CampaignsForm:
    """The campaigns' boxes as posted, or (``user``) as the account has them."""
    if user is None:
        form = CampaignsForm()
    else:  # not from the request: a POST of another form on the page sends no boxes
        form = CampaignsForm(formdata=None, data={"campaigns": [c.key for c in user.campaigns]})
    form.campaigns.choices = _campaign_choices()
    return form


def _account_page(
    user: User,
    form: CampaignsForm | None = None,
    notice: str | None = None,
    refused: str | None = None,
    status: int = 200,
    role_form: RoleForm | None = None,
) -> ResponseReturnValue:
    return render_template(
        "admin/account.html",
        account=user,
        form=form or _campaigns_form(user),
        active_form=ActiveForm(formdata=None),
        role_form=role_form or RoleForm(formdata=None, data={"role": user.role}),
        reset_form=ResetPasswordForm(formdata=None),
        notice=notice,
        refused=refused,
        myself=user.id == current_user.id,
    ), status


@bp.route("/accounts/<int:account_id>/campaigns", methods=["POST"])
def account_campaigns(account_id: int) -> ResponseReturnValue:
    user = _account_or_404(account_id)
    form = _campaigns_form()
    if not form.validate_on_submit():
        return _account_page(user, form, status=422)
    try:
        change = accounts.set_campaigns(user, form.campaigns.data or [])
    except accounts.AccountChangeRefused as refused:
        return _account_page(user, form, refused=_refusal(refused), status=409)
    return _account_page(user, form, notice=_access_notice(change))


@bp.route("/accounts/<int:account_id>/active", methods=["POST"])
def account_active(account_id: int) -> ResponseReturnValue:
    user = _account_or_404(account_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        return _account_page(user, status=422)
    try:
        accounts.set_active(user, form.active.data == "1", by=current_user)  # type: ignore[arg-type]
    except accounts.AccountChangeRefused as refused:
        return _account_page(user, refused=_refusal(refused), status=409)
    return redirect(url_for("admin.account_page", account_id=user.id))


@bp.route("/accounts/<int:account_id>/role", methods=["POST"])
def account_role(account_id: int) -> ResponseReturnValue:
    user = _account_or_404(account_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _account_page(user, status=422, role_form=form)
    try:
        accounts.set_role(user, form.role.data or "", by=current_user)  # type: ignore[arg-type]
    except accounts.AccountChangeRefused as refused:
        return _account_page(user, refused=_refusal(refused), status=409, role_form=form)
    return redirect(url_for("admin.account_page", account_id=user.id))


@bp.route("/accounts/<int:account_id>/password", methods=["POST"])
def account_password(account_id: int) -> ResponseReturnValue:
    user = _account_or_404(account_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _account_page(user, status=422)
    password = accounts.reset_password(user, by=current_user)  # type: ignore[arg-type]
    return render_template("admin/password.html", account=user, password=password, new=False)


def _access_notice(change: accounts.AccessChange) -> str:
    if not change.granted and not change.withdrawn:
        return _("Nothing changed.")
    parts = []
    if change.granted:
        parts.append(_("Granted: %(keys)s.", keys=", ".join(change.granted)))
    if change.withdrawn:
        parts.append(_("Withdrawn: %(keys)s.", keys=", ".join(change.withdrawn)))
    return " ".join(parts)


def _refusal(refused: accounts.AccountChangeRefused) -> str:
    texts = {
        "own_account": _("You cannot disable your own account."),
        "own_role": _("You cannot change your own role."),
        "last_admin": _("This is the last active administrator: it stays one."),
        "admin_sees_all": _("An administrator sees every campaign: nothing to grant."),
    }
    return texts.get(refused.code, str(refused))
