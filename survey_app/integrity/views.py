"""The decision page of one flagged school's group, shared by the evaluators' and the
supervisors' blueprints (each checks its own role before this runs, and offers the
decisions of its role)."""

from __future__ import annotations

from flask import abort, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from survey_app.extensions import db
from survey_app.integrity import messages
from survey_app.integrity.decisions import DecisionRefused, decide, decisions
from survey_app.integrity.forms import DecisionForm
from survey_app.models import Campaign, School
from survey_app.untrusted import clean_text
from survey_app.vocabulary import SCHOOL_GROUPS


def decision_page(
    campaign: Campaign,
    school_code: str,
    group: str,
    *,
    allowed: tuple[str, ...],
    endpoint: str,
    back: str,
) -> ResponseReturnValue:
    """GET: the group's findings, the decision on it and the form; POST: decide, then
    back to ``back``; refused, the form again with what was typed and why."""
    if clean_text(school_code) != school_code or group not in SCHOOL_GROUPS:
        abort(404)  # names no school: PostgreSQL cannot even compare a string with NUL
    school = db.session.scalar(
        select(School).where(School.campaign_id == campaign.id, School.code == school_code)
    )
    if school is None:
        abort(404)
    form = DecisionForm(decisions=allowed)
    refused = None
    status = 200
    if form.is_submitted():
        if not form.validate():
            refused, status = _("Nothing was recorded: choose a decision and give a reason."), 422
        else:
            try:
                decide(
                    campaign,
                    school.code,
                    group,
                    form.decision.data or "",
                    form.reason.data or "",
                    allowed=allowed,
                )
            except DecisionRefused as error:
                refused = messages.decision_refused(error)
                status = 409 if error.conflict else 422
            else:
                return redirect(back)
    from survey_app.integrity import checks  # scipy.stats: imported when first asked

    cells = [
        cell
        for cell in checks.cached_summary(campaign)["cells"]
        if (cell["school"], cell["group"]) == (school.code, group)
    ]
    return (
        render_template(
            "integrity/decision.html",
            campaign=campaign,
            school=school,
            group=group,
            cells=cells,
            decision=decisions(campaign).get((school.code, group)),
            form=form,
            endpoint=endpoint,
            back=back,
            refused=refused,
        ),
        status,
    )
