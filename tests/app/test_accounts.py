"""Staff accounts after they are made (``auth/accounts.py``): the administrator's pages,
one's own new password, and ``flask users grant | withdraw | disable | enable |
password``."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey_app.auth import accounts, services
from survey_app.extensions import db
from survey_app.models import AuditEvent, CampaignAccess, User
from tests.app.conftest import csrf_token
from tests.factories import make_campaign

PASSWORD = "admin password, long"
OTHER = "supervisor password"


def _sign_in(app, email: str, password: str):
    """A new browser signed in as ``email``."""
    client = app.test_client()
    token = csrf_token(client.get("/staff/login").text)
    reply = client.post(
        "/staff/login", data={"csrf_token": token, "email": email, "password": password}
    )
    assert reply.status_code == 302, reply.text
    return client


def _signs_in(app, email: str, password: str) -> bool:
    client = app.test_client()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": email, "password": password}
    return client.post("/staff/login", data=data).status_code == 302


def _signed_in(client) -> bool:
    return client.get("/staff/").status_code == 200


def _post(client, path: str, page: str, **fields):
    token = csrf_token(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **fields})


@pytest.fixture
def admin(app, campaign):
    services.create_user("root@example.org", "admin", PASSWORD)
    return _sign_in(app, "root@example.org", PASSWORD)


@pytest.fixture
def supervisor(campaign) -> User:
    return services.create_user("sup@example.org", "supervisor", OTHER, [campaign.key])


def _events(campaign, action: str) -> list[dict]:
    query = select(AuditEvent).where(
        AuditEvent.campaign_id == campaign.id, AuditEvent.action == action
    )
    return [{"actor": e.actor, **e.details} for e in db.session.scalars(query)]


def _shown_password(html: str) -> str:
    match = re.search(r'<code id="password">([^<]+)</code>', html)
    assert match, "no password on the page"
    return match.group(1)


def test_an_administrator_creates_an_account_and_sees_its_password_once(
    app, admin, campaign, caplog
):
    page = admin.get("/admin/accounts/new")
    assert page.status_code == 200
    assert f'value="{campaign.key}"' in page.text
    with caplog.at_level(logging.INFO, logger="survey_app.accounts"):
        reply = _post(
            admin,
            "/admin/accounts/new",
            "/admin/accounts/new",
            email=" New.Evaluator@Example.org ",
            role="evaluator",
            campaigns=campaign.key,
        )
    assert reply.status_code == 200
    password = _shown_password(reply.text)
    assert re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", password)
    assert password not in caplog.text  # logged: who made which account, never the password
    assert "new.evaluator@example.org (evaluator) created by root@example.org" in caplog.text
    user = accounts.account("new.evaluator@example.org")
    assert [c.key for c in user.campaigns] == [campaign.key]
    assert _events(campaign, "access_granted") == [
        {"actor": "root@example.org", "account": "new.evaluator@example.org", "role": "evaluator"}
    ]
    evaluator = _sign_in(app, "new.evaluator@example.org", password)
    assert evaluator.get(f"/results/{campaign.key}/").status_code == 200  # given at once
    listing = admin.get("/admin/accounts").text
    assert "new.evaluator@example.org" in listing
    assert password not in listing  # shown once, never again
    assert password not in admin.get(f"/admin/accounts/{user.id}").text


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"email": "no-at-sign", "role": "evaluator"}, 422, "请填写电子邮箱地址"),
        ({"email": "sup@example.org", "role": "evaluator"}, 409, "该电子邮箱已有账户"),
        ({"email": "x@example.org", "role": "king"}, 422, None),
        ({"email": "x@example.org", "role": "evaluator", "campaigns": "nope"}, 422, None),
    ],
)
def test_a_bad_new_account_is_refused_and_what_was_typed_stays(
    admin, supervisor, fields, status, message
):
    before = db.session.scalar(select(func.count()).select_from(User))
    reply = _post(admin, "/admin/accounts/new", "/admin/accounts/new", **fields)
    assert reply.status_code == status
    if message:
        assert message in reply.text
    assert f'value="{fields["email"]}"' in reply.text
    assert 'id="password"' not in reply.text
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_an_administrator_grants_and_withdraws_campaigns(app, admin, supervisor, campaign):
    other = make_campaign(key="2027-other")
    mine = _sign_in(app, "sup@example.org", OTHER)
    assert mine.get(f"/plan/{other.key}/").status_code == 404
    page = f"/admin/accounts/{supervisor.id}"
    assert admin.get(page).status_code == 200
    reply = _post(
        admin, f"{page}/campaigns", page, form="campaigns", campaigns=[campaign.key, other.key]
    )
    assert reply.status_code == 200
    assert "已授权：2027-other。" in reply.text
    assert mine.get(f"/plan/{other.key}/").status_code == 200  # at once, same session
    reply = _post(admin, f"{page}/campaigns", page, form="campaigns", campaigns=[other.key])
    assert f"已撤销：{campaign.key}。" in reply.text
    assert mine.get(f"/plan/{campaign.key}/").status_code == 404
    assert _events(other, "access_granted")[0]["account"] == "sup@example.org"
    assert _events(campaign, "access_withdrawn")[0]["actor"] == "root@example.org"
    # the same again: nothing changes, nothing is recorded
    reply = _post(admin, f"{page}/campaigns", page, form="campaigns", campaigns=[other.key])
    assert "没有变化" in reply.text
    assert len(_events(other, "access_granted")) == 1
    # a bare POST (no hidden field) withdraws nothing
    assert _post(admin, f"{page}/campaigns", page).status_code == 422
    assert [c.key for c in db.session.get(User, supervisor.id).campaigns] == [other.key]


def test_a_campaign_that_does_not_exist_is_not_granted(admin, supervisor, campaign):
    page = f"/admin/accounts/{supervisor.id}"
    reply = _post(admin, f"{page}/campaigns", page, form="campaigns", campaigns=["nope"])
    assert reply.status_code == 422
    assert [c.key for c in db.session.get(User, supervisor.id).campaigns] == [campaign.key]


def test_disabling_an_account_ends_its_sessions_and_enabling_lets_it_back(
    app, admin, supervisor, campaign
):
    theirs = _sign_in(app, "sup@example.org", OTHER)
    page = f"/admin/accounts/{supervisor.id}"
    reply = _post(admin, f"{page}/active", page, active="0")
    assert reply.status_code == 302
    assert "已停用" in admin.get(page).text
    assert not _signed_in(theirs)
    assert not _signs_in(app, "sup@example.org", OTHER)
    assert _post(admin, f"{page}/active", page, active="1").status_code == 302
    assert _signs_in(app, "sup@example.org", OTHER)
    refused = _post(admin, f"{page}/active", page, active="maybe")
    assert refused.status_code == 422
    # the page around the refused button shows the account as it is: its campaign checked
    assert re.search(rf'<input checked[^>]*value="{campaign.key}"', refused.text)
    assert 'name="active" type="hidden" value="0"' in refused.text


def test_an_administrator_cannot_disable_their_own_account(admin):
    me = accounts.account("root@example.org")
    page = admin.get(f"/admin/accounts/{me.id}").text
    assert "停用账户" not in page  # no button for it
    reply = _post(admin, f"/admin/accounts/{me.id}/active", "/staff/", active="0")
    assert reply.status_code == 409
    assert "不能停用自己的账户" in reply.text
    assert _signed_in(admin)


def test_the_last_active_administrator_stays_enabled(runner, admin):
    result = runner.invoke(args=["users", "disable", "--email", "root@example.org"])
    assert result.exit_code == 2
    assert "last active administrator" in result.output


def test_an_administrator_is_disabled_by_another(runner, admin):
    services.create_user("second@example.org", "admin", PASSWORD)
    result = runner.invoke(args=["users", "disable", "--email", "root@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output == "Disabled root@example.org.\n"
    assert not _signed_in(admin)


def test_an_administrator_changes_a_role(app, admin, supervisor, campaign):
    theirs = _sign_in(app, "sup@example.org", OTHER)
    assert theirs.get(f"/plan/{campaign.key}/").status_code == 200
    page = f"/admin/accounts/{supervisor.id}"
    assert _post(admin, f"{page}/role", page, role="king").status_code == 422
    assert _post(admin, f"{page}/role", page, role="evaluator").status_code == 302
    # at once, in the same session: the results, not the plan
    assert theirs.get(f"/plan/{campaign.key}/").status_code == 403
    assert theirs.get(f"/results/{campaign.key}/").status_code == 200
    assert _events(campaign, "role_changed") == [
        {
            "actor": "root@example.org",
            "account": "sup@example.org",
            "role": "evaluator",
            "previous_role": "supervisor",
        }
    ]
    log = admin.get(f"/plan/{campaign.key}/").text
    assert '<td title="role_changed">角色变更</td>' in log
    assert "原角色：督导" in log
    # made administrator: every campaign, its grants given up (and recorded)
    assert _post(admin, f"{page}/role", page, role="admin").status_code == 302
    assert db.session.get(User, supervisor.id).campaigns == []
    assert _events(campaign, "access_withdrawn")[0]["account"] == "sup@example.org"
    assert theirs.get(f"/plan/{campaign.key}/").status_code == 200


def test_nobody_changes_their_own_role_nor_demotes_the_last_administrator(admin, runner):
    me = accounts.account("root@example.org")
    page = admin.get(f"/admin/accounts/{me.id}").text
    assert 'name="role"' not in page
    reply = _post(admin, f"/admin/accounts/{me.id}/role", "/staff/", role="evaluator")
    assert reply.status_code == 409
    assert "不能更改自己的角色" in reply.text
    assert db.session.get(User, me.id).role == "admin"
    result = runner.invoke(
        args=["users", "role", "--email", "root@example.org", "--role", "supervisor"]
    )
    assert result.exit_code == 2
    assert "last active administrator" in result.output


def test_a_reset_password_ends_the_old_sessions(app, admin, supervisor):
    theirs = _sign_in(app, "sup@example.org", OTHER)
    page = f"/admin/accounts/{supervisor.id}"
    assert _post(admin, f"{page}/password", page).status_code == 422  # a bare POST
    assert _signed_in(theirs)
    reply = _post(admin, f"{page}/password", page, action="reset")
    assert reply.status_code == 200
    password = _shown_password(reply.text)
    assert not _signed_in(theirs)
    assert not _signs_in(app, "sup@example.org", OTHER)
    assert _signs_in(app, "sup@example.org", password)


def test_staff_change_their_own_password(app, supervisor):
    here = _sign_in(app, "sup@example.org", OTHER)
    elsewhere = _sign_in(app, "sup@example.org", OTHER)
    assert 'href="/staff/password"' in here.get("/staff/").text
    new = "a brand new password"
    refusals = [
        ({"current": "wrong one", "new": new, "again": new}, "当前密码不正确"),
        ({"current": OTHER, "new": "short", "again": "short"}, "至少 12 个字符"),
        ({"current": OTHER, "new": new, "again": new + "x"}, "两次输入的新密码不一致"),
    ]
    for fields, message in refusals:
        reply = _post(here, "/staff/password", "/staff/password", **fields)
        assert reply.status_code == 422, fields
        assert message in reply.text
    assert _signs_in(app, "sup@example.org", OTHER)  # unchanged
    reply = _post(here, "/staff/password", "/staff/password", current=OTHER, new=new, again=new)
    assert reply.status_code == 200
    assert 'id="changed"' in reply.text
    assert _signed_in(here)  # this session goes on
    assert not _signed_in(elsewhere)  # the others end
    assert _signs_in(app, "sup@example.org", new)
    assert not _signs_in(app, "sup@example.org", OTHER)


def test_guessing_the_current_password_is_limited_like_signing_in(app, supervisor):
    here = _sign_in(app, "sup@example.org", OTHER)
    new = "a brand new password"
    guesses = [
        _post(here, "/staff/password", "/staff/password", current=f"guess {n}", new=new, again=new)
        for n in range(30)
    ]
    statuses = [reply.status_code for reply in guesses]
    assert statuses[0] == 422
    assert 429 in statuses
    assert "登录失败次数过多" in guesses[-1].text
    # past the limit, the right password is refused too, and nothing changes
    right = _post(here, "/staff/password", "/staff/password", current=OTHER, new=new, again=new)
    assert right.status_code == 429
    assert services.password_matches(db.session.get(User, supervisor.id), OTHER)


def test_users_commands_change_accounts_in_one_line(runner, supervisor, campaign):
    other = make_campaign(key="2027-other")
    result = runner.invoke(
        args=["users", "grant", "--email", "SUP@example.org", "--campaign", other.key]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "Granted to SUP@example.org: 2027-other.\n"
    assert _events(other, "access_granted") == [
        {"actor": "command line", "account": "sup@example.org", "role": "supervisor"}
    ]
    result = runner.invoke(
        args=["users", "withdraw", "--email", "sup@example.org", "--campaign", campaign.key]
    )
    assert result.exit_code == 0, result.output
    assert [c.key for c in db.session.get(User, supervisor.id).campaigns] == [other.key]
    assert runner.invoke(args=["users", "disable", "--email", "sup@example.org"]).exit_code == 0
    assert not db.session.get(User, supervisor.id).active
    assert runner.invoke(args=["users", "enable", "--email", "sup@example.org"]).exit_code == 0
    assert db.session.get(User, supervisor.id).active
    result = runner.invoke(
        args=["users", "role", "--email", "sup@example.org", "--role", "evaluator"]
    )
    assert result.output == "sup@example.org is now evaluator.\n"
    assert db.session.get(User, supervisor.id).role == "evaluator"
    result = runner.invoke(
        args=["users", "password", "--email", "sup@example.org", "--password-stdin"],
        input="another long password\n",
    )
    assert result.exit_code == 0, result.output
    assert services.password_matches(db.session.get(User, supervisor.id), "another long password")


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (["grant", "--email", "nobody@example.org", "--campaign", "demo"], "", "no staff account"),
        (["grant", "--email", "sup@example.org", "--campaign", "nope"], "", "no campaign"),
        (["grant", "--email", "not-an-email", "--campaign", "demo"], "", "not an e-mail"),
        (["disable", "--email", "nobody@example.org"], "", "no staff account"),
        (["password", "--email", "sup@example.org", "--password-stdin"], "short\n", "at least 12"),
    ],
)
def test_users_commands_refuse_in_one_line(runner, supervisor, arguments, stdin, message):
    result = runner.invoke(args=["users", *arguments], input=stdin)
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: ")
    assert message in line
    assert "Traceback" not in result.output


def test_an_administrator_cannot_be_given_campaigns(admin, runner):
    result = runner.invoke(
        args=["users", "grant", "--email", "root@example.org", "--campaign", "demo"]
    )
    assert result.exit_code == 2
    assert "sees every campaign" in result.output


form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(["new", "campaigns", "active", "role", "password", "own"]),
    fields=st.dictionaries(
        st.sampled_from(["email", "role", "campaigns", "form", "active", "action", "current"])
        | form_text,
        form_text | st.lists(form_text, max_size=3),
        max_size=5,
    ),
)
def test_any_form_sent_to_the_account_pages(app, admin, supervisor, route, fields):
    """Never a 500; an answer that is not a success changes nothing."""
    page = f"/admin/accounts/{supervisor.id}"
    path = {
        "new": "/admin/accounts/new",
        "campaigns": f"{page}/campaigns",
        "active": f"{page}/active",
        "role": f"{page}/role",
        "password": f"{page}/password",
        "own": "/staff/password",
    }[route]
    state = _state(supervisor)
    reply = _post(admin, path, "/staff/", **fields)
    assert reply.status_code < 500
    if reply.status_code >= 400:
        assert _state(supervisor) == state
    if route == "active" and reply.status_code == 302:
        _post(admin, f"{page}/active", page, active="1")  # back for the next example
    if route == "role" and reply.status_code == 302:
        _post(admin, f"{page}/role", page, role="supervisor")


def _state(user: User) -> tuple:
    db.session.expire_all()
    return (
        db.session.get(User, user.id).role,
        db.session.scalar(select(func.count()).select_from(User)),
        db.session.scalar(select(func.count()).select_from(CampaignAccess)),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
        db.session.get(User, user.id).password_hash,
        db.session.get(User, user.id).active,
    )
