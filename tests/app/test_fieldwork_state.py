"""Opening and closing the fieldwork, and the audit log of the plan."""

from __future__ import annotations

import pytest

from survey_app.plan import audit, campaigns
from tests.app.conftest import csrf_token
from tests.app.test_frame_import import GOOD
from tests.factories import make_campaign, make_plan, make_school


def test_opening_needs_a_draw_and_happens_once(app_ctx):
    campaign = make_campaign(open_now=False)
    with pytest.raises(campaigns.FieldworkRefused, match="has not drawn"):
        campaigns.open_fieldwork(campaign)
    make_school(campaign)
    make_plan(campaign)
    campaigns.open_fieldwork(campaign)
    assert campaign.status == "open"
    with pytest.raises(campaigns.FieldworkRefused, match="is open, not in preparation"):
        campaigns.open_fieldwork(campaign)
    campaigns.close_fieldwork(campaign)
    assert campaign.status == "closed"
    with pytest.raises(campaigns.FieldworkRefused, match="is closed, not open"):
        campaigns.close_fieldwork(campaign)


def test_the_command_line_opens_and_closes(runner, app_ctx):
    from survey_app.extensions import db

    campaign = make_campaign(open_now=False)
    db.session.commit()  # the refused command rolls back what is not committed
    refused = runner.invoke(args=["campaign", "open", "--campaign", campaign.key])
    assert refused.exit_code == 2
    assert "has not drawn its schools yet" in refused.output
    make_school(campaign)
    make_plan(campaign)
    opened = runner.invoke(args=["campaign", "open", "--campaign", campaign.key])
    assert (opened.exit_code, opened.output.strip()) == (0, f"Fieldwork of {campaign.key} is open.")
    closed = runner.invoke(args=["campaign", "close", "--campaign", campaign.key])
    assert closed.exit_code == 0


def test_the_audit_log_records_each_step_with_who_did_it(runner, app_ctx, tmp_path):
    frame = tmp_path / "frame.csv"
    frame.write_text(GOOD, encoding="utf-8")
    create = [
        "campaign",
        "create",
        "--key",
        "audited",
        "--county-code",
        "659009",
        "--county-name",
        "审计县",
        "--stage",
        "self",
        "--population",
        "100000",
        "--opens",
        "2027-01-04",
        "--closes",
        "2027-01-15",
    ]
    steps = [
        create,
        ["plan", "import-frame", "--campaign", "audited", str(frame)],
        ["plan", "draw", "--campaign", "audited", "--seed", "9"],
        ["codes", "issue", "--campaign", "audited", "--csv", str(tmp_path / "codes.csv")],
        ["campaign", "open", "--campaign", "audited"],
    ]
    for step in steps:
        result = runner.invoke(args=step)
        assert result.exit_code == 0, (step, result.output)
    from survey_app.extensions import db
    from survey_app.models import Campaign

    campaign = db.session.scalar(db.select(Campaign).filter_by(key="audited"))
    events = audit.events(campaign)
    assert [event.action for event in reversed(events)] == [
        "campaign_created",
        "frame_imported",
        "schools_drawn",
        "codes_issued",
        "fieldwork_opened",
    ]
    assert {event.actor for event in events} == {"command line"}
    drawn = next(event for event in events if event.action == "schools_drawn")
    assert drawn.details["seed"] == 9
    codes = (tmp_path / "codes.csv").read_text()
    a_code = codes.splitlines()[1].split(",")[5]
    assert all(a_code not in str(event.details) for event in events)  # never a code


def test_a_supervisor_opens_the_fieldwork_on_the_page(app, client, campaign):
    from survey_app.auth import services

    draft = make_campaign(open_now=False)
    make_school(draft)
    make_plan(draft)
    services.create_user("open@example.org", "supervisor", "a long password!", [draft.key])
    token = csrf_token(client.get("/staff/login").text)
    client.post(
        "/staff/login",
        data={"csrf_token": token, "email": "open@example.org", "password": "a long password!"},
    )
    page = client.get(f"/plan/{draft.key}/")
    assert "开始调查" in page.text
    opened = client.post(f"/plan/{draft.key}/open", data={"csrf_token": csrf_token(page.text)})
    assert opened.status_code == 302
    assert draft.status == "open"
    page = client.get(f"/plan/{draft.key}/")
    assert "open@example.org" in page.text  # the audit log names who opened it
    again = client.post(f"/plan/{draft.key}/open", data={"csrf_token": csrf_token(page.text)})
    assert again.status_code == 409
