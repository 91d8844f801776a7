"""What one request costs, endpoint by endpoint: SQL statements, Redis commands, CPU.

    .venv/bin/python bench/per_request.py [--respondents 200] [--items-per-page 5]
        [--show-sql] [--cprofile 30] [--callgrind] [--pg-log FILE] [--app-dir DIR]

Builds the app in this process with ``create_app`` (production settings, its own
PostgreSQL database ``bench_profile``, Redis db 14 for the limiter, as load.py) and
walks respondents through ``app.test_client()`` exactly as load.py's phones do. A
wrapper on psycopg's ``Cursor.execute`` counts statements (the respondent's run on the
cursor without SQLAlchemy's events: ``survey_app/respond/statements.py``), one on
``redis.Redis.execute_command`` counts rate-limiter round trips, and
``time.process_time`` gives the CPU of each request (app and drivers, no HTTP server,
no PostgreSQL server). ``--show-sql`` prints the statements of the first walk;
``--cprofile N`` profiles the whole run (CPU time, not wall) and prints the N functions
with the most cumulative time, then the N with the most time of their own.
``--callgrind`` counts the instructions of the measured walks only, which, unlike CPU
time on this shared machine, are the same from run to run: run

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=F \
        .venv/bin/python bench/per_request.py --callgrind --respondents 30

and read the total on valgrind's last line (``I refs``). ``--pg-log FILE`` turns on
``log_statement = 'all'`` for this database only and prints, for one walk, every
statement the PostgreSQL server received, read from its log (the driver's BEGIN, the
pool's ping, COMMIT/ROLLBACK included, which the wrapper does not see).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # before bench/analysis.py

import harness  # noqa: E402
from psycopg import sql as pg_sql  # noqa: E402
from respondents import endpoint, next_step  # noqa: E402


class Counters:
    """Statements and Redis commands of the request under way."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.redis = 0


def walk(client: Any, code: str, rng: random.Random, counters: Counters, log: Any) -> int:
    """One respondent through the test client; ``log(method, path, status, cpu, sql,
    redis)`` is called for every request. Returns the number of requests."""
    method, path, data = "GET", f"/r/{code}", None
    requests = 0
    while True:
        counters.sql.clear()
        counters.redis = 0
        cpu = time.process_time()
        response = client.open(path, method=method, data=data, follow_redirects=False)
        cpu = time.process_time() - cpu
        requests += 1
        log(method, path, response.status_code, cpu, list(counters.sql), counters.redis)
        if 300 <= response.status_code < 400:
            method, path, data = "GET", response.headers["Location"], None
            continue
        if path == "/thanks" or response.status_code != 200:
            return requests
        step = next_step(response.get_data(as_text=True), path, rng)
        if step is None:
            raise RuntimeError(f"no form or next link on {path}")
        method, path, data = step


def callgrind(state: str) -> None:
    """Switch callgrind's counting on or off for this process (``--callgrind``)."""
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True)
    time.sleep(0.2)  # callgrind reads the request at its next check


def server_statements(
    client: Any, code: str, rng: random.Random, counters: Counters, args: argparse.Namespace
) -> None:
    """Print what the PostgreSQL server logged for each request of one walk."""
    # Simple-protocol statements log as "statement: …", parameterised ones as
    # "execute <name>: …" (psycopg prepares a statement seen 5 times on a connection).
    marker = re.compile(rf"@{args.database_name} LOG:  (?:statement|execute [^:]*): (.*)")
    offset = args.pg_log.stat().st_size

    def log(method: str, path: str, status: int, *_rest: Any) -> None:
        nonlocal offset
        time.sleep(0.05)  # let the backend's log line reach the file
        with args.pg_log.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
            offset = handle.tell()
        lines = [m[1] for line in text.splitlines() if (m := marker.search(line))]
        print(f"-- {method} {endpoint(path)} -> {status}: {len(lines)} statements at the server")
        for line in lines:
            print(f"   {line[:140]}")

    print("\nstatements received by PostgreSQL for one respondent:")
    walk(client, code, rng, counters, log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--items-per-page", type=int, default=5)
    parser.add_argument("--database-name", default="bench_profile")
    parser.add_argument("--show-sql", action="store_true", help="statements of the first walk")
    parser.add_argument("--cprofile", type=int, default=0, help="print N top functions")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions of the walks only (run under valgrind --instr-atstart=no)",
    )
    parser.add_argument("--pg-log", type=Path, help="PostgreSQL server log to read statements")
    parser.add_argument("--app-dir", type=Path, default=harness.PROJECT_ROOT, help="tree to run")
    args = parser.parse_args()

    database = harness.Database("postgres", args.database_name)
    database.recreate()
    env = harness.app_env(database.url, args.items_per_page)
    app_dir = args.app_dir.resolve()
    codes = harness.prepare(env, args.respondents + 2, app_dir)
    os.environ.update(env)
    sys.path.insert(0, str(app_dir))  # its survey_app, not the editable install's
    if args.pg_log:
        with database.admin() as connection:
            statement = pg_sql.SQL("ALTER DATABASE {} SET log_statement = 'all'")
            connection.execute(statement.format(pg_sql.Identifier(args.database_name)))

    import psycopg
    import redis

    from survey_app import create_app

    app = create_app()
    counters = Counters()
    executes = psycopg.Cursor.execute

    def count_statement(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        counters.sql.append(" ".join(str(query).split()))
        return executes(self, query, *args, **kwargs)

    psycopg.Cursor.execute = count_statement  # type: ignore[method-assign]

    original = redis.Redis.execute_command

    def counted(self: redis.Redis, *args: Any, **kwargs: Any) -> Any:
        counters.redis += 1
        return original(self, *args, **kwargs)

    redis.Redis.execute_command = counted  # type: ignore[method-assign]

    per: dict[str, list[tuple[float, int, int]]] = defaultdict(list)
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    first: list[tuple[str, list[str], int]] = []
    rng = random.Random(1)

    def log(method: str, path: str, status: int, cpu: float, sql: list[str], red: int) -> None:
        name = f"{method} {endpoint(path)}"
        per[name].append((cpu, len(sql), red))
        for statement in sql:
            kinds[name][re.sub(r"\s.*", "", statement)] += 1
        if recording:
            first.append((f"{name} -> {status}", sql, red))

    client = app.test_client()
    recording = True
    walk(client, codes[0], rng, counters, log)  # warm-up: imports, caches, pool
    recording = False
    if args.pg_log:
        server_statements(app.test_client(), codes.pop(), rng, counters, args)
    per.clear()
    kinds.clear()
    profiler = cProfile.Profile(time.process_time) if args.cprofile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    if args.callgrind:
        callgrind("on")
    total = 0
    for code in codes[1:]:
        client = app.test_client()  # a new phone: its own cookies
        total += walk(client, code, rng, counters, log)
    if args.callgrind:
        callgrind("off")
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started

    print(
        f"{args.respondents} respondents, {total} requests, ITEMS_PER_PAGE="
        f"{args.items_per_page}, in-process (test client): {1000 * seconds / total:.2f} ms "
        "wall per request"
    )
    print(f"{'request':<16} {'n':>5} {'CPU ms':>7} {'SQL':>4} {'redis':>5}  statements")
    all_cpu = 0.0
    for name, rows in per.items():
        cpu = sum(r[0] for r in rows) / len(rows)
        all_cpu += sum(r[0] for r in rows)
        sql = sum(r[1] for r in rows) / len(rows)
        red = sum(r[2] for r in rows) / len(rows)
        mix = ", ".join(f"{k} {v / len(rows):.1f}" for k, v in kinds[name].most_common())
        print(f"{name:<16} {len(rows):>5} {1000 * cpu:>7.2f} {sql:>4.1f} {red:>5.1f}  {mix}")
    print(f"mean CPU per request: {1000 * all_cpu / total:.2f} ms")
    if args.show_sql:
        print("\nstatements of one respondent (the first, after start-up):")
        for name, sql, red in first:
            print(f"-- {name}  ({len(sql)} statements, {red} redis commands)")
            for statement in sql:
                print(f"   {statement[:160]}")
    if profiler:
        print()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.cprofile)
        stats.sort_stats("tottime").print_stats(args.cprofile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
