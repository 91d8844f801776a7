"""Property-based tests of the staff endpoints: whatever is sent to the sign-in form,
the sign-out and the staff pages, signed in or not, the answer is 2xx/3xx/4xx, never a
500; nothing is signed in by it; and the real account can still sign in afterwards.
"""

from __future__ import annotations

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_app.auth import services
from tests.app.conftest import csrf_token
from tests.conftest import make_app

PASSWORD = "property test password"
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)
raw_body = st.one_of(st.binary(max_size=2000), form_text)
ENDPOINTS = ["/staff/login", "/staff/logout", "/staff/", "/plan/demo/", "/plan/x%00y/"]
ENDPOINTS += ["/plan/" + "k" * 300 + "/"]
ENDPOINTS += ["/plan/new", "/plan/demo/frame", "/plan/nope/frame", "/plan/demo/draw"]
ENDPOINTS += ["/plan/demo/draw.csv", "/plan/demo/codes", "/plan/demo/codes/issue"]
ENDPOINTS += ["/plan/demo/codes/revoke", "/plan/demo/fieldwork", "/plan/demo/fieldwork.csv"]
ENDPOINTS += ["/plan/demo/open", "/plan/demo/close", "/plan/demo/fieldwork.json"]
ENDPOINTS += ["/plan/demo/changes", "/plan/demo/changes/replace", "/plan/demo/changes/population"]
ENDPOINTS += ["/plan/demo/sheets", "/plan/demo/sheets.pdf", "/plan/nope/sheets.pdf"]
ENDPOINTS += ["/plan/demo/outreach", "/plan/demo/lists", "/plan/demo/links"]
ENDPOINTS += ["/plan/demo/links/chengguan/close", "/plan/demo/links/chengguan.svg"]
ENDPOINTS += ["/contact/x", "/contact/WzEsMV0.forged", "/contact/" + "t" * 300]
ENDPOINTS += ["/results/demo/report", "/results/demo/reports/download", "/results/nope/report"]
ENDPOINTS += ["/verify/x", "/verify/" + "v" * 300, "/verify/x%00y"]
ENDPOINTS += ["/plan/demo/integrity/2659999001/parent", "/plan/demo/integrity/x%00y/parent"]
ENDPOINTS += ["/plan/demo/integrity/2659999001/" + "g" * 300, "/plan/nope/integrity/1/parent"]
ENDPOINTS += ["/results/demo/integrity/2659999001/parent"]
ENDPOINTS += ["/plan/demo/closing", "/plan/nope/closing", "/plan/demo/settings"]
ENDPOINTS += ["/plan/demo/audit.csv", "/plan/demo/fieldwork-schools.csv", "/plan/nope/audit.csv"]
ENDPOINTS += ["/staff/password", "/admin/accounts", "/admin/accounts/new", "/admin/accounts/1"]
ENDPOINTS += ["/admin/accounts/1/campaigns", "/admin/accounts/1/active", "/admin/accounts/1/role"]
ENDPOINTS += ["/admin/accounts/1/password", "/admin/accounts/" + "9" * 40 + "/active"]


@pytest.fixture
def lenient(app: Flask) -> Flask:
    """The app with sign-in limits out of the way: the examples fail many sign-ins from
    one address (the limits have their own tests in test_auth.py)."""
    high = "1000000 per minute"
    return make_app(
        app.config["SQLALCHEMY_DATABASE_URI"], LOGIN_LIMIT=high, LOGIN_ACCOUNT_LIMIT=high
    )


@pytest.fixture
def account(campaign) -> str:
    services.create_user("prop@example.org", "supervisor", PASSWORD, [campaign.key])
    return "prop@example.org"


def _signs_in(client, email: str, password: str) -> bool:
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": password}
    return client.post("/staff/login", data=data).status_code == 302


@SETTINGS
@given(email=form_text, password=form_text, extra=st.dictionaries(form_text, form_text, max_size=3))
def test_any_sign_in_form(lenient, account, email, password, extra):
    client = lenient.test_client()
    token = csrf_token(client.get("/staff/login").text)
    data = {**extra, "csrf_token": token, "email": email, "password": password}
    reply = client.post("/staff/login", data=data)
    assert reply.status_code < 500
    if password != PASSWORD:
        assert reply.status_code != 302  # nothing but the password signs in
    assert _signs_in(lenient.test_client(), account, PASSWORD)


@SETTINGS
@given(
    path=st.sampled_from(ENDPOINTS),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
    query=st.dictionaries(form_text, form_text, max_size=3)
    | st.sampled_from([{"next": "//evil.example/"}, {"next": "https://evil.example/"}]),
    body=raw_body,
    signed_in=st.booleans(),
    with_token=st.booleans(),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", None]),
)
def test_any_request_to_any_staff_endpoint(
    lenient, account, path, method, query, body, signed_in, with_token, content_type
):
    client = lenient.test_client()
    if signed_in:
        assert _signs_in(client, account, PASSWORD)
    headers = {"Content-Type": content_type} if content_type else {}
    if with_token:  # from the page that has a form: sign-in, or signed in the sign-out
        headers["X-CSRFToken"] = csrf_token(
            client.get("/staff/" if signed_in else "/staff/login").text
        )
    reply = client.open(path, method=method, query_string=query, data=body, headers=headers)
    assert reply.status_code < 500
    location = reply.headers.get("Location", "")
    assert not location.startswith("//")
    assert "evil" not in location.split("?")[0]
