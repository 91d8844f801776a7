"""The supervisor's pages: a new campaign, the school frame upload."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from survey_app.auth import services
from survey_app.extensions import db
from survey_app.models import Campaign, School
from survey_app.plan import draw
from survey_app.vocabulary import SCHOOL_GROUPS
from tests.app.conftest import csrf_token
from tests.app.test_frame_import import GOOD

PASSWORD = "supervisor password"
FORM = {
    "key": "2026-web",
    "county_code": "659002",
    "county_name": "河县",
    "stage": "provincial",
    "resident_population": "350000",
    "opens": "2026-12-10",
    "closes": "2026-12-20",
    "threshold": "0.85",
    "verdict_rule": "confidence",
}


@pytest.fixture
def supervisor(client, campaign):
    services.create_user("sup@example.org", "supervisor", PASSWORD, [campaign.key])
    token = csrf_token(client.get("/staff/login").text)
    data = {"csrf_token": token, "email": "sup@example.org", "password": PASSWORD}
    assert client.post("/staff/login", data=data).status_code == 302
    return client


def _post_campaign(client, **changes):
    token = csrf_token(client.get("/plan/new").text)
    return client.post("/plan/new", data={"csrf_token": token, **FORM, **changes})


def test_a_supervisor_creates_a_campaign_and_is_given_it(supervisor):
    reply = _post_campaign(supervisor)
    assert reply.status_code == 302
    assert reply.location == "/plan/2026-web/"
    page = supervisor.get(reply.location)
    assert page.status_code == 200
    assert "河县" in page.text
    assert "2026-web" in supervisor.get("/staff/").text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"key": "Has Spaces"}, "1 至 40 个小写字母"),
        ({"county_code": "65900x"}, "六位数字"),
        ({"closes": "2026-12-01"}, "结束日期不能早于开始日期"),
        ({"weight_parent": "0.5", "weight_student": "0.2"}, "权重之和为 0.7，而不是 1"),
        ({"resident_population": "many"}, ""),
    ],
)
def test_a_bad_campaign_form_is_refused_and_nothing_is_created(supervisor, changes, message):
    reply = _post_campaign(supervisor, **changes)
    assert reply.status_code == 422
    assert message in reply.text
    assert 'value="河县"' in reply.text  # nothing typed is lost
    assert db.session.scalar(select(func.count()).where(Campaign.key == "2026-web")) == 0


def test_the_key_of_an_existing_campaign_is_refused(supervisor, campaign):
    reply = _post_campaign(supervisor, key=campaign.key)
    assert reply.status_code == 422
    assert f"标识为 {campaign.key} 的调查项目已存在" in reply.text


def _upload(client, key: str, content: bytes, name: str = "frame.csv"):
    token = csrf_token(client.get(f"/plan/{key}/frame").text)
    data = {"csrf_token": token, "frame": (io.BytesIO(content), name)}
    return client.post(f"/plan/{key}/frame", data=data, content_type="multipart/form-data")


def test_uploading_a_frame(supervisor):
    _post_campaign(supervisor)
    reply = _upload(supervisor, "2026-web", GOOD.encode())
    assert reply.status_code == 302
    page = supervisor.get("/plan/2026-web/").text
    assert "rural-teaching_point" in page
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(School)
            .join(Campaign)
            .where(Campaign.key == "2026-web")
        )
        == 4
    )


def test_a_frame_larger_than_a_respondents_page_is_accepted(supervisor):
    _post_campaign(supervisor)
    rows = [f"26599{n:05d},第{n}小学,小学,乡村,{100 + n},{5 + n % 9}" for n in range(1500)]
    content = ("学校标识码,学校名称,学段,城乡类别,在校生数,教师数\n" + "\n".join(rows)).encode()
    assert len(content) > 64 * 1024  # above MAX_CONTENT_LENGTH of the other pages
    assert _upload(supervisor, "2026-web", content).status_code == 302


def test_a_rejected_frame_lists_every_problem_in_the_staff_language(supervisor):
    _post_campaign(supervisor)
    bad = GOOD + "x,甲,primary,urban,-1,1\ny,乙,primary,nowhere,1,1\n"
    reply = _upload(supervisor, "2026-web", bad.encode())
    assert reply.status_code == 422
    assert "第 6 行，enrolment：不是 ≥ 0 的整数" in reply.text
    assert "第 7 行，location：应为 城区、镇区、乡村 之一" in reply.text
    assert "文件有 2 处问题" in reply.text
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(School)
            .join(Campaign)
            .where(Campaign.key == "2026-web")
        )
        == 0
    )


def test_the_frame_of_a_campaign_in_fieldwork_cannot_be_replaced(supervisor, campaign):
    # The demo is open and drawn: the page names the draw.
    reply = _upload(supervisor, campaign.key, GOOD.encode())
    assert reply.status_code == 409
    assert "已从该名录抽取学校，名录不能再替换" in reply.text
    # A campaign opened before anything was drawn: the page names the fieldwork.
    _post_campaign(supervisor)
    db.session.scalar(select(Campaign).where(Campaign.key == "2026-web")).status = "open"
    db.session.commit()
    reply = _upload(supervisor, "2026-web", GOOD.encode())
    assert reply.status_code == 409
    assert "学校名录不能再替换" in reply.text
    assert "已从该名录抽取学校" not in reply.text


def test_the_frame_page_says_it_is_locked_before_a_file_is_chosen(supervisor, campaign):
    page = supervisor.get(f"/plan/{campaign.key}/frame").text
    assert 'id="locked"' in page
    assert "已从该名录抽取学校，名录不能再替换" in page
    assert 'type="file"' not in page  # no form to fill in for nothing
    _post_campaign(supervisor)
    page = supervisor.get("/plan/2026-web/frame").text
    assert 'id="locked"' not in page
    assert 'type="file"' in page


def test_the_sample_size_panel_starts_from_the_default_respondents_before_a_draw(supervisor):
    _post_campaign(supervisor)
    assert 'name="m" value="15"' in supervisor.get("/plan/2026-web/draw").text


def test_an_upload_without_a_file_is_refused(supervisor):
    _post_campaign(supervisor)
    token = csrf_token(supervisor.get("/plan/2026-web/frame").text)
    assert supervisor.post("/plan/2026-web/frame", data={"csrf_token": token}).status_code == 422


def _draw_page(
    client,
    key: str,
    seed: str = "20261202",
    respondents: dict[str, str] | None = None,
    **allocation: str,
):
    """Post the draw form as the page sends it: every stratum's field, 1 unless given, and
    the respondents per school as shown unless given."""
    page = client.get(f"/plan/{key}/draw").text
    token = csrf_token(page)
    fields = {f"n-{stratum}": "1" for stratum in re.findall(r'name="n-([^"]+)"', page)}
    fields.update({f"n-{k}": v for k, v in allocation.items()})
    fields.update(dict(re.findall(r'name="(r-[a-z]+)" id="r-[a-z]+" [^>]*value="([^"]*)"', page)))
    fields.update({f"r-{k}": v for k, v in (respondents or {}).items()})
    data = {"csrf_token": token, "seed": seed, **fields}
    return client.post(f"/plan/{key}/draw", data=data)


def _quotas(key: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(school code, group) → (planned, population) of the campaign's plan."""
    plan = draw.plan_of(db.session.scalars(select(Campaign).filter_by(key=key)).one())
    assert plan is not None
    return {(q.school.code, q.respondent_group): (q.planned, q.population) for q in plan.quotas}


def test_a_supervisor_draws_the_schools_and_downloads_the_draw(supervisor):
    _post_campaign(supervisor)
    _upload(supervisor, "2026-web", GOOD.encode())
    page = supervisor.get("/plan/2026-web/draw")
    assert page.status_code == 200
    assert 'name="n-urban-primary"' in page.text
    reply = _draw_page(supervisor, "2026-web", **{"rural-teaching_point": "0"})
    assert reply.status_code == 302, reply.text
    result = supervisor.get("/plan/2026-web/draw").text
    assert "种子 20261202" in result
    assert "2659990001" in result  # the only school of its stratum, drawn with certainty
    download = supervisor.get("/plan/2026-web/draw.csv")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert (
        download.text.splitlines()[0]
        == "stratum,school_code,size,frame_order,n_stratum,pi,start,selected,refused,substitute_for"
    )


@pytest.mark.parametrize(
    ("allocation", "message"),
    [
        ({"urban-primary": "two"}, "层 城区小学：请填写学校数（整数）"),
        ({"urban-primary": "5"}, "城区小学 层有 1 所有学生的学校，不能抽取 5 所"),
    ],
)
def test_an_impossible_draw_keeps_what_was_typed(supervisor, allocation, message):
    _post_campaign(supervisor)
    _upload(supervisor, "2026-web", GOOD.encode())
    reply = _draw_page(supervisor, "2026-web", **allocation)
    assert reply.status_code == 422
    assert message in reply.text
    assert f'value="{allocation["urban-primary"]}"' in reply.text
    assert "draw.csv" not in reply.text  # nothing was drawn


def test_a_supervisor_sets_the_respondents_per_school_and_a_new_draw_keeps_them(supervisor):
    _post_campaign(supervisor)
    _upload(supervisor, "2026-web", GOOD.encode())
    page = supervisor.get("/plan/2026-web/draw").text
    for group, default in (("student", 15), ("parent", 15), ("teacher", 5), ("principal", 1)):
        assert (
            f'name="r-{group}" id="r-{group}" inputmode="numeric" size="4" value="{default}"'
            in page
        )
    chosen = {"student": "20", "parent": "40", "teacher": "0", "principal": "1"}
    assert _draw_page(supervisor, "2026-web", respondents=chosen).status_code == 302
    quotas = _quotas("2026-web")
    assert quotas
    for (_school, group), (planned, population) in quotas.items():
        assert planned == min(int(chosen[group]), population), (group, planned, population)
    assert any(planned == 40 for (_s, g), (planned, _m) in quotas.items() if g == "parent")
    # drawn again with another seed: the page shows the plan's numbers, and keeps them
    page = supervisor.get("/plan/2026-web/draw").text
    assert 'id="r-parent" inputmode="numeric" size="4" value="40"' in page
    assert 'id="r-teacher" inputmode="numeric" size="4" value="0"' in page
    assert _draw_page(supervisor, "2026-web", seed="7").status_code == 302
    again = _quotas("2026-web")
    assert {g: max(p for (_s, gg), (p, _m) in again.items() if gg == g) for g in chosen} == {
        "student": 20,
        "parent": 40,
        "teacher": 0,
        "principal": 1,
    }


@pytest.mark.parametrize("typed", ["", "-3", "two", "１５", "1234567", "2.5"])
def test_respondents_per_school_that_are_not_a_count_are_refused(supervisor, typed):
    _post_campaign(supervisor)
    _upload(supervisor, "2026-web", GOOD.encode())
    reply = _draw_page(supervisor, "2026-web", respondents={"parent": typed})
    assert reply.status_code == 422
    assert "每校答卷人数，家长：请填写整数（0 表示不调查）" in reply.text
    assert f'id="r-parent" inputmode="numeric" size="4" value="{typed}"' in reply.text
    assert 'value="15"' in reply.text  # the other groups as typed
    assert "draw.csv" not in reply.text  # nothing was drawn


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(typed=st.dictionaries(st.sampled_from(SCHOOL_GROUPS), st.text(max_size=8), max_size=4))
def test_any_respondents_per_school_are_drawn_or_refused_whole(supervisor, typed):
    """Whatever is typed: a draw with exactly those numbers, or a 422 that draws
    nothing and shows what was typed."""
    if db.session.scalar(select(func.count()).where(Campaign.key == "2026-web")) == 0:
        _post_campaign(supervisor)
        _upload(supervisor, "2026-web", GOOD.encode())
    before = draw.plan_of(db.session.scalars(select(Campaign).filter_by(key="2026-web")).one())
    drawn_before = before.drawn_at if before is not None else None
    reply = _draw_page(supervisor, "2026-web", respondents=typed)
    plan = draw.plan_of(db.session.scalars(select(Campaign).filter_by(key="2026-web")).one())
    valid = all(
        t.strip().isascii() and t.strip().isdigit() and len(t.strip()) <= 6 for t in typed.values()
    )
    if valid:
        assert reply.status_code == 302, reply.text
        assert plan is not None
        quotas = {(q.school_id, q.respondent_group): q for q in plan.quotas}
        for (_school, group), quota in quotas.items():
            if group in typed:
                assert quota.planned == min(int(typed[group]), quota.population)
    else:
        assert reply.status_code == 422
        assert (plan.drawn_at if plan is not None else None) == drawn_before
        assert "每校答卷人数" in reply.text


def test_the_draw_of_a_campaign_in_fieldwork_is_frozen(supervisor, campaign):
    drawn = supervisor.get(f"/plan/{campaign.key}/draw.csv")  # the demo is drawn when seeded
    assert drawn.status_code == 200
    page = supervisor.get(f"/plan/{campaign.key}/draw").text
    # The page says so and offers no draw form; the drawn schools and the way to change
    # the frozen plan stay.
    assert 'id="frozen"' in page
    assert "抽样已冻结" in page
    assert f'href="/plan/{campaign.key}/changes"' in page
    assert 'name="seed"' not in page
    assert 'id="drawn"' in page
    # A form posted anyway (an old tab) is refused and draws nothing.
    fields = {f"n-{code}": "1" for code in ("urban-primary", "rural-primary")}
    data = {"csrf_token": csrf_token(page), "seed": "1", **fields}
    reply = supervisor.post(f"/plan/{campaign.key}/draw", data=data)
    assert reply.status_code == 422
    assert "抽样已冻结" in reply.text
    assert supervisor.get(f"/plan/{campaign.key}/draw.csv").data == drawn.data  # unchanged


def test_the_campaign_page_leads_to_the_drawn_schools_once_the_fieldwork_is_open(
    supervisor, campaign
):
    page = supervisor.get(f"/plan/{campaign.key}/").text
    assert f'href="/plan/{campaign.key}/draw" id="drawn-schools"' in page
    assert '<td title="rural-primary">乡村小学</td>' in page  # the frame's strata by name


def test_the_draw_of_a_campaign_in_preparation_is_not_frozen(supervisor):
    _post_campaign(supervisor)
    _upload(supervisor, "2026-web", GOOD.encode())
    page = supervisor.get("/plan/2026-web/draw").text
    assert 'id="frozen"' not in page
    assert 'name="seed"' in page


def test_a_county_name_with_a_nul_byte_is_refused(supervisor):
    reply = _post_campaign(supervisor, county_name="河\x00县")
    assert reply.status_code == 422
    assert db.session.scalar(select(func.count()).where(Campaign.key == "2026-web")) == 0


def test_the_draw_page_sizes_the_sample_beside_the_national_practice(supervisor, campaign):
    # m̄ starts as the most respondents of one group a drawn school gives: 30 in the demo
    page = supervisor.get(f"/plan/{campaign.key}/draw")
    assert page.status_code == 200
    assert 'name="m" value="30"' in page.text
    # 1 + 29·0.05 = 2.45, (1 + 0.3²) = 1.09: deff 2.6705
    assert "设计效应 2.671" in page.text
    page = supervisor.get(f"/plan/{campaign.key}/draw?p1=0.90&m=15&rho=0.05&cv=0.3")
    assert '<td class="num">523</td>' in page.text  # shared/statistics.md's worked example
    assert '<td class="num">628</td>' in page.text  # 1.5‰ of 418,600 residents
    assert '<th class="num">628</th>' in page.text  # the larger
    stricter = supervisor.get(f"/plan/{campaign.key}/draw?p1=0.88&m=15&rho=0.05&cv=0.3")
    # 0.85 against 0.88: [1.645·√0.1275 + 0.842·√0.1056]²/0.03² · 1.853 → 1526 > 628
    assert '<th class="num">1526</th>' in stricter.text
    bad = supervisor.get(f"/plan/{campaign.key}/draw?p1=two&m=0")
    assert bad.status_code == 422
    assert 'value="two"' in bad.text  # what was typed stays


def test_the_campaign_page_has_its_audit_log_once_and_a_plain_title(supervisor, campaign):
    page = supervisor.get(f"/plan/{campaign.key}/").text
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "<" not in title
    assert campaign.key in title
    assert page.count("<h2>操作记录</h2>") == 1


def test_the_audit_log_names_actions_and_details_in_the_staff_language(supervisor, campaign):
    page = supervisor.get(f"/plan/{campaign.key}/").text
    # the demo's draw: by name, its code on hover; groups and strata by their names
    assert '<td title="schools_drawn">抽中学校</td>' in page
    assert '<span title="seed">随机种子：20261201</span>' in page
    assert "每校答卷人数：学生 30, 家长 30, 教师 10, 校长 1" in page
    assert "各层学校数：乡村九年一贯制学校 2, 乡村小学 2, 乡村教学点 2, 镇区初中 4" in page
    assert '<td title="open_link_created">创建开放链接</td>' in page
    assert "含成员编号：" in page  # a list's bool, as 是 / 否
    english = supervisor.get(f"/plan/{campaign.key}/?lang=en").text
    assert '<td title="schools_drawn">Schools drawn</td>' in english
    assert "Respondents per school: Student 30, Parent 30, Teacher 10, Principal 1" in english


def test_every_action_the_log_records_has_a_name():
    """The actions recorded anywhere in the app (``audit.record(campaign, "...")`` and the
    named constants) are the ones the page names."""
    import pathlib

    from survey_app.integrity.decisions import AUDIT_ACTION
    from survey_app.plan.audit_text import ACTION_LABELS
    from survey_app.results.report import DOWNLOADED, ISSUED

    source = "\n".join(
        path.read_text(encoding="utf-8") for path in pathlib.Path("survey_app").rglob("*.py")
    )
    literal = set(re.findall(r'audit\.record\(\s*\w+,\s*"([a-z_]+)"', source))
    assert len(literal) >= 15
    assert literal | {AUDIT_ACTION, ISSUED, DOWNLOADED} == set(ACTION_LABELS)


def test_the_audit_log_downloads_whole_as_codes(supervisor, campaign):
    import csv
    import io
    import json

    from survey_app.plan import audit

    audit.record(campaign, "codes_revoked", {"school": "=S1", "codes": 2}, "=HYPERLINK(x)")
    reply = supervisor.get(f"/plan/{campaign.key}/audit.csv")
    assert reply.status_code == 200
    assert reply.mimetype == "text/csv"
    assert reply.data.startswith(b"\xef\xbb\xbf")  # for Excel (zh-CN)
    rows = list(csv.DictReader(io.StringIO(reply.data.decode("utf-8-sig"))))
    assert list(rows[0]) == ["at", "actor", "action", "details", "reason"]
    assert len(rows) == len(audit.events(campaign))
    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)  # oldest first
    assert {"list_set", "schools_drawn"} <= {row["action"] for row in rows}
    drawn = next(row for row in rows if row["action"] == "schools_drawn")
    assert json.loads(drawn["details"])["seed"] == 20261201
    last = rows[-1]
    assert last["action"] == "codes_revoked"
    assert last["reason"] == "'=HYPERLINK(x)"  # never a formula in a spreadsheet
    assert json.loads(last["details"]) == {"codes": 2, "school": "=S1"}  # JSON starts "{"
    page = supervisor.get(f"/plan/{campaign.key}/").text
    assert f'href="/plan/{campaign.key}/audit.csv"' in page


def test_a_campaign_in_preparation_changes_its_settings_but_not_its_key(supervisor):
    from survey_app.models import AuditEvent

    _post_campaign(supervisor)
    page = supervisor.get("/plan/2026-web/settings")
    assert page.status_code == 200
    assert 'name="key"' not in page.text
    assert 'value="河县"' in page.text
    assert 'value="2026-12-20"' in page.text  # the last day as it was given
    token = csrf_token(page.text)
    changed = {**FORM, "county_name": "和县", "closes": "2026-12-27", "threshold": "0.9"}
    del changed["key"]
    reply = supervisor.post("/plan/2026-web/settings", data={"csrf_token": token, **changed})
    assert reply.status_code == 302
    chosen = db.session.scalar(select(Campaign).where(Campaign.key == "2026-web"))
    assert (chosen.county_name, chosen.threshold) == ("和县", 0.9)
    event = db.session.scalars(
        select(AuditEvent).filter_by(campaign_id=chosen.id, action="campaign_changed")
    ).one()
    assert event.details == {"county_name": "和县", "closes": "2026-12-27", "threshold": 0.9}
    log = supervisor.get("/plan/2026-web/").text
    assert '<td title="campaign_changed">修改调查项目设置</td>' in log
    assert "县名称：和县" in log
    # refused: the field says why, what was typed stays, nothing changes
    bad = {**changed, "county_name": "新县", "closes": "2026-12-01"}
    reply = supervisor.post("/plan/2026-web/settings", data={"csrf_token": token, **bad})
    assert reply.status_code == 422
    assert 'value="新县"' in reply.text
    db.session.expire_all()
    assert (
        db.session.scalar(select(Campaign.county_name).where(Campaign.key == "2026-web")) == "和县"
    )


def test_the_settings_of_a_campaign_in_the_field_cannot_change(supervisor, campaign):
    page = supervisor.get(f"/plan/{campaign.key}/settings")
    assert page.status_code == 200
    assert 'id="settings-frozen"' in page.text
    assert 'name="county_name"' not in page.text
    assert (
        f'href="/plan/{campaign.key}/settings"' not in supervisor.get(f"/plan/{campaign.key}/").text
    )
    data = {"csrf_token": csrf_token(page.text), **{k: v for k, v in FORM.items() if k != "key"}}
    reply = supervisor.post(f"/plan/{campaign.key}/settings", data=data)
    assert reply.status_code == 409
    assert 'value="河县"' in reply.text  # what was typed stays on the page
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).county_name == "示范县"
