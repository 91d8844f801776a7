"""Speed of the signed certification report: a county of 300 schools, 30,000 responses.

    .venv/bin/python bench/report.py [--schools 300] [--responses 30000] [--repeat 3]
        [--database-name bench_report] [--reuse] [--profile FILE] [--app-dir DIR]

Set-up (skipped with ``--reuse``, which keeps the database of the last run): a fresh
PostgreSQL database ``bench_report`` (dropped and made again), ``flask db upgrade``,
the demo county (``survey_app.demo``) seeded with its school shapes scaled to
``--schools`` schools (more town and rural schools and teaching points, the county's
population unchanged), drawn with the demo's seed and filled with ``--responses``
simulated responses through the respondents' own services
(``survey_app.demo_fieldwork``: codes issued, screens saved, submits), and a
self-signed signing key (``flask report keygen``).

Then, timed:

* **the command line**, end to end: ``flask --app wsgi report make --campaign demo
  --out FILE.pdf`` as a subprocess (start-up, imports, evaluation, layout, signing,
  storing), ``--repeat`` times; and the start-up alone (``flask --app wsgi report
  --help``: the app and its command line, no report);
* **the parts, in one process** (a subprocess of the served tree): the first import of
  WeasyPrint and of pyHanko, then per run the loader (``load_campaign``), the
  evaluation (``evaluate_campaign`` less the loader), the page's breakdowns
  (``build_page`` less the evaluation), the HTML (coverage and template), WeasyPrint's
  layout and PDF, the signature, and ``issue_report`` as a whole (rolled back).

``--profile FILE`` writes a cProfile of one ``issue_report`` (after a warm-up run) and
prints its 25 most expensive functions (cumulative). ``--app-dir`` measures another
tree (e.g. ``git archive`` of a commit unpacked elsewhere) on the same database.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness

CAMPAIGN = "demo"

# The demo's nine school shapes (survey_app/demo.py SHAPES, 41 schools), scaled to 300:
# the county town's schools a little more than doubled, and many more rural schools and
# teaching points, so that the enrolment stays within the demo county's population.
SHAPE_COUNTS_300 = (10, 5, 3, 30, 15, 10, 135, 12, 80)

_SEED_SCRIPT = """
import sys, time
from dataclasses import replace
from datetime import UTC, datetime

from survey_app import create_app, demo
from survey_app import demo_fieldwork
from survey_app.demo_fieldwork import simulate_fieldwork
from survey_app.extensions import db

# Each cell of the plan (a school's group, a list, an open link) is committed as soon as
# it is filled: the progress shows in the database, and PostgreSQL does not carry one
# transaction of 30,000 responses, each saved screen by screen (row versions that only
# the transaction's end lets go). The responses are the same as in one transaction.
fill = demo_fieldwork._Simulator.fill


def fill_and_commit(self, cell, count, coaching=None):
    stored = fill(self, cell, count, coaching)
    db.session.commit()
    return stored


demo_fieldwork._Simulator.fill = fill_and_commit

schools, responses = int(sys.argv[1]), int(sys.argv[2])
counts = [int(n) for n in sys.argv[3].split(",")]
scale = schools / sum(counts)
counts = [max(1, round(n * scale)) for n in counts]
counts[6] += schools - sum(counts)  # the rest: rural primary schools
demo.SHAPES = tuple(replace(shape, count=n) for shape, n in zip(demo.SHAPES, counts))
app = create_app()
with app.app_context():
    started = time.perf_counter()
    campaign = demo.seed_demo_county()
    db.session.commit()
    seeded = time.perf_counter() - started
    started = time.perf_counter()
    result = simulate_fieldwork(campaign, responses, seed=1, now=datetime.now(UTC))
    db.session.commit()
    print(f"SEEDED {campaign.key}: {schools} schools in {seeded:.1f} s; "
          f"{result.responses} responses {result.per_group} "
          f"in {time.perf_counter() - started:.0f} s")
"""

_PARTS_SCRIPT = """
import cProfile, io, pstats, sys, time
from datetime import UTC, datetime

started = time.perf_counter()
from survey_app import create_app
app = create_app()
startup = time.perf_counter() - started
started = time.perf_counter()
import weasyprint  # noqa: F401
weasy = time.perf_counter() - started
started = time.perf_counter()
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: F401
from pyhanko.sign import fields, signers  # noqa: F401
hanko = time.perf_counter() - started
print(f"PART import_app {startup:.3f}")
print(f"PART import_weasyprint {weasy:.3f}")
print(f"PART import_pyhanko {hanko:.3f}")

from sqlalchemy import select

from survey_app.extensions import db
from survey_app.models import Campaign
from survey_app.results import report, report_layout
from survey_app.results.evaluation import evaluate_campaign
from survey_app.results.loader import load_campaign
from survey_app.results.page import build_page
from survey_app.results.report_signing import installation_certificate, sign_pdf

repeat, profile_path = int(sys.argv[1]), sys.argv[2]
with app.app_context():
    campaign = db.session.scalar(select(Campaign).where(Campaign.key == "CAMPAIGN"))
    key = report.SigningKey.from_config(app.config)
    certificate = installation_certificate(key.path, key.password)
    link = "http://127.0.0.1:5000/verify/benchmark"
    print(f"RESPONSES {load_campaign(campaign).n}")
    for _run in range(repeat):
        times = {}
        cpu = time.process_time()
        t = time.perf_counter()
        load_campaign(campaign)
        times["loader"] = time.perf_counter() - t
        t = time.perf_counter()
        evaluate_campaign(campaign)
        times["evaluate_campaign"] = time.perf_counter() - t
        t = time.perf_counter()
        page = build_page(campaign)
        times["build_page"] = time.perf_counter() - t
        t = time.perf_counter()
        html = report_layout.report_html(
            campaign, page, public_id="benchmark", issued_at=datetime.now(UTC),
            issued_by="bench", verify_link=link, min_n=app.config["RESULTS_MIN_N"],
            signer=certificate.subject.human_friendly, fingerprint=certificate.sha256.hex(),
        )
        times["html"] = time.perf_counter() - t
        t = time.perf_counter()
        pdf = report_layout.render_pdf(html, link)
        times["weasyprint"] = time.perf_counter() - t
        t = time.perf_counter()
        signed = sign_pdf(pdf, key.path, key.password, reason="bench", location=link)
        times["signing"] = time.perf_counter() - t
        t = time.perf_counter()
        issued = report.issue_report(
            campaign, key, base_url="http://127.0.0.1:5000",
            min_n=app.config["RESULTS_MIN_N"], now=datetime.now(UTC),
        )
        times["issue_report"] = time.perf_counter() - t
        times["cpu_all"] = time.process_time() - cpu
        db.session.rollback()
        print("RUN " + " ".join(f"{name}={value:.3f}" for name, value in times.items())
              + f" pages_bytes={len(signed)} html_chars={len(html)}")
    if profile_path:
        profiler = cProfile.Profile()
        profiler.enable()
        report.issue_report(
            campaign, key, base_url="http://127.0.0.1:5000",
            min_n=app.config["RESULTS_MIN_N"], now=datetime.now(UTC),
        )
        profiler.disable()
        db.session.rollback()
        profiler.dump_stats(profile_path)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
""".replace("CAMPAIGN", CAMPAIGN)


def setup(env: dict[str, str], args: argparse.Namespace, app_dir: Path) -> None:
    flask = str(harness.VENV_BIN / "flask")
    started = time.perf_counter()
    harness._run([flask, "--app", "wsgi", "db", "upgrade"], env, app_dir)
    counts = ",".join(str(n) for n in SHAPE_COUNTS_300)
    seed = [str(harness.VENV_BIN / "python"), "-c", _SEED_SCRIPT]
    output = harness._run([*seed, str(args.schools), str(args.responses), counts], env, app_dir)
    print(next(line for line in output.splitlines() if line.startswith("SEEDED")))
    print(f"set-up took {time.perf_counter() - started:.0f} s")


def timed(args: list[str], env: dict[str, str], app_dir: Path) -> tuple[float, float]:
    """Wall seconds, and the CPU seconds of the command's own process (user + system;
    PostgreSQL's share is the server's, not counted)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    harness._run(args, env, app_dir)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def own_and_children_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system + usage.children_user + usage.children_system


def summary(values: list[tuple[float, float]]) -> str:
    walls = [wall for wall, _cpu in values]
    shown = ", ".join(f"{value:.2f}" for value in walls)
    cpu = min(cpu for _wall, cpu in values)
    return (
        f"best {min(walls):.2f} s, median {statistics.median(walls):.2f} s ({shown}); "
        f"CPU best {cpu:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=300)
    parser.add_argument("--responses", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-name", default="bench_report")
    parser.add_argument("--reuse", action="store_true", help="keep the last run's database")
    parser.add_argument("--profile", default="", help="write a cProfile of issue_report here")
    parser.add_argument("--app-dir", type=Path, default=harness.PROJECT_ROOT)
    args = parser.parse_args()
    app_dir = args.app_dir.resolve()
    database = harness.Database("postgres", args.database_name)
    if not args.reuse:
        database.recreate()
    work = Path(tempfile.mkdtemp(prefix="bench_report_"))
    env = harness.app_env(database.url, items_per_page=5)
    env.update(REPORT_SIGNING_P12=str(work / "signing.p12"), REPORT_SIGNING_PASSWORD="")
    if not args.reuse:
        setup(env, args, app_dir)
    flask = str(harness.VENV_BIN / "flask")
    harness._run([flask, "--app", "wsgi", "report", "keygen"], env, app_dir)
    parts = harness._run(
        [str(harness.VENV_BIN / "python"), "-c", _PARTS_SCRIPT, str(args.repeat), args.profile],
        env,
        app_dir,
    )
    busy_before = harness.machine_busy_seconds()
    own_before = own_and_children_cpu()
    clock_before = time.monotonic()
    startup = [
        timed([flask, "--app", "wsgi", "report", "--help"], env, app_dir)
        for _run in range(args.repeat)
    ]
    make = [
        timed(
            [flask, "--app", "wsgi", "report", "make", "--campaign", CAMPAIGN, "--out"]
            + [str(work / f"report{run}.pdf")],
            env,
            app_dir,
        )
        for run in range(args.repeat)
    ]
    pdf = (work / "report0.pdf").stat().st_size
    print(f"== {app_dir}, database {database.name} ==")
    runs: list[dict[str, float]] = []
    for line in parts.splitlines():
        if line.startswith(("PART ", "RESPONSES ")):
            print(line.removeprefix("PART "))
        elif line.startswith("RUN "):
            print(line)
            fields = (field.split("=") for field in line.split()[1:])
            runs.append({name: float(value) for name, value in fields})
        elif args.profile:
            print(line)
    if runs:
        best = {name: min(run[name] for run in runs) for name in runs[0]}
        print(f"in one process, best of {len(runs)} (seconds):")
        print(f"  loader (load_campaign)                 {best['loader']:.3f}")
        print(f"  evaluate_campaign (loader + analysis)  {best['evaluate_campaign']:.3f}")
        print(f"  build_page (evaluation + breakdowns)   {best['build_page']:.3f}")
        print(f"  report_html (coverage, template)       {best['html']:.3f}")
        print(f"  WeasyPrint (layout and PDF)            {best['weasyprint']:.3f}")
        print(f"  signing                                {best['signing']:.3f}")
        print(f"  issue_report, all of it                {best['issue_report']:.3f}")
        print(f"  CPU of all the above, one run          {best['cpu_all']:.3f}")
    print(f"start-up (flask --app wsgi report --help): {summary(startup)}")
    print(f"flask --app wsgi report make, end to end:  {summary(make)}; PDF {pdf:,} bytes")
    print(f"the PDFs and the signing key: {work}")
    elapsed = time.monotonic() - clock_before
    others = (harness.machine_busy_seconds() - busy_before) - (own_and_children_cpu() - own_before)
    if others > 0.1 * elapsed:
        print(
            f"WARNING: other processes used {others / elapsed:.2f} cores during the command "
            "line's runs: wall times are inflated (compare the CPU figures)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
