"""Signing in and out, and the staff's list of campaigns."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from survey_app import vocabulary
from survey_app.auth import login_limits, services
from survey_app.auth.forms import LoginForm
from survey_app.extensions import db, login_manager
from survey_app.integrity import messages as integrity_messages
from survey_app.models import User

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


def init_app(app: Flask) -> None:
    # Flask-Login's own context processor loads the user for every page rendered, the
    # respondents' too (and marks their session changed); the proxy below is evaluated
    # only by the staff templates that use it.
    login_manager.init_app(app, add_context_processor=False)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the sign-in page explains itself
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

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
    )
    app.register_blueprint(bp)
