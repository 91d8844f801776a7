"""The supervisor's page of the groups not reached through schools: the lists of
deputies and members, and the residents' open links (routes on the plan blueprint,
so its role and campaign checks apply)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import segno
from flask import Response, abort, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.auth.access import current_campaign
from survey_app.models import Campaign
from survey_app.plan import lists, open_links
from survey_app.plan.outreach_forms import ListForm, OpenLinkForm
from survey_app.plan.views import bp
from survey_app.untrusted import accepts_upload

LIST_UPLOAD_LIMIT = 1024 * 1024  # ids of a few thousand people

_LIST: dict[str, Callable[[Mapping[str, object]], str]] = {
    "group": lambda p: _("Choose deputies or members."),
    "size": lambda p: _("Give the list's size (1 to %(n)d) or upload its ids.", **p),
    "planned": lambda p: _("Cannot draw more people than the list has (%(n)d).", **p),
    "ids": lambda p: _("The list of ids has problems; nothing was changed:"),
    "frozen": lambda p: _("Codes of this list are in the field: the list is frozen."),
}


def _link_message(refused: open_links.OpenLinkRefused) -> str:
    messages = {
        "closed": _("The campaign is closed."),
        "group": _("This group is not reached by open links."),
        "slug": _("The short name is 1-30 lower-case letters, digits, - or _."),
        "label": _("The area's name is 1 to 80 characters."),
        "quota": _("The quota is a whole number from 1."),
        "population": _("The population is a whole number ≥ 0."),
        "exists": _("This campaign has an open link of that short name already."),
        "unknown": _("No such open link."),
    }
    return messages[refused.code]


def _id_problems(refused: lists.ListRefused) -> list[str]:
    """Each bad line of an uploaded id list, in the staff's language."""
    problems = []
    for line in refused.params.get("lines", []):  # type: ignore[attr-defined]
        if line["first"]:
            problems.append(_("line %(line)d: the same id as line %(first)d", **line))
        else:
            problems.append(
                _("line %(line)d: longer than %(n)d characters", n=lists.MAX_ID_LENGTH, **line)
            )
    return problems


@bp.route("/<key>/outreach")
def outreach(key: str) -> ResponseReturnValue:
    """Lists and open links, with their counts."""
    return _page(current_campaign(), ListForm(), OpenLinkForm())


def _page(
    chosen: Campaign,
    list_form: ListForm,
    link_form: OpenLinkForm,
    refused: str | None = None,
    details: list[str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    base = current_app.config["PUBLIC_BASE_URL"]
    links = open_links.links_of(chosen)
    return render_template(
        "plan/outreach.html",
        campaign=chosen,
        lists=lists.lists_of(chosen),
        links=links,
        urls={row.link.id: open_links.link_url(base, row.link.token) for row in links},
        list_form=list_form,
        link_form=link_form,
        refused=refused,
        details=details or [],
    ), status


@bp.route("/<key>/lists", methods=["POST"])
@accepts_upload(LIST_UPLOAD_LIMIT)
def set_list(key: str) -> ResponseReturnValue:
    chosen = current_campaign()
    form = ListForm()
    if not form.validate_on_submit():
        return _page(chosen, form, OpenLinkForm(), status=422)
    try:
        upload = form.ids.data
        data = upload.read() if upload and getattr(upload, "filename", "") else b""
        ids = lists.parse_member_ids(data) if data else None
        lists.set_list(
            chosen,
            form.group.data or "",
            list_size=None if ids else form.size.data,
            member_ids=ids,
            planned=form.planned.data,
            now=datetime.now(UTC),
        )
    except lists.ListRefused as refused:
        details = _id_problems(refused)
        status = 409 if refused.code == "frozen" else 422
        return _page(
            chosen, form, OpenLinkForm(), _LIST[refused.code](refused.params), details, status
        )
    return redirect(url_for("plan.outreach", key=chosen.key))


@bp.route("/<key>/links", methods=["POST"])
def create_open_link(key: str) -> ResponseReturnValue:
    chosen = current_campaign()
    form = OpenLinkForm()
    if not form.validate_on_submit():
        return _page(chosen, ListForm(), form, status=422)
    try:
        open_links.create_open_link(
            chosen,
            slug=(form.slug.data or "").strip(),
            label=form.label.data or "",
            quota=form.quota.data or 0,
            population=form.population.data,
            now=datetime.now(UTC),
        )
    except open_links.OpenLinkRefused as refused:
        return _page(chosen, ListForm(), form, _link_message(refused), status=422)
    return redirect(url_for("plan.outreach", key=chosen.key))


@bp.route("/<key>/links/<slug>/close", methods=["POST"])
def close_open_link(key: str, slug: str) -> ResponseReturnValue:
    chosen = current_campaign()
    try:
        open_links.close_open_link(chosen, slug)
    except open_links.OpenLinkRefused:
        abort(404)
    return redirect(url_for("plan.outreach", key=chosen.key))


@bp.route("/<key>/links/<slug>.svg")
def open_link_qr(key: str, slug: str) -> ResponseReturnValue:
    """The link's QR code, to print on a poster (SVG scales to any size)."""
    chosen = current_campaign()
    found = next((row for row in open_links.links_of(chosen) if row.slug == slug), None)
    if found is None:
        abort(404)
    url = open_links.link_url(current_app.config["PUBLIC_BASE_URL"], found.link.token)
    svg = segno.make(url, error="m").svg_inline(scale=8)
    return Response(svg, mimetype="image/svg+xml")
