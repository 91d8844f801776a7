"""Signing in and out, and the staff's list of campaigns."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from survey_app import vocabulary
from survey_app.auth import accounts, login_limits, services
from survey_app.auth.forms import ChangePasswordForm, LoginForm
from survey_app.extensions import db, login_manager
from survey_app.integrity import messages as integrity_messages
from survey_app.models import User
from survey_app.plan import audit_text
from survey_app.security import password_fingerprint

bp = Blueprint("auth", __name__, url_prefix="/staff")


def _safe_next(target: str | None) -> str | None:
    """``next`` only if it is a path on this site (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc or "\\" in target else target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    next_page = _safe_next(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(next_page or url_for("auth.home"))
    refused, retry_minutes, status = None, 0, 200
    if form.validate_on_submit():
        email = form.email.data or ""
        try:
            login_limits.check_login_allowed(email)
            user = services.authenticate(email, form.password.data or "")
        except login_limits.TooManyLogins as error:
            refused, retry_minutes, status = "throttled", -(-error.retry_after // 60), 429
        except services.LoginRefused:
            login_limits.count_failed_login(email)
            refused, status = "wrong", 401
        else:
            session.clear()  # nothing of a respondent's session carries into a staff one
            login_user(user)
            return redirect(next_page or url_for("auth.home"))
    elif request.method == "POST":
        status = 400
    page = render_template(
        "auth/login.html",
        form=form,
        refused=refused,
        retry_minutes=retry_minutes,
        next_page=next_page,
    )
    # 401 asks for credentials; this scheme name says they go into the form on the page.
    headers = {"WWW-Authenticate": 'Form realm="staff"'} if status == 401 else {}
    return page, status, headers


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    campaigns = services.visible_campaigns(current_user)  # type: ignore[arg-type]
    return render_template("auth/home.html", campaigns=campaigns)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    """A member of staff's own new password; this session stays signed in, every other
    one of the account ends."""
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        user: User = current_user._get_current_object()  # type: ignore[attr-defined]
        try:
            # Guessing the current password from a session left open is a sign-in by
            # other means: the same limits, counted against the account.
            login_limits.check_login_allowed(user.email)
            accounts.change_own_password(user, form.current.data or "", form.new.data or "")
        except login_limits.TooManyLogins as error:
            form.current.errors = [
                *form.current.errors,
                _(
                    "Too many failed sign-ins. Please wait %(minutes)d minutes and try again.",
                    minutes=-(-error.retry_after // 60),
                ),
            ]
            status = 429
        except accounts.AccountChangeRefused as refused:
            if refused.code == "wrong_password":
                login_limits.count_failed_login(user.email)
            field = form.current if refused.code == "wrong_password" else form.new
            field.errors = [*field.errors, _refused_password(refused)]
            status = 422
        else:
            login_user(user)  # the session's id holds the new password's fingerprint
            return render_template("auth/password.html", form=None, changed=True)
    elif form.is_submitted():
        status = 422
    return render_template("auth/password.html", form=form, changed=False), status


def _refused_password(refused: accounts.AccountChangeRefused) -> str:
    if refused.code == "wrong_password":
        return _("The current password is not right.")
    return _("At least %(n)d characters.", n=services.MIN_PASSWORD_LENGTH)


def init_app(app: Flask) -> None:
    # Flask-Login's own context processor loads the user for every page rendered, the
    # respondents' too (and marks their session changed); the proxy below is evaluated
    # only by the staff templates that use it.
    login_manager.init_app(app, add_context_processor=False)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the sign-in page explains itself
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        """The active account of a session signed in with its current password."""
        user_id, _dot, fingerprint = session_id.partition(".")
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        if user is None or not user.active:
            return None
        current = password_fingerprint(user.password_hash)
        return user if hmac.compare_digest(fingerprint.encode(), current.encode()) else None

    app.jinja_env.globals.update(
        current_user=current_user,
        role_labels=vocabulary.ROLE_LABELS,
        stage_labels=vocabulary.STAGE_LABELS,
        status_labels=vocabulary.CAMPAIGN_STATUS_LABELS,
        location_labels=vocabulary.LOCATION_LABELS,
        school_level_labels=vocabulary.SCHOOL_LEVEL_LABELS,
        group_labels=vocabulary.GROUP_LABELS,
        stratum_label=vocabulary.stratum_label,
        integrity_decision_labels=vocabulary.INTEGRITY_DECISION_LABELS,
        integrity_reasons=integrity_messages.reason_list,
        response_flag_labels=integrity_messages.RESPONSE_FLAG_LABELS,
        integrity_explanation=integrity_messages.explanation,
        audit_action=audit_text.action_label,
        audit_details=audit_text.details,
    )
    app.register_blueprint(bp)
