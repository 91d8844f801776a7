"""The code-entry limits hold across processes when kept in Redis (production setting),
and gunicorn refuses several workers on a per-process store.

The shared-store test runs when ``TEST_REDIS_URL`` is set (CI sets it to the machine's
Redis); without it the test is reported as skipped, never as passed.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.app.conftest import csrf_token
from tests.conftest import TEST_SECRET

REDIS_URL = os.environ.get("TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(database: str, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database,
        **settings,
    }


class Browser:
    """One phone: its own cookie, talking to one server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, form: dict[str, str] | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        reply = connection.getresponse()
        text = reply.read().decode()
        cookie = reply.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        connection.close()
        return reply.status, text

    def type_code(self, code: str) -> int:
        _status, page = self.request("GET", "/")
        status, _text = self.request("POST", "/", {"csrf_token": csrf_token(page), "code": code})
        return status


def _start(port: int, env: dict[str, str], workers: int = 1) -> subprocess.Popen[str]:
    command = [GUNICORN, "-c", "gunicorn.conf.py", "-w", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.communicate(timeout=30)  # and closes its stderr pipe


def _wait_until_up(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


@pytest.fixture
def seeded_database(tmp_path) -> tuple[str, str]:
    """A database of its own (the servers are other processes): the demo county, one code."""
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    env = _environment(url)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "demo", "seed"], cwd=ROOT, env=env, check=True, capture_output=True)
    printed = subprocess.run(
        [*flask, "demo", "codes", "--group", "parent"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{5}", printed)
    assert match
    return url, match.group()


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL not set")
def test_two_servers_share_one_limit_and_a_valid_code_still_opens(seeded_database):
    url, valid_code = seeded_database
    env = _environment(
        url,
        RATELIMIT_STORAGE_URI=str(REDIS_URL),
        RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        CODE_ENTRY_LIMIT="4 per minute",
    )
    ports = [_free_port(), _free_port()]
    servers = [_start(port, env) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            _wait_until_up(port, server)
        statuses = [Browser(ports[i % 2]).type_code("ZZZZZ-ZZZZZ-ZZZZZ") for i in range(6)]
        assert statuses == [404, 404, 404, 404, 429, 429]  # one count across both servers
        # A parent behind the same address, with their own slip, still gets in.
        assert Browser(ports[1]).type_code(valid_code) == 302
    finally:
        for server in servers:
            _stop(server)


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "2 workers need a shared rate-limit store"),
        # A report job's progress lives in the worker that started it: the next poll may
        # reach another one (report_jobs.py). The Redis URI is not contacted at start.
        (
            {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15", "JOBS_REDIS_URL": ""},
            "2 workers need the report's jobs in Redis",
        ),
    ],
)
def test_gunicorn_refuses_several_workers_on_a_per_process_store(tmp_path, settings, refusal):
    env = _environment(f"sqlite:///{tmp_path}/none.sqlite3", **settings)
    server = _start(_free_port(), env, workers=2)
    try:
        _out, errors = server.communicate(timeout=60)
        assert server.returncode != 0
        assert refusal in errors
    finally:
        if server.poll() is None:
            _stop(server)


def test_one_gunicorn_worker_may_use_the_per_process_store(tmp_path):
    env = _environment(f"sqlite:///{tmp_path}/none.sqlite3", RATELIMIT_STORAGE_URI="memory://")
    port = _free_port()
    server = _start(port, env, workers=1)
    try:
        _wait_until_up(port, server)
        assert Browser(port).request("GET", "/")[0] == 200
    finally:
        _stop(server)
