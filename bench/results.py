"""A million stored responses on PostgreSQL: the verdict's JSON, and the results page.

    .venv/bin/python bench/results.py [--responses 1000000] [--base 4000] [--runs 3]
        [--database-name bench_results] [--reuse]

1. A fresh database (``--database-name``, dropped and made again) with the schema, the
   demo county (``flask demo seed``: drawn, open) and ``--base`` responses simulated
   through the respondents' own services (``flask demo fieldwork``), so the rows are what
   the platform stores: responses with their packed answers, and the long answer table.
2. Those responses copied in SQL until the campaign holds ``--responses`` (each copy a
   new response of the same cell with the same answers, in the response table and the
   answer table; the lists' people are not copied, a list has only so many), then
   ``VACUUM ANALYZE``. ``--reuse`` keeps a database already filled (its schema upgraded).
3. Timed, ``--runs`` times: ``flask --app wsgi results --campaign demo --json`` as a
   subprocess, end to end (start-up, reading, evaluation, printing); then inside one
   process: the loader, the evaluation, and the results page of an evaluator signed in
   (the first view starts its build in the background and waits up to
   ``BUILD_WAIT_SECONDS`` for it; the views that follow show the page once it is built,
   then from the page's cache).

The figures are recorded in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    PROJECT_ROOT,
    VENV_BIN,
    BenchError,
    Database,
    _run,
    app_env,
)

CAMPAIGN = "demo"
EVALUATOR = "bench-evaluator@example.org"

# In one process with the app's environment: the loader, the evaluation, and the results
# page through the test client after signing in as an evaluator by the login form.
_IN_PROCESS = """
import json, os, re, sys, time
import redis
from survey_app import create_app
from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.results.evaluation import evaluate_campaign, evaluation_json
from survey_app.results.loader import load_campaign

email, password, views = sys.argv[1], sys.argv[2], int(sys.argv[3])
if os.environ.get("JOBS_REDIS_URL"):  # no page an earlier run built and shared
    shared = redis.Redis.from_url(os.environ["JOBS_REDIS_URL"])
    for name in shared.scan_iter("campaign-cache:*"):
        shared.delete(name)
app = create_app()
out = {}
with app.app_context():
    campaign = db.session.query(Campaign).filter_by(key="demo").one()
    start = time.perf_counter()
    data = load_campaign(campaign)
    out["load_s"] = time.perf_counter() - start
    out["rows"] = data.n
    out["items"] = len(data.items)
    start = time.perf_counter()
    found = evaluation_json(evaluate_campaign(campaign))
    out["load_and_evaluate_s"] = time.perf_counter() - start
    out["verdict"] = found["county"]["verdict"]
    db.session.rollback()
client = app.test_client()
form = client.get("/staff/login").text
token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
signed = client.post(
    "/staff/login", data={"csrf_token": token, "email": email, "password": password}
)
assert signed.status_code == 302, signed.status_code
def built(page):
    return 'id="verdict-title"' in page.text and 'class="hint building"' not in page.text


start = time.perf_counter()
first = client.get("/results/demo/")
assert first.status_code == 200, first.status_code
out["first_view_s"] = time.perf_counter() - start
out["first_view_built"] = built(first)
while not built(page := client.get("/results/demo/")):
    time.sleep(0.5)
out["ready_s"] = time.perf_counter() - start
times = []
for _view in range(views):
    start = time.perf_counter()
    page = client.get("/results/demo/")
    times.append(time.perf_counter() - start)
    assert page.status_code == 200, page.status_code
    assert built(page)
out["page_s"] = times
print("RESULT " + json.dumps(out))
"""


def _flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    return _run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], env, PROJECT_ROOT, stdin)


def _connect(database: Database) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname=database.name, autocommit=True
    )


def _responses(database: Database) -> int:
    with _connect(database) as connection:
        row = connection.execute("SELECT count(*) FROM response").fetchone()
    return int(row[0]) if row else 0


def fill(database: Database, env: dict[str, str], total: int, base: int) -> None:
    """The demo county with ``base`` simulated responses, copied up to ``total``."""
    started = time.perf_counter()
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "seed")
    _flask(env, "demo", "fieldwork", "--campaign", CAMPAIGN, "--responses", str(base))
    simulated = time.perf_counter()
    print(f"simulated {base} responses through the services in {simulated - started:.1f} s")
    with _connect(database) as connection:
        (top,) = connection.execute("SELECT max(id) FROM response").fetchone() or (0,)
        offset = 10 ** len(str(top))  # copy g of response r gets the id g × offset + r
        # A list's people are drawn without replacement from a list of N: no copies.
        (copyable,) = connection.execute(
            "SELECT count(*) FROM response r JOIN stratum s ON s.id = r.stratum_id "
            "AND s.kind <> 'list'"
        ).fetchone() or (0,)
        copies = math.ceil((total - base) / copyable)
        columns = (
            "campaign_id, respondent_group, school_id, stratum_id, reading_level, "
            "questionnaire_key, questionnaire_version, language, submitted_minute, "
            "duration_seconds, comment, answer_codes"
        )
        connection.execute(
            f"INSERT INTO response (id, {columns}) "  # noqa: S608 - our own column list
            f"SELECT g * {offset} + r.id, r.{columns.replace(', ', ', r.')} FROM response r "
            "JOIN stratum s ON s.id = r.stratum_id AND s.kind <> 'list', "
            f"generate_series(1, {copies}) g ORDER BY g, r.id LIMIT {total - base}"
        )
        connection.execute(
            "INSERT INTO answer (response_id, item_id, campaign_id, value) "  # noqa: S608
            f"SELECT n.id, a.item_id, a.campaign_id, a.value FROM response n "  # noqa: S608
            f"JOIN answer a ON a.response_id = n.id % {offset} WHERE n.id >= {offset}"
        )
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('response', 'id'), "
            "(SELECT max(id) FROM response))"
        )
        connection.execute("VACUUM ANALYZE")
    print(f"copied to {total} responses in {time.perf_counter() - simulated:.1f} s")


def evaluator(env: dict[str, str]) -> tuple[str, str]:
    """A new evaluator of the demo campaign (a new one per run: ``--reuse`` keeps users)."""
    email = f"bench-evaluator-{secrets.token_hex(4)}@example.org"
    password = secrets.token_urlsafe(18)
    _flask(
        env,
        "users",
        "create",
        "--role",
        "evaluator",
        "--email",
        email,
        "--campaign",
        CAMPAIGN,
        "--password-stdin",
        stdin=password + "\n",
    )
    return email, password


def _timed_command(env: dict[str, str]) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    printed = _flask(env, "results", "--campaign", CAMPAIGN, "--json")
    return time.perf_counter() - started, json.loads(printed)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--views", type=int, default=6, help="results page views per run")
    parser.add_argument("--database-name", default="bench_results")
    parser.add_argument("--reuse", action="store_true")
    options = parser.parse_args()
    if options.responses < options.base:
        raise BenchError("--responses must be at least --base")
    database = Database("postgres", options.database_name)
    env = app_env(database.url, items_per_page=5)
    if not (options.reuse and _responses(database) == options.responses):
        database.recreate()
        fill(database, env, options.responses, options.base)
    else:
        _flask(env, "db", "upgrade")  # a kept database gets the tree's newer migrations
    email, password = evaluator(env)
    command: list[float] = []
    for _run_number in range(options.runs):
        seconds, found = _timed_command(env)
        command.append(seconds)
    county = found["county"]
    assert isinstance(county, dict)
    print(
        f"data: {found['responses']:,} responses kept, {len(found['items'])} items, "  # type: ignore[arg-type]
        f"{found['design']['psu']} PSUs in {found['design']['strata']} strata"  # type: ignore[index]
    )
    print(
        f"county {county['estimate']:.4f} [{county['ci_low']:.4f}, {county['ci_high']:.4f}] "
        f"verdict {county['verdict']}"
    )
    runs = ", ".join(f"{s:.2f}" for s in command)
    print(f"flask results --json, end to end: best {min(command):.2f} s (runs {runs})")
    script = [str(VENV_BIN / "python"), "-c", _IN_PROCESS, email, password, str(options.views)]
    for _run_number in range(options.runs):
        output = _run(script, env, PROJECT_ROOT)
        line = next(line for line in output.splitlines() if line.startswith("RESULT "))
        inside = json.loads(line.removeprefix("RESULT "))
        cached = inside["page_s"]
        first = "the page" if inside["first_view_built"] else "“being computed”"
        print(
            f"in one process: loader {inside['load_s']:.2f} s, loader + evaluation "
            f"{inside['load_and_evaluate_s']:.2f} s ({inside['rows']:,} rows x "
            f"{inside['items']} items); results page first view {inside['first_view_s']:.2f} s "
            f"({first}), built and shown after {inside['ready_s']:.2f} s, from "
            f"the cache median {1000 * statistics.median(cached):.0f} ms "
            f"(max {1000 * max(cached):.0f} ms of {len(cached)})"
        )


if __name__ == "__main__":
    try:
        main()
    except BenchError as error:
        sys.exit(f"bench/results.py: {error}")
