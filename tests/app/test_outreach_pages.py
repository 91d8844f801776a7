"""The supervisor's page of lists and open links."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from survey_app.extensions import db
from survey_app.models import OpenLink
from survey_app.plan import lists
from tests.app.conftest import csrf_token
from tests.app.test_plan_pages import supervisor  # noqa: F401 - the signed-in fixture


def _post(client, key: str, path: str, **data):
    token = csrf_token(client.get(f"/plan/{key}/outreach").text)
    return client.post(f"/plan/{key}/{path}", data={"csrf_token": token, **data})


def test_the_page_shows_the_lists_and_the_link(supervisor, campaign):  # noqa: F811
    page = supervisor.get(f"/plan/{campaign.key}/outreach")
    assert page.status_code == 200
    assert "list-deputy" in page.text
    assert "area-chengguan" in page.text
    assert "/o/" in page.text
    qr = supervisor.get(f"/plan/{campaign.key}/links/chengguan.svg")
    assert qr.status_code == 200
    assert qr.mimetype == "image/svg+xml"
    assert supervisor.get(f"/plan/{campaign.key}/links/nowhere.svg").status_code == 404


def test_a_supervisor_makes_and_closes_a_link(supervisor, campaign):  # noqa: F811
    made = _post(supervisor, campaign.key, "links", slug="dongcheng", label="东城", quota="40")
    assert made.status_code == 302
    link = db.session.scalar(select(OpenLink).where(OpenLink.label == "东城"))
    assert (link.quota, link.closed) == (40, False)
    closed = _post(supervisor, campaign.key, "links/dongcheng/close")
    assert closed.status_code == 302
    db.session.refresh(link)
    assert link.closed
    assert _post(supervisor, campaign.key, "links/nowhere/close").status_code == 404
    assert _post(supervisor, campaign.key, "links/x%00y/close").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {"slug": "Bad Slug", "label": "东城", "quota": "5"},
        {"slug": "chengguan", "label": "again", "quota": "5"},
        {"slug": "x", "label": "东城", "quota": "0"},
        {"slug": "x", "label": "东城", "quota": "many"},
    ],
)
def test_a_bad_link_is_refused_and_what_was_typed_is_kept(supervisor, campaign, data):  # noqa: F811
    before = db.session.scalar(select(func.count()).select_from(OpenLink))
    reply = _post(supervisor, campaign.key, "links", **data)
    assert reply.status_code == 422
    assert f'value="{data["label"]}"' in reply.text
    assert db.session.scalar(select(func.count()).select_from(OpenLink)) == before


def test_a_list_is_set_from_uploaded_ids(supervisor, campaign):  # noqa: F811
    campaign.status = "draft"
    db.session.commit()
    token = csrf_token(supervisor.get(f"/plan/{campaign.key}/outreach").text)
    ids = io.BytesIO("编号\nM-1\nM-2\nM-3\n".encode())
    reply = supervisor.post(
        f"/plan/{campaign.key}/lists",
        data={"csrf_token": token, "group": "member", "planned": "2", "ids": (ids, "m.csv")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 302
    frame = lists.list_of(campaign, "member")
    assert (frame.list_size, frame.planned, frame.member_ids) == (3, 2, ["M-1", "M-2", "M-3"])


def test_a_bad_id_list_names_its_lines(supervisor, campaign):  # noqa: F811
    campaign.status = "draft"
    db.session.commit()
    token = csrf_token(supervisor.get(f"/plan/{campaign.key}/outreach").text)
    ids = io.BytesIO(b"A\nB\nA\n")
    reply = supervisor.post(
        f"/plan/{campaign.key}/lists",
        data={"csrf_token": token, "group": "member", "ids": (ids, "m.csv")},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 422
    assert "第 3 行：编号与第 1 行相同" in reply.text
    assert lists.list_of(campaign, "member").list_size == 187  # unchanged


def test_a_list_in_the_field_is_frozen(supervisor, campaign):  # noqa: F811
    reply = _post(supervisor, campaign.key, "lists", group="deputy", size="300")
    assert reply.status_code == 409
    assert lists.list_of(campaign, "deputy").list_size == 212
