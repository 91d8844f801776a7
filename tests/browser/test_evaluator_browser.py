"""An evaluator in a real browser (Debian's Chromium) on a laptop-sized screen: the demo
county's results, the signed report, and the public page that checks it."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from survey_app.demo import DEMO_CAMPAIGN_KEY
from tests.browser.conftest import sign_in

PASSWORD = "browser evaluator password"
SIGNING_PASSWORD = "browser signing password"
RESPONSES = 300  # simulated fieldwork, enough for every group's figure
PERCENT = re.compile(r"\d{1,3}\.\d%")


@pytest.fixture(scope="module")
def evaluator(live_app) -> str:
    from survey_app.auth.services import create_user
    from survey_app.extensions import db

    email = "browser.evaluator@example.org"
    with live_app.app_context():
        create_user(email, "evaluator", PASSWORD, [DEMO_CAMPAIGN_KEY])
        db.session.commit()
    return email


@pytest.fixture(scope="module")
def fieldwork(live_app) -> int:
    """The demo county filled with simulated responses (unless it already has some)."""
    from sqlalchemy import select

    from survey_app import demo_fieldwork
    from survey_app.extensions import db
    from survey_app.models import Campaign

    with live_app.app_context():
        campaign = db.session.scalar(select(Campaign).filter_by(key=DEMO_CAMPAIGN_KEY))
        if demo_fieldwork.responses_of(campaign) < RESPONSES:
            demo_fieldwork.simulate_fieldwork(
                campaign, RESPONSES, seed=20261202, now=datetime.now(UTC)
            )
            db.session.commit()
        return demo_fieldwork.responses_of(campaign)


@pytest.fixture(scope="module")
def signing_key(live_app, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A temporary self-signed PKCS#12 (what ``flask report keygen`` writes), configured
    for the live app while this module runs."""
    from survey_app.results.report_signing import make_self_signed

    path = str(tmp_path_factory.mktemp("signing") / "signing.p12")
    make_self_signed(path, SIGNING_PASSWORD, "Browser test report signing", datetime.now(UTC))
    names = ("REPORT_SIGNING_P12", "REPORT_SIGNING_PASSWORD")
    before = {name: live_app.config.get(name) for name in names}
    live_app.config.update(REPORT_SIGNING_P12=path, REPORT_SIGNING_PASSWORD=SIGNING_PASSWORD)
    yield path
    live_app.config.update(before)


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)


def test_an_evaluator_reads_the_results_issues_the_signed_report_and_checks_it(
    laptop, live_server, live_app, evaluator, fieldwork, signing_key, tmp_path
):
    assert fieldwork >= RESPONSES
    page = laptop.new_page()
    sign_in(page, f"{live_server}/staff/login", evaluator, PASSWORD, "**/staff/")
    page.get_by_role("link", name=DEMO_CAMPAIGN_KEY, exact=True).click()
    page.wait_for_url(f"**/results/{DEMO_CAMPAIGN_KEY}/")
    assert "示范县" in page.locator("h1").inner_text()

    # The verdict first: before every chart and table, with the county's percentage.
    verdict = page.locator("section.verdict")
    assert verdict.count() == 1
    assert page.evaluate(
        """() => {
            const verdict = document.querySelector("section.verdict");
            const later = document.querySelectorAll("svg.chart, table.data");
            return later.length > 0 && [...later].every(
                (el) => verdict.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING
            );
        }"""
    )
    score = verdict.locator("p.score").inner_text()
    assert score.startswith("全县认可度"), score
    county_percent = PERCENT.search(score)
    assert county_percent is not None, score
    county_percent = county_percent.group(0)

    # The charts: groups, content areas, location and school level, drawn and visible.
    charts = page.locator("svg.chart")
    assert charts.count() == 4
    for chart in charts.all():
        chart.scroll_into_view_if_needed()
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None
        assert box["height"] > 0
        assert box["width"] > 0
        assert chart.locator("circle.estimate").count() > 0  # at least one estimate drawn

    # The group table: the parents' row has its recognition as a percentage.
    parents = page.locator("table.data").first.locator(
        "tbody tr", has=page.locator("th", has_text="家长")
    )
    assert parents.count() == 1
    assert PERCENT.fullmatch(parents.locator("td").nth(1).inner_text().strip())
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

    # Issue the signed report with the page's button: a job starts (in a thread of the
    # live server, the embedded default), and its progress page refreshes itself
    # (<meta refresh>, no script) through the stages until the download is offered.
    page.get_by_role("button", name="签发带签名的报告").click()
    page.wait_for_url(re.compile(rf"/results/{DEMO_CAMPAIGN_KEY}/report/jobs/[\w-]+$"))
    progress_url = page.url
    download_button = page.get_by_role("button", name="下载报告")
    # A locator waits across the page's own refreshes (reading the page between two
    # of them could meet a page being replaced).
    download_button.wait_for(timeout=60_000)
    assert page.url == progress_url  # refreshed in place
    assert page.locator("section.report-job").get_attribute("data-stage") == "done"
    assert "已完成" in page.locator("h2#job-title").inner_text()
    page.screenshot(path=str(tmp_path / "report-ready.png"), full_page=True)
    with page.expect_download() as download:
        download_button.click()
    assert download.value.suggested_filename.endswith(".pdf")
    saved = tmp_path / "report.pdf"
    download.value.save_as(saved)
    body = saved.read_bytes()
    assert body.startswith(b"%PDF")
    text = _pdf_text(body)
    squeezed = re.sub(r"\s+", "", text)
    assert "社会认可度" in squeezed or "示范县" in squeezed
    assert county_percent in text, county_percent

    # The results page now lists the report; its number is the stored one.
    from hashlib import sha256

    from sqlalchemy import select

    from survey_app.extensions import db
    from survey_app.models import Campaign, CertificationReport

    page.goto(f"{live_server}/results/{DEMO_CAMPAIGN_KEY}/")
    listed = page.locator("section.reports table.data tbody tr")
    assert listed.count() >= 1
    with live_app.app_context():
        campaign = db.session.scalar(select(Campaign).filter_by(key=DEMO_CAMPAIGN_KEY))
        stored = db.session.scalars(
            select(CertificationReport)
            .where(CertificationReport.campaign_id == campaign.id)
            .order_by(CertificationReport.id.desc())
        ).first()
        public_id, stored_hash = stored.public_id, stored.sha256
    assert stored_hash == sha256(body).hexdigest()  # the file downloaded is the one kept
    assert public_id in listed.first.inner_text()
    assert public_id in squeezed  # the PDF names itself (and prints its verify link)

    # The public verify page: the file as downloaded matches ...
    checker = laptop.new_page()
    checker.goto(f"{live_server}/verify/{public_id}")
    assert stored_hash in checker.locator("code.hash").inner_text()
    checker.set_input_files("#file", str(saved))
    with checker.expect_navigation():
        checker.get_by_role("button", name="核验文件").click()
    outcome = checker.locator("p.outcome")
    assert "matches" in (outcome.get_attribute("class") or "")
    assert "文件一致" in outcome.inner_text()

    # ... and one byte changed does not.
    changed = bytearray(body)
    changed[len(body) // 3] ^= 0x01
    tampered = tmp_path / "report-changed.pdf"
    tampered.write_bytes(bytes(changed))
    checker.set_input_files("#file", str(tampered))
    with checker.expect_navigation():
        checker.get_by_role("button", name="核验文件").click()
    outcome = checker.locator("p.outcome")
    assert "differs" in (outcome.get_attribute("class") or "")
    assert "文件不一致" in outcome.inner_text()
    checker.screenshot(path=str(tmp_path / "verify.png"), full_page=True)


def test_while_its_figures_are_built_the_page_says_so_and_then_shows_them_by_itself(
    laptop, live_server, live_app, evaluator, fieldwork, monkeypatch
):
    """A large campaign's first view (here: a build slowed to 2 s, a wait of 0 s): the
    page says the figures are coming and refreshes itself until they are shown."""
    from survey_app.results import page as results_page
    from survey_app.results import views as results_views

    original = results_page._pages.build

    def slow(campaign):
        time.sleep(2)
        return original(campaign)

    monkeypatch.setitem(live_app.config, "BUILD_WAIT_SECONDS", 0)
    monkeypatch.setattr(results_views, "BUILDING_REFRESH_SECONDS", 1)
    monkeypatch.setattr(results_page._pages, "build", slow)
    results_page.forget()
    page = laptop.new_page()
    sign_in(page, f"{live_server}/staff/login", evaluator, PASSWORD, "**/staff/")
    page.goto(f"{live_server}/results/{DEMO_CAMPAIGN_KEY}/")
    notice = page.locator("p.building")
    assert notice.is_visible()
    assert "正在计算" in notice.inner_text()
    assert page.locator("section.verdict").count() == 0
    page.locator("section.verdict").wait_for(timeout=60_000)  # no click: it refreshed
    assert page.locator("p.building").count() == 0
