"""Default deny, proved on the URL map: every staff route refuses an anonymous visitor
(to the sign-in page), a role its blueprint does not admit (403) and a campaign the
user was not given (404), and opens for the right user.

A route added to a staff blueprint is covered without editing this test; a route
outside one must be listed in OPEN_TO_ALL or STAFF_ANY_ROLE, or the test fails.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from werkzeug.routing import Rule

from survey_app.auth import services
from survey_app.auth.access import CAMPAIGN_ARGUMENT, STAFF_BLUEPRINTS
from survey_app.plan.open_links import create_open_link
from survey_app.vocabulary import STAFF_ROLES
from tests.app.conftest import csrf_token
from tests.factories import make_campaign, make_plan, make_school

PASSWORD = "a long enough password"
OPEN_TO_ALL = {"static", "auth.login", "auth.logout"}  # logout: a POST with a CSRF token
OPEN_TO_ALL |= {"contact.school_counts"}  # a signed link, counts of one school (test_contact)
OPEN_TO_ALL |= {"verify.check_report"}  # a report's public check by its id (test_report)
STAFF_ANY_ROLE = {"auth.home", "auth.change_password"}


def _staff_rules(app: Flask) -> list[Rule]:
    rules = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint == "respond" or rule.endpoint in OPEN_TO_ALL:
            continue
        assert blueprint in STAFF_BLUEPRINTS or rule.endpoint in STAFF_ANY_ROLE, (
            f"{rule.endpoint} ({rule.rule}) is neither a staff route nor listed as open"
        )
        rules.append(rule)
    assert rules, "no staff routes found"
    return rules


# Values for the other arguments of staff routes: the demo campaign's open link, a
# report job (shown only to whoever started it, test_report_jobs: for the walk, 404),
# and a school's group (the integrity decision pages; the school is in both campaigns).
WALK_SCHOOL = "S999999999"
OTHER_ARGUMENTS = {"slug": "chengguan", "job": "no-such-job", "school": WALK_SCHOOL}
OTHER_ARGUMENTS |= {"group": "parent", "account_id": "0"}  # the staff fixture's own below
JOB_ROUTES = {"results.report_progress", "results.report_progress_json"}


def _url(rule: Rule, key: str) -> str:
    unknown = set(rule.arguments) - {CAMPAIGN_ARGUMENT, *OTHER_ARGUMENTS}
    assert not unknown, f"{rule.endpoint}: give the walk a value for {unknown}"
    values = {name: OTHER_ARGUMENTS[name] for name in rule.arguments if name in OTHER_ARGUMENTS}
    if CAMPAIGN_ARGUMENT in rule.arguments:
        values[CAMPAIGN_ARGUMENT] = key
    return rule.build(values)[1]  # type: ignore[index]


def _method(rule: Rule) -> str:
    return "GET" if "GET" in (rule.methods or ()) else sorted(rule.methods or ())[0]


def _visit(client, rule: Rule, key: str):
    """GET a page; POST to a form-only route with a valid CSRF token (so that what is
    tested is the access check, not the token) and no fields."""
    method = _method(rule)
    headers = {}
    if method == "POST":
        signed_in = client.get("/staff/login").status_code == 302
        page = client.get("/staff/" if signed_in else "/staff/login").text
        headers["X-CSRFToken"] = csrf_token(page)
    return client.open(_url(rule, key), method=method, headers=headers)


def _opened(rule: Rule, reply) -> bool:
    """A page opens with 200; a form route was let in if it answered anything but a
    refusal of access (its empty form may be refused: 4xx other than 401/403/404)."""
    if rule.endpoint in JOB_ROUTES:
        return reply.status_code == 404  # let in, and told there is no such job
    if _method(rule) == "GET":
        return reply.status_code == 200
    refused = reply.status_code in (401, 403, 404) or (
        reply.status_code == 302 and reply.location.startswith("/staff/login")
    )
    return not refused and reply.status_code < 500


@pytest.fixture
def staff(app: Flask, campaign, monkeypatch):
    """One signed-in client per role, each given the demo campaign; and another campaign
    none of them was given; the administrator's pages of one account walked (not one of
    the walkers': their form routes answer an empty form with a refusal anyway)."""
    walked = services.create_user("walked@access.test", "evaluator", PASSWORD, [campaign.key])
    monkeypatch.setitem(OTHER_ARGUMENTS, "account_id", str(walked.id))
    other = make_campaign()
    make_school(other)
    for walked in (campaign, other):
        make_school(walked, code=WALK_SCHOOL)
    for drawn in (campaign, other):  # so that the draw's pages and download show something
        make_plan(drawn)
    # The other campaign has an open link of the demo's name, so that the link's pages
    # exist there too (an admin opens them; the others are refused).
    create_open_link(other, slug="chengguan", label="城关", quota=5, now=datetime.now(UTC))
    clients = {}
    for role in STAFF_ROLES:
        email = f"{role}@access.test"
        services.create_user(email, role, PASSWORD, [] if role == "admin" else [campaign.key])
        client = app.test_client()
        token = csrf_token(client.get("/staff/login").text)
        signed = client.post(
            "/staff/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert signed.status_code == 302
        clients[role] = client
    return clients, campaign, other


def test_every_staff_route_refuses_an_anonymous_visitor(app, client, campaign):
    for rule in _staff_rules(app):
        reply = _visit(client, rule, campaign.key)
        assert reply.status_code == 302, (rule.endpoint, reply.status_code)
        assert reply.location.startswith("/staff/login?next="), rule.endpoint


def test_every_staff_route_admits_only_its_roles_and_their_campaigns(app, staff):
    clients, campaign, other = staff
    for rule in _staff_rules(app):
        blueprint = rule.endpoint.rpartition(".")[0]
        admitted = STAFF_BLUEPRINTS.get(blueprint, STAFF_ROLES)
        for role, client in clients.items():
            mine = _visit(client, rule, campaign.key)
            if role not in admitted:
                assert mine.status_code == 403, (rule.endpoint, role, mine.status_code)
                continue
            assert _opened(rule, mine), (rule.endpoint, role, mine.status_code)
            if CAMPAIGN_ARGUMENT in rule.arguments:
                theirs = _visit(client, rule, other.key)
                if role == "admin":
                    assert _opened(rule, theirs), (rule.endpoint, role, theirs.status_code)
                else:
                    assert theirs.status_code == 404, (rule.endpoint, role, theirs.status_code)
                missing = _visit(client, rule, "no-such-key")
                assert missing.status_code == 404, (rule.endpoint, role)
