"""How long printing code slips takes: issue N codes for a drawn county and render their
PDF slips (WeasyPrint), in this process on a temporary SQLite database.

    .venv/bin/python bench/slips.py [--codes 1000] [--language zh_Hans] [--one-process]

Batches of 200 slips or more are laid out in parallel chunks, one worker process a core;
``--one-process`` lays them out in this process, for comparison. CPU time counts the
workers' too: on a machine shared with other jobs, wall time alone misleads.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, and bench/analysis.py would shadow
# the analysis package.
sys.path[0] = str(Path(__file__).resolve().parents[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=1000)
    parser.add_argument("--language", default="zh_Hans")
    parser.add_argument("--one-process", action="store_true", help="no worker processes")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    os.environ.update(DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3", FLASK_DEBUG="1")
    from flask_migrate import upgrade

    from survey_app import create_app
    from survey_app.demo import seed_demo_county
    from survey_app.extensions import db
    from survey_app.models import School
    from survey_app.plan import slips
    from survey_app.plan.code_batches import IssuedCode
    from survey_app.plan.issuing import issue_codes
    from survey_app.plan.slips import slips_pdf

    if args.one_process:
        slips._cpus = lambda: 1  # type: ignore[method-assign]
    app = create_app()
    with app.app_context(), app.test_request_context():
        upgrade()
        campaign = seed_demo_county(datetime.now(UTC))
        schools = db.session.scalars(db.select(School).limit(20)).all()
        started = time.perf_counter()
        issued = [
            IssuedCode(school, "parent", None, code)
            for index, school in enumerate(schools)
            for code in issue_codes(
                school, "parent", args.codes // len(schools) + (index < args.codes % len(schools))
            )
        ]
        db.session.commit()
        issuing = time.perf_counter() - started
        started, cpu = time.perf_counter(), _cpu_seconds()
        pdf = slips_pdf(
            issued, "https://survey.example.cn", args.language, campaign, datetime.now(UTC)
        )
        rendering, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        workers = 1 if args.one_process else min(slips._cpus(), len(slips._chunks(issued)))
    pages = -(-len(issued) // 10)
    print(
        f"{len(issued)} codes issued in {issuing:.2f} s; {pages} pages of slips rendered in "
        f"{rendering:.2f} s ({1000 * rendering / len(issued):.1f} ms a slip), "
        f"{len(pdf) / 1e6:.1f} MB; {cpu:.2f} s of CPU in {workers} process(es)"
    )


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished workers."""
    own, workers = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


if __name__ == "__main__":
    main()
