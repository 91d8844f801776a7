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


def test_a_supervisor_creates_a_campaign_imports_its_frame_and_draws(
    laptop, live_server, supervisor, tmp_path
):
    from tests.app.test_frame_import import GOOD

    frame = tmp_path / "学校名录.csv"
    frame.write_text(GOOD, encoding="utf-8")
    page = laptop.new_page()
    page.goto(f"{live_server}/staff/login")
    page.fill("#email", supervisor)
    page.fill("#password", PASSWORD)
    page.locator("button.primary").click()
    page.wait_for_url("**/staff/")
    page.get_by_role("link", name="新建调查项目").click()
    page.fill("#key", "browser-county")
    page.fill("#county_code", "659004")
    page.fill("#county_name", "浏览器县")
    page.select_option("#stage", "self")
    page.fill("#resident_population", "300000")
    page.fill("#opens", "2027-03-01")
    page.fill("#closes", "2027-03-15")
    page.locator("button.primary").click()
    page.wait_for_url("**/plan/browser-county/")
    page.get_by_role("link", name="导入学校名录").click()
    page.set_input_files("#frame", str(frame))
    page.locator("button.primary").click()
    page.wait_for_url("**/plan/browser-county/")
    assert "rural-teaching_point" in page.locator("table.data").first.inner_text()
    page.get_by_role("link", name="抽取学校").click()
    page.fill("#n-urban-primary", "1")
    page.fill("#n-town-junior", "1")
    page.fill("#n-rural-nine_year", "1")
    page.fill("#n-rural-teaching_point", "1")
    page.fill("#seed", "20261202")
    page.locator("button.primary").click()
    page.wait_for_url("**/plan/browser-county/draw")
    drawn = page.locator("#drawn").inner_text()
    assert "城关第一小学" in drawn  # alone in its stratum: drawn with certainty
    assert "种子 20261202" in page.locator("#drawn-title").inner_text()
    page.screenshot(path=str(tmp_path / "draw.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载抽样结果（CSV，可用 R 核验）").click()
    saved = tmp_path / "draw.csv"
    download.value.save_as(saved)
    assert saved.read_text().startswith("stratum,school_code,size,frame_order,n_stratum,pi,")


def test_the_fieldwork_page_fills_as_a_respondent_answers(
    laptop, phone, live_server, live_app, supervisor, new_code
):
    from sqlalchemy import select

    from survey_app.codes import code_digest, normalise_code
    from survey_app.extensions import db
    from survey_app.models import OneTimeCode
    from tests.browser.test_respondent_browser import answer_to_review

    live_app.config["FIELDWORK_REFRESH_SECONDS"] = 1
    code = new_code("parent")
    with live_app.app_context():
        row = db.session.scalar(
            select(OneTimeCode).filter_by(digest=code_digest(normalise_code(code) or ""))
        )
        cell = f"{row.school.stratum.code}|parent"
    page = laptop.new_page()
    page.goto(f"{live_server}/staff/login?next=/plan/{DEMO_CAMPAIGN_KEY}/fieldwork")
    page.fill("#email", supervisor)
    page.fill("#password", PASSWORD)
    page.locator("button.primary").click()
    page.wait_for_url("**/fieldwork")
    answered = page.locator(f'tr[data-cell="{cell}"] [data-field=answered]')
    before = int(answered.inner_text())
    respondent = phone.new_page()
    respondent.goto(f"{live_server}/r/{code}")
    respondent.locator(".primary").click()
    answer_to_review(respondent)
    respondent.locator("#submit").click()
    respondent.wait_for_url("**/thanks")
    # No reload: the page's script fetches the counts again.
    page.wait_for_function(
        "([selector, count]) => Number(document.querySelector(selector).textContent) === count",
        arg=[f'tr[data-cell="{cell}"] [data-field=answered]', before + 1],
        timeout=10_000,
    )
    assert page.url.endswith("/fieldwork")
