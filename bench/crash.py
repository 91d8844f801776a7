"""Crash benchmark: the load of ``load.py`` while gunicorn is SIGKILLed and restarted.

    .venv/bin/python bench/crash.py [--database postgres|sqlite] [--concurrency 100]
        [--warmup 5] [--duration 30] [--kills 2] [--restart-delay 1] [--items-per-page 5]
        [--app-dir DIR]

After a warm-up that spreads the respondents' starts (so they are at different steps
when the server dies), the whole gunicorn process group (master and workers) is killed
with SIGKILL ``--kills`` times, evenly spread over ``--duration``, and started again
after ``--restart-delay`` seconds. Respondents treat a connection error (or a 5xx) as
"try again": they send the same request again (the link, the page, the form with the
same answers). A respondent whose submit was cut off in flight may find its code used:
the app then shows the thank-you page (its double-tap path) or "code used", and the
respondent stops.

Afterwards every acknowledged submission must be stored once and none twice:

* responses stored == codes marked used (response and code change in one transaction;
  a response has no link to its code, by design, so this is what can be checked);
* acknowledged <= stored <= acknowledged + submits cut off and never acknowledged.

Exit status 1 on a violation. ``--database sqlite`` runs the same against the embedded
SQLite default (a file under /tmp) with the same 4 workers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

import harness
import scenario


class Killer:
    """Kills the server at evenly spread moments of the run and starts it again."""

    def __init__(self, kills: int, restart_delay: float, min_up: float = 3.0) -> None:
        self.kills = kills
        self.restart_delay = restart_delay
        self.min_up = min_up  # seconds of service between a restart and the next kill
        self.events: list[tuple[float, float]] = []  # (seconds into the run, seconds down)

    async def __call__(self, server: harness.Gunicorn, start: float, stop_at: float) -> None:
        up_since = start
        for number in range(1, self.kills + 1):
            at = start + (stop_at - start) * number / (self.kills + 1)
            # A restart takes seconds (every worker imports the app): serve a while first.
            at = max(at, up_since + self.min_up)
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            killed = time.monotonic()
            server.kill()
            await asyncio.sleep(self.restart_delay)
            server.start()
            await server.wait_ready()
            up_since = time.monotonic()
            self.events.append((killed - start, up_since - killed))


def report(result: scenario.Result, killer: Killer) -> bool:
    """Print the figures; True if every acknowledged submit is stored once."""
    settings, stats = result.settings, result.stats
    outcomes = stats.outcomes
    acknowledged = sum(1 for o in outcomes if o.acknowledged)
    cut_off = sum(1 for o in outcomes if o.submit_cut_off)
    cut_off_open = sum(1 for o in outcomes if o.submit_cut_off and not o.acknowledged)
    stored = result.stored
    print(
        f"== crash run: {settings.database}, concurrency {settings.concurrency}, "
        f"{settings.warmup:.0f} s warm-up + {result.seconds:.1f} s with kills, "
        f"ITEMS_PER_PAGE={settings.items_per_page} =="
    )
    for at, down in killer.events:
        print(
            f"killed gunicorn (SIGKILL to its process group) {at:.1f} s after the warm-up; "
            f"answering again {down:.2f} s later"
        )
    if len(killer.events) < killer.kills:
        print(f"WARNING: only {len(killer.events)} of {killer.kills} kills happened")
    print(f"respondents started:              {len(outcomes)}")
    print(f"acknowledged submits:             {acknowledged}")
    span = max((o.finished for o in outcomes), default=0.0) - min(
        (o.started for o in outcomes), default=0.0
    )
    rate = acknowledged / span if span > 0 else float("nan")
    print(f"acknowledged per second:          {rate:.1f} (over the {span:.1f} s of load)")
    print(f"submits cut off in flight:        {cut_off} ({cut_off_open} never acknowledged)")
    results = Counter(o.result for o in outcomes)
    print(f"respondent outcomes:              {dict(results)}")
    if stats.connection_errors:
        errors = ", ".join(
            f"{m} {e} {kind}: {c}" for (m, e, kind), c in sorted(stats.connection_errors.items())
        )
    else:
        errors = "none"
    print(f"connection errors (retried):      {errors}")
    print("  (refused: not connected, never handled; dropped: sent, perhaps handled)")
    bad = {key: count for key, count in stats.statuses.items() if not 200 <= key[2] < 400}
    print(
        "non-2xx/3xx responses:            "
        + (", ".join(f"{m} {e} {s}: {c}" for (m, e, s), c in sorted(bad.items())) or "none")
    )
    print(
        "server log:                       "
        f"{result.server.log_count('database is locked')} 'database is locked', "
        f"{result.server.log_count('Exception on |unhandled error')} errors logged, "
        f"{result.server.log_count(r'Booting worker')} workers booted; {result.log_dir}"
    )
    print(
        f"responses stored:                 {stored.responses}; codes used: {stored.used_codes}"
        f" of {stored.issued_codes}"
    )
    once = stored.responses == stored.used_codes
    bounded = acknowledged <= stored.responses <= acknowledged + cut_off_open
    print(f"stored == codes used:             {'OK' if once else 'VIOLATED'}")
    print(
        f"acknowledged <= stored <= acknowledged + cut off: {acknowledged} <= {stored.responses}"
        f" <= {acknowledged + cut_off_open}  {'OK' if bounded else 'VIOLATED'}"
    )
    return once and bounded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--concurrency", type=int, default=100, help="respondents at once")
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs during the run")
    parser.add_argument("--restart-delay", type=float, default=1.0, help="seconds down")
    scenario.add_run_arguments(
        parser, duration_help="seconds with kills", warmup=5.0, database_name="bench_crash"
    )
    args = parser.parse_args()
    settings = scenario.Settings.from_arguments(
        args, database=args.database, concurrency=args.concurrency
    )
    killer = Killer(args.kills, args.restart_delay)
    try:
        result = asyncio.run(scenario.run(settings, retry=True, during=killer))
    except harness.BenchError as error:
        print(f"benchmark error: {error}", file=sys.stderr)
        return 2
    return 0 if report(result, killer) else 1


if __name__ == "__main__":
    sys.exit(main())
