"""The integrity checks in a real browser (Debian's Chromium): an evaluator finds the
coached schools' groups on the results page, sets one aside with a reason, and sees the
decision and the verdict three ways; a supervisor sees the flags on the fieldwork page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from survey_app.demo import DEMO_CAMPAIGN_KEY
from tests.browser.conftest import sign_in

PASSWORD = "browser integrity password"
REASON = "家长群里发布了标准答案，校长已确认"


@pytest.fixture(scope="module")
def coached(live_app) -> tuple[tuple[str, str, str], ...]:
    """The demo county with 2,000 more simulated responses, two schools' groups coached."""
    from sqlalchemy import select

    from survey_app import demo_fieldwork
    from survey_app.auth.services import create_user
    from survey_app.extensions import db
    from survey_app.models import Campaign

    with live_app.app_context():
        campaign = db.session.scalar(select(Campaign).filter_by(key=DEMO_CAMPAIGN_KEY))
        result = demo_fieldwork.simulate_fieldwork(
            campaign, 2000, seed=20261206, now=datetime.now(UTC), coached=2
        )
        for role in ("evaluator", "supervisor"):
            create_user(f"integrity.{role}@example.org", role, PASSWORD, [DEMO_CAMPAIGN_KEY])
        db.session.commit()
    return result.coached


def test_an_evaluator_sets_a_coached_group_aside_with_a_reason(laptop, live_server, coached):
    school, group, _style = coached[0]
    page = laptop.new_page()
    sign_in(
        page,
        f"{live_server}/staff/login?next=/results/{DEMO_CAMPAIGN_KEY}/",
        "integrity.evaluator@example.org",
        PASSWORD,
        f"**/results/{DEMO_CAMPAIGN_KEY}/",
    )
    section = page.locator("#integrity")
    section.scroll_into_view_if_needed()
    assert section.is_visible()
    rows = page.locator("table.integrity tbody tr.flagged")
    flagged = rows.all_inner_texts()
    for coached_school, _group, _style in coached:
        assert any(coached_school in row for row in flagged), (coached_school, flagged)
    compared = page.locator("table.compared tbody tr")
    assert compared.count() == 3
    every, _without, decided = (int(r.locator("td").nth(2).inner_text()) for r in compared.all())
    assert decided == every  # nothing decided yet

    page.locator(f'a[href$="/integrity/{school}/{group}"]').first.click()
    page.wait_for_url(f"**/integrity/{school}/{group}")
    assert school in page.locator("main, body").first.inner_text()
    page.select_option("#decision", "set_aside")
    page.fill("#reason", REASON)
    page.locator("#reason").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    page.wait_for_url(f"**/results/{DEMO_CAMPAIGN_KEY}/#integrity")
    row = page.locator("table.integrity tbody tr", has_text=school).first
    assert REASON in row.inner_text()
    compared = page.locator("table.compared tbody tr")
    every, without, decided = (int(r.locator("td").nth(2).inner_text()) for r in compared.all())
    assert decided < every
    assert without <= decided


def test_a_supervisor_sees_the_flags_on_the_fieldwork_page(laptop, live_server, coached):
    page = laptop.new_page()
    sign_in(
        page,
        f"{live_server}/staff/login?next=/plan/{DEMO_CAMPAIGN_KEY}/fieldwork",
        "integrity.supervisor@example.org",
        PASSWORD,
        "**/fieldwork",
    )
    section = page.locator("#integrity")
    section.scroll_into_view_if_needed()
    assert section.is_visible()
    text = page.locator("table.integrity").inner_text()
    for school, _group, _style in coached:
        assert school in text
    links = page.locator('table.integrity a[href*="/plan/"]')
    assert links.count() >= len(coached)
