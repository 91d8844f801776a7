"""A supervisor in a real browser (Debian's Chromium) on a laptop-sized screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from survey_app.demo import DEMO_CAMPAIGN_KEY

PASSWORD = "browser test password"


@pytest.fixture
def laptop(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    yield context
    context.close()


@pytest.fixture(scope="module")
def supervisor(live_app) -> str:
    from survey_app.auth.services import create_user
    from survey_app.extensions import db

    email = "browser.supervisor@example.org"
    with live_app.app_context():
        create_user(email, "supervisor", PASSWORD, [DEMO_CAMPAIGN_KEY])
        db.session.commit()
    return email


def test_a_supervisor_signs_in_sees_the_campaign_and_signs_out(
    laptop, live_server, supervisor, new_code, tmp_path
):
    new_code("parent")  # one code in the field
    page = laptop.new_page()
    page.goto(f"{live_server}/plan/{DEMO_CAMPAIGN_KEY}/")
    page.wait_for_url("**/staff/login?next=*")  # signed out: to the sign-in page
    page.fill("#email", supervisor)
    page.fill("#password", "not the password")
    page.locator("button.primary").click()
    assert page.locator(".error").inner_text() == "邮箱或密码错误。"
    page.fill("#password", PASSWORD)
    page.locator("button.primary").click()
    page.wait_for_url(f"**/plan/{DEMO_CAMPAIGN_KEY}/")  # back where the supervisor was going
    assert "示范县" in page.locator("h1").inner_text()
    tables = page.locator("table.data")
    assert tables.count() == 2  # the frame by stratum, the codes in the field
    assert "rural-primary" in tables.nth(0).inner_text()
    assert "家长" in tables.nth(1).inner_text()
    page.screenshot(path=str(tmp_path / "campaign.png"), full_page=True)
    page.locator("button.link").click()  # sign out (a POST with its CSRF token)
    page.wait_for_url("**/staff/login")
    page.goto(f"{live_server}/staff/")
    page.wait_for_url("**/staff/login?next=*")
