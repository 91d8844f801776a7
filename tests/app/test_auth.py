"""Staff sign-in: argon2 passwords, generic refusals, limits, CSRF, sessions."""

from __future__ import annotations

import pytest
from flask import Flask

from survey_app.auth import services
from survey_app.extensions import db
from survey_app.models import User
from tests.app.conftest import csrf_token
from tests.conftest import make_app

PASSWORD = "correct horse battery"


@pytest.fixture
def supervisor(campaign) -> User:
    return services.create_user("Sup@Example.org ", "supervisor", PASSWORD, [campaign.key])


def sign_in(client, email: str, password: str, **kwargs):
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": password}
    return client.post("/staff/login", data=data, **kwargs)


def test_accounts_keep_argon2id_hashes_and_lower_case_logins(supervisor):
    assert supervisor.email == "sup@example.org"
    assert supervisor.password_hash.startswith("$argon2id$")
    assert PASSWORD not in supervisor.password_hash


@pytest.mark.parametrize(
    ("email", "role", "password", "keys", "reason"),
    [
        ("a@example.org", "boss", PASSWORD, [], "unknown role"),
        ("not an address", "admin", PASSWORD, [], "not an e-mail address"),
        ("a@example.org", "admin", "short", [], "at least 12"),
        ("a@example.org", "supervisor", PASSWORD, ["no-such-campaign"], "no campaign"),
        ("SUP@example.org", "evaluator", PASSWORD, [], "exists already"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(supervisor, email, role, password, keys, reason):
    with pytest.raises(services.AccountRefused, match=reason):
        services.create_user(email, role, password, keys)


def test_sign_in_and_out(client, supervisor, campaign):
    assert sign_in(client, "SUP@example.org", PASSWORD).location.endswith("/staff/")
    home = client.get("/staff/")
    assert home.status_code == 200
    assert campaign.key in home.text
    assert "sup@example.org" in home.text
    assert client.get("/staff/logout").status_code == 405  # signing out is a POST
    token = csrf_token(home.text)
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/").location.startswith("/staff/login")


@pytest.mark.parametrize("email", ["sup@example.org", "nobody@example.org"])
def test_a_wrong_password_or_unknown_account_gets_the_same_answer(client, supervisor, email):
    reply = sign_in(client, email, "wrong password!!")
    assert reply.status_code == 401
    assert "WWW-Authenticate" in reply.headers
    assert "邮箱或密码错误" in reply.text  # zh_Hans, the default language
    assert client.get("/staff/").status_code == 302  # still signed out


def test_a_disabled_account_cannot_sign_in(client, supervisor):
    supervisor.active = False
    db.session.flush()
    assert sign_in(client, "sup@example.org", PASSWORD).status_code == 401


def test_a_tokenless_sign_in_is_refused(client, supervisor):
    data = {"email": "sup@example.org", "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 400
    assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize("body", [0, [1, 2], "text", None, {"email": ["a", "b"]}])
def test_a_json_body_that_is_not_a_form_is_refused_not_a_crash(client, supervisor, body):
    token = csrf_token(client.get("/staff/login").text)
    answer = client.post("/staff/login", json=body, headers={"X-CSRFToken": token})
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("next_page", "lands_on"),
    [
        ("/plan/demo/", "/plan/demo/"),
        ("//evil.example/x", "/staff/"),
        ("https://evil.example/", "/staff/"),
        ("/\\evil.example", "/staff/"),
    ],
)
def test_only_a_path_on_this_site_is_followed_after_sign_in(
    client, supervisor, next_page, lands_on
):
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "sup@example.org", "password": PASSWORD}
    reply = client.post("/staff/login", query_string={"next": next_page}, data=data)
    assert reply.location == lands_on


def test_signing_in_starts_a_fresh_session(client, supervisor, issue, respondent):
    respondent.open(issue("parent"))  # the same browser was used to answer a survey
    with client.session_transaction() as before:
        assert "code_id" in before
    sign_in(client, "sup@example.org", PASSWORD)
    with client.session_transaction() as after:
        assert "code_id" not in after
        assert "_user_id" in after


def _limited_app(app: Flask, **limits: str) -> Flask:
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"], PROXY_COUNT=1, **limits)


def test_failed_sign_ins_from_one_address_are_limited(app, supervisor):
    client = _limited_app(app, LOGIN_LIMIT="3 per minute").test_client()
    headers = {"X-Forwarded-For": "10.1.1.1"}
    statuses = [
        sign_in(client, "sup@example.org", "bad password!", headers=headers).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 401]
    refused = sign_in(client, "sup@example.org", PASSWORD, headers=headers)
    assert refused.status_code == 429  # even the right password, while the limit holds
    assert "登录失败次数过多" in refused.text
    other = sign_in(client, "sup@example.org", PASSWORD, headers={"X-Forwarded-For": "10.2.2.2"})
    assert other.status_code == 302


def test_failed_sign_ins_for_one_account_are_limited_across_addresses(app, supervisor):
    client = _limited_app(app, LOGIN_ACCOUNT_LIMIT="4 per hour").test_client()
    for n in range(4):
        headers = {"X-Forwarded-For": f"10.3.3.{n}"}
        assert (
            sign_in(client, "sup@example.org", "bad password!", headers=headers).status_code == 401
        )
    headers = {"X-Forwarded-For": "10.4.4.4"}
    assert sign_in(client, "Sup@example.org", PASSWORD, headers=headers).status_code == 429


@pytest.mark.parametrize("email", ["\x00", "sup@example.org\x00", "x" * 5000])
def test_a_login_name_no_account_can_have_is_refused_like_a_wrong_one(client, supervisor, email):
    """PostgreSQL text cannot hold NUL: such a name is refused before any look-up."""
    assert sign_in(client, email, PASSWORD).status_code in (400, 401)
    with pytest.raises(services.AccountRefused, match="not an e-mail address"):
        services.create_user("a\x00b@example.org", "admin", PASSWORD)
