"""The evaluators' decision on a flagged school's group: keep its answers or set them
aside (``integrity/decisions.py``); registered on the results blueprint."""

from __future__ import annotations

from flask import url_for
from flask.typing import ResponseReturnValue

from survey_app.auth.access import current_campaign
from survey_app.integrity.decisions import EVALUATOR_DECISIONS
from survey_app.integrity.views import decision_page
from survey_app.results.views import bp


@bp.route("/<key>/integrity/<school>/<group>", methods=["GET", "POST"])
def integrity_decision(key: str, school: str, group: str) -> ResponseReturnValue:
    return decision_page(
        current_campaign(),
        school,
        group,
        allowed=EVALUATOR_DECISIONS,
        endpoint="results.integrity_decision",
        back=url_for("results.campaign_results", key=key) + "#integrity",
    )
