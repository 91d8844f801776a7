"""``flask --app wsgi users …`` and ``flask --app wsgi demo logins``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import User
from tests.app.conftest import csrf_token

PASSWORD = "twelve chars or more"


def test_users_create_with_a_password_on_stdin(runner, client, campaign):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--role",
            "supervisor",
            "--email",
            "Li.Wei@Example.org",
            "--campaign",
            campaign.key,
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert f"Created supervisor li.wei@example.org (campaigns: {campaign.key})" in result.output
    user = db.session.scalar(select(User).where(User.email == "li.wei@example.org"))
    assert [c.key for c in user.campaigns] == [campaign.key]
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "li.wei@example.org", "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302


def test_users_create_prompts_for_the_password_twice(runner, campaign):
    result = runner.invoke(
        args=["users", "create", "--role", "admin", "--email", "root@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (
            ["--role", "supervisor", "--email", "x@example.org", "--campaign", "nope"],
            PASSWORD,
            "no campaign with the key 'nope'",
        ),
        (["--role", "admin", "--email", "x@example.org"], "short", "at least 12 characters"),
        (["--role", "admin", "--email", "no-at-sign"], PASSWORD, "not an e-mail address"),
    ],
)
def test_users_create_refuses_bad_input_in_one_line(runner, campaign, arguments, password, message):
    result = runner.invoke(
        args=["users", "create", *arguments, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: ")
    assert message in line
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_refuses_an_unknown_role(runner):
    result = runner.invoke(
        args=["users", "create", "--role", "boss", "--email", "x@example.org", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 2
    assert "'boss' is not one of" in result.output


def test_demo_logins_sign_in_with_new_passwords_each_time(app, runner, client, campaign):
    first = runner.invoke(args=["demo", "logins"])
    assert first.exit_code == 0, first.output
    lines = [line.split() for line in first.output.strip().splitlines()]
    assert [line[0] for line in lines] == ["admin", "supervisor", "evaluator"]
    second = runner.invoke(args=["demo", "logins"])
    assert second.output != first.output  # new passwords; the old ones no longer work
    role, email, password = second.output.strip().splitlines()[1].split()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": password}
    assert client.post("/staff/login", data=data).status_code == 302
    assert campaign.key in client.get("/staff/").text
    other = app.test_client()  # another browser, trying the first, replaced password
    token = csrf_token(other.get("/staff/login").text)
    stale = {"csrf_token": token, "email": lines[1][1], "password": lines[1][2]}
    assert other.post("/staff/login", data=stale).status_code == 401
