"""The integrity checks on a stored campaign: ``flask integrity``, the evaluators' results
page and decision page, the supervisors' fieldwork page, and the report's section."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import func, select

from survey_app import demo_fieldwork
from survey_app.auth import services as auth
from survey_app.campaign_cache import Built, Fetched
from survey_app.demo import DEMO_CAMPAIGN_KEY
from survey_app.extensions import db
from survey_app.integrity import checks, messages
from survey_app.integrity.decisions import EVALUATOR_DECISIONS, decide
from survey_app.models import AuditEvent, Campaign, IntegrityDecision, School, User
from survey_app.models.base import as_utc
from survey_app.results import loader, report
from survey_app.results import page as results_page
from survey_app.results.evaluation import evaluate_campaign, evaluation_json
from survey_app.results.loader import load_campaign
from tests.app.conftest import csrf_token, pdf_text

CJK = re.compile(r"[\u4e00-\u9fff]")
STYLE_REASON = {
    "template": "template_copying",
    "erased": "erased_dissatisfaction",
    "proxy": "proxy_filling",
}
CELL_KEYS = {"school", "group", "n", "flagged", "reasons", "statistics", "explanation"}


@pytest.fixture
def coached(campaign: Campaign) -> demo_fieldwork.FieldworkResult:
    """The demo county with 2,000 simulated responses, three schools' groups coached."""
    result = demo_fieldwork.simulate_fieldwork(
        campaign, 2000, seed=4, now=datetime.now(UTC), coached=3
    )
    db.session.commit()
    checks.forget()
    results_page.forget()
    return result


def _signed_in(client, role: str):
    auth.create_user(f"{role}@example.org", role, f"{role} password", [DEMO_CAMPAIGN_KEY])
    db.session.commit()
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": f"{role}@example.org", "password": f"{role} password"}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def test_the_command_flags_the_coached_groups(runner, coached):
    result = runner.invoke(args=["integrity", "--campaign", DEMO_CAMPAIGN_KEY])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["campaign"] == DEMO_CAMPAIGN_KEY
    assert {"cells", "responses", "settings"} <= set(found)
    assert all(set(cell) >= CELL_KEYS for cell in found["cells"])
    flagged = {(c["school"], c["group"]): c for c in found["cells"] if c["flagged"]}
    for school, group, style in coached.coached:
        assert (school, group) in flagged, (school, group, style)
        assert STYLE_REASON[style] in flagged[(school, group)]["reasons"]
        assert flagged[(school, group)]["explanation"].endswith(".")
    # The clean schools differ genuinely (school effects): at most a stray flag.
    assert len(flagged) <= len(coached.coached) + 1
    for response in found["responses"]:
        assert set(response) >= {"school", "group", "flags"}
        assert "code" not in response
    # The pages' English sentence is the command's, word for word.
    with runner.app.test_request_context(), force_locale("en"):
        for cell in found["cells"]:
            shown = messages.explanation(cell["group"], cell["reasons"], cell["statistics"])
            assert shown == cell["explanation"], cell["reasons"]


def test_the_command_refuses_an_unknown_campaign_in_one_line(runner, app_ctx):
    result = runner.invoke(args=["integrity", "--campaign", "nope"])
    assert result.exit_code == 2
    assert "no campaign with the key 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_campaign_without_responses_has_nothing_to_flag(runner, campaign):
    result = runner.invoke(args=["integrity", "--campaign", DEMO_CAMPAIGN_KEY])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["cells"] == []
    assert found["responses"] == []


def test_evaluators_see_the_flags_and_the_verdict_three_ways(client, coached):
    evaluator = _signed_in(client, "evaluator")
    page = evaluator.get("/results/demo/")
    assert page.status_code == 200
    text = page.text
    assert 'id="integrity"' in text
    for school, _group, _style in coached.coached:
        assert school in text
    # Chinese punctuation in Chinese: 、 between reasons, ： after them, no space between
    # the explanation and the count of flagged responses that follows it
    section = text[text.index('<table class="data integrity">') :]
    section = section[: section.index("</table>")]
    assert "</strong>：" in section
    assert "。该群体中有" in section
    assert "。 " not in section
    assert "判定结果：" in text  # the verdict's heading
    # Every response / without the flagged groups / as decided.
    assert text.count('<table class="data compared">') == 1
    cached = results_page.cached_page(db.session.get(Campaign, coached_campaign_id()))
    assert cached.compared is not None
    everything = cached.compared["all"]["responses"]
    without = cached.compared["without_flagged"]["responses"]
    assert without < everything == cached.compared["as_decided"]["responses"]


def coached_campaign_id() -> int:
    return int(db.session.scalar(select(Campaign.id).where(Campaign.key == DEMO_CAMPAIGN_KEY)))


def test_an_evaluator_sets_a_flagged_group_aside_with_a_reason(client, coached):
    school, group, _style = coached.coached[0]
    evaluator = _signed_in(client, "evaluator")
    path = f"/results/demo/integrity/{school}/{group}"
    form = evaluator.get(path)
    assert form.status_code == 200
    assert "set_aside" in form.text
    assert "resurvey" not in form.text  # the supervisors' decision
    token = csrf_token(form.text)
    campaign = db.session.get(Campaign, coached_campaign_id())
    before = load_campaign(campaign).n
    # No reason: refused, nothing recorded, what was chosen kept.
    refused = evaluator.post(
        path, data={"csrf_token": token, "decision": "set_aside", "reason": ""}
    )
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(IntegrityDecision)) == 0
    # Not an evaluator's decision.
    other = evaluator.post(path, data={"csrf_token": token, "decision": "resurvey", "reason": "x"})
    assert other.status_code == 422
    # No decision chosen (the form offers none ready-made): refused, the reason kept.
    assert 0 < form.text.index('<option value="">') < form.text.index('value="keep"')
    unchosen = evaluator.post(path, data={"csrf_token": token, "decision": "", "reason": "看过了"})
    assert unchosen.status_code == 422
    assert "看过了" in unchosen.text
    assert db.session.scalar(select(func.count()).select_from(IntegrityDecision)) == 0
    done = evaluator.post(
        path,
        data={"csrf_token": token, "decision": "set_aside", "reason": "同一答案，家长群里发的"},
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/results/demo/#integrity")
    db.session.expire_all()
    row = db.session.scalars(select(IntegrityDecision)).one()
    assert (row.decision, row.reason, row.decided_by) == (
        "set_aside",
        "同一答案，家长群里发的",
        "evaluator@example.org",
    )
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "integrity_decision")
    ).one()
    assert event.actor == "evaluator@example.org"
    cut = before - load_campaign(campaign).n
    assert cut > 0
    # The results page is rebuilt: the decision and the new figures show.
    text = evaluator.get("/results/demo/").text
    assert "同一答案，家长群里发的" in text
    assert f"已搁置、未计入统计结果的答卷： 经调查真实性核查后由工作人员决定搁置 {cut}</p>" in text
    # when, in the county's time (as the decision page shows it), not the cache's UTC text
    with client.application.test_request_context():
        shown = format_datetime(as_utc(row.decided_at))
    assert f"(evaluator@example.org, {shown})" in text
    assert "+00:00" not in text


def test_a_groups_reasons_read_as_one_list_in_the_staffs_language(app):
    reasons = ("template_copying", "proxy_filling", "many_flagged_responses")
    with app.test_request_context():
        with force_locale("zh_Hans"):
            assert messages.reason_list(reasons) == "答案雷同、代填、作答过快的答卷异常多"
            assert _(": ") == "："
        with force_locale("en"):
            assert messages.reason_list(reasons[:2]) == "Copied answers, Filled in by proxy"


def test_decision_pages_refuse_what_is_not_there(client, coached):
    evaluator = _signed_in(client, "evaluator")
    school = coached.coached[0][0]
    assert evaluator.get(f"/results/demo/integrity/{school}/deputy").status_code == 404
    assert evaluator.get("/results/demo/integrity/0000000000/parent").status_code == 404
    # a NUL names no school (PostgreSQL refused even to compare it: a 500 before)
    assert evaluator.get("/results/demo/integrity/x%00y/parent").status_code == 404
    assert evaluator.post(f"/results/demo/integrity/{school}/parent", data={}).status_code == 400


def test_supervisors_see_the_flags_while_the_fieldwork_is_open(client, coached):
    supervisor = _signed_in(client, "supervisor")
    page = supervisor.get("/plan/demo/fieldwork")
    assert page.status_code == 200
    assert 'id="integrity"' in page.text
    school, group, _style = coached.coached[0]
    assert school in page.text
    # the residents' area by the name staff gave its open link
    assert '<td title="area-chengguan">片区 城关镇</td>' in page.text
    path = f"/plan/demo/integrity/{school}/{group}"
    form = supervisor.get(path)
    assert "resurvey" in form.text
    assert "set_aside" not in form.text  # the evaluators' decision
    token = csrf_token(form.text)
    done = supervisor.post(
        path, data={"csrf_token": token, "decision": "resurvey", "reason": "standard answers"}
    )
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/plan/demo/fieldwork#integrity")
    assert db.session.scalars(select(IntegrityDecision)).one().decision == "resurvey"
    # Evaluators cannot reach the supervisors' decision page, nor the other way round.
    assert supervisor.get(f"/results/demo/integrity/{school}/{group}").status_code == 403


def test_the_report_prints_the_flags_and_the_verdict_three_ways(app, coached, signing):
    """The certification report's integrity section, in Chinese: the flagged schools, the
    verdict with every response, without the flagged groups and as decided."""
    campaign = db.session.get(Campaign, coached_campaign_id())
    school, group, _style = coached.coached[0]
    before = load_campaign(campaign).n
    decide(campaign, school, group, "set_aside", "家长群发布标准答案", allowed=EVALUATOR_DECISIONS)
    cut = before - load_campaign(campaign).n
    assert cut > 0
    results_page.forget()
    found = report.issue_report(
        campaign,
        signing,
        base_url="http://survey.test",
        min_n=app.config["RESULTS_MIN_N"],
        now=datetime.now(UTC),
    )
    squeezed = re.sub(r"\s+", "", pdf_text(found.pdf))
    with force_locale("zh_Hans"):
        headings = [_("Integrity checks"), _("Without the flagged schools' groups")]
    for heading in headings:
        assert re.sub(r"\s+", "", heading) in squeezed
        assert CJK.search(heading), heading  # translated
    for flagged_school, _group, _style in coached.coached:
        assert flagged_school in squeezed
    assert "家长群发布标准答案" in squeezed
    # what was set aside, in the data-quality paragraph and in the facts table
    assert f"已搁置、未计入统计结果的答卷：经调查真实性核查后由工作人员决定搁置{cut}" in squeezed
    assert f"被搁置的答卷经调查真实性核查后由工作人员决定搁置：{cut}" in squeezed
    assert "Integrity checks" not in squeezed
    page = results_page.cached_page(campaign)
    assert page.compared is not None
    assert page.compared["as_decided"]["responses"] < page.compared["all"]["responses"]


def test_the_page_reads_the_responses_once_for_its_three_verdicts(coached, monkeypatch):
    """Every figure of the page comes from one read of the responses (so the verdicts
    side by side differ only by what was cut, even while responses arrive), and each
    verdict is the one a fresh read with its cuts gives."""
    campaign = db.session.get(Campaign, coached_campaign_id())
    school, group, _style = coached.coached[0]
    decide(campaign, school, group, "set_aside", "家长群发布标准答案", allowed=EVALUATOR_DECISIONS)
    reads = []
    original = loader._Stored.read
    monkeypatch.setattr(
        loader._Stored, "read", classmethod(lambda cls, c: reads.append(1) or original(c))
    )
    page = results_page.build_page(campaign)
    assert len(reads) == 1
    assert page.compared is not None
    found = checks.examine_campaign(campaign)
    fresh = {
        "all": evaluate_campaign(campaign, ()),
        "without_flagged": evaluate_campaign(campaign, found.cuts()),
        "as_decided": evaluate_campaign(campaign),
    }
    for name, evaluation in fresh.items():
        expected = evaluation_json(evaluation)
        assert page.compared[name]["responses"] == expected["responses"], name
        assert page.compared[name]["estimate"] == expected["county"]["estimate"], name
    assert (
        page.compared["as_decided"]["responses"]
        < page.compared["all"]["responses"]
        > page.compared["without_flagged"]["responses"]
    )


form_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=600)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    decision=st.sampled_from(["keep", "set_aside", "resurvey", ""]) | form_text,
    reason=form_text,
    extra=st.dictionaries(form_text, form_text, max_size=2),
)
def test_any_decision_form_gets_an_answer_and_changes_only_what_it_says(
    app, campaign, decision, reason, extra
):
    """Whatever an evaluator posts: a redirect when the decision is recorded, else 4xx
    with nothing recorded; never a 500."""
    school = db.session.scalars(select(School.code).order_by(School.code)).first()
    client = _signed_in_once(app)
    path = f"/results/demo/integrity/{school}/parent"
    token = csrf_token(client.get(path).text)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    reply = client.post(
        path, data={**extra, "csrf_token": token, "decision": decision, "reason": reason}
    )
    db.session.expire_all()
    after = db.session.scalar(select(func.count()).select_from(AuditEvent))
    valid = decision in ("keep", "set_aside") and len(reason.strip()) > 0 and len(reason) <= 500
    if reply.status_code == 302:
        assert valid
        row = db.session.scalars(select(IntegrityDecision)).one()
        assert row.decision == decision
        assert after == before + 1
    else:
        assert 400 <= reply.status_code < 500, reply.status_code
        assert after == before
        if reason.isprintable() and reason.strip():  # what was typed is shown again
            assert str(escape(reason[:20])) in reply.text


_CLIENTS: dict[int, object] = {}


def _signed_in_once(app):
    """One evaluator's client per app (hypothesis runs the test many times)."""
    if id(app) not in _CLIENTS:
        if db.session.scalar(select(User).where(User.email == "evaluator@example.org")) is None:
            auth.create_user("evaluator@example.org", "evaluator", "evaluator password", ["demo"])
            db.session.commit()
        client = app.test_client()
        token = csrf_token(client.get("/staff/login").text)
        data = {
            "csrf_token": token,
            "email": "evaluator@example.org",
            "password": "evaluator password",
        }
        assert client.post("/staff/login", data=data).status_code == 302
        _CLIENTS.clear()
        _CLIENTS[id(app)] = client
    return _CLIENTS[id(app)]


@pytest.mark.parametrize("state", ["none_yet", "older"])
def test_the_fieldwork_page_says_when_its_integrity_checks_are_being_computed(
    client, coached, monkeypatch, state
):
    """The flags built from fewer responses show with the time and count they are from;
    before any are built, the page says they are coming (``campaign_cache``)."""
    supervisor = _signed_in(client, "supervisor")
    summary = checks.cached_summary(db.session.get_one(Campaign, coached_campaign_id()))
    built = Built((1234, 0, 0), summary, datetime(2026, 12, 1, 2, 30, tzinfo=UTC))
    shown = Fetched(None if state == "none_yet" else built, current=False)
    monkeypatch.setattr(checks, "fetched_summary", lambda campaign: shown)
    page = supervisor.get("/plan/demo/fieldwork").text
    notice = page.split('class="hint building"', 1)[1].split("</p>", 1)[0]
    assert ('class="data integrity"' in page) == (state == "older")
    if state == "older":
        flags = page.split('class="data integrity"', 1)[1].split("</table>", 1)[0]
        assert coached.coached[0][0] in flags
        assert "1234" in notice
        assert "10:30" in notice  # 02:30 UTC in Beijing time
