"""A supervisor in a real browser (Debian's Chromium) on a laptop-sized screen."""

from __future__ import annotations

import pytest

from survey_app.demo import DEMO_CAMPAIGN_KEY
from tests.browser.conftest import sign_in

PASSWORD = "browser test password"


@pytest.fixture(scope="module")
def supervisor(live_app) -> str:
    from survey_app.auth.services import create_user
    from survey_app.extensions import db

    email = "browser.supervisor@example.org"
    with live_app.app_context():
        create_user(email, "supervisor", PASSWORD, [DEMO_CAMPAIGN_KEY])
        db.session.commit()
    return email


def _new_campaign_with_frame(page, key: str, county_code: str, county_name: str, frame) -> None:
    """From the staff home: a new campaign in preparation, then its frame imported."""
    page.get_by_role("link", name="新建调查项目").click()
    page.fill("#key", key)
    page.fill("#county_code", county_code)
    page.fill("#county_name", county_name)
    page.select_option("#stage", "self")
    page.fill("#resident_population", "300000")
    page.fill("#opens", "2027-03-01")
    page.fill("#closes", "2027-03-15")
    page.locator("button.primary").click()
    page.wait_for_url(f"**/plan/{key}/")
    page.get_by_role("link", name="导入学校名录").click()
    page.set_input_files("#frame", str(frame))
    page.locator("button.primary").click()
    page.wait_for_url(f"**/plan/{key}/")


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
    # The frame by stratum, the codes in the field, the audit log (the demo's lists and
    # open link were set when it was seeded).
    assert tables.count() == 3
    assert "乡村小学" in tables.nth(0).inner_text()
    assert "家长" in tables.nth(1).inner_text()
    assert "创建开放链接" in tables.nth(2).inner_text()
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
    sign_in(page, f"{live_server}/staff/login", supervisor, PASSWORD, "**/staff/")
    _new_campaign_with_frame(page, "browser-county", "659004", "浏览器县", frame)
    assert "乡村教学点" in page.locator("table.data").first.inner_text()
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
    sign_in(
        page,
        f"{live_server}/staff/login?next=/plan/{DEMO_CAMPAIGN_KEY}/fieldwork",
        supervisor,
        PASSWORD,
        "**/fieldwork",
    )
    answered = page.locator(f'tr[data-cell="{cell}"] [data-field=answered]')
    before = int(answered.inner_text())
    total = 'tr[data-cell="*|*"] [data-field=answered]'
    total_before = int(page.locator(total).inner_text())
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
    assert int(page.locator(total).inner_text()) == total_before + 1  # the total too
    assert page.url.endswith("/fieldwork")


FRAME_FOR_CODES = """school_code,name,level,location,enrolment,teachers
2659980001,城关第一小学,primary,urban,1850,96
2659980002,城关第二小学,primary,urban,1200,70
2659980003,城关第三小学,primary,urban,900,52
2659980004,城关第四小学,primary,urban,700,40
2659980005,红星中学,junior,town,"1,204",88
2659980006,沙河九年一贯制学校,nine_year,rural,430,41
"""


def _drawn_in(page, stratum: str) -> int:
    """Rows of the draw's table in ``stratum`` (the cell shows its name, its code is the title)."""
    return page.locator(f'#drawn tbody tr td:first-child[title="{stratum}"]').count()


def _planned_and_issued(page) -> list[tuple[str, int, int]]:
    """(school code, planned, issued) for each row of the codes page's first table."""
    rows = []
    for row in page.locator("table.data").first.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        rows.append((cells[0], int(cells[3]), int(cells[4])))
    return rows


def test_a_supervisor_sets_the_allocation_draws_and_issues_pdf_slips(
    laptop, live_server, supervisor, tmp_path
):
    key = "browser-slips"
    frame = tmp_path / "名录.csv"
    frame.write_text(FRAME_FOR_CODES, encoding="utf-8")
    page = laptop.new_page()
    sign_in(page, f"{live_server}/staff/login", supervisor, PASSWORD, "**/staff/")
    _new_campaign_with_frame(page, key, "659005", "发码县", frame)
    page.get_by_role("link", name="抽取学校").click()
    page.wait_for_url(f"**/plan/{key}/draw")
    # Six schools in three strata: the proposal draws all four urban primary schools.
    assert page.input_value("#n-urban-primary") == "4"
    page.fill("#n-urban-primary", "2")  # the supervisor's own allocation
    page.fill("#n-town-junior", "1")
    page.fill("#n-rural-nine_year", "1")
    page.fill("#seed", "20261203")
    page.locator("button.primary").click()
    page.wait_for_url(f"**/plan/{key}/draw")
    assert "种子 20261203" in page.locator("#drawn-title").inner_text()
    assert _drawn_in(page, "urban-primary") == 2
    assert _drawn_in(page, "town-junior") == 1
    assert page.input_value("#n-urban-primary") == "2"  # the allocation drawn, shown again

    page.goto(f"{live_server}/plan/{key}/codes")
    before = _planned_and_issued(page)
    urban = {"2659980001", "2659980002", "2659980003", "2659980004"}
    assert len({code for code, _, _ in before} & urban) == 2  # only the drawn schools
    assert all(planned > 0 and issued == 0 for _, planned, issued in before)
    page.select_option("#output", "pdf")
    page.select_option("#language", "zh_Hans")
    with page.expect_download() as download:
        page.locator("button.primary").click()
    assert download.value.suggested_filename.endswith(".pdf")
    slips = tmp_path / "slips.pdf"
    download.value.save_as(slips)
    content = slips.read_bytes()
    assert content.startswith(b"%PDF")
    assert len(content) > 1000  # slips, not an empty file

    page.goto(f"{live_server}/plan/{key}/codes")
    after = _planned_and_issued(page)
    assert [(code, planned) for code, planned, _ in after] == [
        (code, planned) for code, planned, _ in before
    ]
    assert all(issued == planned for _, planned, issued in after)
    assert page.locator("form[action$='/codes/issue']").count() == 0  # nothing left to issue
