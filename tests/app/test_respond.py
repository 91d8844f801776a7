"""The respondent's path through the pages, without JavaScript."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from questionnaires import questionnaire_for
from survey_app.extensions import db
from survey_app.models import Answer, Campaign, Response
from tests.app.conftest import (
    answer_everything,
    code_row,
    count,
    csrf_token,
    first_option,
    is_thank_you_page,
    items_of,
    screens,
    start_link,
    submit_action,
)


def test_whole_path_stores_one_anonymous_response(app, respondent, issue, campaign):
    code = issue("parent")
    welcome = respondent.open(code)
    assert welcome.status_code == 200
    assert "匿名" in welcome.text  # zh_Hans by default: the anonymity notice
    first = respondent.start()
    assert first.status_code == 200
    assert 'name="nav"' in first.text
    pages = answer_everything(app, respondent, "parent")
    review = respondent.client.get("/review")
    assert review.status_code == 200
    assert 'id="submit"' in review.text
    assert submit_action(review.text) == "/thanks"  # the page it leads to, no redirect
    done = respondent.submit()
    assert is_thank_you_page(done)
    assert respondent.client.get("/thanks").status_code == 200  # Back, Forward, a reopened tab

    (response,) = db.session.scalars(select(Response)).all()
    questionnaire = questionnaire_for("parent")
    assert response.campaign_id == campaign.id
    assert response.respondent_group == "parent"
    assert response.questionnaire_key == questionnaire.key
    assert response.questionnaire_version == questionnaire.version
    assert response.language == "zh_Hans"
    assert response.comment == "操场太小"
    assert len(response.answers) == sum(len(p) for p in pages)
    # The same answers packed, one byte per item of the version (255: not asked).
    stored = {answer.item_id: answer.value for answer in response.answers}
    assert response.answer_codes == bytes(stored.get(item.id, 255) for item in questionnaire.items)
    row = code_row(code)
    assert row.status == "used"
    assert row.draft is None


def test_response_cell_matches_the_code(app, respondent, issue):
    code = issue("parent", school_level="junior")
    row = code_row(code)
    respondent.open(code)
    respondent.start()
    answer_everything(app, respondent)
    respondent.submit()
    response = db.session.scalars(select(Response)).one()
    assert response.school_id == row.school_id
    assert response.stratum_id == row.school.stratum_id


def test_student_gets_questionnaire_for_reading_level(app, respondent, issue):
    code = issue("student", school_level="junior")
    respondent.open(code)
    respondent.start()
    answer_everything(app, respondent, "student", "junior")
    respondent.submit()
    response = db.session.scalars(select(Response)).one()
    assert response.reading_level == "junior"
    assert response.questionnaire_key == questionnaire_for("student", "junior").key


def test_used_code_is_refused_in_the_respondents_language(app, respondent, issue, make_respondent):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    answer_everything(app, respondent)
    respondent.submit()
    again = make_respondent()
    page = again.client.get(f"/r/{code}?lang=en")
    assert page.status_code == 410
    assert "already been used" in page.text
    assert 'lang="en"' in page.text
    assert count(Response) == 1


def test_unknown_code_gets_a_clear_page(client):
    page = client.get("/r/AAAAA-BBBBB-CCCCC?lang=en")
    assert page.status_code == 404
    assert "could not find this code" in page.text
    assert "Traceback" not in page.text


def test_expired_code_is_refused(respondent, issue):
    code = issue("parent", expires_in=timedelta(seconds=-1))
    page = respondent.client.get(f"/r/{code}?lang=en")
    assert page.status_code == 410
    assert "expired" in page.text


def test_closed_campaign_refuses_codes(respondent, issue, campaign):
    code = issue("parent")
    db.session.get(Campaign, campaign.id).status = "closed"
    db.session.commit()
    page = respondent.client.get(f"/r/{code}?lang=en")
    assert page.status_code == 410
    assert "not open" in page.text


def test_typed_code_works_with_spaces_and_lower_case(respondent, issue):
    code = issue("teacher")
    page = respondent.client.get("/")
    typed = code.lower().replace("-", " ")
    result = respondent.client.post("/", data={"csrf_token": csrf_token(page.text), "code": typed})
    assert result.status_code == 302
    assert result.location.endswith("/start")


def test_code_entry_is_rate_limited(client):
    page = client.get("/")
    token = csrf_token(page.text)
    statuses = [
        client.post("/", data={"csrf_token": token, "code": f"ZZZZZ-ZZZZZ-ZZZ{i:02d}"}).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [404] * 10
    assert statuses[10:] == [429, 429]


def test_a_valid_code_opens_from_an_address_over_the_wrong_code_limit(client, issue):
    """One guesser on a school's Wi-Fi must not lock out the parents behind it."""
    token = csrf_token(client.get("/").text)
    for _attempt in range(12):
        client.post("/", data={"csrf_token": token, "code": "ZZZZZ-ZZZZZ-ZZZZZ"})
    assert client.get("/r/ZZZZZ-ZZZZZ-ZZZZZ").status_code == 429
    assert client.get(f"/r/{issue('parent')}").status_code == 302
    typed = client.post("/", data={"csrf_token": token, "code": issue("parent")})
    assert typed.status_code == 302


def test_a_flood_of_look_ups_is_refused_even_for_valid_codes(app, issue):
    from tests.conftest import make_app

    flooded = make_app(app.config["SQLALCHEMY_DATABASE_URI"], CODE_FLOOD_LIMIT="3 per minute")
    client = flooded.test_client()
    codes = [issue("parent") for _ in range(4)]
    assert [client.get(f"/r/{code}").status_code for code in codes] == [302, 302, 302, 429]


def test_the_welcome_screen_leads_to_the_first_screen_by_a_link(respondent, issue):
    """One round trip less than a form: the first screen is a plain GET away, and
    opening the link starts the draft (version pinned, duration clock running)."""
    code = issue("parent")
    welcome = respondent.open(code)
    assert "<form" not in welcome.text.split("</header>")[-1]
    assert start_link(welcome.text) == "/q/1"
    draft = code_row(code).draft
    parents = questionnaire_for("parent")
    assert draft["questionnaire"] == [parents.key, parents.version]
    assert draft["started_at"]
    assert respondent.start().status_code == 200


def test_a_welcome_page_served_before_the_link_still_starts(respondent, issue):
    code = issue("parent")
    respondent.open(code)
    token = csrf_token(respondent.client.get("/q/1").text)
    started = respondent.client.post("/start", data={"csrf_token": token})
    assert started.status_code == 302
    assert started.location.endswith("/q/1")
    assert code_row(code).draft["lang"] == "zh_Hans"


def test_tokenless_post_is_refused(respondent, issue):
    code = issue("parent")
    respondent.open(code)
    assert respondent.client.post("/start", data={}).status_code == 400
    assert respondent.client.post("/", data={"code": code}).status_code == 400


def test_draft_survives_a_closed_browser(app, issue, make_respondent):
    code = issue("parent")
    phone = make_respondent()
    phone.open(code)
    phone.start()
    page_one, second_page = screens(app, "parent")[:2]
    phone.answer(1, {item.id: first_option(item) for item in page_one})
    # A second screen half-answered, then the browser is closed: its cookie persists.
    phone.answer(2, {second_page[0].id: first_option(second_page[0])})
    cookie = phone.client.get_cookie("session")
    assert cookie is not None
    assert cookie.expires is not None  # a persistent cookie, not a browser-session one

    reopened = make_respondent()
    reopened.client.set_cookie("session", cookie.value)
    welcome = reopened.open(code)
    assert "继续" in welcome.text
    assert start_link(welcome.text) == "/q/2"
    screen = reopened.client.get("/q/2").text
    assert f'id="{second_page[0].id}-0" name="{second_page[0].id}" type="radio" value' in screen
    assert screen.count("checked") == 1
    assert set(code_row(code).draft["answers"]) == {
        *(item.id for item in page_one),
        second_page[0].id,
    }


def test_another_device_may_continue_but_not_read_saved_answers(app, issue, make_respondent):
    """A school that kept the slip must not see a respondent's answers."""
    code = issue("parent")
    owner = make_respondent()
    owner.open(code)
    owner.start()
    page_one = screens(app, "parent")[0]
    owner.answer(1, {item.id: "1" for item in page_one}, nav="next")

    other = make_respondent()
    welcome = other.open(code)
    assert "另一台设备" in welcome.text  # told why nothing is shown
    assert "checked" not in other.client.get("/q/1").text
    review = other.client.get("/review").text
    assert "不满意" not in review  # the saved choice (code 1) is not revealed
    assert "此设备上不显示" in review
    # It may still finish the questionnaire (as it could have before the respondent).
    other.start()
    for number, page in enumerate(screens(app, "parent")[1:], start=2):
        assert other.answer(number, {i.id: first_option(i) for i in page}).status_code == 302
    assert is_thank_you_page(other.submit())


def test_missing_answers_are_flagged_but_kept(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    page_one = screens(app, "parent")[0]
    result = respondent.answer(1, {page_one[0].id: first_option(page_one[0])})
    assert result.status_code == 422
    assert 'role="alert"' in result.text
    assert code_row(code).draft["answers"] == {page_one[0].id: int(first_option(page_one[0]))}


def test_invalid_values_are_not_saved(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    item = screens(app, "parent")[0][0]
    respondent.answer(1, {item.id: "99"})
    assert item.id not in (code_row(code).draft or {}).get("answers", {})


def test_double_tapped_submit_stores_exactly_one_response(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    answer_everything(app, respondent)
    review = respondent.client.get("/review")
    token = csrf_token(review.text)
    with respondent.client.session_transaction() as before:
        saved = dict(before)
    first = respondent.client.post("/thanks", data={"csrf_token": token})
    # The second tap carries the cookie of before the first answer arrived.
    with respondent.client.session_transaction() as session:
        session.clear()
        session.update(saved)
    second = respondent.client.post("/thanks", data={"csrf_token": token})
    assert is_thank_you_page(first)
    assert is_thank_you_page(second)
    assert count(Response) == 1
    assert count(Answer) == len(items_of("parent"))


def test_incomplete_questionnaire_cannot_be_submitted(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    respondent.answer(1, {})
    review = respondent.client.get("/review")
    assert 'id="submit"' not in review.text
    token = csrf_token(respondent.client.get("/q/1").text)
    result = respondent.client.post("/thanks", data={"csrf_token": token})
    assert result.location.endswith("/review")
    assert count(Response) == 0


def test_autosave_saves_each_choice(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    page = respondent.start()
    item = screens(app, "parent")[0][0]
    result = respondent.client.post(
        "/draft",
        json={"answers": {item.id: first_option(item), "nonsense": "3"}},
        headers={"X-CSRFToken": csrf_token(page.text)},
    )
    assert result.status_code == 200
    assert result.json == {"saved": [item.id]}
    assert code_row(code).draft["answers"] == {item.id: int(first_option(item))}


def test_autosave_needs_the_csrf_header(respondent, issue):
    respondent.open(issue("parent"))
    assert respondent.client.post("/draft", json={"answers": {}}).status_code == 400


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9", 'lang="zh-Hans"'),
        ("zh-TW,zh;q=0.9", 'lang="zh-Hant"'),
        ("en-US,en;q=0.8", 'lang="en"'),
        ("ug-CN,ug;q=0.9", 'dir="rtl"'),
        ("fr-FR", 'lang="zh-Hans"'),
    ],
)
def test_language_defaults_from_the_browser(client, header, expected):
    page = client.get("/", headers={"Accept-Language": header})
    assert expected in page.text


def test_questionnaire_page_is_light(app, respondent, issue):
    import gzip

    code = issue("parent")
    respondent.open(code)
    page = respondent.start()
    assets = []
    for name in ("survey.css", "survey.js"):
        with respondent.client.get(f"/static/{name}") as asset:
            assets.append(asset.data)
    css, js = assets
    weight = sum(len(gzip.compress(part)) for part in (page.data, css, js))
    assert weight <= 40 * 1024
    assert "http://" not in page.text
    assert "https://" not in page.text


def test_errors_are_friendly_pages(client):
    missing = client.get("/no-such-page?lang=en")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    expired = client.post("/?lang=en", data={"code": "x"})
    assert expired.status_code == 400
    assert "expired" in expired.text


def test_rate_limited_page_is_explained(client):
    for _attempt in range(10):
        client.get("/r/ZZZZZ-ZZZZZ-ZZZZZ")
    limited = client.get("/r/ZZZZZ-ZZZZZ-ZZZZZ?lang=en")
    assert limited.status_code == 429
    assert "Too many" in limited.text


def test_pages_are_not_cached_but_assets_are(respondent, issue):
    respondent.open(issue("parent"))
    page = respondent.client.get("/start")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    with respondent.client.get("/static/survey.css") as asset:
        assert "no-store" not in asset.headers.get("Cache-Control", "")


def test_back_after_submitting_shows_the_thank_you_page(app, respondent, issue):
    respondent.open(issue("parent"))
    respondent.start()
    answer_everything(app, respondent)
    respondent.submit()
    back = respondent.client.get("/q/1")
    assert back.status_code == 302
    assert back.location.endswith("/thanks")


def test_question_page_without_a_code_goes_to_code_entry(client):
    reply = client.get("/q/1")
    assert reply.status_code == 302
    assert reply.location.endswith("/")


def test_one_bad_field_does_not_discard_the_others(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    page_one = screens(app, "parent")[0]
    answers = {item.id: first_option(item) for item in page_one}
    answers[page_one[0].id] = "99"  # not an option
    result = respondent.answer(1, answers)
    assert result.status_code == 422
    assert 'id="error-summary"' in result.text
    saved = code_row(code).draft["answers"]
    assert set(saved) == {item.id for item in page_one[1:]}


def test_long_comment_with_line_breaks_is_kept_not_refused(app, respondent, issue):
    code = issue("parent")
    respondent.open(code)
    respondent.start()
    pages = screens(app, "parent")
    for number, page in enumerate(pages[:-1], start=1):
        respondent.answer(number, {item.id: first_option(item) for item in page})
    limit = questionnaire_for("parent").comment_max_length
    comment = "\r\n".join(["学校很好"] * limit)  # far over the limit, with CRLF breaks
    last = {item.id: first_option(item) for item in pages[-1]}
    result = respondent.answer(len(pages), last, comment=comment)
    assert result.status_code == 302
    saved = code_row(code).draft["comment"]
    assert saved == ("学校很好\n" * limit)[:limit].rstrip()  # cut at the limit, CRLF as one


def test_autosave_rejects_a_body_that_is_not_an_object(respondent, issue):
    respondent.open(issue("parent"))
    page = respondent.start()
    headers = {"X-CSRFToken": csrf_token(page.text)}
    assert respondent.client.post("/draft", json=[1, 2], headers=headers).status_code == 400
    bad = {"answers": ["q01"]}
    assert respondent.client.post("/draft", json=bad, headers=headers).status_code == 400


def test_a_review_page_served_before_the_change_still_submits(app, respondent, issue):
    """Until 2026-12-06 the review's form posted to /submit (then redirected to the
    thank-you page): a page loaded before an upgrade still stores its response."""
    respondent.open(issue("parent"))
    respondent.start()
    answer_everything(app, respondent)
    token = csrf_token(respondent.client.get("/review").text)
    assert is_thank_you_page(respondent.client.post("/submit", data={"csrf_token": token}))
    assert count(Response) == 1


def test_a_late_second_submit_shows_the_thank_you_page(app, respondent, issue):
    respondent.open(issue("parent"))
    respondent.start()
    answer_everything(app, respondent)
    token = csrf_token(respondent.client.get("/review").text)
    assert is_thank_you_page(respondent.client.post("/thanks", data={"csrf_token": token}))
    again = respondent.client.post("/thanks", data={"csrf_token": token})  # Reload
    assert again.status_code == 302
    assert again.location.endswith("/thanks")
    assert count(Response) == 1


def test_nine_year_school_student_codes_need_a_reading_level(campaign):
    from survey_app.models import School
    from survey_app.plan.issuing import ReadingLevelRequired, issue_codes

    school = db.session.scalars(select(School).filter_by(level="nine_year")).first()
    with pytest.raises(ReadingLevelRequired):
        issue_codes(school, "student", 1)
    issue_codes(school, "student", 1, reading_level="junior")


def test_behind_a_proxy_each_respondent_has_their_own_limit(app):
    from tests.conftest import make_app

    proxied = make_app(app.config["SQLALCHEMY_DATABASE_URI"], PROXY_COUNT=1)
    client = proxied.test_client()
    token = csrf_token(client.get("/").text)

    def attempt(address: str) -> int:
        data = {"csrf_token": token, "code": "ZZZZZ-ZZZZZ-ZZZZZ"}
        return client.post("/", data=data, headers={"X-Forwarded-For": address}).status_code

    assert [attempt("10.0.0.1") for _ in range(11)][-1] == 429
    assert attempt("10.0.0.2") == 404  # another phone behind the same proxy


def test_the_version_started_is_the_version_stored(app, respondent, issue, monkeypatch):
    import dataclasses

    from survey_app.respond import services

    code = issue("parent")
    respondent.open(code)
    respondent.start()
    started = questionnaire_for("parent")
    assert code_row(code).draft["questionnaire"] == [started.key, started.version]
    # A version 2 is published while the respondent is half-way through.
    newer = dataclasses.replace(started, version=started.version + 1)
    monkeypatch.setattr(services, "published_for", lambda *args: newer)
    monkeypatch.setattr(services, "_newest", {})  # as PUBLISHED_RECHECK_SECONDS later
    answer_everything(app, respondent)
    respondent.submit()
    assert db.session.scalars(select(Response)).one().questionnaire_version == started.version
    # A new respondent gets the new version.
    fresh = issue("parent")
    assert services.questionnaire_of(code_row(fresh)).version == newer.version


def test_a_visitor_cannot_erase_the_saved_comment(app, issue, make_respondent):
    code = issue("parent")
    owner = make_respondent()
    owner.open(code)
    owner.start()
    pages = screens(app, "parent")
    last = {item.id: first_option(item) for item in pages[-1]}
    owner.answer(len(pages), last, comment="老师很负责")
    visitor = make_respondent()
    visitor.open(code)
    visitor.answer(len(pages), last, comment="")  # the visitor saw an empty box
    assert code_row(code).draft["comment"] == "老师很负责"
    owner.answer(len(pages), last, comment="")  # the owner saw it and cleared it
    assert code_row(code).draft["comment"] == ""


def test_reading_a_screen_leaves_the_session_cookie_alone(respondent, issue):
    """A page view changes nothing in the session, so no Set-Cookie is sent (a cheaper
    response, and nothing — Flask-Login's session protection, say — marks it changed)."""
    assert respondent.client.get(f"/r/{issue('parent')}").status_code == 302  # sets it
    # The first page with a form keeps the CSRF secret in the session, once.
    views = [("/start", False), ("/q/1", True), ("/q/2", False), ("/q/1", False)]
    for path, changes_session in [*views, ("/review", False)]:
        reply = respondent.client.get(path)
        assert reply.status_code == 200
        assert ("Set-Cookie" in reply.headers) == changes_session, path


def test_a_new_publication_reaches_new_codes_within_the_recheck_time(monkeypatch):
    """The newest published version is looked up once per few seconds per worker, not
    for every code opened (``services.PUBLISHED_RECHECK_SECONDS``)."""
    from survey_app.respond import services

    looked_up: list[str] = []
    versions = iter([questionnaire_for("parent"), questionnaire_for("teacher")])

    def published_for(group, reading_level=None):
        looked_up.append(group)
        return next(versions)

    clock = [1000.0]
    monkeypatch.setattr(services, "published_for", published_for)
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(services, "_newest", {})
    first = services._newest_published("parent", None)
    clock[0] += services.PUBLISHED_RECHECK_SECONDS - 0.1
    assert services._newest_published("parent", None) is first
    assert looked_up == ["parent"]
    clock[0] += 0.2
    assert services._newest_published("parent", None) is not first  # read again
    assert looked_up == ["parent", "parent"]
