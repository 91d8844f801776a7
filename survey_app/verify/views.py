"""The public check of a certification report: no sign-in.

``GET /verify/<public id>`` (the address the report's QR code holds) shows which
campaign the report is of, when it was issued and the SHA-256 of the file issued; a
POST of a file (with the page's CSRF token) says whether the file is byte for byte that
report. An unknown id is a plain 404. Nothing here changes the database.

The CSRF token is checked in the view, not by CSRFProtect's hook: the hook parses the
form before any view runs, with the app's 64 KB form-memory limit, which werkzeug's
multipart decoder applies to its buffer too, so a PDF of a few hundred KB would be a 413.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from survey_app.extensions import csrf, db
from survey_app.models import Campaign
from survey_app.results import report
from survey_app.transactions import reads_only_on_get
from survey_app.untrusted import accepts_upload

MAX_REPORT_BYTES = 32 * 1024 * 1024  # a report is well under 1 MB; the body limit here
FORM_BUFFER_BYTES = 1024 * 1024  # werkzeug's multipart buffer while the file streams

bp = Blueprint("verify", __name__, url_prefix=report.VERIFY_PATH)


@bp.route("/<public_id>", methods=["GET", "POST"])
@csrf.exempt  # checked below, once the form may be parsed (see the module's docstring)
@accepts_upload(MAX_REPORT_BYTES)
@reads_only_on_get
def check_report(public_id: str) -> ResponseReturnValue:
    issued = report.report_of(public_id)
    if issued is None:
        abort(404)
    campaign = db.session.get(Campaign, issued.campaign_id)
    outcome: str | None = None
    status = 200
    if request.method == "POST":
        request.max_form_memory_size = FORM_BUFFER_BYTES
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(str(error)) from error
        upload = request.files.get("file")
        body = upload.read(MAX_REPORT_BYTES + 1) if upload is not None else b""
        if upload is not None:
            upload.close()
        if not body:
            outcome, status = "missing", 400
        else:
            outcome = "matches" if report.matches(issued, body) else "differs"
    page = render_template("results/verify.html", issued=issued, campaign=campaign, outcome=outcome)
    return page, status
