"""The schema: built only by migrations, agreeing with the models, anonymous by design."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from survey_app.extensions import db
from survey_app.models import Base, Response, School


def test_models_and_migrations_agree(app_ctx):
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_no_column_can_identify_a_person(app_ctx):
    forbidden = ("name", "phone", "mobile", "ip", "address", "wechat", "openid", "email")
    inspector = inspect(db.session.connection())
    for table in ("response", "answer", "one_time_code"):
        columns = {column["name"] for column in inspector.get_columns(table)}
        assert not {c for c in columns for word in forbidden if word in c.split("_")}, table


def test_a_response_cannot_be_joined_to_its_code(app_ctx):
    inspector = inspect(db.session.connection())
    for table in ("response", "answer"):
        targets = {fk["referred_table"] for fk in inspector.get_foreign_keys(table)}
        assert "one_time_code" not in targets
    code_columns = {column["name"] for column in inspector.get_columns("one_time_code")}
    assert "response_id" not in code_columns
    assert not {c for c in code_columns if c.endswith("_at") and c != "expires_at"}


def test_database_refuses_a_response_outside_its_schools_stratum(campaign):
    def primary_school(location: str) -> School:
        query = select(School).filter_by(level="primary", location=location)
        return db.session.scalars(query).first()

    school, other = primary_school("urban"), primary_school("rural")
    assert school.stratum_id != other.stratum_id
    response = Response(
        campaign_id=campaign.id,
        respondent_group="parent",
        school_id=school.id,
        stratum_id=other.stratum_id,  # not this school's stratum
        questionnaire_key="public",
        questionnaire_version=1,
        language="zh_Hans",
        submitted_minute=datetime.now(UTC),
    )
    with db.session.begin_nested() as savepoint:
        db.session.add(response)
        with pytest.raises(IntegrityError):
            db.session.flush()
        savepoint.rollback()
    response.stratum_id = school.stratum_id  # the same row with the school's own stratum
    db.session.add(response)
    db.session.flush()
