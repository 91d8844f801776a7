"""A live server on a private SQLite database, and Debian's Chromium driven by Playwright.

Never downloads a browser: Playwright launches ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import make_app, migrate_to_head

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 640}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def sign_in(page, url: str, email: str, password: str, lands_on: str) -> None:
    """Open ``url`` (the sign-in page), sign in, and wait for ``lands_on`` (a URL glob)."""
    page.goto(url)
    page.fill("#email", email)
    page.fill("#password", password)
    page.locator("button.primary").click()
    page.wait_for_url(lands_on)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    url = f"sqlite:///{tmp_path_factory.mktemp('live')}/live.sqlite3"
    # Pages wait for their figures (a loaded CI machine may take over the default 3 s on
    # the demo county); the state before them is tested with the wait set to 0.
    app = make_app(url, CODE_ENTRY_LIMIT="1000 per minute", BUILD_WAIT_SECONDS=60.0)
    migrate_to_head(app)
    from survey_app.demo import seed_demo_county
    from survey_app.extensions import db

    with app.app_context():
        seed_demo_county(now=datetime.now(UTC))
        db.session.commit()
    return app


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def new_code(live_app: Flask) -> Callable[..., str]:
    from sqlalchemy import select

    from survey_app.extensions import db
    from survey_app.models import School
    from survey_app.plan.issuing import issue_codes

    def _new_code(group: str = "parent", school_level: str = "primary") -> str:
        with live_app.app_context():
            school = db.session.scalars(select(School).filter_by(level=school_level)).first()
            (code,) = issue_codes(school, group, 1)
            db.session.commit()
            return code

    return _new_code


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./dev setup (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A fresh 360×640 phone-sized browser context (its own cookies)."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    yield context
    context.close()


@pytest.fixture
def laptop(browser) -> Iterator[object]:
    """A fresh 1280×800 laptop-sized browser context (staff pages), taking downloads."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN", accept_downloads=True
    )
    yield context
    context.close()
