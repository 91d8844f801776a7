"""The supervisor's pages of a campaign (admins see them too)."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from survey_app.auth.access import current_campaign, staff_blueprint
from survey_app.plan import fieldwork

bp = staff_blueprint("plan", __name__, roles=("admin", "supervisor"), url_prefix="/plan")


@bp.route("/<key>/")
def campaign(key: str) -> ResponseReturnValue:
    """The campaign at a glance: its frame by stratum and its codes in the field."""
    chosen = current_campaign()
    return render_template(
        "plan/campaign.html",
        campaign=chosen,
        strata=fieldwork.frame_by_stratum(chosen),
        codes=fieldwork.code_counts(chosen),
    )
