"""The school contact's page: no sign-in, no form, no cookie; counts of one school.

Flask-Login stays off it as off the respondents' pages (its context processor is not
installed and the template never reads ``current_user``), and nothing is written to
the session. Any token that does not open (forged, altered, of a closed campaign) is a
plain 404, the same page for every reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from survey_app.contact import links
from survey_app.transactions import reads_only_on_get

bp = Blueprint("contact", __name__, url_prefix=links.PATH)


@bp.route("/<token>")
@reads_only_on_get
def school_counts(token: str) -> ResponseReturnValue:
    try:
        counts = links.school_counts(current_app.config["SECRET_KEY"], token, datetime.now(UTC))
    except links.LinkRefused:
        abort(404)
    return render_template("contact/school.html", counts=counts)
