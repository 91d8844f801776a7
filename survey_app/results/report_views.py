"""The certification report on the evaluators' results page (routes on the results
blueprint, so its access check applies: admins and evaluators of the campaign).

Both routes are POSTs with a CSRF token: issuing writes a report and an audit record,
and so does each download (the audit log records who took a copy, and when). The
report to download is a form field, so that every route of the blueprint is named by
its campaign alone.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.auth.access import current_campaign
from survey_app.downloads import attachment
from survey_app.models import Campaign
from survey_app.results import report
from survey_app.results.evaluation import NoResponses
from survey_app.results.report_signing import SigningKeyMissing
from survey_app.results.views import bp


@bp.app_template_global("issued_reports")
def issued_reports(campaign: Campaign) -> list[object]:
    """The campaign's issued reports, for the results page's list."""
    return list(report.issued_reports(campaign))


@bp.route("/<key>/report", methods=["POST"])
def issue_report(key: str) -> ResponseReturnValue:
    """Make, sign, store and hand over the campaign's report."""
    chosen = current_campaign()
    config = current_app.config
    try:
        issued = report.issue_report(
            chosen,
            report.SigningKey.from_config(config),
            base_url=config["PUBLIC_BASE_URL"],
            min_n=config["RESULTS_MIN_N"],
            now=datetime.now(UTC),
        )
    except NoResponses:
        return _refused(chosen, _("No responses have been received yet."), 409)
    except SigningKeyMissing:
        current_app.logger.error("report signing key missing or unreadable")
        message = _("This installation has no signing key: run “flask report keygen”.")
        return _refused(chosen, message, 503)
    return attachment(issued.pdf, "application/pdf", report.filename(chosen, issued))


@bp.route("/<key>/reports/download", methods=["POST"])
def download_report(key: str) -> ResponseReturnValue:
    """The stored bytes of an issued report (the same file, the same hash)."""
    chosen = current_campaign()
    public_id = request.form.get("report", "")
    if not public_id:
        abort(400)
    found = report.report_of(public_id, chosen)
    if found is None:
        abort(404)
    return attachment(
        report.download(chosen, found), "application/pdf", report.filename(chosen, found)
    )


def _refused(chosen: Campaign, message: str, status: int) -> ResponseReturnValue:
    return render_template("results/report_refused.html", campaign=chosen, message=message), status
