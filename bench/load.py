"""Load benchmark: simulated phones answering the parent questionnaire under gunicorn.

    .venv/bin/python bench/load.py [--concurrency 100 | 10,50,100] [--duration 30]
        [--warmup 10] [--items-per-page 5] [--codes 0] [--seed 1] [--py-spy FILE]
        [--app-dir DIR]

For every concurrency level: a fresh PostgreSQL database ``bench_load`` (dropped and
recreated), the production gunicorn configuration (4 sync workers) on a free loopback
port, and that many respondents walking the real HTML forms without JavaScript, each
starting again with a new code as soon as it is done. Measured for ``--duration``
seconds after ``--warmup``; prints throughput, the latency of a whole respondent, the
server's CPU (gunicorn + PostgreSQL, from /proc, the client's own CPU excluded) per
respondent and per request, error counts, and checks that every acknowledged submit
is stored: responses == acknowledged == codes marked used. Exit status 1 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

import harness
import scenario
from respondents import percentile


def report(result: scenario.Result) -> bool:
    """Print the figures of one run; True if the database agrees with the client."""
    settings, stats = result.settings, result.stats
    start, end = result.window
    seconds = result.seconds
    done = [o for o in stats.outcomes if o.acknowledged and start <= o.finished <= end]
    requests_in_window = sum(1 for finished, _e, _s in stats.requests if start <= finished <= end)
    n = len(done)
    app_ms, pg_ms = 1000 * result.cpu.get("app", 0.0), 1000 * result.cpu.get("postgres", 0.0)
    per = (lambda ms: ms / n) if n else (lambda _ms: float("nan"))
    latencies = [o.finished - o.started for o in done]
    print(
        f"== concurrency {settings.concurrency}, ITEMS_PER_PAGE={settings.items_per_page}, "
        f"{settings.database}, measured {seconds:.1f} s after {settings.warmup:.0f} s warm-up =="
    )
    print(f"completed respondents/s:          {n / seconds:.1f}  ({n} in the window)")
    print(
        f"respondent latency p50 / p99:     {percentile(latencies, 0.5):.3f} s / "
        f"{percentile(latencies, 0.99):.3f} s"
    )
    print(
        f"server CPU ms per respondent:     {per(app_ms + pg_ms):.1f}  "
        f"(app {per(app_ms):.1f} + PostgreSQL {per(pg_ms):.1f})"
    )
    app_per_request = app_ms / requests_in_window if requests_in_window else float("nan")
    walk = sum(o.requests for o in done) / n if n else float("nan")
    if requests_in_window:
        # The same from requests: does not depend on how many walks ended in the window.
        print(
            f"  = per request x requests/walk:  {(app_ms + pg_ms) / requests_in_window * walk:.1f}"
        )
    kernel = ", ".join(
        f"{name} {100 * result.system_cpu[name] / cpu:.0f}%"
        for name, cpu in result.cpu.items()
        if name in result.system_cpu and cpu > 0
    )
    print(f"  of which in the kernel:         {kernel}")
    print(f"app CPU ms per HTTP request:      {app_per_request:.2f}")
    print(f"HTTP requests per respondent:     {walk:.2f}")
    print(f"HTTP requests/s:                  {requests_in_window / seconds:.1f}")
    busy = ", ".join(f"{name} {cpu / seconds:.2f}" for name, cpu in result.cpu.items())
    print(f"CPU busy, cores (of 2):           {busy}  (only app + postgres are server CPU)")
    other = result.cpu.get("other", 0.0) / seconds
    if other > 0.1:
        print(f"WARNING: {other:.2f} cores were busy with other processes: figures are low")
    bad = {key: count for key, count in stats.statuses.items() if not 200 <= key[2] < 400}
    print(
        "non-2xx/3xx responses:            "
        + (", ".join(f"{m} {e} {s}: {c}" for (m, e, s), c in sorted(bad.items())) or "none")
    )
    if stats.connection_errors:
        errors = ", ".join(
            f"{m} {e} {kind}: {c}" for (m, e, kind), c in sorted(stats.connection_errors.items())
        )
        print(f"connection errors:                {errors}")
    failed = Counter(o.result for o in stats.outcomes if not o.acknowledged)
    if failed:
        print(f"respondents not acknowledged:     {dict(failed)}")
    by_endpoint: dict[str, list[float]] = {}
    for finished, name, took in stats.requests:
        if start <= finished <= end:
            by_endpoint.setdefault(name, []).append(took)
    print(
        "request latency p50/p99 ms:       "
        + ", ".join(
            f"{name} {1000 * percentile(v, 0.5):.0f}/{1000 * percentile(v, 0.99):.0f}"
            for name, v in by_endpoint.items()
        )
    )
    if stats.ran_out_of_codes:
        print(f"WARNING: all {result.n_codes} codes were used before the end: pass more --codes")
    acknowledged = sum(1 for o in stats.outcomes if o.acknowledged)
    stored = result.stored
    ok = acknowledged == stored.responses == stored.used_codes
    print(
        f"acknowledged submits (whole run): {acknowledged}; responses stored: "
        f"{stored.responses}; codes used: {stored.used_codes} of {stored.issued_codes} "
        f"-> {'OK' if ok else 'MISMATCH'}"
    )
    errors = result.server.log_count("Exception on |unhandled error|Traceback")
    print(f"server logs:                      {result.log_dir} ({errors} errors logged)")
    for note in result.notes:
        print(note)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="100", help="respondents at once: 100 or 10,50")
    scenario.add_run_arguments(
        parser, duration_help="measured seconds", warmup=10.0, database_name="bench_load"
    )
    parser.add_argument(
        "--py-spy", type=Path, help="record the workers with py-spy to this file (raw format)"
    )
    args = parser.parse_args()
    summary = []
    all_ok = True
    for level in scenario.parse_levels(args.concurrency):
        settings = scenario.Settings.from_arguments(
            args, database="postgres", concurrency=level, py_spy=args.py_spy
        )
        try:
            result = asyncio.run(scenario.run(settings))
        except harness.BenchError as error:
            print(f"benchmark error: {error}", file=sys.stderr)
            return 2
        ok = report(result)
        all_ok = all_ok and ok
        start, end = result.window
        done = [o for o in result.stats.outcomes if o.acknowledged and start <= o.finished <= end]
        cpu = 1000 * (result.cpu.get("app", 0.0) + result.cpu.get("postgres", 0.0))
        summary.append(
            (
                level,
                len(done) / result.seconds,
                percentile([o.finished - o.started for o in done], 0.5),
                percentile([o.finished - o.started for o in done], 0.99),
                cpu / len(done) if done else float("nan"),
                "OK" if ok else "MISMATCH",
            )
        )
        print(flush=True)
    if len(summary) > 1:
        print("concurrency  respondents/s  p50 s   p99 s   server CPU ms/respondent  check")
        for level, rate, p50, p99, cpu, check in summary:
            print(f"{level:>11}  {rate:>13.1f}  {p50:>6.3f}  {p99:>6.3f}  {cpu:>24.1f}  {check}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
