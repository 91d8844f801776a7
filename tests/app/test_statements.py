"""The respondent path's statements on the DBAPI cursor (``respond/statements.py``) give
what ``Connection.execute`` gives, and fail as it fails: on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, create_engine, exc, literal_column, select, text, update
from sqlalchemy.pool import NullPool

from survey_app.codes import code_digest, normalise_code
from survey_app.extensions import db
from survey_app.models import OneTimeCode
from survey_app.models.base import as_utc
from survey_app.respond import services
from survey_app.respond.statements import Statement
from tests.factories import make_campaign, make_codes, make_school

URL = os.environ.get("TEST_DATABASE_URL", "")
EXPIRES = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


@pytest.fixture
def code_id(app_ctx: None) -> int:
    """A code with everything the path reads set: a JSON draft, an expiry, a digest."""
    (printed,) = make_codes(make_school(make_campaign()))
    digest = code_digest(normalise_code(printed) or "")
    row = db.session.scalars(select(OneTimeCode).filter_by(digest=digest)).one()
    row.draft = {"answers": {"q01": 3}, "comment": "是的 ئۇيغۇرچە", "lang": "ug"}
    row.expires_at = EXPIRES
    row.resume_digest = b"\x00\xff" * 16
    db.session.flush()
    return row.id


def test_a_read_gives_what_connection_execute_gives(code_id):
    connection = db.session.connection()
    expected = connection.execute(services._CODE_BY_ID_SELECT, {"code_id": code_id}).one()
    (row,) = services._CODE_BY_ID.rows(connection, {"code_id": code_id})
    assert row == tuple(expected)
    assert row[services._CODE_BY_ID_SELECT.selected_columns.keys().index("draft")]["lang"] == "ug"


def test_a_write_stores_what_the_orm_reads_back(code_id):
    connection = db.session.connection()
    draft = {"answers": {"q02": 1}, "comment": "换行\n和引号\"'", "started_at": "2030-01-01"}
    code = services.usable_code(code_id, datetime.now(UTC))
    saved = {"code_id": code_id, "read_revision": code.revision, "new_draft": draft}
    assert services._SAVE_DRAFT.rowcount(connection, saved) == 1
    later = datetime(2030, 1, 1, 1, 2, 3, tzinfo=UTC)
    expiry = Statement(
        update(OneTimeCode)
        .where(OneTimeCode.id == bindparam("code_id"))
        .values(expires_at=bindparam("expires", type_=OneTimeCode.__table__.c.expires_at.type))
    )
    assert expiry.rowcount(connection, {"code_id": code_id, "expires": later}) == 1
    db.session.expire_all()
    row = db.session.get(OneTimeCode, code_id)
    assert row is not None
    assert row.draft == draft
    assert row.revision == code.revision + 1
    assert row.expires_at is not None
    assert as_utc(row.expires_at) == later
    # The literal values compiled into the statement (status = 'issued') are sent too: a
    # code no longer issued is not written.
    row.status = "void"
    db.session.flush()
    again = {**saved, "read_revision": row.revision}
    assert services._SAVE_DRAFT.rowcount(connection, again) == 0


def test_a_refused_write_raises_sqlalchemys_error_without_its_parameters(code_id):
    not_a_status = "秘"  # refused by the CHECK on status
    bad = Statement(
        update(OneTimeCode).where(OneTimeCode.id == code_id).values(status=bindparam("status"))
    )
    nested = db.session.begin_nested()
    with pytest.raises(exc.IntegrityError) as raised:
        bad.rowcount(db.session.connection(), {"status": not_a_status})
    nested.rollback()
    assert raised.value.hide_parameters
    assert "[parameters" not in str(raised.value)
    assert "UPDATE one_time_code" in str(raised.value.statement)


def test_a_text_statement_takes_its_parameters_by_name(app_ctx):
    statement = Statement(text("SELECT :b - :a"))
    assert statement.rows(db.session.connection(), {"a": 2, "b": 7}) == [(5,)]


@pytest.mark.skipif(not URL.startswith("postgresql"), reason="TEST_DATABASE_URL is not PostgreSQL")
def test_a_lost_connection_fails_one_statement_and_is_not_handed_out_again():
    from tests.conftest import make_app

    live = make_app(URL)  # its own pool, not the test's rolled-back connection
    with live.app_context():
        victim = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.commit()
        other = create_engine(URL, poolclass=NullPool)
        with other.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        other.dispose()
        pid = Statement(select(literal_column("pg_backend_pid()")))
        with pytest.raises(exc.OperationalError) as raised:
            pid.rows(db.session.connection(), {})  # checked out at once: no idle ping
        assert raised.value.connection_invalidated
        db.session.rollback()
        assert pid.rows(db.session.connection(), {})[0][0] not in (victim, None)
        db.session.rollback()
        db.engine.dispose()


def test_expiry_as_read_is_the_moment_stored(code_id):
    code = services.usable_code(code_id, EXPIRES - timedelta(seconds=1))
    assert code.expires_at is not None
    assert as_utc(code.expires_at) == EXPIRES
    with pytest.raises(services.CodeRefused, match="expired"):
        services.usable_code(code_id, EXPIRES)
