"""The guessing limit holds across workers when it is kept in Redis (production setting).

Runs when ``TEST_REDIS_URL`` is set (CI sets it to the machine's Redis); without it the
test is reported as skipped, never as passed.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.app.conftest import csrf_token
from tests.conftest import make_app

REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")
def test_two_workers_share_one_limit(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    prefix = f"test-{uuid.uuid4().hex}"
    workers = [
        make_app(
            url,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            RATELIMIT_KEY_PREFIX=prefix,
            CODE_ENTRY_LIMIT="4 per minute",
        )
        for _ in range(2)
    ]
    statuses = []
    for attempt in range(6):
        client = workers[attempt % 2].test_client()
        token = csrf_token(client.get("/").text)
        reply = client.post("/", data={"csrf_token": token, "code": "ZZZZZ-ZZZZZ-ZZZZZ"})
        statuses.append(reply.status_code)
    assert statuses == [404, 404, 404, 404, 429, 429]
