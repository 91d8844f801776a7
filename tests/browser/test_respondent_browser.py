"""A respondent in a real browser (Debian's Chromium) on a 360×640 phone screen."""

from __future__ import annotations

from sqlalchemy import func, select

from questionnaires import questionnaire_for


def answer_current_screen(page, choice: int = 0) -> int:
    """Tap one answer in every question of the screen; returns how many."""
    questions = page.locator("fieldset.question")
    for index in range(questions.count()):
        questions.nth(index).locator("label.option").nth(choice).click()
    return questions.count()


def answer_to_review(page, choice: int = 0, on_each_screen=None) -> int:
    """From the first question screen, answer every screen until the review page."""
    page.wait_for_url("**/q/1")
    answered = 0
    while "/review" not in page.url:
        if on_each_screen:
            on_each_screen(page)
        answered += answer_current_screen(page, choice)
        with page.expect_navigation():  # the next screen is loaded before it is read
            page.locator("button[value=next]").click()
    return answered


def responses(live_app) -> int:
    from survey_app.extensions import db
    from survey_app.models import Response

    with live_app.app_context():
        return db.session.scalar(select(func.count()).select_from(Response))


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_whole_questionnaire_on_a_phone(phone, live_server, live_app, new_code, tmp_path):
    before = responses(live_app)
    page = phone.new_page()
    page.goto(f"{live_server}/r/{new_code('parent')}")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert fits_the_screen(page)
    page.locator(".primary").click()
    total = len(questionnaire_for("parent").items_for("parent"))
    unfit: list[str] = []
    answered = answer_to_review(
        page, on_each_screen=lambda p: None if fits_the_screen(p) else unfit.append(p.url)
    )
    assert unfit == []
    assert answered == total
    assert page.locator("ol.review li").count() == total
    page.screenshot(path=str(tmp_path / "review.png"))
    page.locator("#submit").click()
    page.wait_for_url("**/thanks")
    assert responses(live_app) == before + 1


def test_resume_after_the_page_is_closed(browser, live_server, live_app, new_code):
    code = new_code("teacher", "junior")
    first = browser.new_context(viewport={"width": 360, "height": 640}, locale="en-US")
    page = first.new_page()
    page.goto(f"{live_server}/r/{code}")
    page.locator(".primary").click()
    page.wait_for_url("**/q/1")  # else the answers may be looked for on the welcome page
    answer_current_screen(page, choice=1)
    page.locator("button[value=next]").click()
    page.wait_for_url("**/q/2")
    page.wait_for_load_state("load")  # the deferred script saves each tap from here
    # On the second screen: one answer tapped (saved by the page's script), then gone.
    page.locator("fieldset.question").first.locator("label.option").nth(2).click()
    page.locator("#saved:not(:empty)").wait_for()
    # The browser is closed; on reopening, the phone still has its persistent cookies.
    kept = first.storage_state()
    assert all(c["expires"] > 0 for c in kept["cookies"])  # not session-only cookies
    first.close()

    again = browser.new_context(
        viewport={"width": 360, "height": 640}, locale="en-US", storage_state=kept
    )
    page = again.new_page()
    page.goto(f"{live_server}/r/{code}")
    assert "Continue where I stopped" in page.content()
    page.locator(".primary").click()
    page.wait_for_url("**/q/2")
    first_question = page.locator("fieldset.question").first
    assert first_question.locator("input[type=radio]").nth(2).is_checked()
    page.goto(f"{live_server}/q/1")
    checked = page.locator("input[type=radio]:checked").count()
    assert checked == page.locator("fieldset.question").count()
    again.close()

    # Another phone with the same slip (say, the school's) continues but sees nothing.
    other = browser.new_context(viewport={"width": 360, "height": 640}, locale="en-US")
    page = other.new_page()
    page.goto(f"{live_server}/r/{code}")
    page.locator(".primary").click()
    page.wait_for_url("**/q/2")
    assert page.locator("input[type=radio]:checked").count() == 0
    page.goto(f"{live_server}/q/1")
    assert page.locator("input[type=radio]:checked").count() == 0
    other.close()


def test_uyghur_page_renders_right_to_left(phone, live_server, new_code, tmp_path):
    page = phone.new_page()
    page.goto(f"{live_server}/r/{new_code('parent')}?lang=ug")
    html = page.locator("html")
    assert html.get_attribute("dir") == "rtl"
    assert html.get_attribute("lang") == "ug"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    page.locator(".primary").click()
    page.wait_for_load_state("load")  # its stylesheet applied: the layout below is final
    legend = page.locator("fieldset.question legend").first
    assert legend.evaluate("el => getComputedStyle(el).direction") == "rtl"
    # Right-to-left layout: the first answer's radio sits at the right edge of its row.
    option = page.locator("label.option").first
    radio = option.locator("input")
    assert (
        radio.bounding_box()["x"] > option.bounding_box()["x"] + option.bounding_box()["width"] / 2
    )
    page.screenshot(path=str(tmp_path / "ug.png"))


def test_used_code_is_refused(phone, live_server, live_app, new_code):
    code = new_code("parent")
    page = phone.new_page()
    page.goto(f"{live_server}/r/{code}")
    page.locator(".primary").click()
    answer_to_review(page)
    page.locator("#submit").click()
    page.wait_for_url("**/thanks")
    other = phone.browser.new_context(viewport={"width": 360, "height": 640}, locale="zh-CN")
    second = other.new_page()
    result = second.goto(f"{live_server}/r/{code}")
    assert result.status == 410
    assert "已" in second.locator("h1").inner_text()
    other.close()


def test_works_without_javascript(browser, live_server, live_app, new_code):
    before = responses(live_app)
    context = browser.new_context(viewport={"width": 360, "height": 640}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server}/")
    page.fill("#code", new_code("student", "primary").lower())
    page.locator(".primary").click()
    page.locator(".primary").click()
    answer_to_review(page, choice=3)
    page.locator("#submit").click()
    page.wait_for_url("**/thanks")
    assert responses(live_app) == before + 1
    context.close()


def test_keyboard_alone_can_answer(phone, live_server, new_code):
    page = phone.new_page()
    page.goto(f"{live_server}/r/{new_code('resident')}")
    page.locator(".primary").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/q/1")
    first_radio = page.locator("fieldset.question").first.locator("input[type=radio]")
    first_radio.first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")  # arrow keys move the choice within one question
    assert first_radio.nth(1).is_checked()
    label_for = page.locator("label.option").first.get_attribute("for")
    assert page.locator(f"#{label_for}").count() == 1  # every answer's label names its input


def test_simultaneous_submits_store_one_response(browser, live_server, live_app, new_code):
    """Two submits of the same questionnaire racing on the live server (real threads,
    real commits): exactly one response, and both taps end on the thank-you page."""
    import threading
    import urllib.request

    before = responses(live_app)
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(f"{live_server}/r/{new_code('parent')}")
    page.locator(".primary").click()
    answer_to_review(page)
    token = page.locator("#submit-form input[name=csrf_token]").get_attribute("value")
    page_action = page.locator("#submit-form").get_attribute("action") or ""
    assert page_action == "/thanks"
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
    context.close()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    results: list[tuple[int, str]] = []
    start = threading.Barrier(2)

    def tap() -> None:
        request = urllib.request.Request(  # noqa: S310 - the test's own http:// server
            live_server + page_action,
            data=f"csrf_token={token}".encode(),
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        start.wait()
        try:
            with opener.open(request) as reply:
                results.append((reply.status, reply.headers.get("Location", "")))
        except urllib.error.HTTPError as reply:
            results.append((reply.code, reply.headers.get("Location", "")))

    taps = [threading.Thread(target=tap) for _ in range(2)]
    for thread in taps:
        thread.start()
    for thread in taps:
        thread.join(timeout=30)
    # The thank-you page is the answer itself, to the tap that stored the response and to
    # the one that found the code used.
    assert results == [(200, ""), (200, "")]
    assert responses(live_app) == before + 1


def test_next_question_comes_up_after_a_choice(phone, live_server, new_code):
    page = phone.new_page()
    page.goto(f"{live_server}/r/{new_code('parent')}")
    page.locator(".primary").click()
    page.wait_for_url("**/q/1")
    page.wait_for_load_state("load")  # the deferred script listens for choices from here
    questions = page.locator("fieldset.question")
    questions.nth(0).locator("label.option").nth(1).click()
    for _poll in range(100):  # the page's CSP forbids eval, so poll from here
        if questions.nth(1).bounding_box()["y"] < 120:
            break
        page.wait_for_timeout(50)
    assert questions.nth(1).bounding_box()["y"] < 120
