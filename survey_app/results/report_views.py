"""The certification report on the evaluators' results page (routes on the results
blueprint, so its access check applies: admins and evaluators of the campaign).

Issuing is a POST with a CSRF token that starts a background job (``report_jobs``) and
sends the browser (303) to the job's progress page, which refreshes itself until the
report is stored and then offers it for download. A job is shown only to whoever
started it, under its campaign. Each download is a POST too: the audit log records who
took a copy, and when. The report to download is a form field, so that every route of
the blueprint is named by its campaign alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import exists, select

from survey_app.auth.access import current_campaign
from survey_app.downloads import attachment
from survey_app.extensions import db
from survey_app.models import Campaign, Response
from survey_app.results import report, report_jobs
from survey_app.results.report_signing import SigningKeyMissing, installation_certificate
from survey_app.results.views import bp
from survey_app.transactions import reads_only_on_get

# The progress page refreshes itself this often while the job runs (<meta refresh>).
REFRESH_SECONDS = 2
STAGE_LABELS = {
    "queued": _l("Waiting to start"),
    "loading": _l("Loading the responses and computing the estimates"),
    "computing": _l("Computing the breakdowns"),
    "laying_out": _l("Laying out the pages"),
    "signing": _l("Signing"),
    "done": _l("Done"),
    "failed": _l("Failed"),
}
ERROR_MESSAGES = {
    "no_responses": _l("No responses have been received yet."),
    "no_signing_key": _l("This installation has no signing key: run “flask report keygen”."),
    "failed": _l("The report could not be made. The error has been logged; try again later."),
}


@bp.app_template_global("issued_reports")
def issued_reports(campaign: Campaign) -> list[object]:
    """The campaign's issued reports, for the results page's list."""
    return list(report.issued_reports(campaign))


@bp.route("/<key>/report", methods=["POST"])
def issue_report(key: str) -> ResponseReturnValue:
    """Start making the campaign's signed report; its progress page follows (303)."""
    chosen = current_campaign()
    answered = db.session.scalar(select(exists().where(Response.campaign_id == chosen.id)))
    if not answered:
        return _refused(chosen, _("No responses have been received yet."), 409)
    signing = report.SigningKey.from_config(current_app.config)
    try:
        installation_certificate(signing.path, signing.password)
    except SigningKeyMissing:
        current_app.logger.error("report signing key missing or unreadable")
        message = _("This installation has no signing key: run “flask report keygen”.")
        return _refused(chosen, message, 503)
    try:
        job = report_jobs.start_job(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            chosen,
            current_user.id,
            str(current_user.email),
        )
    except report_jobs.JobsUnavailable:
        current_app.logger.error("report job queue unreachable", exc_info=True)
        return _refused(chosen, _("The report cannot be started now: try again later."), 503)
    return redirect(url_for("results.report_progress", key=chosen.key, job=job.id), 303)


@bp.route("/<key>/report/jobs/<job>")
@reads_only_on_get
def report_progress(key: str, job: str) -> ResponseReturnValue:
    """The job's stage, refreshed until it is done; then the report to download."""
    chosen = current_campaign()
    found = _job(chosen, job)
    status = _status(chosen, found)
    return render_template(
        "results/report_job.html",
        campaign=chosen,
        job=found,
        status=status,
        stages=[stage for stage in report_jobs.STAGES if stage != "failed"],
        stage_labels=STAGE_LABELS,
        refresh_seconds=REFRESH_SECONDS,
    )


@bp.route("/<key>/report/jobs/<job>.json")
@reads_only_on_get
def report_progress_json(key: str, job: str) -> ResponseReturnValue:
    """The same as JSON: ``stage``, its ``label``, ``finished``, and the ``report``'s
    public id once stored, or the ``error`` and its ``message``."""
    chosen = current_campaign()
    return jsonify(_status(chosen, _job(chosen, job)))


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


def _job(chosen: Campaign, job_id: str) -> report_jobs.ReportJob:
    """The job of this campaign that the current user started, else 404 (a job of
    another user or campaign is not told apart from none)."""
    try:
        found = report_jobs.job_for(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            job_id,
            chosen,
            current_user.id,
        )
    except report_jobs.JobsUnavailable:
        current_app.logger.error("report job queue unreachable", exc_info=True)
        abort(503)
    if found is None:
        abort(404)
    return found


def _status(chosen: Campaign, job: report_jobs.ReportJob) -> dict[str, Any]:
    issued = report.report_of(job.report, chosen) if job.report else None
    if job.stage == "done" and issued is None:  # stored, then gone (the campaign deleted)
        job = replace(job, stage="failed", error="failed")
    return {
        "stage": job.stage,
        "label": str(STAGE_LABELS.get(job.stage, job.stage)),
        "finished": job.finished,
        "report": issued.public_id if issued else None,
        "sha256": issued.sha256 if issued else None,
        "error": job.error,
        "message": str(ERROR_MESSAGES.get(job.error, job.error)) if job.error else None,
    }


def _refused(chosen: Campaign, message: str, status: int) -> ResponseReturnValue:
    return render_template("results/report_refused.html", campaign=chosen, message=message), status
