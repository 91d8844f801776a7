"""The evaluators' results page: the verdict first, charts and tables, small cells
suppressed, served from a cache until a response arrives."""

from __future__ import annotations

import re
from dataclasses import replace

from survey_app.auth import services
from survey_app.extensions import db
from survey_app.results import evaluation
from survey_app.results import page as results_page
from survey_app.results.labels import caveat_text
from tests.app.conftest import EVALUATOR_PASSWORD, csrf_token
from tests.factories import make_campaign, replace_a_drawn_school


def test_the_verdict_comes_first_with_charts_and_tables(evaluator, surveyed_county):
    page = evaluator.get(f"/results/{surveyed_county.key}/")
    assert page.status_code == 200
    text = page.text
    assert text.index('class="verdict') < text.index("<svg")
    assert text.count("<svg") == 4  # groups, content areas, location, school level
    assert 'class="threshold"' in text
    for group in ("学生", "家长", "教师", "人大代表", "社区居民"):
        assert group in text
    assert "rural-primary" not in text  # no strata, no schools: counts are the planners'


def test_cells_below_the_minimum_show_no_figure(app, evaluator, surveyed_county):
    app.config["RESULTS_MIN_N"] = 10_000
    try:
        results_page.forget()
        text = evaluator.get(f"/results/{surveyed_county.key}/").text
    finally:
        app.config["RESULTS_MIN_N"] = 10
    groups = text[text.index("<tbody>") : text.index("</tbody>")]
    assert not re.search(r"\d+\.\d%", groups)  # no rate in the groups' table
    assert "10000" in groups


def test_the_page_is_served_from_the_cache_until_a_response_arrives(
    evaluator,
    surveyed_county,
    monkeypatch,
):
    built = []
    original = results_page.build_page

    def counting(campaign):
        built.append(campaign.id)
        return original(campaign)

    monkeypatch.setattr(results_page, "build_page", counting)
    assert evaluator.get(f"/results/{surveyed_county.key}/").status_code == 200
    assert evaluator.get(f"/results/{surveyed_county.key}/").status_code == 200
    assert built == [surveyed_county.id]


def test_a_campaign_without_responses_says_so(client, app_ctx):
    empty = make_campaign()
    services.create_user("eval2@example.org", "evaluator", EVALUATOR_PASSWORD, [empty.key])
    db.session.commit()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "eval2@example.org", "password": EVALUATOR_PASSWORD}
    client.post("/staff/login", data=data)
    page = client.get(f"/results/{empty.key}/")
    assert page.status_code == 200
    assert "<svg" not in page.text


def test_the_platforms_design_raises_no_caveat(evaluator, surveyed_county):
    """Brewer with the respondents' stage: no caveat, even for a list of 40 with 5
    answering (the with-replacement design's false alarm, bench/README.md)."""
    page = results_page.cached_page(surveyed_county)
    assert page.caveats == ()
    assert page.found["caveats"] == []
    assert "抽样设计提示" not in evaluator.get(f"/results/{surveyed_county.key}/").text


def test_design_caveats_are_shown_in_the_readers_language(
    first_stage_only, evaluator, surveyed_county
):
    """A caveat is printed from its code (labels.CAVEAT_LABELS), not as the English of
    ``evaluation_json`` (which the JSON keeps for the command line)."""
    page = results_page.cached_page(surveyed_county)
    assert page.caveats, "schools drawn with π up to 0.85 and no second stage"
    english = page.found["caveats"]
    assert english == [caveat.message for caveat in page.caveats]
    share = f"{page.caveats[0].largest_fraction:.0%}"
    text = evaluator.get(f"/results/{surveyed_county.key}/").text
    assert "抽样设计提示" in text
    assert share in text
    assert english[0] not in text
    shown_en = evaluator.get(f"/results/{surveyed_county.key}/?lang=en").text
    assert "Design caveat: schools were drawn with probability proportional" in shown_en
    unknown = replace(page.caveats[0], code="a_code_not_yet_labelled")
    assert caveat_text(unknown) == unknown.message  # its English rather than nothing


def test_a_figure_without_an_interval_is_drawn_as_a_point_not_a_500(evaluator, surveyed_county):
    """A drawn school replaced before its substitute answers leaves figures of one school
    (df 0): an estimate with no interval. The page shows the point and "–"."""
    replace_a_drawn_school(surveyed_county, "rural-primary", "学校整体搬迁")
    found = evaluation.evaluation_json(evaluation.evaluate_campaign(surveyed_county))
    pointless = [
        row for row in found["items"] if row["estimate"] is not None and row["ci_low"] is None
    ]
    assert pointless  # the case this test is about
    reply = evaluator.get(f"/results/{surveyed_county.key}/")
    assert reply.status_code == 200
    assert '<td class="num ci">–</td>' in reply.text
