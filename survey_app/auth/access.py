"""Who may open a staff page: default deny, decided before any view runs.

Every staff blueprint is made by :func:`staff_blueprint`, whose ``before_request``
refuses an anonymous visitor (to the sign-in page), a role not named for the blueprint
(403), and a campaign the user may not see (404: a route's campaign is always its
``<key>`` URL variable). A view therefore never checks access itself, and a new route
is closed until its blueprint's roles allow it. ``tests/app/test_access.py`` walks the
URL map to prove it for every staff route.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from survey_app.auth.services import CampaignNotFound, visible_campaign
from survey_app.extensions import login_manager
from survey_app.models import Campaign

CAMPAIGN_ARGUMENT = "key"
# Blueprint name → the roles it admits; the access test walks the URL map with it.
STAFF_BLUEPRINTS: dict[str, tuple[str, ...]] = {}


def staff_blueprint(
    name: str, import_name: str, *, roles: tuple[str, ...], url_prefix: str
) -> Blueprint:
    """A blueprint whose every route requires one of ``roles`` (and the campaign)."""
    bp = Blueprint(name, import_name, url_prefix=url_prefix)
    STAFF_BLUEPRINTS[name] = roles

    @bp.before_request
    def require_staff_role() -> ResponseReturnValue | None:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()  # type: ignore[no-any-return]
        if current_user.role not in roles:
            abort(403)
        key = (request.view_args or {}).get(CAMPAIGN_ARGUMENT)
        if key is not None:
            try:
                g.campaign = visible_campaign(current_user, str(key))
            except CampaignNotFound:
                abort(404)
        return None

    return bp


def current_campaign() -> Campaign:
    """The campaign of the current staff route (checked in ``require_staff_role``)."""
    campaign: Campaign = g.campaign
    return campaign
