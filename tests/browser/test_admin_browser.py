"""An administrator gives a new evaluator an account in a real browser (Debian's
Chromium); the evaluator signs in with the password shown once and changes it."""

from __future__ import annotations

from typing import Any

import pytest

from survey_app.demo import DEMO_CAMPAIGN_KEY
from tests.browser.conftest import sign_in

PASSWORD = "browser admin password"


@pytest.fixture(scope="module")
def admin(live_app) -> str:
    from survey_app.auth.services import create_user
    from survey_app.extensions import db

    email = "browser.admin@example.org"
    with live_app.app_context():
        create_user(email, "admin", PASSWORD)
        db.session.commit()
    return email


def test_an_administrator_makes_an_account_its_owner_signs_in_and_changes_the_password(
    browser: Any, laptop: Any, live_server: str, admin: str, tmp_path
):
    page = laptop.new_page()
    sign_in(page, f"{live_server}/staff/login", admin, PASSWORD, "**/staff/")
    page.get_by_role("link", name="工作人员账户").click()
    page.wait_for_url("**/admin/accounts")
    page.get_by_role("link", name="新建账户").click()
    page.fill("#email", "browser.new.evaluator@example.org")
    page.select_option("#role", "evaluator")
    page.get_by_label(f"{DEMO_CAMPAIGN_KEY} · 示范县").check()
    page.locator("button.primary").click()
    assert page.locator("h1").inner_text().startswith("账户已创建")
    password = page.locator("#password").inner_text()
    assert len(password) == 19
    page.screenshot(path=str(tmp_path / "account-created.png"), full_page=True)

    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        theirs = other.new_page()
        sign_in(
            theirs,
            f"{live_server}/staff/login",
            "browser.new.evaluator@example.org",
            password,
            "**/staff/",
        )
        assert DEMO_CAMPAIGN_KEY in theirs.locator("table.data").inner_text()
        theirs.get_by_role("link", name="修改密码").click()
        theirs.fill("#current", password)
        theirs.fill("#new", "the evaluator's own password")
        theirs.fill("#again", "the evaluator's own password")
        theirs.locator("button.primary").click()
        assert theirs.locator("#changed").is_visible()
        theirs.goto(f"{live_server}/staff/")  # still signed in
        assert theirs.url.endswith("/staff/")
    finally:
        other.close()

    # The administrator withdraws the campaign: the account stays, its list is empty.
    page.goto(f"{live_server}/admin/accounts")
    page.get_by_role("link", name="browser.new.evaluator@example.org").click()
    page.get_by_label(f"{DEMO_CAMPAIGN_KEY} · 示范县").uncheck()
    page.get_by_role("button", name="保存调查项目授权").click()
    assert page.locator("#notice").inner_text() == f"已撤销：{DEMO_CAMPAIGN_KEY}。"
    page.screenshot(path=str(tmp_path / "account.png"), full_page=True)
    page.get_by_role("button", name="停用账户").click()
    page.wait_for_load_state("load")
    assert "已停用" in page.locator("h1").inner_text()
