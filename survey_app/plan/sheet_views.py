"""The supervisor's sheets of a campaign (``sheets.py``): printable, and as one PDF.

Routes on the plan blueprint (its access check applies); the school is a query argument
(``?school=<code>``) so that every route of the blueprint is named by its campaign alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from survey_app.auth.access import current_campaign
from survey_app.downloads import attachment
from survey_app.models import Campaign
from survey_app.plan import draw, sheets
from survey_app.plan.views import bp

MAX_SCHOOL_CODE = 40  # 学校标识码 has 10 digits; anything much longer is no school's


def _sheets(chosen: Campaign) -> list[sheets.SchoolSheet] | None:
    """The sheets asked for; None without a draw; 404 for a school not selected."""
    plan = draw.plan_of(chosen)
    if plan is None:
        return None
    school = request.args.get("school")
    if school is not None and (not school or len(school) > MAX_SCHOOL_CODE):
        abort(404)
    try:
        return sheets.school_sheets(
            chosen,
            plan,
            current_app.config["SECRET_KEY"],
            current_app.config["PUBLIC_BASE_URL"],
            school,
        )
    except sheets.UnknownSchool:
        abort(404)


def _not_drawn(chosen: Campaign) -> ResponseReturnValue:
    refused = _("Draw the schools first: the sheets follow the plan.")
    return render_template("plan/sheets.html", campaign=chosen, sheets=[], refused=refused), 409


@bp.route("/<key>/sheets")
def sheets_page(key: str) -> ResponseReturnValue:
    """Every selected school's sheet, or one (``?school=``), to print from the browser."""
    chosen = current_campaign()
    found = _sheets(chosen)
    if found is None:
        return _not_drawn(chosen)
    return render_template(
        "plan/sheets.html",
        campaign=chosen,
        sheets=found,
        one=request.args.get("school"),
        refused=None,
    )


@bp.route("/<key>/sheets.pdf")
def sheets_pdf(key: str) -> ResponseReturnValue:
    """The same sheets as one PDF (A4, a school a page), in the staff's language."""
    chosen = current_campaign()
    found = _sheets(chosen)
    if found is None:
        return _not_drawn(chosen)
    language = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    body = sheets.sheets_pdf(chosen, found, language, datetime.now(UTC))
    return attachment(body, "application/pdf", f"sheets-{chosen.key}.pdf")
