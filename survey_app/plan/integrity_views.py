"""The supervisors' decision on a flagged school's group while the fieldwork is open:
survey it again, or keep its answers (``integrity/decisions.py``); registered on the
plan blueprint. Replacing the school is a change of the plan (``change_views``)."""

from __future__ import annotations

from flask import url_for
from flask.typing import ResponseReturnValue

from survey_app.auth.access import current_campaign
from survey_app.integrity.decisions import SUPERVISOR_DECISIONS
from survey_app.integrity.views import decision_page
from survey_app.plan.views import bp


@bp.route("/<key>/integrity/<school>/<group>", methods=["GET", "POST"])
def integrity_decision(key: str, school: str, group: str) -> ResponseReturnValue:
    return decision_page(
        current_campaign(),
        school,
        group,
        allowed=SUPERVISOR_DECISIONS,
        endpoint="plan.integrity_decision",
        back=url_for("plan.fieldwork_progress", key=key) + "#integrity",
    )
